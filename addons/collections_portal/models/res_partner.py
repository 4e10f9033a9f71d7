import hmac as hmac_lib
import time

from markupsafe import Markup

from odoo import _, fields, models
from odoo.exceptions import AccessError
from odoo.tools.misc import hmac

from odoo.addons.collections_omni.tools.rules import GROUP_COLLECTOR

# How long a reminder's link opens the portal, unless the setting says otherwise.
DEFAULT_LINK_DAYS = 30
LINK_DAYS_PARAM = "collections_portal.link_days"
LINK_SCOPE = "collections_portal.link"
# The signature is the HMAC-SHA256's first 128 bits: short enough for a text message.
SIGNATURE_LENGTH = 32


class ResPartner(models.Model):
    _inherit = "res.partner"

    collections_link_version = fields.Integer(
        string="Portal Link Version",
        default=0,
        copy=False,
        groups="account.group_account_invoice",
        help="Every reminder's link carries this number: raising it revokes all links sent so far.",
    )

    def action_collections_revoke_links(self):
        """Revoke every portal link sent so far to these customers (the next reminders carry new ones)."""
        # A public method: any logged-in user (a portal customer too) could call it over RPC.
        if not self.env.user.has_group(GROUP_COLLECTOR):
            raise AccessError(_("Only collectors can revoke a customer's portal links."))
        for partner in self.commercial_partner_id.sudo():
            partner.collections_link_version += 1
        return True

    def _collections_link_signature(self, version, expires):
        return hmac(self.env(su=True), LINK_SCOPE, (self.id, version, expires))[:SIGNATURE_LENGTH]

    def _collections_portal_url(self, channel=False):
        """A signed link that opens the commercial partner's collections page
        without a password until it expires (``collections_portal.link_days``)
        or is revoked (``action_collections_revoke_links``)."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        days = int(self.env["ir.config_parameter"].sudo().get_param(LINK_DAYS_PARAM, DEFAULT_LINK_DAYS))
        expires = int(time.time()) + days * 86400
        version = partner.collections_link_version
        token = f"{partner.id}-{version}-{expires}-{partner._collections_link_signature(version, expires)}"
        return f"{self.get_base_url().rstrip('/')}/my/collections/access/{token}"

    def _collections_check_link(self, token):
        """(customer, result) for a link's token: result is ``ok``, ``expired``,
        ``revoked`` or ``invalid`` (altered or made up; the customer is then empty).

        Only a genuine signature names a customer, so that an expired or revoked
        link can offer a fresh one to that customer's own address."""
        parts = (token or "").split("-")
        if len(parts) != 4 or not all(part.isdigit() for part in parts[:3]) or len(parts[0]) > 12:
            return self.browse(), "invalid"
        partner_id, version, expires = (int(part) for part in parts[:3])
        partner = self.sudo().browse(partner_id).exists()
        if not partner or partner.commercial_partner_id != partner:
            return self.browse(), "invalid"
        if not hmac_lib.compare_digest(partner._collections_link_signature(version, expires), parts[3]):
            return self.browse(), "invalid"
        if version != partner.collections_link_version:
            return partner, "revoked"
        if expires < time.time():
            return partner, "expired"
        return partner, "ok"

    def _collections_send_fresh_link(self, email_to=None):
        """Email a fresh link to the customer's address on file (queued, sent by the mail cron)."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        email_to = email_to or partner.email
        if not email_to:
            return False
        env = partner.with_context(lang=partner.lang or "en_US").env
        url = partner.with_env(env)._collections_portal_url("email")
        body = Markup('<p>%s</p><p><a href="%s">%s</a></p><p>%s</p>') % (
            env._(
                "Hello %(name)s, here is your new link to see what you owe and to pay, promise or ask for a payment "
                "plan online, without a password:",
                name=partner.name,
            ),
            url,
            url,
            env._("If you did not ask for it, you can ignore this message."),
        )
        self.env["mail.mail"].sudo().create(
            {
                "subject": env._("Your link to your account"),
                "email_to": email_to,
                "body_html": body,
                "auto_delete": False,
            }
        )
        return True
