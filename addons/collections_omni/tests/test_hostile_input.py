from odoo.tests import HttpCase, tagged

from odoo.addons.collections_omni.tools import sms_http_client

from ..controllers.provider_status import CollectionsProviderStatus
from ..controllers.unsubscribe import CollectionsUnsubscribe
from .hostile import HOSTILE_VALUES, HostileInputMixin, controller_routes, label, path_value
from .mock_provider import unreachable_sms_provider

TOKEN = "hostile-test-token"


@tagged("post_install", "-at_install", "collections_http")
class TestHostileInputEngine(HostileInputMixin, HttpCase):
    """Every route of collections_omni gets the fixed hostile values in every
    parameter (see hostile.py for the convention)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = unreachable_sms_provider(cls.env, "Hostile SMS", TOKEN, "AC" + "1" * 32)
        cls.customer = cls.env["res.partner"].create(
            {"name": "Hostile Customer", "email": "ap@hostile.test", "mobile": "+34612345678"}
        )
        cls.message = cls.env["collections.message"].create(
            {
                "partner_id": cls.customer.id,
                "channel": "email",
                "currency_id": cls.env.company.currency_id.id,
                "idempotency_key": "hostile-1",
                "subject": "Payment reminder",
            }
        )

    def _signed_post(self, path, params):
        """A provider's webhook, signed as the provider signs: the hostile values reach the parsing."""
        url = f"{self.base_url()}{path}"
        signed = {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v for k, v in params.items()}
        headers = {"X-Twilio-Signature": sms_http_client.sign(TOKEN, url, signed)}
        return self.url_open(url, data=params, headers=headers, allow_redirects=False)

    def test_the_tests_cover_every_route(self):
        self.assertEqual(
            controller_routes(CollectionsProviderStatus, CollectionsUnsubscribe),
            {
                ("POST", "/collections/status/{id}"),
                ("POST", "/collections/inbound/{id}"),
                ("GET", "/collections/unsubscribe/{id}/{id}"),
                ("POST", "/collections/unsubscribe/{id}/{id}"),
            },
        )

    def test_provider_webhooks(self):
        status = {"MessageSid": "SMhostile", "MessageStatus": "delivered", "ErrorCode": "", "ErrorMessage": ""}
        inbound = {"From": "+34699000111", "Body": "hola", "MessageSid": "SMhostile-in"}
        before = self._hostile_counts()
        with self._no_error_logged():
            for value in HOSTILE_VALUES:
                for route, form in (("status", status), ("inbound", inbound)):
                    path = f"/collections/{route}/{path_value(value)}"
                    what = f"POST {path[:60]}"
                    allowed = (301, 308, 404) if value == "" else range(400, 500)
                    self._assert_refused(self._hostile_request("POST", path, form), what, allowed, before)
                    path = f"/collections/{route}/{self.provider.id}"
                    for name in form:
                        what = f"POST {path} {name}={label(value)}"
                        # Unsigned: refused whatever it says.
                        unsigned = self._hostile_request("POST", path, {**form, name: value})
                        self._assert_refused(unsigned, what, (400, 403), before)
                        # Signed: a report or reply about nobody we know is acknowledged and ignored.
                        signed = self._signed_post(path, {**form, name: value})
                        self._assert_refused(signed, what + " (signed)", (200, 204, 400), before)

    def test_unsubscribe_link(self):
        token = self.message._unsubscribe_token()
        before = self._hostile_counts()
        with self._no_error_logged():
            for value in HOSTILE_VALUES:
                for path in (
                    f"/collections/unsubscribe/{path_value(value)}/{token}",
                    f"/collections/unsubscribe/{self.message.id}/{path_value(value)}",
                ):
                    # An empty segment: werkzeug merges the slashes with a redirect (to no route).
                    allowed = (301, 308, 404) if value == "" else range(400, 500)
                    for method in ("GET", "POST"):
                        what = f"{method} {path[:80]}"
                        response = self._hostile_request(method, path, {"List-Unsubscribe": "One-Click"})
                        self._assert_refused(response, what, allowed, before)
                path = f"/collections/unsubscribe/{self.message.id}/{token}"
                for params in ({"List-Unsubscribe": value}, {"csrf_token": value}, {value: "One-Click"}):
                    response = self._hostile_request("POST", path, params)
                    self._assert_refused(response, f"POST {path} {label(params)}", (400,), before)
                # The page itself ignores query parameters it does not use.
                page = self._hostile_request("GET", path, {"x": value})
                if isinstance(value, bytes):
                    self._assert_refused(page, f"GET {path}?x={label(value)}", (400,), before)
                else:
                    self._assert_refused(page, f"GET {path}?x={label(value)}", (200,), before)
