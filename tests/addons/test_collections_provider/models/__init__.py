from . import collections_provider_file_outbox
