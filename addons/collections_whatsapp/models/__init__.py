from . import collections_whatsapp_account
from . import collections_whatsapp_template
from . import collections_whatsapp_template_variable
from . import collections_whatsapp_conversation
from . import collections_whatsapp_event
from . import collections_stage_action
from . import collections_message
from . import collections_provider_whatsapp
