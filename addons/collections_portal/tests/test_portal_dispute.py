import re
from concurrent.futures import ThreadPoolExecutor

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from odoo.addons.collections_omni.tests.common import engine_message

from ..models.collections_dispute import MAX_EVIDENCE_SIZE
from .common import PortalCollectionsCommon

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@tagged("post_install", "-at_install", "collections_http")
class TestPortalDispute(PortalCollectionsCommon, HttpCase):
    """A customer disputes invoices in the portal, over real HTTP: the invoices
    leave dunning at once, the collector is told, the customer follows it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.vat = "ESB12345678"
        cls.customer.lang = "en_US"
        cls.first = cls._invoice(cls.customer, 300, 40)
        cls.second = cls._invoice(cls.customer, 200, 10)
        cls.foreign = cls._invoice(cls.other_customer, 777.77, 10)
        cls.Dispute = cls.env["collections.dispute"]
        cls.Attachment = cls.env["ir.attachment"]

    def setUp(self):
        super().setUp()
        self.authenticate("cliente_uno", "cliente_uno_pw")

    def _csrf(self, page):
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _form(self, query=""):
        page = self.url_open(f"/my/collections/dispute?{query}")
        self.assertEqual(page.status_code, 200, page.text[-500:])
        return page

    def _post(self, invoice_ids, reason="quality", description="", files=None, csrf=True, status=None):
        data = [("invoice_ids", str(i)) for i in invoice_ids] + [("reason", reason), ("description", description)]
        if csrf:
            data.append(("csrf_token", self._csrf(self._form())))
        response = self.url_open(
            "/my/collections/dispute", data=data, files=[("attachments", f) for f in (files or [])] or None
        )
        if status:
            self.assertEqual(response.status_code, status, response.text[-800:])
        return response

    def _disputes(self):
        return self.Dispute.search([("partner_id", "in", (self.customer | self.other_customer).ids)])

    def _evidence(self):
        return self.Attachment.search([("res_model", "=", "collections.dispute")])

    def test_dispute_holds_the_invoices_tells_the_collector_and_shows_its_resolution(self):
        reminder = engine_message(
            self.env, self.customer, "portal-dispute-reminder", state="planned", move_ids=[Command.set(self.first.ids)]
        )
        other_reminder = reminder._engine().copy(
            {"move_ids": [Command.set(self.second.ids)], "idempotency_key": "other"}
        )
        balance = self.url_open("/my/collections")
        self.assertIn('formaction="/my/collections/dispute"', balance.text, "the balance page offers it")
        form = self._form(f"invoice_ids={self.first.id}")
        self.assertIn("Goods or service not received", form.text, "the dispute's own reasons")
        self.assertIn('enctype="multipart/form-data"', form.text)
        done = self._post(
            [self.first.id],
            reason="wrong_amount",
            description="Charged 3 units, <b>received</b> 2",
            files=[("albaran.pdf", PDF, "application/pdf"), ("foto.JPG", JPEG, "image/jpeg")],
            status=200,
        )
        self.assertTrue(done.url.endswith("/my/collections?done=dispute"), done.url)
        self.assertIn("We are looking into it", done.text)
        dispute = self._disputes()
        self.assertEqual(
            (dispute.partner_id, dispute.move_ids, dispute.reason, dispute.state, dispute.user_id),
            (self.customer, self.first, "wrong_amount", "open", self.collector),
        )
        self.assertEqual(dispute.description, "Charged 3 units, <b>received</b> 2", "the customer's words as typed")
        self.assertEqual(
            sorted(dispute.attachment_ids.mapped(lambda a: (a.name, a.mimetype, a.res_id))),
            [("albaran.pdf", "application/pdf", dispute.id), ("foto.JPG", "image/jpeg", dispute.id)],
        )
        self.assertEqual({a.raw for a in dispute.attachment_ids}, {PDF, JPEG}, "the files as sent")
        self.assertEqual(reminder.state, "cancelled", "its pending reminder stops at once")
        self.assertEqual(other_reminder.state, "planned", "the other invoice is still dunned")
        activity = dispute.activity_ids
        self.assertEqual(activity.user_id, self.collector, "the collector gets a to-do")
        self.assertIn("&lt;b&gt;received", activity.note, "the customer's words escaped for the collector")
        self.assertEqual(self.first._collections_hold_reasons(self.first.invoice_date_due), {self.first.id: "dispute"})

        page = self.url_open("/my/collections")
        disputes = re.search(r'<tbody class="o_collections_disputes">.*?</tbody>', page.text, re.S).group(0)
        self.assertIn(self.first.name, disputes)
        self.assertIn("Wrong price or quantity", disputes)
        self.assertIn("Under review", disputes)
        form = self._form()
        self.assertRegex(form.text, rf'value="{self.first.id}"[^>]*disabled', "a disputed invoice cannot be chosen")

        dispute.write({"resolution": "rejected", "resolution_note": "internal"})
        dispute.action_resolve()
        disputes = re.search(
            r'<tbody class="o_collections_disputes">.*?</tbody>', self.url_open("/my/collections").text, re.S
        ).group(0)
        self.assertIn("Resolved", disputes)
        self.assertIn("Rejected", disputes)
        self.assertNotIn("internal", disputes)

    def test_invoices_in_a_promise_may_be_disputed_but_not_twice(self):
        self.env["collections.promise"]._portal_promise(self.customer, [self.second.id], None, fields.Date.today())
        self._post([self.second.id], reason="not_received", status=200)
        refused = self._post([self.second.id], reason="quality", status=400)
        self.assertIn("under review", refused.text)
        self.assertEqual(len(self._disputes()), 1)

    def test_bad_requests_write_nothing(self):
        too_big = b"%PDF-" + b"0" * MAX_EVIDENCE_SIZE
        for invoice_ids, reason, files, message in (
            ([self.foreign.id], "quality", [], "not open invoices of your account"),
            ([self.first.id, self.foreign.id], "quality", [], "not open invoices of your account"),
            (["99999999999"], "quality", [], "Choose invoices from the list"),
            (["NaN"], "quality", [], "Choose invoices from the list"),
            (["-1"], "quality", [], "Choose invoices from the list"),
            (["1e3"], "quality", [], "Choose invoices from the list"),
            ([], "quality", [], "Choose at least one invoice"),
            ([self.first.id], "made_up", [], "Choose what is wrong from the list"),
            ([self.first.id], "", [], "Choose what is wrong from the list"),
            ([self.first.id], "other", [], "Tell us what is wrong"),
            ([self.first.id], "quality", [("x.pdf", PNG, "application/pdf")], "is not a PDF, PNG or JPEG"),
            ([self.first.id], "quality", [("x.png", PDF, "image/png")], "is not a PDF, PNG or JPEG"),
            ([self.first.id], "quality", [("x.html", b"<script>alert(1)</script>", "text/html")], "is not a PDF"),
            ([self.first.id], "quality", [("x.exe", b"MZ\x90\x00", "application/octet-stream")], "is not a PDF"),
            ([self.first.id], "quality", [("big.pdf", too_big, "application/pdf")], "too large"),
            ([self.first.id], "quality", [(f"{n}.png", PNG, "image/png") for n in range(6)], "at most 5 files"),
        ):
            with self.subTest(message=message, ids=invoice_ids):
                refused = self._post(invoice_ids, reason=reason, files=files, description="", status=400)
                self.assertIn(message, refused.text)
                self.assertNotIn("777.77", refused.text)
        long_text = self._post([self.first.id], description="x" * 2001, status=400)
        self.assertIn("2000 characters at most", long_text.text)
        no_csrf = self._post([self.first.id], csrf=False)
        self.assertEqual(no_csrf.status_code, 400, "no CSRF token, no dispute")
        self.assertFalse(self._disputes(), "nothing written")
        self.assertFalse(self._evidence())

    def test_a_double_tap_makes_one_dispute(self):
        csrf = self._csrf(self._form())
        data = [("invoice_ids", str(self.first.id)), ("invoice_ids", str(self.second.id)), ("reason", "quality")]
        data.append(("csrf_token", csrf))
        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(lambda _i: self.url_open("/my/collections/dispute", data=data), range(2)))
        self.assertEqual([r.status_code for r in responses], [200, 200], "both see their dispute recorded")
        self.assertEqual(len(self._disputes()), 1)
        self.assertEqual(self._disputes().move_ids, self.first | self.second)

    def test_a_link_visitor_confirms_who_they_are_first(self):
        self.opener.cookies.clear()
        url = self.customer._collections_portal_url("sms")
        self.url_open(url[url.index("/my/collections/access/") :])
        form = self.url_open(f"/my/collections/dispute?invoice_ids={self.first.id}")
        self.assertIn("/my/collections/verify", form.url, "the form waits for the check")
        csrf = self._csrf(form)
        data = {"csrf_token": csrf, "invoice_ids": str(self.first.id), "reason": "quality"}
        blocked = self.url_open("/my/collections/dispute", data=data)
        self.assertEqual(blocked.status_code, 403)
        self.assertFalse(self._disputes())
        passed = self.url_open(
            "/my/collections/verify", data={"csrf_token": csrf, "answer": "5678", "next": "/my/collections/dispute"}
        )
        self.assertIn('name="reason"', passed.text)
        data["csrf_token"] = self._csrf(passed)
        self.assertEqual(self.url_open("/my/collections/dispute", data=data).status_code, 200)
        dispute = self._disputes()
        self.assertEqual(dispute.move_ids, self.first)
        self.assertTrue(any("through a reminder" in body for body in dispute.message_ids.mapped("body")))
