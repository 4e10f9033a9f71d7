from odoo import fields, models

from ..tools import contact_rules
from .collections_contact_rule_set import RULE_CHANNELS


class CollectionsContactLimit(models.Model):
    """At most N contacts per period and channel, a line of a rule set. It has no
    company of its own: it is its rule set's (a record rule follows the rule set's)."""

    _name = "collections.contact.limit"
    _description = "Collections Contact Limit"

    rule_set_id = fields.Many2one("collections.contact.rule.set", required=True, ondelete="cascade")
    count = fields.Integer(string="At Most", required=True, default=1)
    days = fields.Float(string="In (days)", required=True, default=7)
    channel = fields.Selection(RULE_CHANNELS, required=True, default=contact_rules.ANY_CHANNEL)

    _sql_constraints = [
        ("count_positive", "CHECK(count > 0)", "A limit allows at least one contact."),
        ("days_positive", "CHECK(days > 0)", "A limit's window lasts at least a moment."),
    ]
