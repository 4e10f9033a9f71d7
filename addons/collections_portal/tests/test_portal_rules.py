from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import freeze_time

from odoo.addons.collections_omni.tests.common import TODAY

from .common import PortalCollectionsCommon


@freeze_time(TODAY.isoformat())
@tagged("post_install", "-at_install")
class TestPortalRules(PortalCollectionsCommon):
    """The portal follows the engine's rules (collections_omni/tools/sql_rules.py)."""

    def test_open_invoices_oldest_first_even_without_a_due_date(self):
        newer = self._invoice(self.customer, 200, 10)
        older = self._invoice(self.customer, 300, 40)
        self.env.flush_all()
        # A document without a due date counts from its accounting date, as everywhere else.
        self.env.cr.execute("UPDATE account_move SET invoice_date_due = NULL WHERE id = %s", [older.id])
        self.env.invalidate_all()
        as_portal = self.env(user=self.portal_user)["account.move"]
        invoices = as_portal._collections_portal_open_invoices(self.portal_user.partner_id)
        self.assertEqual(invoices.ids, [older.id, newer.id])

    def test_only_collectors_revoke_a_customers_links(self):
        version = self.customer.sudo().collections_link_version
        accountant = new_test_user(
            self.env, "portal_links_accountant", groups="base.group_user,account.group_account_invoice"
        )
        for user in (self.portal_user, accountant):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.customer.with_user(user).action_collections_revoke_links()
        self.assertEqual(self.customer.sudo().collections_link_version, version)
        self.customer.with_user(self.collector).action_collections_revoke_links()
        self.assertEqual(self.customer.sudo().collections_link_version, version + 1)
