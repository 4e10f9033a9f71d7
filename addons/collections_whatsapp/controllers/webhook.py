import logging

from odoo import http
from odoo.http import request

from ..tools import webhook

_logger = logging.getLogger(__name__)


class CollectionsWhatsappWebhook(http.Controller):
    """Meta's webhook for one WhatsApp account: the GET handshake, then signed
    POSTs. The signature is checked over the raw bytes before anything is
    parsed or stored; bad requests get a 4xx and a log line, never a 500."""

    def _account(self, account_id):
        return request.env["collections.whatsapp.account"].sudo().browse(account_id).exists()

    @http.route(
        "/collections/whatsapp/webhook/<int:account_id>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def verify(self, account_id, **params):
        account = self._account(account_id)
        challenge = account and webhook.verify_challenge(request.httprequest.args, account.verify_token)
        if not challenge:
            _logger.warning("WhatsApp: refused a webhook handshake for account %s", account_id)
            return request.make_response("Forbidden", status=403)
        return request.make_response(challenge, headers=[("Content-Type", "text/plain")])

    @http.route(
        "/collections/whatsapp/webhook/<int:account_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive(self, account_id, **params):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > webhook.MAX_BODY_BYTES:
            _logger.warning("WhatsApp: refused an oversized webhook for account %s", account_id)
            return request.make_response("Payload Too Large", status=413)
        raw = httprequest.get_data(cache=True, parse_form_data=False)
        account = self._account(account_id)
        signature = httprequest.headers.get(webhook.SIGNATURE_HEADER)
        if not account or not webhook.verify_signature(account.app_secret, raw, signature):
            _logger.warning("WhatsApp: refused a webhook for account %s (bad or missing signature)", account_id)
            return request.make_response("Forbidden", status=403)
        try:
            events = webhook.parse(webhook.loads(raw))
        except webhook.PayloadError as error:
            _logger.warning("WhatsApp: refused a malformed webhook for account %s: %s", account_id, error)
            return request.make_response("Bad Request", status=400)
        Event = request.env["collections.whatsapp.event"].sudo()
        new = Event._store(account, events)
        account._note_accepted(events)
        new._process()
        return request.make_response("", status=200)
