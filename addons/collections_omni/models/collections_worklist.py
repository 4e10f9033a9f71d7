from odoo import fields, models, tools
from odoo.tools import SQL

from ..tools import sql_rules


class CollectionsWorklist(models.Model):
    """The collector's worklist: one line per customer and company with open
    receivables, prioritised by what is overdue and for how long.

    A read-only SQL view over posted customer invoices and credit notes, so
    it is always current and costs one grouped query.
    """

    _name = "collections.worklist"
    _description = "Collections Worklist"
    _auto = False
    _order = "priority desc, amount_overdue desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", related="company_id.currency_id")
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    stage_id = fields.Many2one("collections.stage", readonly=True)
    amount_due = fields.Monetary(string="Open Balance", readonly=True, help="In company currency, credits netted.")
    amount_overdue = fields.Monetary(string="Overdue", readonly=True)
    days_overdue = fields.Integer(readonly=True, help="Age of the oldest overdue invoice.")
    invoice_count = fields.Integer(string="Open Invoices", readonly=True)
    last_date = fields.Date(string="Last Contact", readonly=True)
    next_date = fields.Date(
        string="Next Action",
        readonly=True,
        help="The follow-up date the collector set on the customer, otherwise the day the customer's "
        "next dunning stage is reached.",
    )
    disputed = fields.Boolean(readonly=True, help="On dispute hold, or with an open dispute.")
    on_payment_plan = fields.Boolean(
        readonly=True,
        help="A payment plan holds invoices: proposed, active, or broken under a policy that keeps the hold.",
    )
    promise_date = fields.Date(string="Promised For", readonly=True, help="The earliest open promise to pay.")
    vulnerable = fields.Boolean(readonly=True)
    priority = fields.Float(
        readonly=True,
        digits=(16, 0),
        help="Overdue amount weighted by age: overdue × (1 + days overdue / 30). Higher comes first.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # Overdue as of the company's date (its address's zone), not the database server's.
        zone = sql_rules.partner_zone("company_partner", prefix="company_zone")
        today = sql_rules.local_today(zone.name)
        self.env.cr.execute(
            SQL(
                """
            CREATE VIEW %(view)s AS
            SELECT min(m.id) AS id, p.id AS partner_id, m.company_id,
                   p.collections_user_id AS user_id, p.collections_stage_id AS stage_id,
                   sum(m.amount_residual_signed) AS amount_due,
                   sum(m.amount_residual_signed) FILTER (
                       WHERE %(overdue)s) AS amount_overdue,
                   COALESCE(max(%(days_overdue)s) FILTER (
                       WHERE %(overdue)s), 0) AS days_overdue,
                   count(*) FILTER (WHERE m.move_type = 'out_invoice') AS invoice_count,
                   p.collections_last_date AS last_date,
                   COALESCE(p.collections_next_date, min(state.next_date)) AS next_date,
                   COALESCE(p.collections_dispute_hold, FALSE) OR EXISTS (
                       SELECT 1 FROM collections_dispute d
                        WHERE d.partner_id = p.id AND d.company_id = m.company_id AND d.state = 'open') AS disputed,
                   EXISTS (
                       SELECT 1 FROM collections_payment_plan plan
                        WHERE plan.partner_id = p.id AND plan.company_id = m.company_id
                          AND %(plan_holds)s) AS on_payment_plan,
                   (SELECT min(pr.promised_date) FROM collections_promise pr
                     WHERE pr.partner_id = p.id AND pr.company_id = m.company_id AND pr.state = 'open') AS promise_date,
                   COALESCE(p.collections_vulnerable, FALSE) AS vulnerable,
                   round(COALESCE(sum(m.amount_residual_signed) FILTER (
                       WHERE %(overdue)s), 0)
                       * (1 + COALESCE(max(%(days_overdue)s) FILTER (
                       WHERE %(overdue)s), 0) / 30.0)) AS priority
              FROM account_move m
              JOIN res_partner p ON p.id = m.commercial_partner_id
              JOIN res_company company ON company.id = m.company_id
              JOIN res_partner company_partner ON company_partner.id = company.partner_id
              LEFT JOIN collections_move_state state ON state.move_id = m.id
              %(zone_joins)s
             WHERE %(open)s
          GROUP BY p.id, m.company_id
            """,
                view=SQL.identifier(self._table),
                plan_holds=sql_rules.plan_holds("plan"),
                open=sql_rules.open_receivable("m"),
                overdue=sql_rules.overdue("m", today),
                days_overdue=sql_rules.days_overdue("m", today),
                zone_joins=zone.joins,
            )
        )

    def action_open_partner(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": self.partner_id.id,
            "view_mode": "form",
        }

    def action_log_call(self):
        self.ensure_one()
        return self.partner_id.action_collections_log_call()
