import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

# Twilio's MessageStatus values and what they mean for a collections message.
TWILIO_STATUSES = {
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}


class CollectionsProviderStatus(http.Controller):
    def _signed_provider(self, provider_id, what):
        """The provider whose token signed this request (X-Twilio-Signature), or None."""
        provider = request.env["collections.provider"].sudo().browse(provider_id).exists()
        verify = provider and getattr(provider, f"_{provider.provider_type}_verify_callback", None)
        signature = request.httprequest.headers.get("X-Twilio-Signature", "")
        if not verify or not verify(request.httprequest.url, request.httprequest.form.to_dict(flat=False), signature):
            _logger.warning("Collections: refused a %s for provider %s (bad signature)", what, provider_id)
            return None
        return provider

    @http.route(
        "/collections/status/<int:provider_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def provider_status(self, provider_id, **params):
        """Delivery-status callback of an SMS provider (Twilio-compatible:
        MessageSid, MessageStatus, ErrorCode), signed with the provider's
        token in X-Twilio-Signature. Replays are harmless: statuses never go back."""
        provider = self._signed_provider(provider_id, "status callback")
        if provider is None:
            return request.make_response("Forbidden", status=403)
        status = TWILIO_STATUSES.get(params.get("MessageStatus"))
        if status and params.get("MessageSid"):
            request.env["collections.message"].sudo()._apply_provider_status(
                provider,
                params["MessageSid"],
                status,
                code=params.get("ErrorCode"),
                error=params.get("ErrorMessage"),
                key=request.httprequest.args.get("key"),
            )
        return request.make_response("", status=204)

    @http.route(
        "/collections/inbound/<int:provider_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def provider_inbound(self, provider_id, **params):
        """A customer's reply to an SMS (Twilio-compatible incoming-message
        webhook: From, Body, MessageSid), signed like the status callbacks.
        Logged as an inbound collections message; STOP/BAJA records an opt-out."""
        provider = self._signed_provider(provider_id, "inbound message")
        if provider is None:
            return request.make_response("Forbidden", status=403)
        if params.get("From") and params.get("MessageSid"):
            request.env["collections.message"].sudo()._record_inbound_reply(
                provider, params["From"], params.get("Body") or "", params["MessageSid"]
            )
        # An empty TwiML answer: the customer gets no automatic reply from us.
        return request.make_response("<Response/>", headers=[("Content-Type", "text/xml")])
