import math

from odoo import _, api, fields, models
from odoo.exceptions import UserError

# How many ended promises (kept, broken, cancelled) the portal shows besides the running ones.
PORTAL_PAST_PROMISES = 10


class CollectionsPromise(models.Model):
    _inherit = "collections.promise"

    @api.model
    def _portal_promises(self, partner, past_limit=PORTAL_PAST_PROMISES):
        """The customer's promises, as superuser but only theirs: the running
        ones, then the last ``past_limit`` that ended (kept, broken or
        cancelled), each group most recent first."""
        return self._portal_open_then_ended(partner, past_limit, "date desc, id desc")

    @api.model
    def _portal_promise(self, partner, invoice_ids, amount, promised_date):
        """A promise the customer makes in the portal over some of their open
        invoices (see ``account.move._collections_portal_selection``). Until
        the date the engine holds those invoices out of dunning.

        :param amount: what the customer promises; None for everything the invoices owe
        :raise UserError: with what is wrong; nothing is written
        """
        partner = partner.commercial_partner_id
        invoices = self.env["account.move"]._collections_portal_selection(partner, invoice_ids, lock=True)
        currency = invoices.currency_id
        residual = currency.round(sum(invoices.mapped("amount_residual")))
        if amount is not None and not math.isfinite(amount):
            raise UserError(_("Enter the amount as a number, for example 150.50."))
        # Compared before rounding too: rounding 1e308 to the cent overflows.
        too_much = amount is not None and amount > residual + currency.rounding
        amount = residual if amount is None or too_much else currency.round(max(amount, 0.0))
        if currency.compare_amounts(amount, 0) <= 0:
            raise UserError(_("The amount you promise must be more than zero."))
        if too_much or currency.compare_amounts(amount, residual) > 0:
            raise UserError(
                _(
                    "You can promise at most %(residual)s, what the chosen invoices still owe.",
                    residual=currency.format(residual),
                )
            )
        today = fields.Date.context_today(self)
        policy = self.env["collections.policy"].sudo()._for_partner(partner, invoices.company_id)
        policy._portal_check_date(promised_date, today)
        promise = self._portal_create(
            partner,
            invoices,
            {
                "currency_id": currency.id,
                "amount": amount,
                "date": today,
                "promised_date": promised_date,
                "source": "portal",
                "user_id": policy._portal_collector(partner, invoices.company_id).id,
            },
        )
        self.env["collections.note"]._post(promise, "portal_promised", person=self.env.user.partner_id.display_name)
        return promise
