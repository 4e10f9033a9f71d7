from . import collections_call_outcome
