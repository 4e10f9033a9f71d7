from . import test_contact_preferences
