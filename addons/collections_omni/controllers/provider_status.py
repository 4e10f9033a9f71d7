import logging

from odoo import http
from odoo.http import request

_logger = logging.getLogger(__name__)

# A provider's webhook: public and sessionless, POST only, no CSRF token (the provider signs it instead).
WEBHOOK_ROUTE = {"type": "http", "auth": "public", "methods": ["POST"], "csrf": False, "save_session": False}


class CollectionsProviderStatus(http.Controller):
    """Webhooks of the channel providers: each provider type verifies and
    parses its own requests (``collections.provider._verify_webhook``,
    ``_parse_status_webhook``, ``_parse_inbound_webhook``)."""

    @staticmethod
    def _request_data(params):
        """The request as the providers' webhook methods read it."""
        httprequest = request.httprequest
        body = httprequest.get_data()  # before the form is read (empty for a form Odoo has already parsed)
        return {
            "body": body,
            "url": httprequest.url,
            "form": httprequest.form.to_dict(flat=False),
            "params": params,
            "query": httprequest.args.to_dict(),
            "headers": httprequest.headers,
        }

    def _signed_request(self, provider_id, what, params):
        """(the provider that signed this request, the request as its webhook methods read
        it); the provider is None when the request is not signed by it."""
        request_data = self._request_data(params)
        provider = request.env["collections.provider"].sudo().browse(provider_id).exists()
        if not provider or not provider._verify_webhook(request_data):
            _logger.warning("Collections: refused a %s for provider %s (bad signature)", what, provider_id)
            return None, request_data
        return provider, request_data

    @http.route("/collections/status/<int:provider_id>", **WEBHOOK_ROUTE)
    def provider_status(self, provider_id, **params):
        """Delivery-status callback of a provider (e.g. Twilio-compatible:
        MessageSid, MessageStatus, ErrorCode), signed as the provider signs
        (e.g. X-Twilio-Signature). Replays are harmless: statuses never go back."""
        provider, request_data = self._signed_request(provider_id, "status callback", params)
        if provider is None:
            return request.make_response("Forbidden", status=403)
        Message = request.env["collections.message"].sudo()
        for report in provider._parse_status_webhook(request_data):
            Message._apply_provider_status(
                provider,
                report["provider_ref"],
                report["status"],
                code=report.get("code"),
                error=report.get("error"),
                key=report.get("key"),
            )
        return request.make_response("", status=204)

    @http.route("/collections/inbound/<int:provider_id>", **WEBHOOK_ROUTE)
    def provider_inbound(self, provider_id, **params):
        """A customer's reply (e.g. Twilio-compatible incoming-message
        webhook: From, Body, MessageSid), signed like the status callbacks.
        Logged as an inbound collections message; STOP/BAJA records an opt-out."""
        provider, request_data = self._signed_request(provider_id, "inbound message", params)
        if provider is None:
            return request.make_response("Forbidden", status=403)
        Message = request.env["collections.message"].sudo()
        for reply in provider._parse_inbound_webhook(request_data):
            Message._record_inbound_reply(provider, reply["number"], reply["text"], reply["provider_ref"])
        # An empty TwiML answer: the customer gets no automatic reply from us.
        return request.make_response("<Response/>", headers=[("Content-Type", "text/xml")])
