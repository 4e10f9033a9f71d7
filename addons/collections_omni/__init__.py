from . import controllers
from . import models
from . import wizards
from . import tools


def _parse_addon_manifests_once():
    """CPython before 3.11.9/3.12.3 can raise "AST constructor recursion depth
    mismatch" when threads parse Python at the same moment (gh-106905). Odoo's
    HTTP threads parse every addon manifest on the first requests, so the very
    first page load could fail with a 500. Parsing them here, while the
    registry loads in a single thread, fills Odoo's manifest cache first."""
    import sys

    from odoo import http

    if sys.version_info < (3, 12, 3) and http.root:
        _statics = http.root.statics  # a cached property: reading it fills the cache  # noqa: F841


_parse_addon_manifests_once()
