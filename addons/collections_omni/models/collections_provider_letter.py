from odoo import fields, models


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """Printed letters: a PDF per message, printed in batches from the messages list."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[("letter_pdf", "Letter PDF")], ondelete={"letter_pdf": "cascade"})

    def _letter_pdf_send(self, messages):
        messages._send_letter()
