from odoo import fields, models


class CollectionsPaymentPlan(models.Model):
    _inherit = "collections.payment.plan"

    origin = fields.Selection(selection_add=[("whatsapp", "WhatsApp")], ondelete={"whatsapp": "set default"})
