from odoo import _, models
from odoo.exceptions import UserError


class ResPartner(models.Model):
    _inherit = "res.partner"

    def action_collections_whatsapp(self):
        """The customer's WhatsApp conversation (its reply box sends text, the
        statement and invoice PDFs inside the 24-hour window)."""
        self.ensure_one()
        conversations = self.env["collections.whatsapp.conversation"].search(
            [("partner_id", "child_of", self.commercial_partner_id.id)],
            order="last_inbound_at desc nulls last, id desc",
        )
        if not conversations:
            raise UserError(
                _(
                    "%(customer)s has not written on WhatsApp yet: until they do, WhatsApp allows only an approved "
                    "reminder template, no text or document.",
                    customer=self.commercial_partner_id.display_name,
                )
            )
        action = {
            "type": "ir.actions.act_window",
            "name": _("WhatsApp"),
            "res_model": "collections.whatsapp.conversation",
        }
        if len(conversations) == 1:
            return {**action, "view_mode": "form", "res_id": conversations.id}
        return {**action, "view_mode": "list,form", "domain": [("id", "in", conversations.ids)]}
