from odoo import fields, models

from .collections_message_audit import engine_messages


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """SMS through Odoo's own SMS service (In-App Purchase credits, the ``sms`` addon)."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[("sms_iap", "Odoo SMS (IAP)")], ondelete={"sms_iap": "cascade"})

    @engine_messages
    def _prepare_messages(self, messages):
        if self.provider_type != "sms_iap":
            return super()._prepare_messages(messages)
        return self._prepare_phone_messages(messages)

    @engine_messages
    def _send_messages(self, messages):
        """One ``sms.sms`` per message, sent in Odoo's IAP batches; its UUID is
        the provider reference. A crash before the answer is saved sends the
        same ``sms.sms`` again (IAP has no idempotency key)."""
        if self.provider_type != "sms_iap":
            return super()._send_messages(messages)
        self._mark_sending(messages)
        missing = messages.filtered(lambda m: not m.provider_ref)
        created = (
            self.env["sms.sms"]
            .sudo()
            .create(
                [{"number": m.recipient_phone, "body": m.body_text, "partner_id": m.partner_id.id} for m in missing]
            )
        )
        for message, sms in zip(missing, created, strict=True):
            message.provider_ref = sms.uuid
        # IAP's delivery reports reach Odoo's SMS trackers (see sms_tracker.py), which carry them to the messages.
        self.env["sms.tracker"].sudo().create([{"sms_uuid": sms.uuid} for sms in created])
        all_sms = self.env["sms.sms"].sudo().search([("uuid", "in", messages.mapped("provider_ref"))])
        sms_by_message = {m.id: all_sms.filtered(lambda s, m=m: s.uuid == m.provider_ref)[:1] for m in messages}
        all_sms.filtered(lambda s: s.state in ("outgoing", "error")).with_context(collections_sending=True)._send(
            unlink_failed=False, unlink_sent=False
        )
        results = []
        for message in messages:
            sms = sms_by_message[message.id]
            if sms.state in ("process", "pending", "sent"):
                status, code = "sent", None
            else:
                code = sms.failure_type or "unknown"
                # A server error may pass; credit, number or account problems need a person.
                status = "temporary" if code == "sms_server" else "permanent"
            results.append(
                {
                    "id": message.id,
                    "key": message.idempotency_key,
                    "status": status,
                    "provider_ref": sms.uuid,
                    "code": code,
                    "message": sms.failure_type
                    and dict(sms._fields["failure_type"]._description_selection(self.env)).get(sms.failure_type),
                    "retry_after": None,
                }
            )
        self._record_results(messages, results)
        return None
