import re

from odoo import http
from odoo.http import request
from odoo.tools import consteq

# The token is a hex HMAC (odoo.tools.misc.hmac): anything else is not a link we sent.
TOKEN_RE = re.compile(r"[0-9a-f]{16,128}\Z")
# PostgreSQL's integer: a larger id cannot be a record (and would fail the query).
MAX_ID = 2**31 - 1
# RFC 8058: the exact body a mail client's one-click unsubscribe POSTs.
ONE_CLICK_FORM = {"List-Unsubscribe": ["One-Click"]}


class CollectionsUnsubscribe(http.Controller):
    """The unsubscribe link of every collections email. Following it (GET)
    shows what stops and asks to confirm: mail scanners that prefetch links
    must not opt customers out. A confirmation opts out: the page's button
    (with its CSRF token) or a mail client's RFC 8058 one-click POST, which
    carries no session and no CSRF token, only ``List-Unsubscribe=One-Click``;
    the link's token authenticates both."""

    def _message_from_token(self, message_id, token):
        if not 0 < message_id <= MAX_ID or not TOKEN_RE.match(token or ""):
            return None
        message = request.env["collections.message"].sudo().browse(message_id).exists()
        if not message or not consteq(message._unsubscribe_token(), token):
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
        # Odoo's CSRF check is done below, except for the exact RFC 8058 body: mail
        # clients' one-click POSTs carry neither a session nor a CSRF token.
        csrf=False,
        save_session=False,
        website=False,
        sitemap=False,
    )
    def unsubscribe_confirm(self, message_id, token, **kwargs):
        message = self._message_from_token(message_id, token)
        if message is None:
            return request.render("collections_omni.unsubscribe_invalid", status=404)
        one_click = request.httprequest.form.to_dict(flat=False) == ONE_CLICK_FORM
        csrf = kwargs.get("csrf_token")
        # Odoo's check compares with hmac.compare_digest, which raises on non-ASCII text.
        if not one_click and not (isinstance(csrf, str) and csrf.isascii() and request.validate_csrf(csrf)):
            return request.render("collections_omni.unsubscribe_invalid", {"expired": True}, status=400)
        message._unsubscribe()
        return request.render("collections_omni.unsubscribe_page", {"message": message, "token": token, "done": True})
