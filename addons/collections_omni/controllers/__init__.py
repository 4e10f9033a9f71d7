from . import provider_status
