from odoo import fields, models


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """Phone calls: a call activity for the customer's collector."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[("call_task", "Call Task")], ondelete={"call_task": "cascade"})

    def _call_task_send(self, messages):
        messages._send_call()
