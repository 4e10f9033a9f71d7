from odoo import api, fields, models

from ..tools.file_outbox import FileOutboxClient

TYPE = "test_file_outbox"


# The whole provider: one file, no edit to collections_omni or collections_worker.
class CollectionsProvider(models.Model):
    """A template channel, as WhatsApp's: each message goes out as a template
    name with its parameters, through a plain-Python client that also runs on
    the workers."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[(TYPE, "File Outbox (tests)")], ondelete={TYPE: "cascade"})
    test_outbox_path = fields.Char(
        string="Outbox File", copy=False, groups="collections_omni.group_collections_manager"
    )

    @api.depends("provider_type")
    def _compute_supports_scaled(self):
        result = super()._compute_supports_scaled()
        for provider in self.filtered(lambda p: p.provider_type == TYPE):
            provider.supports_scaled = True
        return result

    def _prepare_messages(self, messages):
        if self.provider_type != TYPE:
            return super()._prepare_messages(messages)
        return self._prepare_phone_messages(messages)

    def _get_message_payloads(self, messages):
        payloads = super()._get_message_payloads(messages)
        if self.provider_type != TYPE:
            return payloads
        for payload, message in zip(payloads, messages, strict=True):
            payload["body"] = {
                "template": "collections_reminder",
                "language": (message.recipient_id or message.partner_id).lang or "en_US",
                "parameters": [message.partner_id.name, message._amount_text()],
            }
        return payloads

    def _get_client_settings(self):
        if self.provider_type != TYPE:
            return super()._get_client_settings()
        return {"path": self.sudo().test_outbox_path}

    def _get_client(self):
        if self.provider_type != TYPE:
            return super()._get_client()
        return FileOutboxClient(**self._get_client_settings())
