from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import risk_sql, sql_rules


class AccountMove(models.Model):
    _inherit = "account.move"

    collections_policy_id = fields.Many2one(
        "collections.policy",
        copy=False,
        check_company=True,
        help="Overrides the customer's policy for this invoice.",
    )
    collections_state_id = fields.One2many("collections.move.state", "move_id")
    collections_stage_id = fields.Many2one(
        "collections.stage", compute="_compute_collections_state", search="_search_collections_stage_id"
    )
    collections_last_date = fields.Date(string="Last Reminder", compute="_compute_collections_state")
    collections_next_date = fields.Date(string="Next Reminder", compute="_compute_collections_state")
    collections_reminder_count = fields.Integer(
        string="Reminders Sent", compute="_compute_collections_state", inverse="_inverse_collections_reminder_count"
    )
    collections_excluded = fields.Boolean(string="Exclude from Collections", copy=False)
    collections_disputed = fields.Boolean(string="Disputed", copy=False)
    collections_plan_ids = fields.Many2many(
        "collections.payment.plan",
        "collections_payment_plan_account_move_rel",
        "move_id",
        "plan_id",
        string="Payment Plans",
        readonly=True,
        copy=False,
    )
    collections_promise_ids = fields.Many2many(
        "collections.promise",
        "collections_promise_account_move_rel",
        "move_id",
        "promise_id",
        string="Promises to Pay",
        readonly=True,
        copy=False,
    )
    collections_dispute_ids = fields.Many2many(
        "collections.dispute",
        "collections_dispute_account_move_rel",
        "move_id",
        "dispute_id",
        string="Disputes",
        readonly=True,
        copy=False,
    )

    collections_predicted_date = fields.Date(
        string="Predicted Payment",
        compute="_compute_collections_predicted_date",
        help="When the customer is expected to pay this open invoice: its due date plus the customer's "
        "recent-weighted delay (from the newest risk score), never less than a week ahead.",
    )
    collections_naive_date = fields.Date(
        string="Due + Average Delay",
        compute="_compute_collections_predicted_date",
        help="The naive estimate the prediction is measured against: due date plus the customer's average delay.",
    )

    def _compute_collections_predicted_date(self):
        """One query per company for every open invoice of the batch (risk_sql.predicted_payment_dates)."""
        self.collections_predicted_date = False
        self.collections_naive_date = False
        moves = self.filtered(lambda m: m.id and m.move_type == "out_invoice" and m.state == "posted")
        for company, batch in moves.grouped("company_id").items():
            self.env.cr.execute(
                risk_sql.predicted_payment_dates(
                    company.id,
                    fields.Date.context_today(self),
                    SQL("m.id = ANY(%s) AND %s", batch.ids, sql_rules.open_invoice("m")),
                )
            )
            for move_id, _partner, _due, predicted, naive in self.env.cr.fetchall():
                move = self.browse(move_id)
                move.collections_predicted_date = predicted
                move.collections_naive_date = naive

    @api.depends("collections_state_id.stage_id", "collections_state_id.reminder_count")
    def _compute_collections_state(self):
        for move in self:
            state = move.collections_state_id[:1]
            move.collections_stage_id = state.stage_id
            move.collections_last_date = state.last_date
            move.collections_next_date = state.next_date
            move.collections_reminder_count = state.reminder_count

    def _inverse_collections_reminder_count(self):
        for move in self:
            if move.collections_state_id:
                move.collections_state_id.reminder_count = move.collections_reminder_count
            else:
                self.env["collections.move.state"].create(
                    {
                        "move_id": move.id,
                        "company_id": move.company_id.id,
                        "reminder_count": move.collections_reminder_count,
                    }
                )

    def _search_collections_stage_id(self, operator, value):
        return [("collections_state_id.stage_id", operator, value)]
