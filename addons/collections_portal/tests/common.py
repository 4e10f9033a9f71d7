from odoo.tests import new_test_user

from odoo.addons.collections_omni.tests.common import CollectionsCommon


class PortalCollectionsCommon(CollectionsCommon):
    """The engine's accounting fixtures plus a portal user of the customer,
    the customer's collector and another customer with invoices of its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = new_test_user(
            cls.env,
            "portal_plan_collector",
            groups="base.group_user,account.group_account_invoice,collections_omni.group_collections_collector",
        )
        cls.customer.collections_user_id = cls.collector
        cls.portal_user = new_test_user(
            cls.env, login="cliente_uno", password="cliente_uno_pw", groups="base.group_portal", lang="en_US"
        )
        cls.portal_user.partner_id.parent_id = cls.customer
        cls.other_customer = cls._customer("Otro Cliente")
        cls.Promise = cls.env["collections.promise"]
        cls.Plan = cls.env["collections.payment.plan"]

    def _promises(self, partner=None):
        return self.Promise.search([("partner_id", "=", (partner or self.customer).id)])

    def _plans(self, partner=None):
        return self.Plan.search([("partner_id", "=", (partner or self.customer).id)])
