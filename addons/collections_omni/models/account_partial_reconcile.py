from odoo import api, models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    @api.model_create_multi
    def create(self, vals_list):
        """Every payment, whatever its way in (payment, statement line, credit
        note), reconciles through here: pending reminders whose invoices are
        now all settled are cancelled at once, not at their sending time."""
        partials = super().create(vals_list)
        moves = (partials.debit_move_id | partials.credit_move_id).move_id
        invoices = moves.filtered(lambda m: m.move_type == "out_invoice")
        if invoices:
            pending = (
                self.env["collections.message"]
                .sudo()
                .search([("move_ids", "in", invoices.ids), ("state", "in", ("planned", "queued"))])
            )
            if pending:
                pending._still_due()
        return partials
