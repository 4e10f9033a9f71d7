from odoo import api, fields, models

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
