from unittest.mock import patch

from odoo import Command
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

    @classmethod
    def _setup_payment_provider(cls):
        """A published test payment provider (``cls.provider``, ``cls.method``) with an accounting payment method."""
        redirect_form = cls.env["ir.ui.view"].create(
            {"name": "Collections test redirect form", "type": "qweb", "arch": '<form action="dummy" method="post"/>'}
        )
        method = cls.env.ref("payment.payment_method_unknown")
        cls.provider = cls.env["payment.provider"].create(
            {
                "name": "Proveedor de prueba",
                "code": "none",
                "state": "test",
                "is_published": True,
                "payment_method_ids": [Command.set(method.ids)],
                "redirect_form_view_id": redirect_form.id,
                "available_currency_ids": [Command.set(cls.company.currency_id.ids)],
            }
        )
        method.active = True  # once a provider supports it
        cls.method = method
        # Odoo's own way (account_payment's tests) to give the test provider an accounting payment method.
        PaymentMethod = cls.env["account.payment.method"]
        information = PaymentMethod._get_payment_method_information

        def with_test_provider(*args, **kwargs):
            return {**information(), "none": {"mode": "electronic", "type": ("bank",)}}

        with patch.object(
            cls.env.registry["account.payment.method"], "_get_payment_method_information", with_test_provider
        ):
            PaymentMethod.sudo().create({"name": "Test method", "code": "none", "payment_type": "inbound"})
            cls.provider.journal_id = cls.company_data["default_journal_bank"]
        cls.provider.journal_id.inbound_payment_method_line_ids.filtered(
            lambda line: line.payment_provider_id == cls.provider
        ).payment_account_id = cls.inbound_payment_method_line.payment_account_id

    def _promises(self, partner=None):
        return self.Promise.search([("partner_id", "=", (partner or self.customer).id)])

    def _plans(self, partner=None):
        return self.Plan.search([("partner_id", "=", (partner or self.customer).id)])
