import logging
from datetime import timedelta

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

# Refused attempts (bad or expired links, wrong checks, link requests) allowed in the window,
# per IP address and per customer; beyond them the portal answers 429 until the window passes.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_IP = 10
MAX_FAILURES_PER_PARTNER = 20

RESULTS = [
    ("ok", "Link opened"),
    ("expired", "Expired link"),
    ("invalid", "Altered or unknown link"),
    ("revoked", "Revoked link"),
    ("check_ok", "Identity check passed"),
    ("check_failed", "Identity check failed"),
    ("link_requested", "Fresh link requested"),
]
FAILURES = ("expired", "invalid", "revoked", "check_failed", "link_requested")


class CollectionsPortalAccess(models.Model):
    """One attempt to open the portal through a reminder's link, to pass its
    identity check or to ask for a fresh link: the log the rate limit counts.

    Shared across companies, with no company of its own: an attempt comes
    before anyone knows which company's link it was (a wrong token, an IP
    address), and the limit protects the portal as a whole. Only managers read
    it, and only the portal's controllers write it."""

    _name = "collections.portal.access"
    _description = "Collections Portal Link Attempt"
    _order = "id desc"
    _log_access = False

    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True, readonly=True)
    ip = fields.Char(string="IP Address", index=True, readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", index=True, ondelete="cascade", readonly=True)
    result = fields.Selection(RESULTS, required=True, readonly=True)

    @api.model
    def _log(self, ip, partner, result):
        _logger.info("collections portal link: %s from %s for partner %s", result, ip, partner.id or "-")
        return self.sudo().create({"ip": ip, "partner_id": partner.id or False, "result": result})

    @api.model
    def _throttled(self, ip, partner=None):
        """Whether this IP address, or this customer from anywhere, failed too often lately."""
        since = fields.Datetime.now() - THROTTLE_WINDOW
        Access = self.sudo()
        failed = [("date", ">=", since), ("result", "in", FAILURES)]
        if ip and Access.search_count([*failed, ("ip", "=", ip)], limit=MAX_FAILURES_PER_IP) >= MAX_FAILURES_PER_IP:
            return True
        return bool(
            partner
            and Access.search_count([*failed, ("partner_id", "=", partner.id)], limit=MAX_FAILURES_PER_PARTNER)
            >= MAX_FAILURES_PER_PARTNER
        )
