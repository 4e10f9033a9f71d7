from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .collections_stage_action import CHANNELS

MESSAGE_STATES = [
    ("planned", "Planned"),
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("read", "Read"),
    ("failed", "Failed"),
    ("blocked", "Blocked"),
    ("cancelled", "Cancelled"),
]
# States a message never leaves: the engine only appends after them.
FINAL_STATES = ("delivered", "read", "failed", "blocked", "cancelled")


class CollectionsMessage(models.Model):
    """Every outbound and inbound contact with a customer.

    The outbox that the dispatcher works from and the append-only audit trail
    of collections: the engine never deletes a message, it ends it (sent,
    failed, blocked with a reason, or cancelled).
    """

    _name = "collections.message"
    _description = "Collections Message"
    _order = "id desc"
    _check_company_auto = True
    _rec_name = "subject"

    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, ondelete="restrict")
    recipient_id = fields.Many2one("res.partner", string="Contacted", ondelete="restrict")
    direction = fields.Selection([("outbound", "Outbound"), ("inbound", "Inbound")], required=True, default="outbound")
    channel = fields.Selection(CHANNELS, required=True, index=True)
    move_ids = fields.Many2many("account.move", string="Invoices", check_company=True)
    currency_id = fields.Many2one("res.currency", required=True)
    amount_due = fields.Monetary(currency_field="currency_id", help="Net open amount covered, in the message currency.")
    policy_id = fields.Many2one("collections.policy", ondelete="restrict", index=True)
    stage_id = fields.Many2one("collections.stage", ondelete="restrict", index=True)
    action_id = fields.Many2one("collections.stage.action", ondelete="restrict")
    run_id = fields.Many2one("collections.run", ondelete="restrict", index=True)
    subject = fields.Char()
    body = fields.Html(string="Content", sanitize_style=True)
    state = fields.Selection(MESSAGE_STATES, required=True, default="planned", index=True)
    blocked_reason = fields.Char(string="Reason")
    provider_ref = fields.Char(string="Provider ID", index="btree_not_null", copy=False)
    error = fields.Text()
    idempotency_key = fields.Char(required=True, copy=False, readonly=True)
    planned_date = fields.Date(required=True, default=fields.Date.context_today, index=True)
    scheduled_at = fields.Datetime(help="Not sent before this moment (time of day, contact windows).")
    sent_at = fields.Datetime(readonly=True)
    delivered_at = fields.Datetime(readonly=True)
    read_at = fields.Datetime(readonly=True)
    mail_id = fields.Many2one("mail.mail", string="Email", readonly=True, ondelete="set null")
    activity_id = fields.Many2one("mail.activity", string="Call Task", readonly=True, ondelete="set null")
    attachment_id = fields.Many2one("ir.attachment", string="Letter", readonly=True, ondelete="set null")

    _sql_constraints = [
        ("idempotency_key_uniq", "unique(idempotency_key)", "A message with this idempotency key already exists."),
    ]

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("Collections messages are an audit trail: cancel them instead of deleting them."))

    def action_cancel(self):
        pending = self.filtered(lambda m: m.state in ("planned", "queued"))
        pending.write({"state": "cancelled", "blocked_reason": _("Cancelled by %s", self.env.user.name)})
        return True
