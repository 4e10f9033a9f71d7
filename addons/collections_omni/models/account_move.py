from odoo import fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    collections_policy_id = fields.Many2one(
        "collections.policy",
        copy=False,
        check_company=True,
        help="Overrides the customer's policy for this invoice.",
    )
    collections_stage_id = fields.Many2one("collections.stage", readonly=True, copy=False, index="btree_not_null")
    collections_last_date = fields.Date(string="Last Reminder", readonly=True, copy=False)
    collections_reminder_count = fields.Integer(string="Reminders Sent", readonly=True, copy=False)
    collections_excluded = fields.Boolean(string="Exclude from Collections", copy=False)
    collections_disputed = fields.Boolean(string="Disputed", copy=False)
