from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools.rules import PLAN_STATES


class CollectionsAnalyticsPlan(models.Model):
    """Payment plans completed and broken, by the month they started."""

    _name = "collections.analytics.plan"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections Plans Completed and Broken"
    _auto = False
    _order = "start_date desc"
    _rec_name = "plan_id"

    plan_id = fields.Many2one("collections.payment.plan", string="Payment Plan", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    policy_id = fields.Many2one("collections.policy", readonly=True)
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    start_date = fields.Date(readonly=True)
    end_date = fields.Date(string="Ended On", readonly=True)
    state = fields.Selection(PLAN_STATES, readonly=True)
    plan_count = fields.Integer(string="Plans", readonly=True)
    completed_count = fields.Integer(string="Completed", readonly=True)
    broken_count = fields.Integer(string="Broken", readonly=True)
    completed_rate = fields.Float(
        string="Completed (%)", readonly=True, aggregator="avg", help="Of the plans completed or broken."
    )
    amount_total = fields.Monetary(string="Amount", readonly=True)

    @api.model
    def _figure_query(self):
        return SQL(
            """SELECT plan.id, plan.id AS plan_id, plan.company_id, plan.partner_id, plan.currency_id,
                      plan.policy_id, plan.user_id, plan.start_date, plan.end_date, plan.state, 1 AS plan_count,
                      (plan.state = 'completed')::int AS completed_count, (plan.state = 'broken')::int AS broken_count,
                      CASE plan.state WHEN 'completed' THEN 100.0 WHEN 'broken' THEN 0.0 END AS completed_rate,
                      plan.amount_total
                 FROM collections_payment_plan plan"""
        )

    def action_open_plans(self):
        return self._open_records("collections.payment.plan", self.plan_id.ids, _("Payment Plans"))
