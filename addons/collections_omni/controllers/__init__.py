from . import unsubscribe
from . import provider_status
