import re
from datetime import timedelta

import requests

from odoo import fields
from odoo.tests import HttpCase, tagged

from odoo.addons.collections_omni.tests.hostile import (
    HOSTILE_VALUES,
    WATCHED_MODELS,
    HostileInputMixin,
    controller_routes,
    label,
    path_value,
)

from ..controllers.portal import CollectionsCustomerPortal
from ..models.collections_dispute import MAX_EVIDENCE_SIZE
from .common import PortalCollectionsCommon

REFUSE = "refuse"  # 4xx with the error, nothing written
IGNORE = "ignore"  # a display-only parameter: the page as if it were absent (2xx/3xx), nothing written
TEXT = "text"  # free text or a checkbox: stored as written when the rest is valid; never a 5xx
# Values a parameter legitimately accepts: not hostile for it.
VALID = {
    ("amount", ""),  # no amount: the whole of what the invoices owe
    ("preferred_channel", ""),  # no preferred channel
    ("hour_from", "0"),  # from midnight
    ("date_from", ""),  # the statement's default period
    ("date_to", ""),
}


@tagged("post_install", "-at_install", "collections_http")
class TestHostileInputPortal(PortalCollectionsCommon, HostileInputMixin, HttpCase):
    """Every route of collections_portal gets the fixed hostile values in every
    parameter, as the logged-in customer and anonymously (the convention:
    collections_omni/tests/hostile.py)."""

    watched_models = (*WATCHED_MODELS, "payment.transaction")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_payment_provider()
        cls.first = cls._invoice(cls.customer, 300, 40)
        cls.second = cls._invoice(cls.customer, 200, 10)
        cls.proposed = cls.Plan.create({"partner_id": cls.customer.id, "move_ids": [(6, 0, cls.second.ids)]})
        cls.proposed.action_generate_schedule()
        cls.proposed.action_propose()

    def _routes(self):
        """(method, path, valid parameters, {parameter: REFUSE or IGNORE}); a path's
        ``{id}`` is fuzzed too (REFUSE)."""
        today = fields.Date.context_today(self.portal_user)
        first = str(self.first.id)
        soon = fields.Date.to_string(today + timedelta(days=5))
        plan_form = {
            "invoice_ids": first,
            "installment_count": "3",
            "frequency": "monthly",
            "start_date": soon,
        }
        plan_terms = dict.fromkeys(plan_form, REFUSE)
        preferences = {
            **{f"allow_{code}": "on" for code in ("email", "sms", "whatsapp", "letter", "call")},
            "preferred_channel": "email",
            "hour_from": "9",
            "hour_to": "13",
        }
        plan = self.proposed.id
        return [
            ("GET", "/my/collections", {}, {"done": IGNORE}),
            ("GET", "/my/collections/pay", {"invoice_ids": first}, {"invoice_ids": REFUSE}),
            ("GET", "/my/collections/promise", {"invoice_ids": first}, {"invoice_ids": IGNORE}),
            (
                "POST",
                "/my/collections/promise",
                {"invoice_ids": first, "amount": "100", "promised_date": soon},
                {"invoice_ids": REFUSE, "amount": REFUSE, "promised_date": REFUSE},
            ),
            ("GET", "/my/collections/plan", plan_form, dict.fromkeys(plan_form, IGNORE)),
            ("GET", "/my/collections/plan", {**plan_form, "preview": "1"}, plan_terms),
            ("POST", "/my/collections/plan", plan_form, plan_terms),
            ("POST", "/my/collections/plan", {**plan_form, "submit": "1"}, plan_terms),
            (
                "GET",
                "/my/collections/plans/{id}",
                {},
                {"requested": IGNORE, "approved": IGNORE, "accepted": IGNORE, "declined": IGNORE},
            ),
            ("POST", "/my/collections/plans/{id}/accept", {}, {}),
            ("POST", "/my/collections/plans/{id}/decline", {"reason": "Too high"}, {}),
            ("GET", "/my/collections/statement", {}, {"date_from": REFUSE, "date_to": REFUSE}),
            ("GET", "/my/collections/statement.pdf", {}, {"date_from": REFUSE, "date_to": REFUSE}),
            ("GET", "/my/collections/dispute", {"invoice_ids": first}, {"invoice_ids": IGNORE}),
            (
                "POST",
                "/my/collections/dispute",
                {"invoice_ids": first, "reason": "wrong_amount", "description": "The price is not the agreed one."},
                {"invoice_ids": REFUSE, "reason": REFUSE},
            ),
            ("GET", "/my/contact-preferences", {}, {"saved": IGNORE}),
            (
                "POST",
                "/my/contact-preferences",
                preferences,
                {"preferred_channel": REFUSE, "hour_from": REFUSE, "hour_to": REFUSE},
            ),
            ("GET", "/my/collections/verify", {}, {"next": IGNORE, "sent": IGNORE}),
            ("POST", "/my/collections/verify", {"answer": "1234"}, {"next": IGNORE}),
            ("POST", "/my/collections/verify/code", {}, {"next": IGNORE}),
            ("POST", "/my/collections/access/renew", {"email": "nobody@example.com"}, {"email": REFUSE}),
            ("GET", "/my/collections/access/{id}", {}, {}),
        ], plan

    def _text_routes(self):
        """The parameters that are free text (a note, a reason, an answer, a link's token) or checkboxes."""
        today = fields.Date.context_today(self.portal_user)
        soon = fields.Date.to_string(today + timedelta(days=5))
        plan_form = {
            "invoice_ids": str(self.first.id),
            "installment_count": "3",
            "frequency": "monthly",
            "start_date": soon,
            "submit": "1",
        }
        return [
            ("GET", "/my/collections/pay", {"invoice_ids": str(self.first.id)}, {"all": TEXT}),
            ("POST", "/my/collections/plan", plan_form, {"note": TEXT, "submit": TEXT}),
            ("POST", "/my/collections/plans/{id}/decline", {"reason": "Too high"}, {"reason": TEXT}),
            (
                "POST",
                "/my/collections/dispute",
                {"invoice_ids": str(self.first.id), "reason": "other", "description": "See the delivery note."},
                {"description": TEXT},
            ),
            ("POST", "/my/contact-preferences", {"allow_email": "on"}, {"allow_email": TEXT, "allow_sms": TEXT}),
            ("POST", "/my/collections/verify", {"answer": "1234"}, {"answer": TEXT}),
            ("POST", "/my/collections/access/renew", {}, {"token": TEXT}),
        ], self.proposed.id

    def _csrf(self, session, path):
        page = session.get(f"{self.base_url()}{path}", timeout=60)
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _logged_in(self):
        self.authenticate("cliente_uno", "cliente_uno_pw")
        return self.opener, self._csrf(self.opener, "/my/collections/promise")

    def _anonymous(self):
        session = requests.Session()
        return session, self._csrf(session, "/my/collections/access/1-0-1-x")

    def _check(self, session, csrf, method, path, params, expect, what, anonymous):
        before = self._hostile_counts()
        if method == "POST":
            params = {**params, "csrf_token": csrf}
        response = self._hostile_request(method, path, params, session=session)
        if anonymous and response.status_code in (301, 302, 303):
            # The customer's pages send a visitor without a session to the login page.
            self.assertIn("/web/login", response.headers.get("Location", ""), what)
            allowed = (response.status_code,)
        elif expect == REFUSE:
            allowed = range(400, 500)
        elif expect == TEXT:
            allowed = range(200, 500)
            before = None
        else:
            allowed = (200, 301, 302, 303, 400, 429)
        self._assert_refused(response, what, allowed, before)
        return response

    def _fuzz_every_route(self, session, csrf, anonymous=False, text=False):
        routes, plan = self._text_routes() if text else self._routes()
        with self._no_error_logged():
            for method, template, valid, params in routes:
                for value in HOSTILE_VALUES:
                    if "{id}" in template:
                        path = template.replace("{id}", path_value(value))
                        what = f"{method} {path[:80]}"
                        self._check(session, csrf, method, path, valid, REFUSE, what, anonymous)
                    path = template.replace("{id}", str(plan))
                    for name, expect in params.items():
                        if (name, value) in VALID:
                            continue
                        what = f"{method} {path} {name}={label(value)}"
                        if isinstance(value, bytes):
                            expect = REFUSE  # a NUL: refused whatever the parameter
                        self._check(session, csrf, method, path, {**valid, name: value}, expect, what, anonymous)

    def test_the_tables_cover_every_route(self):
        """A route added to the controller without a line here fails this test."""
        tested = {(method, path) for method, path, _valid, _params in self._routes()[0] + self._text_routes()[0]}
        tested.add(("POST", "/my/collections/pay/transaction"))  # test_pay_transaction_json
        self.assertEqual(controller_routes(CollectionsCustomerPortal), tested)

    def test_every_route_as_the_customer(self):
        session, csrf = self._logged_in()
        self._fuzz_every_route(session, csrf)
        self.assertEqual(self.proposed.state, "proposed", "no hostile id answered the plan")

    def test_every_route_anonymously(self):
        session, csrf = self._anonymous()
        self._fuzz_every_route(session, csrf, anonymous=True)

    def test_free_text_and_checkboxes(self):
        """Free text is data: whatever it says, it is refused with a 4xx or taken
        as text (escaped wherever it is shown), never a 500; a NUL is refused."""
        for session, csrf, anonymous in ((*self._logged_in(), False), (*self._anonymous(), True)):
            self._fuzz_every_route(session, csrf, anonymous=anonymous, text=True)

    def test_pay_transaction_json(self):
        """The JSON route of the payment form: refused values come back as a
        JSON-RPC error with a message, never an internal error; the amount
        sent is ignored (the invoices' residual is what is charged)."""
        session, _csrf = self._logged_in()
        valid = {
            "provider_id": self.provider.id,
            "payment_method_id": self.method.id,
            "token_id": None,
            "amount": 1.0,
            "flow": "redirect",
            "tokenization_requested": False,
            "landing_route": "/my/collections?done=paid",
            "is_validation": False,
            "access_token": str(self.first.id),
        }
        strict = ("access_token", "provider_id", "payment_method_id", "token_id", "flow")
        with self._no_error_logged():
            for name in valid:
                for value in HOSTILE_VALUES:
                    value = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    if (name, value) == ("token_id", ""):
                        continue  # no token: valid
                    before = self._hostile_counts()
                    what = f"transaction {name}={label(value)}"
                    payload = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {**valid, name: value}}
                    response = self._hostile_request(
                        "POST", "/my/collections/pay/transaction", session=session, json=payload
                    )
                    self.assertEqual(response.status_code, 200, what)
                    body = response.json()
                    if name in strict:
                        self.assertIn("error", body, what)
                        self.assertEqual(self._hostile_counts(), before, what)
                    if "error" in body:
                        error = body["error"]["data"]
                        self.assertIn(
                            error["name"], ("odoo.exceptions.ValidationError", "odoo.exceptions.UserError"), what
                        )
                        self.assertTrue(error["message"], what)
        charged = self.env["payment.transaction"].sudo().search([("invoice_ids", "in", self.first.ids)])
        self.assertEqual(set(charged.mapped("amount")) - {300.0}, set(), "the browser's amount is never charged")


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@tagged("post_install", "-at_install", "collections_http")
class TestHostileUploadsAndHeaders(PortalCollectionsCommon, HostileInputMixin, HttpCase):
    """Dispute evidence and request headers as an attacker sends them: a 4xx that
    says what is wrong (or the page as if the header were absent), nothing
    written, no ERROR or traceback in the log."""

    watched_models = (*WATCHED_MODELS, "ir.attachment")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.lang = "en_US"
        cls.first = cls._invoice(cls.customer, 300, 40)

    def _logged_in(self):
        self.authenticate("cliente_uno", "cliente_uno_pw")
        page = self.opener.get(f"{self.base_url()}/my/collections/dispute", timeout=60)
        return self.opener, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _dispute(self, session, csrf, files, **headers):
        data = {"invoice_ids": str(self.first.id), "reason": "quality", "description": "", "csrf_token": csrf}
        return session.post(
            f"{self.base_url()}/my/collections/dispute",
            data=data,
            files=[("attachments", f) for f in files] or None,
            headers=headers,
            timeout=120,
            allow_redirects=False,
        )

    def test_evidence_uploads(self):
        session, csrf = self._logged_in()
        too_big = b"%PDF-" + b"0" * (MAX_EVIDENCE_SIZE + 1)
        cases = [
            ("an empty file", [("empty.pdf", b"", "application/pdf")], "is not a PDF, PNG or JPEG"),
            ("a web page named .pdf", [("invoice.pdf", b"<html><script>x</script>", "application/pdf")], "not a PDF"),
            ("a PDF named .png", [("photo.png", PDF, "image/png")], "is not a PDF, PNG or JPEG"),
            ("a PNG declared as PDF", [("scan.pdf", PNG, "application/pdf")], "is not a PDF, PNG or JPEG"),
            ("an executable", [("setup.exe", b"MZ\x90\x00" + b"\x00" * 64, "application/x-msdownload")], "not a PDF"),
            ("no extension", [("README", PDF, "application/pdf")], "is not a PDF, PNG or JPEG"),
            ("a double extension", [("evidence.pdf.exe", PDF, "application/pdf")], "is not a PDF, PNG or JPEG"),
            ("a traversal name", [("../../../../etc/passwd", b"root:x:0:0", "text/plain")], "passwd is not a PDF"),
            ("a Windows traversal", [("..\\..\\boot.ini", b"[boot]", "text/plain")], "boot.ini is not a PDF"),
            ("a non-ASCII name", [("factura_ñ_€_日本.exe", b"MZ", "application/pdf")], "factura_ñ_€_日本.exe is not"),
            # The browser's multipart encoding sends control characters percent-encoded.
            ("a name of control characters", [("\x01\x02\x7f", b"MZ", "application/pdf")], "is not a PDF"),
            ("a 6 MB file", [("big.pdf", too_big, "application/pdf")], "too large"),
            ("six files", [(f"{n}.pdf", PDF, "application/pdf") for n in range(6)], "at most 5 files"),
            ("two hundred files", [(f"{n}.pdf", b"", "application/pdf") for n in range(200)], "at most 5 files"),
            ("a valid file with a bad one", [("ok.pdf", PDF, "application/pdf"), ("x.pdf", b"<html>", "")], "x.pdf"),
        ]
        with self._no_error_logged():
            for what, files, message in cases:
                with self.subTest(what):
                    before = self._hostile_counts()
                    response = self._dispute(session, csrf, files)
                    self._assert_refused(response, what, range(400, 401), before)
                    self.assertIn(message, response.text, what)

    def test_a_traversal_name_with_a_real_document_keeps_only_its_base_name(self):
        session, csrf = self._logged_in()
        with self._no_error_logged():
            response = self._dispute(session, csrf, [("../../../tmp/../factura ñ.pdf", PDF, "application/pdf")])
        self.assertIn(response.status_code, (302, 303), response.text[-500:])
        dispute = self.env["collections.dispute"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(dispute.attachment_ids.mapped("name"), ["factura ñ.pdf"])
        self.assertEqual(dispute.attachment_ids.mimetype, "application/pdf")

    def test_odd_request_headers(self):
        """Headers that choose nothing a customer needs (the language, cookies) are
        ignored when odd; a body that is not what its Content-Type says is refused."""
        session, csrf = self._logged_in()
        odd_languages = [
            "x" * 20_000,
            "es-ES;q=abc, *;q=-1, ;;;,",
            "ñ-ÑÑ, 日本語;q=0.5",
            ",".join(f"l{n};q=0.{n % 10}" for n in range(2000)),
            "es_ES\t\t\t, en",
        ]
        with self._no_error_logged():
            for value in odd_languages:
                for path, opener in (("/my/collections", session), ("/collections/unsubscribe/1/x", requests)):
                    with self.subTest(path=path, language=value[:30]):
                        response = opener.get(
                            f"{self.base_url()}{path}",
                            headers={"Accept-Language": value.encode()},
                            timeout=60,
                            allow_redirects=False,
                        )
                        self._assert_refused(response, f"{path} Accept-Language", range(200, 500))
            # Cookies that are no ASCII (a session id of "é", a cookie of bytes that are no UTF-8).
            for cookie in ("session_id=é", "session_id=\xff\xfe; frontend_lang=ñ", "frontend_lang=" + "é" * 5000):
                with self.subTest(cookie=cookie[:30]):
                    response = requests.get(
                        f"{self.base_url()}/my/collections",
                        headers={"Cookie": cookie.encode("utf-8", "surrogateescape")},
                        timeout=60,
                        allow_redirects=False,
                    )
                    self._assert_refused(response, f"cookie {cookie[:20]!r}", range(200, 500))
            # Bodies that are not what their Content-Type says: no form is read, so no CSRF token: refused.
            url = f"{self.base_url()}/my/collections/dispute"
            form = f"invoice_ids={self.first.id}&reason=quality&csrf_token={csrf}"
            for what, content_type, body in (
                ("JSON declared as a form", "application/x-www-form-urlencoded", b'{"invoice_ids": 1}'),
                ("a form declared as JSON", "application/json", form.encode()),
                ("multipart without its boundary", "multipart/form-data", form.encode()),
                ("multipart with a wrong boundary", "multipart/form-data; boundary=zzz", b"--yyy\r\n" + form.encode()),
                ("a form declared as XML", "text/xml", form.encode()),
                ("bytes that are no UTF-8", "application/x-www-form-urlencoded; charset=utf-8", b"\xff\xfe=\xc3"),
            ):
                with self.subTest(what):
                    before = self._hostile_counts()
                    response = session.post(
                        url, data=body, headers={"Content-Type": content_type}, timeout=60, allow_redirects=False
                    )
                    self._assert_refused(response, what, range(400, 500), before)
            # A Content-Length shorter than the body: the form is cut, the CSRF token with it.
            before = self._hostile_counts()
            prepared = session.prepare_request(
                requests.Request("POST", url, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
            )
            prepared.headers["Content-Length"] = str(len(form) - len(csrf))
            response = session.send(prepared, timeout=60, allow_redirects=False)
            self._assert_refused(response, "a Content-Length shorter than the body", range(400, 500), before)
