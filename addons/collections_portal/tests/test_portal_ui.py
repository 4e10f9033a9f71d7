from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import PortalCollectionsCommon


@tagged("post_install", "-at_install", "collections_http")
class TestPortalPromiseTour(PortalCollectionsCommon, HttpCase):
    """The promise form in a browser: the amount follows the ticked invoices."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user.password = cls.portal_user.login  # start_tour logs in with the login as password
        cls.first = cls._invoice(cls.customer, 300, 40)
        cls.second = cls._invoice(cls.customer, 200, 10)
        cls.in_eur = cls._invoice(cls.customer, 80, 5, currency=cls.setup_other_currency("EUR"))

    def test_the_amount_follows_the_ticked_invoices(self):
        self.start_tour("/my/collections/promise", "collections_portal_promise_tour", login="cliente_uno")
        promise = self._promises()
        self.assertEqual(
            (promise.move_ids, promise.amount, promise.promised_date, promise.source),
            (self.first | self.second, 150, fields.Date.context_today(self.portal_user), "portal"),
            "the amount the customer typed, over the invoices ticked at the end",
        )
