from odoo import api, fields, models

from ..tools import analytics_sql


class CollectionsAnalyticsCei(models.Model):
    """Collection effectiveness index per company and month."""

    _name = "collections.analytics.cei"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections CEI"
    _auto = False
    _order = "month_end desc"

    month_end = fields.Date(string="As Of", readonly=True)
    currency_id = fields.Many2one("res.currency", related="company_id.currency_id")
    receivable_previous = fields.Monetary(string="Opening Receivables", readonly=True)
    sales = fields.Monetary(string="Credit Sales", readonly=True)
    receivable = fields.Monetary(string="Closing Receivables", readonly=True)
    receivable_current = fields.Monetary(string="Closing Not Yet Due", readonly=True)
    collected = fields.Monetary(readonly=True, help="Opening receivables + credit sales - closing receivables.")
    collectible = fields.Monetary(readonly=True, help="Opening receivables + credit sales - closing not yet due.")
    cei = fields.Float(string="CEI (%)", readonly=True, aggregator="avg", digits=(16, 1))

    @api.model
    def _figure_query(self):
        return analytics_sql.SQL(
            """SELECT %s AS id, c.company_id, c.month_end, c.receivable_previous, c.sales, c.receivable,
                      c.receivable_current, c.collected, c.collectible, c.cei
                 FROM (%s) c""",
            analytics_sql.company_month_id("c"),
            analytics_sql.cei_by_month(),
        )

    def action_open_receivables(self):
        return self._open_month_receivables()
