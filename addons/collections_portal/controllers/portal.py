from odoo import _, http
from odoo.http import request

from odoo.addons.collections_omni.models.collections_stage_action import CHANNELS
from odoo.addons.portal.controllers.portal import CustomerPortal

HOURS = range(25)


class CollectionsCustomerPortal(CustomerPortal):
    """Portal routes for the customer's balance, promises and payment plans,
    and the contact preferences behind the consent ledger."""

    def _collections_partner(self):
        return request.env.user.partner_id.commercial_partner_id

    def _contact_preferences_values(self, partner, error=None, saved=False):
        Consent = request.env["collections.consent"].sudo()
        status = Consent._status_by_partner(partner)
        channel, hours = Consent._preferences_by_partner(partner).get(partner.id, (False, None))
        # Words for customers, not the back office's channel names.
        labels = {
            "email": _("Email"),
            "sms": _("Text message (SMS)"),
            "whatsapp": _("WhatsApp"),
            "letter": _("Letter"),
            "call": _("Phone call"),
        }
        return {
            "page_name": "collections_contact_preferences",
            "partner": partner,
            "channels": [
                (code, labels[code], status.get((partner.id, code)) != "opt_out") for code, _label in CHANNELS
            ],
            "preferred_channel": channel,
            "hour_from": hours[0] // 60 if hours else False,
            "hour_to": hours[1] // 60 if hours else False,
            "hours": HOURS,
            "error": error,
            "saved": saved,
        }

    @http.route("/my/contact-preferences", type="http", auth="user", website=True, methods=["GET"])
    def collections_contact_preferences(self, saved=None, **kwargs):
        values = self._contact_preferences_values(self._collections_partner(), saved=bool(saved))
        return request.render("collections_portal.portal_contact_preferences", values)

    @http.route("/my/contact-preferences", type="http", auth="user", website=True, methods=["POST"])
    def collections_contact_preferences_save(self, **post):
        """Every change lands in the consent ledger with the portal as its source;
        unchanged channels record nothing."""
        partner = self._collections_partner()
        channel_codes = {code for code, _label in CHANNELS}
        preferred = post.get("preferred_channel") or False
        hour_from, hour_to = post.get("hour_from") or "", post.get("hour_to") or ""
        error = None
        if preferred and preferred not in channel_codes:
            error = _("Unknown channel.")
        elif bool(hour_from) != bool(hour_to):
            error = _("Choose both the start and the end of your preferred hours, or neither.")
        elif hour_from and not (hour_from.isdigit() and hour_to.isdigit() and int(hour_from) < int(hour_to) <= 24):
            error = _("Your preferred hours must end after they start.")
        elif preferred and not post.get(f"allow_{preferred}"):
            error = _("Your preferred channel must be one you allow us to use.")
        if error:
            values = self._contact_preferences_values(partner, error=error)
            return request.render("collections_portal.portal_contact_preferences", values, status=400)
        Consent = request.env["collections.consent"].sudo()
        status = Consent._status_by_partner(partner)
        for code in sorted(channel_codes):
            allowed = bool(post.get(f"allow_{code}"))
            was_allowed = status.get((partner.id, code)) != "opt_out"
            if allowed != was_allowed:
                Consent._record(partner, code, "opt_in" if allowed else "opt_out", "portal")
        current = Consent._preferences_by_partner(partner).get(partner.id, (False, None))
        wanted_hours = (int(hour_from) * 60, int(hour_to) * 60) if hour_from else None
        if (preferred, wanted_hours) != current:
            Consent._record(
                partner,
                preferred,
                "preference",
                "portal",
                hour_from=int(hour_from or 0),
                hour_to=int(hour_to or 0),
            )
        return request.redirect("/my/contact-preferences?saved=1")
