from odoo import _, api, fields, models
from odoo.tools import SQL

from ..tools import analytics_sql, sql_rules


class CollectionsAnalyticsVulnerable(models.Model):
    """Vulnerable customers: one row per protected customer and company it
    owes to (its own company, or every company, when it owes nothing), with what it owes and
    whether its protection is due for review. The count is the figure; the
    reason is not here (it stays on the customer, for those who may read it)."""

    _name = "collections.analytics.vulnerable"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections Vulnerable Customers"
    _auto = False
    _order = "review_date, partner_id"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    review_date = fields.Date(string="Review On", readonly=True)
    review_due = fields.Boolean(readonly=True)
    customer_count = fields.Integer(string="Vulnerable Customers", readonly=True, aggregator="sum")
    review_due_count = fields.Integer(string="Reviews Due", readonly=True, aggregator="sum")
    open_amount = fields.Monetary(string="Owed", readonly=True, aggregator="sum")

    @api.model
    def _figure_query(self):
        return SQL(
            """
            WITH owed AS (
                SELECT m.commercial_partner_id AS partner_id, m.company_id, sum(m.amount_residual_signed) AS amount
                  FROM account_move m
                 WHERE %(open)s
              GROUP BY m.commercial_partner_id, m.company_id
            )
            SELECT row_number() OVER (ORDER BY p.id, company.id)::int AS id, company.id AS company_id,
                   p.id AS partner_id, p.collections_user_id AS user_id, company.currency_id,
                   p.collections_vulnerable_review_date AS review_date,
                   COALESCE(p.collections_vulnerable_review_date <= %(today)s, FALSE) AS review_due,
                   1 AS customer_count,
                   COALESCE(p.collections_vulnerable_review_date <= %(today)s, FALSE)::int AS review_due_count,
                   COALESCE(owed.amount, 0) AS open_amount
              FROM res_partner p
              LEFT JOIN owed ON owed.partner_id = p.id
              JOIN res_company company
                ON company.id = owed.company_id
                OR (owed.company_id IS NULL AND company.id = COALESCE(p.company_id, company.id))
             WHERE p.collections_vulnerable AND p.id = p.commercial_partner_id
            """,
            open=sql_rules.open_receivable("m"),
            today=analytics_sql.analytics_today(),
        )

    def action_open_customers(self):
        return self._open_records("res.partner", self.partner_id.ids, _("Vulnerable Customers"))
