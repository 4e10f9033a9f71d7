from odoo.tests import HttpCase, tagged

from odoo.addons.collections_omni.tests.hostile import (
    HOSTILE_VALUES,
    WATCHED_MODELS,
    HostileInputMixin,
    controller_routes,
    label,
    path_value,
)

from ..controllers.webhook import CollectionsWhatsappWebhook
from ..tools import webhook
from .common import WhatsappCommon


@tagged("post_install", "-at_install", "collections_http")
class TestHostileInputWhatsapp(WhatsappCommon, HostileInputMixin, HttpCase):
    """The WhatsApp webhook gets the fixed hostile values in every parameter:
    its path, the handshake's query and the body, unsigned and signed (the
    convention: collections_omni/tests/hostile.py)."""

    watched_models = (*WATCHED_MODELS, "collections.whatsapp.event")

    def _signed(self, path, raw):
        headers = {webhook.SIGNATURE_HEADER: webhook.sign(self.account.app_secret, raw)}
        return self.url_open(path, data=raw, headers=headers, allow_redirects=False)

    def test_the_test_covers_every_route(self):
        expected = {("GET", "/collections/whatsapp/webhook/{id}"), ("POST", "/collections/whatsapp/webhook/{id}")}
        self.assertEqual(controller_routes(CollectionsWhatsappWebhook), expected)

    def test_webhook(self):
        path = f"/collections/whatsapp/webhook/{self.account.id}"
        handshake = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
        before = self._hostile_counts()
        with self._no_error_logged():
            for value in HOSTILE_VALUES:
                what = f"webhook {label(value)}"
                wrong = f"/collections/whatsapp/webhook/{path_value(value)}"
                # An empty segment: werkzeug merges the slashes with a redirect (to no route).
                allowed = (301, 308, 404) if value == "" else range(400, 500)
                self._assert_refused(self._hostile_request("GET", wrong, handshake), what, allowed, before)
                self._assert_refused(self._hostile_request("POST", wrong, b"{}"), what, allowed, before)
                for name in handshake:
                    response = self._hostile_request("GET", path, {**handshake, name: value})
                    # Meta's challenge is echoed as plain text (its protocol); anything else is refused.
                    allowed = (
                        (200,) if name == "hub.challenge" and value and not isinstance(value, bytes) else (400, 403)
                    )
                    self._assert_refused(response, f"{what} in {name}", allowed, before)
                raw = value if isinstance(value, bytes) else value.encode()
                self._assert_refused(self._hostile_request("POST", path, raw), f"{what} unsigned", (403,), before)
                # Signed but no webhook Meta sends (an empty body carries no signed content: 403).
                self._assert_refused(self._signed(path, raw), f"{what} signed", (400,) if raw else (403,), before)
