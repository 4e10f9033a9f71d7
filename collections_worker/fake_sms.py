"""The local fake SMS provider, started as ``python -m collections_worker.fake_sms``
(scripts/fake-sms, the dispatch benchmark, end-to-end tests). It lives with the
SMS client it fakes, in ``collections_omni_tools.fake_sms``."""

from collections_omni_tools.fake_sms import *  # noqa: F403 (re-exported for callers of this module)
from collections_omni_tools.fake_sms import main

if __name__ == "__main__":
    main()
