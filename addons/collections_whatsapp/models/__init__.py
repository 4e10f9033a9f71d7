from . import collections_whatsapp_account
from . import collections_whatsapp_template
from . import collections_whatsapp_template_variable
from . import collections_stage_action
