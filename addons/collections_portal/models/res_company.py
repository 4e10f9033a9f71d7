from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    collections_user_id = fields.Many2one(
        help="Told about broken payment plans and promises, and about plans customers decline in the portal, "
        "when neither they nor their customer name a collector. Also gets the plans and promises customers make "
        "in the portal when neither the customer nor the policy's Collector for Portal Requests names one.",
    )
