from odoo import fields, models


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """Email through Odoo's own mail queue (templates in the customer's language)."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[("mail", "Odoo Email")], ondelete={"mail": "cascade"})

    def _mail_send(self, messages):
        messages._send_email()
