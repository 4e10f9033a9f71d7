from odoo import _, api, fields, models, tools

from ..tools import analytics_sql
from ..tools.rules import CHANNELS


class CollectionsAnalyticsContact(models.Model):
    """Effectiveness of contacts: one row per outbound message that went out,
    with what followed it. Payments, replies and opt-outs are each attributed
    once, to the customer's last contact before them (tools/analytics_sql.py)."""

    _name = "collections.analytics.contact"
    _inherit = ["collections.analytics.mixin"]
    _description = "Collections Contact Effectiveness"
    _auto = False
    _order = "contact_date desc, id desc"
    _rec_name = "message_id"

    message_id = fields.Many2one("collections.message", readonly=True)
    contact_date = fields.Date(string="Contacted On", readonly=True)
    company_currency_id = fields.Many2one("res.currency", related="company_id.currency_id")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    currency_id = fields.Many2one("res.currency", string="Message Currency", readonly=True)
    channel = fields.Selection(CHANNELS, readonly=True)
    policy_id = fields.Many2one("collections.policy", readonly=True)
    stage_id = fields.Many2one("collections.stage", readonly=True)
    template_id = fields.Many2one("mail.template", readonly=True)
    user_id = fields.Many2one("res.users", string="Collector", readonly=True)
    contact_count = fields.Integer(string="Contacts", readonly=True)
    delivery_rate = fields.Float(
        string="Delivered (%)", readonly=True, aggregator="avg", help="Letters and calls report no delivery."
    )
    read_rate = fields.Float(string="Read (%)", readonly=True, aggregator="avg")
    reply_rate = fields.Float(string="Replied (%)", readonly=True, aggregator="avg")
    paid_7_count = fields.Integer(string="Payments in 7 Days", readonly=True)
    paid_7_amount = fields.Monetary(string="Paid in 7 Days", currency_field="company_currency_id", readonly=True)
    paid_30_count = fields.Integer(string="Payments in 30 Days", readonly=True)
    paid_30_amount = fields.Monetary(string="Paid in 30 Days", currency_field="company_currency_id", readonly=True)
    opt_out_count = fields.Integer(string="Opt-outs", readonly=True)

    @api.model
    def _figure_query(self):
        return analytics_sql.contact_effectiveness()

    def init(self):
        # Attribution looks up each payment's last contact of its customer.
        tools.create_index(
            self.env.cr,
            "collections_message_analytics_contact_index",
            "collections_message",
            ["partner_id", "sent_at"],
            where="direction = 'outbound' AND sent_at IS NOT NULL",
        )
        self._create_materialized(analytics_sql.CONTACT_OUTCOME_TABLE, analytics_sql.contact_outcomes(), ["message_id"])
        return super().init()

    def action_open_messages(self):
        return self._open_records("collections.message", self.message_id.ids, _("Messages"))

    def action_open_payments(self):
        """The payment entries attributed to these contacts."""
        self.env.cr.execute(
            analytics_sql.SQL(
                "SELECT DISTINCT a.move_id FROM (%s) a WHERE a.message_id = ANY(%s)",
                analytics_sql.attributed_payments(),
                self.message_id.ids,
            )
        )
        move_ids = [row[0] for row in self.env.cr.fetchall()]
        return self._open_records("account.move", move_ids, _("Payments After the Contacts"))
