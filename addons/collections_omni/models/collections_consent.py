from odoo import _, api, fields, models

from .collections_stage_action import CHANNELS

CONSENT_SOURCES = [
    ("collector", "Collector"),
    ("portal", "Portal preference"),
    ("reply", "STOP / BAJA reply"),
    ("unsubscribe", "Unsubscribe link"),
    ("contract", "Contract or signup"),
    ("import", "Import"),
]


class CollectionsConsent(models.Model):
    """The consent ledger: every opt-in and opt-out of a customer for a
    channel (and, optionally, one address or number), append-only. The
    newest entry for a channel decides."""

    _name = "collections.consent"
    _description = "Collections Consent"
    _order = "date desc, id desc"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, ondelete="cascade")
    channel = fields.Selection(CHANNELS, required=True)
    address = fields.Char(string="Address or Number", help="Empty: every address of the customer on this channel.")
    status = fields.Selection([("opt_in", "Opt-in"), ("opt_out", "Opt-out")], required=True)
    source = fields.Selection(CONSENT_SOURCES, required=True, default="collector")
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    note = fields.Char()
    user_id = fields.Many2one("res.users", string="Recorded By", default=lambda self: self.env.user)
    honoured_at = fields.Datetime(
        readonly=True, help="When the engine stopped the customer's pending messages on this channel."
    )
    stopped_message_count = fields.Integer(string="Pending Messages Stopped", readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        entries = super().create(vals_list)
        entries.filtered(lambda entry: entry.status == "opt_out")._stop_pending_messages()
        return entries

    def _stop_pending_messages(self):
        """An opt-out is honoured at once, not at the next send: the customer's
        planned messages on the channel end blocked, and emails still waiting
        in Odoo's mail queue are cancelled."""
        Message = self.env["collections.message"].sudo()
        reason = _("The customer opted out of this channel")
        for entry in self:
            pending = Message.search(
                [
                    ("partner_id", "=", entry.partner_id.id),
                    ("channel", "=", entry.channel),
                    ("direction", "=", "outbound"),
                    "|",
                    ("state", "=", "planned"),
                    "&",
                    ("state", "=", "queued"),
                    ("mail_id.state", "=", "outgoing"),
                ]
            )
            pending.mail_id.filtered(lambda mail: mail.state == "outgoing").cancel()
            pending.write({"state": "blocked", "blocked_reason": reason})
            # The ledger is append-only for collectors: the engine stamps its own columns.
            entry.sudo().write({"honoured_at": fields.Datetime.now(), "stopped_message_count": len(pending)})

    @api.model
    def _record(self, partner, channel, status, source, address=False, note=False):
        """Record a consent change (for replies, the portal and unsubscribe links)."""
        return self.sudo().create(
            {
                "partner_id": partner.commercial_partner_id.id,
                "channel": channel,
                "address": address,
                "status": status,
                "source": source,
                "note": note,
            }
        )

    @api.model
    def _status_by_partner(self, partners):
        """{(partner id, channel): newest status} for these customers."""
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (partner_id, channel) partner_id, channel, status
              FROM collections_consent WHERE partner_id = ANY(%s)
          ORDER BY partner_id, channel, date DESC, id DESC
            """,
            [partners.commercial_partner_id.ids],
        )
        return {(partner_id, channel): status for partner_id, channel, status in self.env.cr.fetchall()}
