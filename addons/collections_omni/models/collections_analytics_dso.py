from odoo import api, fields, models

from ..tools import analytics_sql


class CollectionsAnalyticsDso(models.Model):
    """Days sales outstanding by the countback method, and the best possible
    DSO, per company and month."""

    _name = "collections.analytics.dso"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections DSO"
    _auto = False
    _order = "month_end desc"

    month_end = fields.Date(string="As Of", readonly=True)
    currency_id = fields.Many2one("res.currency", related="company_id.currency_id")
    receivable = fields.Monetary(readonly=True, help="Open receivables at the month's end.")
    receivable_current = fields.Monetary(string="Not Yet Due", readonly=True)
    sales = fields.Monetary(string="Credit Sales", readonly=True, help="Invoices less credit notes of the month.")
    dso = fields.Float(string="DSO (Countback)", readonly=True, aggregator="avg", digits=(16, 1))
    best_dso = fields.Float(string="Best Possible DSO", readonly=True, aggregator="avg", digits=(16, 1))

    @api.model
    def _figure_query(self):
        return analytics_sql.SQL(
            """SELECT %s AS id, d.company_id, d.month_end, d.receivable, d.receivable_current, d.sales, d.dso,
                      d.best_dso
                 FROM (%s) d""",
            analytics_sql.company_month_id("d"),
            analytics_sql.dso_by_month(),
        )

    def action_open_receivables(self):
        """The documents open at the month's end: the balance the DSO counts back."""
        return self._open_month_receivables()
