from . import test_collections_run
from . import test_collections_dispatch
from . import test_collections_security
from . import test_collections_ui
from . import test_collections_i18n
from . import test_collections_worklist
from . import test_contact_rules
from . import test_contact_enforcement
