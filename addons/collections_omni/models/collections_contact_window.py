from odoo import fields, models

from ..tools import contact_rules
from .collections_contact_rule_set import RULE_CHANNELS, WEEKDAYS


class CollectionsContactWindow(models.Model):
    """When contacts are allowed, a line of a rule set. It has no company of its
    own: it is its rule set's (a record rule follows the rule set's)."""

    _name = "collections.contact.window"
    _description = "Collections Contact Window"
    _order = "weekday, hour_from"

    rule_set_id = fields.Many2one("collections.contact.rule.set", required=True, ondelete="cascade")
    weekday = fields.Selection(WEEKDAYS, required=True, default="0")
    hour_from = fields.Float(string="From", required=True, default=8)
    hour_to = fields.Float(string="To", required=True, default=20)
    channel = fields.Selection(RULE_CHANNELS, required=True, default=contact_rules.ANY_CHANNEL)

    _sql_constraints = [
        ("hours_valid", "CHECK(hour_from >= 0 AND hour_to <= 24 AND hour_from < hour_to)", "Hours run from 0 to 24."),
    ]
