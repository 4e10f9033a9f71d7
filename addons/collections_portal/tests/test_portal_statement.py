import shutil
import subprocess
import tempfile
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.collections_omni.tests.common import TODAY

from .common import PortalCollectionsCommon


def pdf_text(content):
    """The text of a PDF as pdftotext reads it (poppler-utils, installed by scripts/setup)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as pdf:
        pdf.write(content)
        pdf.flush()
        return subprocess.run(
            [shutil.which("pdftotext"), "-layout", pdf.name, "-"], capture_output=True, check=True, text=True
        ).stdout


@tagged("post_install", "-at_install", "collections_http")
class TestPortalStatement(PortalCollectionsCommon, HttpCase):
    """The statement of account online and as a PDF, over real HTTP, and the
    same PDF for a collector."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.lang = "en_US"
        cls.customer.ref = "C-0042"
        cls.company.write(
            {"name": "Cobros Demo SL", "street": "Calle Mayor 1", "city": "Madrid", "phone": "+34 910 000 000"}
        )
        cls.old = cls._invoice(cls.customer, 300, 120)
        cls.recent = cls._invoice(cls.customer, 200, 10)
        cls.paid = cls._invoice(cls.customer, 80, 20)
        cls._pay(cls, cls.paid)
        cls.foreign = cls._invoice(cls.other_customer, 777.77, 10)

    def _statement(self, query="", status=200):
        page = self.url_open(f"/my/collections/statement?{query}")
        self.assertEqual(page.status_code, status, page.text[-500:])
        return page

    def _pdf(self, query="", status=200):
        response = self.url_open(f"/my/collections/statement.pdf?{query}")
        self.assertEqual(response.status_code, status, response.text[-500:])
        return response

    def test_statement_online_and_as_pdf(self):
        self.authenticate("cliente_uno", "cliente_uno_pw")
        self.assertIn('href="/my/collections/statement"', self.url_open("/my/collections").text)
        page = self._statement()
        today = fields.Date.today()
        self.assertIn(f'value="{today - timedelta(days=90)}"', page.text, "the last 90 days by default")
        self.assertIn(self.old.name, page.text)
        self.assertIn(self.recent.name, page.text)
        self.assertNotIn(self.foreign.name, page.text)
        self.assertNotIn("777.77", page.text)
        self.assertIn("No payments in this period", page.text, "the payment of June is older than 90 days")
        june = self._statement(f"date_from={TODAY - timedelta(days=5)}&date_to={TODAY}")
        self.assertIn("80.00", june.text, "a period the customer chooses shows its payments")

        pdf = self._pdf(f"date_from={TODAY - timedelta(days=5)}&date_to={TODAY}")
        self.assertEqual(pdf.headers["Content-Type"], "application/pdf")
        self.assertIn("private", pdf.headers["Cache-Control"])
        self.assertTrue(pdf.content.startswith(b"%PDF-"))
        text = pdf_text(pdf.content)
        for expected in (
            "Statement of Account",
            "Cobros Demo SL",
            "Calle Mayor 1",
            "+34 910 000 000",
            "Cliente Uno",
            "Customer reference: C-0042",
            "More than 90",  # the aging headers wrap in their columns
            self.old.name,
            self.recent.name,
            "Payments received",
            "80.00",
            "500.00",
        ):
            self.assertIn(expected, text)
        self.assertNotIn(self.foreign.name, text)

    def test_bad_periods_are_refused(self):
        self.authenticate("cliente_uno", "cliente_uno_pw")
        tomorrow = fields.Date.today() + timedelta(days=1)
        for query, message in (
            (f"date_to={tomorrow}", "cannot end after today"),
            (f"date_from={TODAY}&date_to={TODAY - timedelta(days=1)}", "start before it ends"),
            (f"date_from={TODAY - timedelta(days=800)}&date_to={TODAY}", "at most two years"),
            ("date_from=NaN", "Enter a valid date"),
            ("date_from=99999-01-01", "Enter a valid date"),
        ):
            with self.subTest(query=query):
                self.assertIn(message, self._statement(query, status=400).text)
                self.assertIn(message, self._pdf(query, status=400).text)

    def test_through_the_signed_link_in_spanish(self):
        self.env["ir.module.module"]._load_module_terms(["collections_portal"], ["es_ES"], overwrite=True)
        self.addCleanup(self.env.registry.clear_cache)
        self.customer.lang = "es_ES"
        url = self.customer._collections_portal_url("email")
        self.url_open(url[url.index("/my/collections/access/") :])
        self.assertIn("Extracto de cuenta", self._statement().text)
        text = pdf_text(self._pdf().content)
        for expected in ("Extracto de cuenta", "Facturas pendientes", "Más de 90", "Vencimiento", "Pagos recibidos"):
            self.assertIn(expected, text)
        self.assertIn(self.old.name, text)
        self.assertNotIn("Statement of Account", text)

    def test_nobody_else_gets_a_statement(self):
        self.assertEqual(self._pdf(status=200).url.split("?")[0].endswith("/web/login"), True, "anonymous: log in")
        self.assertNotIn(b"%PDF", self._pdf().content)

    def test_a_collector_attaches_the_same_pdf(self):
        self.customer.lang = "es_ES"
        self.env["ir.module.module"]._load_module_terms(["collections_portal"], ["es_ES"], overwrite=True)
        self.addCleanup(self.env.registry.clear_cache)
        action = self.customer.with_user(self.collector).action_collections_statement()
        attachment = self.env["ir.attachment"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)], order="id desc", limit=1
        )
        self.assertEqual(action["url"], f"/web/content/{attachment.id}?download=true")
        self.assertEqual(attachment.mimetype, "application/pdf")
        self.assertTrue(attachment.name.startswith("Extracto Cliente Uno"), attachment.name)
        self.assertIn("Extracto de cuenta", pdf_text(attachment.raw))
        clerk = new_test_user(self.env, "statement_clerk", groups="base.group_user,account.group_account_invoice")
        with self.assertRaises(AccessError, msg="only collectors"):
            self.customer.with_user(clerk).action_collections_statement()
