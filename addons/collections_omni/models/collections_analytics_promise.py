from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools.rules import PROMISE_STATES


class CollectionsAnalyticsPromise(models.Model):
    """Promises to pay kept and broken, by the month they fell due."""

    _name = "collections.analytics.promise"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections Promises Kept and Broken"
    _auto = False
    _order = "promised_date desc"
    _rec_name = "promise_id"

    promise_id = fields.Many2one("collections.promise", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    policy_id = fields.Many2one("collections.policy", readonly=True)
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    promised_date = fields.Date(string="Pay By", readonly=True)
    state = fields.Selection(PROMISE_STATES, readonly=True)
    promise_count = fields.Integer(string="Promises", readonly=True)
    kept_count = fields.Integer(string="Kept", readonly=True)
    broken_count = fields.Integer(string="Broken", readonly=True)
    kept_rate = fields.Float(string="Kept (%)", readonly=True, aggregator="avg", help="Of the promises kept or broken.")
    amount = fields.Monetary(string="Promised", readonly=True)
    amount_paid = fields.Monetary(string="Paid", readonly=True)

    @api.model
    def _figure_query(self):
        return SQL(
            """SELECT pr.id, pr.id AS promise_id, pr.company_id, pr.partner_id, pr.currency_id, pr.policy_id,
                      pr.user_id, pr.promised_date, pr.state, 1 AS promise_count,
                      (pr.state = 'kept')::int AS kept_count, (pr.state = 'broken')::int AS broken_count,
                      CASE pr.state WHEN 'kept' THEN 100.0 WHEN 'broken' THEN 0.0 END AS kept_rate,
                      pr.amount, COALESCE(pr.amount_paid, 0) AS amount_paid
                 FROM collections_promise pr"""
        )

    def action_open_promises(self):
        return self._open_records("collections.promise", self.promise_id.ids, _("Promises to Pay"))
