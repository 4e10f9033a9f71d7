from . import test_whatsapp_templates
