"""pytest-odoo runs the addons' TransactionCase tests; HttpCase tests and
browser tours run through odoo-bin --test-tags in scripts/test, because
pytest-odoo skips them on Odoo 18. Deselect them here rather than let them
show as skipped: scripts/test treats every skip as a failure."""


def pytest_collection_modifyitems(config, items):
    from odoo.tests import HttpCase

    http_items = [item for item in items if getattr(item, "cls", None) and issubclass(item.cls, HttpCase)]
    if http_items:
        config.hook.pytest_deselected(items=http_items)
        items[:] = [item for item in items if item not in http_items]
