from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools.rules import DISPUTE_REASONS


class CollectionsAnalyticsDispute(models.Model):
    """Disputes opened and resolved, and how long they took."""

    _name = "collections.analytics.dispute"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections Disputes Opened and Resolved"
    _auto = False
    _order = "opened_date desc"
    _rec_name = "dispute_id"

    dispute_id = fields.Many2one("collections.dispute", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Owner", readonly=True)
    reason = fields.Selection(DISPUTE_REASONS, readonly=True)
    opened_date = fields.Date(string="Opened On", readonly=True)
    resolved_date = fields.Date(string="Resolved On", readonly=True)
    dispute_count = fields.Integer(string="Opened", readonly=True)
    resolved_count = fields.Integer(string="Resolved", readonly=True)
    duration_days = fields.Float(
        string="Days to Resolve",
        readonly=True,
        aggregator="avg",
        digits=(16, 1),
        help="Average over resolved disputes.",
    )

    @api.model
    def _figure_query(self):
        return SQL(
            """SELECT d.id, d.id AS dispute_id, d.company_id, d.partner_id, d.user_id, d.reason,
                      d.create_date::date AS opened_date, d.resolved_date, 1 AS dispute_count,
                      (d.state = 'resolved')::int AS resolved_count,
                      CASE WHEN d.state = 'resolved' THEN d.resolved_date - d.create_date::date END AS duration_days
                 FROM collections_dispute d"""
        )

    def action_open_disputes(self):
        return self._open_records("collections.dispute", self.dispute_id.ids, _("Disputes"))
