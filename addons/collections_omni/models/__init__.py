from . import collections_policy
from . import collections_stage
from . import collections_stage_action
from . import collections_message
from . import collections_run
from . import res_partner
from . import account_move
from . import res_company
