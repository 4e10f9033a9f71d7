from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    collections_policy_ids = fields.One2many("collections.policy", "company_id", string="Collections Policies")
