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
