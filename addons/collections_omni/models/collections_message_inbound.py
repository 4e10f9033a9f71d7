import logging

from odoo import api, models

from ..tools import reply_keywords, sms_http_client
from .collections_message_audit import engine_transition

_logger = logging.getLogger(__name__)
# A customer's reply is stored and shown up to this length (ten SMS segments); a longer one is kept whole as a file.
MAX_INBOUND_CHARS = 1600


class CollectionsMessageInbound(models.AbstractModel):
    """Customers' replies, as inbound messages: logged once per provider
    reference, on the customer last written to at that number; the keywords
    of ``tools/reply_keywords.py`` opt out of or back into the channel.
    Called with what a provider's ``_parse_inbound_webhook`` parsed (and by
    the WhatsApp chat)."""

    _name = "collections.message.inbound"
    _description = "Collections Inbound Reply"

    @api.model
    @engine_transition
    def _record_inbound_reply(self, provider, number, text, provider_ref):
        """A customer's reply on ``provider``'s channel: logged once (replays of
        the webhook change nothing) on the customer we last wrote to at that
        number, else the customer with that number; STOP/BAJA opts the customer
        out of the channel, START opts back in."""
        key = f"in-{provider.channel}-{provider_ref}"
        existing = self.search([("idempotency_key", "=", key)], limit=1)
        if existing:
            return existing
        original = text or ""
        text = original[:MAX_INBOUND_CHARS]
        e164 = number if sms_http_client.E164.match(number or "") else False
        last = e164 and self.search(
            [("recipient_phone", "=", e164), ("direction", "=", "outbound"), ("channel", "=", provider.channel)],
            order="id desc",
            limit=1,
        )
        partner = last.partner_id if last else self.env["res.partner"]
        if not partner and e164:
            partner = self.env["res.partner"].search([("phone_sanitized", "=", e164)], limit=1).commercial_partner_id
        if not partner:
            _logger.info("Collections: a reply from an unknown number on %s was ignored", provider.name)
            return self.browse()
        company = last.company_id if last else (partner.company_id or provider.company_id or self.env.company)
        message = self.create(
            {
                "company_id": company.id,
                "partner_id": partner.id,
                "direction": "inbound",
                "channel": provider.channel,
                "currency_id": company.currency_id.id,
                "provider_id": provider.id,
                "provider_ref": provider_ref,
                "recipient_phone": e164,
                "body_text": text,
                # The number, not a sentence: the name reads "Reply from ..." in the reader's language.
                "subject": number,
                "state": "delivered",
                "idempotency_key": key,
            }
        )
        if len(original) > MAX_INBOUND_CHARS:
            text += "…"
            message.attachment_id = self.env["ir.attachment"].create(
                {
                    "name": f"{key}.txt",
                    "raw": original.encode(),
                    "mimetype": "text/plain",
                    "res_model": self._name,
                    "res_id": message.id,
                }
            )
        intent = reply_keywords.reply_intent(text)
        if intent:
            self.env["collections.consent"]._record(
                partner, provider.channel, intent, "reply", address=e164, note=text[:200], company=company
            )
        self.env["collections.note"]._post(
            partner, "inbound_reply", channel=provider.channel, number=number or "", text=text
        )
        return message
