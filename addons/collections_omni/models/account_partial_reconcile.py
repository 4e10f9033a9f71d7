from odoo import api, models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    @api.model_create_multi
    def create(self, vals_list):
        """Every payment, whatever its way in (payment, statement line, credit
        note), reconciles through here: pending reminders whose invoices are
        now all settled are cancelled at once, not at their sending time; the
        payment plans and promises of those invoices take the payment at once."""
        partials = super().create(vals_list)
        self._collections_on_payments(partials._collections_invoices())
        return partials

    @api.model
    def _collections_on_payments(self, invoices):
        """Payments went into ``invoices`` (through the ORM or the set-based
        reconciliation writer)."""
        if invoices:
            self.env["collections.message"]._recheck_pending(moves=invoices)
            self.env["collections.payment.plan"].sudo()._on_payments(invoices)
            self.env["collections.promise"].sudo()._on_payments(invoices)

    def unlink(self):
        """An undone reconciliation gives the invoices their debt back: their
        payment plans no longer count that payment."""
        invoices = self._collections_invoices()
        result = super().unlink()
        if invoices:
            self.env["collections.payment.plan"].sudo()._on_payments(invoices.exists())
        return result

    def _collections_invoices(self):
        moves = (self.debit_move_id | self.credit_move_id).move_id
        return moves.filtered(lambda m: m.move_type == "out_invoice")
