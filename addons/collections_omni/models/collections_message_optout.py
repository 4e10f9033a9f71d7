from markupsafe import Markup

from odoo import _, models
from odoo.tools.misc import hmac

from .collections_message_audit import engine_transition


class CollectionsMessageOptout(models.AbstractModel):
    """Opt-out by email: the signed unsubscribe link every collections email
    carries, its footer, and the consent entry the link records."""

    _name = "collections.message.optout"
    _description = "Collections Message Opt-Out"

    def _unsubscribe_token(self):
        self.ensure_one()
        return hmac(self.env(su=True), "collections-unsubscribe", self.id)

    def _unsubscribe_url(self):
        """The link in every collections email that opts the customer out of emails."""
        self.ensure_one()
        base_url = self.company_id.get_base_url()
        return f"{base_url}/collections/unsubscribe/{self.id}/{self._unsubscribe_token()}"

    def _email_opt_out_footer(self, rule_set, recipient):
        """Every collections email carries a way out, whatever its template: the
        unsubscribe link, which works by email (a rule set's opt-out text, such
        as "reply STOP", is for the text channels that understand it)."""
        self.ensure_one()
        self = self.with_context(lang=recipient.lang)
        link_text = _("Stop receiving payment reminders by email")
        return Markup("<p style='font-size: 12px; color: #666;'><a href='%s' style='color: #666;'>%s</a></p>") % (
            self._unsubscribe_url(),
            link_text,
        )

    @engine_transition
    def _unsubscribe(self):
        """Record the customer's opt-out from the channel this message came on (once)."""
        self.ensure_one()
        Consent = self.env["collections.consent"].sudo()
        partner = self.partner_id.commercial_partner_id
        if Consent._status_by_partner(partner, self.company_id).get((partner.id, self.channel)) != "opt_out":
            recipient = self.recipient_id or self.partner_id
            # Read by the company's staff, written on a public route: the company's language, not the visitor's.
            staff = self.with_context(lang=self.company_id.partner_id.lang or "en_US")
            Consent._record(
                partner,
                self.channel,
                "opt_out",
                "unsubscribe",
                address=recipient.email if self.channel == "email" else False,
                note=staff.env._("Unsubscribe link of %(subject)s", subject=self.subject or self.idempotency_key),
                company=self.company_id,
            )
