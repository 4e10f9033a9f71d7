from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

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
    channel (and, optionally, one address or number), and every preference
    (channel and hours), append-only. The newest entry decides.

    Consent belongs to a company: the data controller is the company that
    contacts, so a customer shared by two companies may have agreed to one and
    opted out of the other. Every entry names its company; a company's contact
    rules read only its own entries, and a record rule keeps each company's
    ledger to its users."""

    _name = "collections.consent"
    _description = "Collections Consent"
    _order = "date desc, id desc"

    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        help="The company the customer agreed with or opted out of: it decides only that company's contacts.",
    )
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, ondelete="cascade")
    channel = fields.Selection(CHANNELS, help="Empty only on a preference: no preferred channel.")
    address = fields.Char(string="Address or Number", help="Empty: every address of the customer on this channel.")
    status = fields.Selection(
        [("opt_in", "Opt-in"), ("opt_out", "Opt-out"), ("preference", "Preference")], required=True
    )
    hour_from = fields.Float(string="Preferred From", help="Preferred hours, in the customer's time zone.")
    hour_to = fields.Float(string="Preferred To")
    source = fields.Selection(CONSENT_SOURCES, required=True, default="collector")
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    note = fields.Char()
    user_id = fields.Many2one("res.users", string="Recorded By", default=lambda self: self.env.user)
    honoured_at = fields.Datetime(
        readonly=True, help="When the engine stopped the customer's pending messages on this channel."
    )
    stopped_message_count = fields.Integer(string="Pending Messages Stopped", readonly=True)

    @api.constrains("status", "hour_from", "hour_to")
    def _check_preferred_hours(self):
        for entry in self:
            if not (0 <= entry.hour_from <= 24 and 0 <= entry.hour_to <= 24):
                raise ValidationError(_("Preferred hours are between 00:00 and 24:00."))
            if (entry.hour_from or entry.hour_to) and entry.hour_from >= entry.hour_to:
                raise ValidationError(_("The preferred hours must end after they start."))
            if (entry.hour_from or entry.hour_to) and entry.status != "preference":
                raise ValidationError(_("Only a preference has preferred hours."))
            if not entry.channel and entry.status != "preference":
                raise ValidationError(_("An opt-in or opt-out is for a channel."))

    @api.model_create_multi
    def create(self, vals_list):
        entries = super().create(vals_list)
        entries.filtered(lambda entry: entry.status == "opt_out")._stop_pending_messages()
        return entries

    def _stop_pending_messages(self):
        """An opt-out is honoured at once, not at the next send: the customer's
        planned messages on the channel end blocked, and emails still waiting
        in Odoo's mail queue are cancelled."""
        pending = (
            self.env["collections.message"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.partner_id.ids),
                    ("company_id", "in", self.company_id.ids),
                    ("channel", "in", self.mapped("channel")),
                    ("direction", "=", "outbound"),
                    "|",
                    ("state", "=", "planned"),
                    "&",
                    ("state", "=", "queued"),
                    ("mail_id.state", "=", "outgoing"),
                ]
            )
        )
        stopped = pending.grouped(lambda m: (m.company_id, m.partner_id, m.channel))
        for entry in self:
            messages = stopped.get((entry.company_id, entry.partner_id, entry.channel), pending.browse())
            messages.mail_id.filtered(lambda mail: mail.state == "outgoing").cancel()
            messages.write({"state": "blocked", **messages._blocked_vals("opt_out")})
            # The ledger is append-only for collectors: the engine stamps its own columns.
            entry.sudo().write({"honoured_at": fields.Datetime.now(), "stopped_message_count": len(messages)})

    @api.model
    def _record(
        self, partner, channel, status, source, address=False, note=False, hour_from=0.0, hour_to=0.0, company=None
    ):
        """Record a consent change or preference (for replies, the portal and unsubscribe links),
        with ``company`` (default: the current one), the company that contacted the customer."""
        return self.sudo().create(
            {
                "company_id": (company or self.env.company).id,
                "partner_id": partner.commercial_partner_id.id,
                "channel": channel,
                "address": address,
                "status": status,
                "source": source,
                "note": note,
                "hour_from": hour_from,
                "hour_to": hour_to,
            }
        )

    @api.model
    def _status_by_partner(self, partners, company=None):
        """{(partner id, channel): newest status} for these customers with ``company`` (default: the current one)."""
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (partner_id, channel) partner_id, channel, status
              FROM collections_consent
             WHERE partner_id = ANY(%s) AND company_id = %s AND status != 'preference'
          ORDER BY partner_id, channel, date DESC, id DESC
            """,
            [partners.commercial_partner_id.ids, (company or self.env.company).id],
        )
        return {(partner_id, channel): status for partner_id, channel, status in self.env.cr.fetchall()}

    @api.model
    def _preferences_by_partner(self, partners, company=None):
        """{partner id: (preferred channel, (start, end) minutes or None)}, from the newest preference
        given to ``company`` (default: the current one)."""
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (partner_id) partner_id, channel, COALESCE(hour_from, 0), COALESCE(hour_to, 0)
              FROM collections_consent WHERE partner_id = ANY(%s) AND company_id = %s AND status = 'preference'
          ORDER BY partner_id, date DESC, id DESC
            """,
            [partners.commercial_partner_id.ids, (company or self.env.company).id],
        )
        return {
            partner_id: (channel or False, (round(start * 60), round(end * 60)) if end > start else None)
            for partner_id, channel, start, end in self.env.cr.fetchall()
        }

    @api.model
    def _contacting_companies(self, partner):
        """The companies whose choices a customer makes on its own (portal,
        links): those that dun it (its receivables, its collections messages),
        else the current company."""
        partner = partner.commercial_partner_id
        self.env["account.move.line"].flush_model(["partner_id", "company_id", "parent_state", "account_id"])
        self.env["collections.message"].flush_model(["partner_id", "company_id"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT line.company_id FROM account_move_line line
                  JOIN account_account account ON account.id = line.account_id
                 WHERE line.partner_id = %(partner)s AND line.parent_state = 'posted'
                   AND account.account_type = 'asset_receivable'
                 UNION
                SELECT company_id FROM collections_message WHERE partner_id = %(partner)s
                """,
                partner=partner.id,
            )
        )
        return self.env["res.company"].browse(sorted(company_id for (company_id,) in rows)) or self.env.company
