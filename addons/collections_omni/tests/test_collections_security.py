from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import CollectionsCommon


@tagged("at_install", "-post_install")
class TestCollectionsSecurity(CollectionsCommon):
    def test_group_hierarchy(self):
        manager = self.env.ref("collections_omni.group_collections_manager")
        collector = self.env.ref("collections_omni.group_collections_collector")
        viewer = self.env.ref("collections_omni.group_collections_viewer")
        self.assertIn(collector, manager.implied_ids)
        self.assertIn(viewer, collector.implied_ids)
        self.assertIn(viewer, manager.trans_implied_ids)

    def test_viewer_reads_but_cannot_configure(self):
        viewer = new_test_user(self.env, "viewer", groups="base.group_user,collections_omni.group_collections_viewer")
        policy = self.policy.with_user(viewer)
        self.assertEqual(policy.name, "Test default")
        with self.assertRaises(AccessError):
            policy.name = "Changed"

    def test_plain_user_sees_no_collections(self):
        user = new_test_user(self.env, "plain", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.env["collections.message"].with_user(user).search([])
        menu = self.env.ref("collections_omni.menu_collections_root")
        self.assertNotIn(menu.id, self.env["ir.ui.menu"].with_user(user)._visible_menu_ids())

    def test_messages_are_never_deleted(self):
        self._invoice(self.customer, 100, 10)
        self._run()
        with self.assertRaises(UserError):
            self._messages(self.customer).unlink()

    def test_records_of_another_company_are_invisible(self):
        other_company = self.setup_other_company()["company"]
        user = self._staff_user(
            "other_co", "base.group_user,collections_omni.group_collections_manager", company=other_company
        )
        self.assertFalse(self.env["collections.policy"].with_user(user).search([("id", "=", self.policy.id)]))
