from . import collections_call_outcome
from . import collections_run_preview
