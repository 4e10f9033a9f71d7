from odoo import _, api, fields, models

from ..tools import ab_testing
from ..tools.rules import CHANNELS
from .collections_stage import TONES


class CollectionsAbVariant(models.Model):
    """One arm of an A/B test: what it changes in the stage action's reminder
    (empty: as the action says) and its share of the customers."""

    _name = "collections.ab.variant"
    _description = "Collections A/B Test Variant"
    _order = "test_id, sequence, id"

    test_id = fields.Many2one("collections.ab.test", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="test_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True)
    share = fields.Float(string="Traffic (%)", required=True, default=50.0, digits=(5, 2))
    mail_template_id = fields.Many2one(
        "mail.template", string="Template", domain=[("model", "=", "collections.message")]
    )
    channel = fields.Selection(CHANNELS)
    time_of_day = fields.Float(
        string="Send At", help="Hour of the day in the customer's time zone; empty: the action's."
    )
    tone = fields.Selection(TONES)
    # The outcome, per customer of the variant (collections.ab.test._results).
    customer_count = fields.Integer(string="Customers", compute="_compute_outcome")
    converted_count = fields.Integer(string="Paid", compute="_compute_outcome")
    conversion_rate = fields.Float(string="Paid (%)", compute="_compute_outcome", digits=(16, 1))
    ci_low = fields.Float(string="95% CI Low (%)", compute="_compute_outcome", digits=(16, 1))
    ci_high = fields.Float(string="95% CI High (%)", compute="_compute_outcome", digits=(16, 1))
    amount = fields.Float(string="Amount Recovered", compute="_compute_outcome", digits=(16, 2))
    reply_rate = fields.Float(string="Replied (%)", compute="_compute_outcome", digits=(16, 1))
    opt_out_rate = fields.Float(string="Opted Out (%)", compute="_compute_outcome", digits=(16, 1))
    p_value = fields.Float(
        string="p-value",
        compute="_compute_outcome",
        digits=(16, 4),
        help="Two-proportion z-test of its paid rate against the first variant (the control).",
    )

    _sql_constraints = [("share_range", "CHECK(share > 0 AND share <= 100)", "A share is between 0 and 100 %.")]

    @api.depends("test_id")
    def _compute_outcome(self):
        results = self.test_id._results() if self.test_id.ids else {}
        for variant in self:
            row = results.get(variant.id, {})
            customers, converted = row.get("customers", 0), row.get("converted", 0)
            low, high = ab_testing.wilson_interval(converted, customers)
            control = variant.test_id.variant_ids[:1]
            control_row = results.get(control.id, {})
            _z, p_value = ab_testing.two_proportion_z_test(
                control_row.get("converted", 0), control_row.get("customers", 0), converted, customers
            )
            variant.update(
                {
                    "customer_count": customers,
                    "converted_count": converted,
                    "conversion_rate": 100.0 * converted / customers if customers else 0.0,
                    "ci_low": 100.0 * low,
                    "ci_high": 100.0 * high,
                    "amount": row.get("amount", 0.0),
                    "reply_rate": 100.0 * row.get("replied", 0) / customers if customers else 0.0,
                    "opt_out_rate": 100.0 * row.get("opted_out", 0) / customers if customers else 0.0,
                    "p_value": 1.0 if variant == control else p_value,
                }
            )

    def _apply_to_action(self):
        """What this variant changes, written on the stage action (and the tone on its stage)."""
        self.ensure_one()
        action = self.test_id.action_id
        values = {}
        if self.mail_template_id:
            values["mail_template_id"] = self.mail_template_id.id
        if self.channel:
            values["channel"] = self.channel
        if self.time_of_day:
            values["time_of_day"] = self.time_of_day
        action.write(values)
        if self.tone:
            action.stage_id.tone = self.tone

    def _display_label(self):
        return _("%(test)s: %(variant)s", test=self.test_id.name, variant=self.name)
