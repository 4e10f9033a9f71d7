from odoo import http
from odoo.http import request
from odoo.tools import consteq


class CollectionsUnsubscribe(http.Controller):
    """The unsubscribe link of every collections email: one click shows what
    stops, a second confirms (mail scanners that follow links must not opt
    customers out). RFC 8058 one-click POSTs from mail clients confirm at once."""

    def _message_from_token(self, message_id, token):
        message = request.env["collections.message"].sudo().browse(message_id).exists()
        if not message or not consteq(message._unsubscribe_token(), token or ""):
            return None
        # The page speaks the customer's language, like the email did.
        lang = (message.recipient_id or message.partner_id).lang
        if lang and request.env["res.lang"]._get_data(code=lang):
            request.update_context(lang=lang)
        return message

    @http.route(
        "/collections/unsubscribe/<int:message_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        website=False,
        sitemap=False,
    )
    def unsubscribe_page(self, message_id, token, **kwargs):
        message = self._message_from_token(message_id, token)
        if message is None:
            return request.render("collections_omni.unsubscribe_invalid", status=404)
        return request.render("collections_omni.unsubscribe_page", {"message": message, "token": token, "done": False})

    @http.route(
        "/collections/unsubscribe/<int:message_id>/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,  # authenticated by the token; mail clients' one-click POSTs carry no CSRF token
        website=False,
        sitemap=False,
    )
    def unsubscribe_confirm(self, message_id, token, **kwargs):
        message = self._message_from_token(message_id, token)
        if message is None:
            return request.render("collections_omni.unsubscribe_invalid", status=404)
        message._unsubscribe()
        return request.render("collections_omni.unsubscribe_page", {"message": message, "token": token, "done": True})
