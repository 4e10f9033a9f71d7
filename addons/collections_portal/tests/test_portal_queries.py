from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import PortalCollectionsCommon


@tagged("post_install", "-at_install", "collections_http")
class TestPortalQueries(PortalCollectionsCommon, HttpCase):
    """The portal's pages that list every open invoice read them set-based: the
    number of queries of a request does not grow with the number of invoices
    (a count, not a time; scripts/bench portal measures the times)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.setup_other_currency("EUR")
        # Open invoices in two currencies, overdue and not yet due.
        cls.invoices = cls._some_invoices(5)

    def setUp(self):
        super().setUp()
        # A promise and a plan: rows on hold as well as open ones.
        promised = fields.Date.today() + timedelta(days=7)
        self.Promise._portal_promise(self.customer, self.invoices[:1].ids, None, promised)
        self._running_plan(self.invoices[1:2])

    @classmethod
    def _some_invoices(cls, count, start=0):
        moves = cls.env["account.move"]
        for n in range(start, start + count):
            moves |= cls._invoice(cls.customer, 100 + n, (n * 7) % 120 - 10, currency=cls.eur if n % 4 == 3 else None)
        return moves

    def _queries(self, path):
        """The queries of one request for ``path``, once its caches are warm."""
        self.assertEqual(self.url_open(path).status_code, 200)
        before = self.registry.test_cr.sql_log_count
        response = self.url_open(path)
        self.assertEqual(response.status_code, 200, response.text[-500:])
        return self.registry.test_cr.sql_log_count - before

    def _pages(self):
        invoices = self.env["account.move"]._collections_portal_open_invoices(self.customer)
        ticked = "&".join(f"invoice_ids={m.id}" for m in invoices if m.currency_id == self.company.currency_id)
        return {
            "balance": "/my/collections",
            "promise form": "/my/collections/promise",
            "statement": "/my/collections/statement",
            "statement pdf": "/my/collections/statement.pdf",
            "pay": f"/my/collections/pay?{ticked}",
        }

    def test_queries_do_not_grow_with_the_invoices(self):
        self.authenticate("cliente_uno", "cliente_uno_pw")
        few = {name: self._queries(path) for name, path in self._pages().items()}
        self._some_invoices(25, start=5)
        many = {name: self._queries(path) for name, path in self._pages().items()}
        self.assertEqual(len(self.env["account.move"]._collections_portal_open_invoices(self.customer)), 30)
        self.assertEqual(many, few, "queries per request with 30 open invoices and with 5")

    def test_links_of_many_invoices_get_their_tokens_at_once(self):
        """Invoices never shown before get the access tokens of their links in one statement, not one each."""
        self.authenticate("cliente_uno", "cliente_uno_pw")
        self._queries("/my/collections")
        self._some_invoices(2, start=5)
        self.env["account.move"].flush_model()
        before = self.registry.test_cr.sql_log_count
        self.url_open("/my/collections")
        two = self.registry.test_cr.sql_log_count - before
        self._queries("/my/collections")
        invoices = self._some_invoices(20, start=7)
        self.env["account.move"].flush_model()
        self.assertFalse(any(invoices.mapped("access_token")))
        before = self.registry.test_cr.sql_log_count
        page = self.url_open("/my/collections")
        self.assertEqual(self.registry.test_cr.sql_log_count - before, two)
        invoices.invalidate_recordset(["access_token"])
        self.assertTrue(all(invoices.mapped("access_token")))
        for invoice in invoices:
            self.assertIn(invoice.get_portal_url(), page.text.replace("&amp;", "&"))
