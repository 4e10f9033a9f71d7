from odoo import api, fields, models
from odoo.tools import LazyTranslate

from ..tools import graph_client

_lt = LazyTranslate(__name__)

# WhatsApp's own reasons for not sending (the engine's table: collections_message_reason.py).
WHATSAPP_BLOCKED_REASON_LABELS = {
    "whatsapp_unreachable": _lt("WhatsApp cannot reach %(number)s: %(reason)s"),
    "whatsapp_no_template": _lt(
        "No approved Utility WhatsApp template in %(lang)s for this stage, and the customer "
        "has not written in the last 24 hours: WhatsApp allows only templates then."
    ),
    "whatsapp_unparsable": _lt("The number cannot be read: add the country code or the customer's country"),
    "whatsapp_not_mobile": _lt("The number is a fixed line: WhatsApp needs a mobile"),
}


class CollectionsMessage(models.Model):
    _inherit = "collections.message"

    whatsapp_payload = fields.Text(
        string="WhatsApp Content",
        readonly=True,
        copy=False,
        help="The template and its parameters (or the text) as prepared: a retry sends exactly this (JSON).",
    )

    @api.model
    def _blocked_reason_labels(self):
        return {**super()._blocked_reason_labels(), **WHATSAPP_BLOCKED_REASON_LABELS}

    @api.model
    def _apply_dispatch_results(self, results, company_ids=None):
        """Results of sends, from inside Odoo or from the workers: a WhatsApp
        free text refused with 131047 is not failed when an approved template
        can take its place: it goes again at once as that template (embedded)
        or back to the workers (scaled). The one place of the rule, for both modes."""
        closed = {
            r["key"]
            for r in results or []
            if r.get("status") == "failed" and graph_client.error_kind(r.get("code")) == graph_client.WINDOW_CLOSED
        }
        if not closed:
            return super()._apply_dispatch_results(results, company_ids=company_ids)
        domain = [
            ("idempotency_key", "in", list(closed)),
            ("state", "in", ("queued", "sending")),
            ("provider_id.provider_type", "=", "whatsapp_cloud"),
        ]
        if company_ids is not None:
            domain.append(("company_id", "in", company_ids))
        switched_keys, resend = set(), []
        for provider, messages in self.sudo().search(domain).grouped("provider_id").items():
            keys = dict(zip(messages.ids, messages.mapped("idempotency_key"), strict=True))
            switched = provider._whatsapp_template_fallback(messages)
            switched_keys.update(keys[m.id] for m in switched)
            resend.append((provider, switched))
        updated = super()._apply_dispatch_results(
            [r for r in results if r["key"] not in switched_keys], company_ids=company_ids
        )
        for provider, switched in resend:
            if not switched:
                continue
            if provider.dispatch_mode == "celery":
                provider._enqueue(switched)
            else:
                provider._send_with_client(switched)
        return updated
