from odoo import fields, models

from ..tools import letter_pdf
from .collections_message_audit import engine_messages


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """Printed letters: a PDF per message, printed in batches from the messages list."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[("letter_pdf", "Letter PDF")], ondelete={"letter_pdf": "cascade"})

    @engine_messages
    def _send_messages(self, messages):
        """Each letter rendered to a PDF attached to its message: sent (to print)."""
        if self.provider_type != "letter_pdf":
            return super()._send_messages(messages)
        messages._render_content()
        for message in messages:
            pdf = letter_pdf.render([message._letter_values()])
            attachment = messages.env["ir.attachment"].create(
                {
                    # Named in the letter's (the customer's) language, not the run's.
                    "name": message.with_context(lang=message._reminder_lang()).env._(
                        "Collections letter %(customer)s %(date)s.pdf",
                        customer=message.partner_id.name,
                        date=message.planned_date,
                    ),
                    "raw": pdf,
                    "mimetype": "application/pdf",
                    "res_model": "collections.message",
                    "res_id": message.id,
                }
            )
            message.attachment_id = attachment
            message._mark_sent()
        return None
