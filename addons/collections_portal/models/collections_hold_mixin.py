from odoo import Command, api, models


class CollectionsHoldMixin(models.AbstractModel):
    _inherit = "collections.hold.mixin"

    @api.model
    def _portal_open_then_ended(self, partner, past_limit, order):
        """The customer's holds of this model, as superuser but only theirs: the open ones, then
        the last ``past_limit`` that ended, each group in ``order`` (most recent first)."""
        customer = [("partner_id", "=", partner.commercial_partner_id.id)]
        Holds = self.sudo()
        running = Holds.search([*customer, ("state", "=", "open")], order=order)
        ended = Holds.search([*customer, ("state", "!=", "open")], order=order, limit=past_limit)
        return running + ended

    @api.model
    def _portal_create(self, partner, invoices, values):
        """A hold the customer asks for in the portal, over ``invoices`` of ``partner``: created as
        superuser (the caller has checked that the invoices are the customer's; the customer has no
        access rights on holds) and not followed by the customer (its chatter is the collectors'
        conversation, with links the customer cannot open)."""
        return (
            self.sudo()
            .with_context(mail_create_nosubscribe=True)
            .create(
                {
                    "company_id": invoices.company_id.id,
                    "partner_id": partner.id,
                    "move_ids": [Command.set(invoices.ids)],
                    **values,
                }
            )
        )
