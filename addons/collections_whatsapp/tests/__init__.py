from . import test_whatsapp_templates
from . import test_whatsapp_events
