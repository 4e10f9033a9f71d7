from . import test_whatsapp_templates
from . import test_whatsapp_events
from . import test_whatsapp_self_service
from . import test_whatsapp_sending
from . import test_whatsapp_ui
from . import test_hostile_input
from . import test_whatsapp_documents
