from odoo import api, fields, models

from ..tools import analytics_sql


class CollectionsAnalyticsAging(models.Model):
    """Aging of the receivables at each month's end of the last twelve months
    (the current month as of today): one row per open document and month."""

    _name = "collections.analytics.aging"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections Aging"
    _auto = False
    _order = "month_end desc, days_overdue desc"
    _rec_name = "move_id"
    _group_in_selection_order = ("bucket",)

    month_end = fields.Date(string="As Of", readonly=True, help="The month's last day, or today for this month.")
    move_id = fields.Many2one("account.move", string="Document", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    currency_id = fields.Many2one("res.currency", string="Document Currency", readonly=True)
    company_currency_id = fields.Many2one("res.currency", related="company_id.currency_id")
    policy_id = fields.Many2one("collections.policy", readonly=True)
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    due_date = fields.Date(readonly=True)
    days_overdue = fields.Integer(readonly=True, aggregator="max")
    bucket = fields.Selection(
        [(key, label) for key, label, _last in analytics_sql.AGING_BUCKETS], string="Aging Bucket", readonly=True
    )
    amount_residual = fields.Monetary(
        string="Receivable", currency_field="company_currency_id", readonly=True, help="Open at that date."
    )
    amount_overdue = fields.Monetary(
        string="Overdue", currency_field="company_currency_id", readonly=True, help="Open and past due at that date."
    )
    document_count = fields.Integer(string="Documents", readonly=True)

    @api.model
    def _figure_query(self):
        return analytics_sql.SQL(
            """SELECT (s.move_id::bigint * 10000 + mod(extract(year FROM s.month_end)::int, 100) * 100
                       + extract(month FROM s.month_end)::int) AS id,
                      s.month_end, s.move_id, s.company_id, s.partner_id, s.currency_id, s.policy_id, s.user_id,
                      s.due_date, s.days_overdue, s.bucket, s.amount_residual,
                      CASE WHEN s.days_overdue > 0 THEN s.amount_residual ELSE 0 END AS amount_overdue,
                      1 AS document_count
                 FROM %s s
                WHERE s.month_start > date_trunc('month', s.as_of) - %s * interval '1 month'""",
            analytics_sql.SQL.identifier(analytics_sql.SNAPSHOT_TABLE),
            analytics_sql.TREND_MONTHS,
        )

    def init(self):
        # The snapshots of one more month than the trend: CEI needs the receivables before its first month.
        self._create_materialized(
            analytics_sql.SNAPSHOT_TABLE,
            analytics_sql.receivable_snapshots(analytics_sql.TREND_MONTHS + 1),
            ["company_id", "month_start"],
        )
        return super().init()

    def action_open_documents(self):
        return self._open_invoices(self.move_id)
