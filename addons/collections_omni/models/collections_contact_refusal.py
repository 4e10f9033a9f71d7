from odoo import fields, models

from .collections_stage_action import CHANNELS

REFUSAL_REASONS = [
    ("holiday", "Public holiday"),
    ("outside_hours", "Outside the allowed hours"),
    ("min_gap", "Too soon after the last contact"),
    ("after_conversation", "Too soon after a conversation"),
    ("frequency", "Contact limit reached"),
    ("channels", "Too many channels in the window"),
    ("opt_out", "Opted out"),
    ("no_consent", "No consent for the channel"),
    ("preferred_hours", "Outside the customer's preferred hours"),
]


class CollectionsContactRefusal(models.Model):
    """Every time the contact rules refused a message: the proof that they
    were applied, kept for the compliance report. Append-only."""

    _name = "collections.contact.refusal"
    _description = "Collections Contact Refusal"
    _order = "refused_at desc, id desc"
    _log_access = False

    message_id = fields.Many2one("collections.message", required=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, index=True, ondelete="cascade")
    channel = fields.Selection(CHANNELS, required=True)
    rule_set_id = fields.Many2one("collections.contact.rule.set", string="Rules", ondelete="set null")
    reason = fields.Selection(REFUSAL_REASONS, required=True)
    refused_at = fields.Datetime(required=True, index=True)
    retry_at = fields.Datetime(string="Moved To", help="Empty: the message ended blocked.")
