from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.rules import GROUP_MANAGER

LIVE_STATES = ("auto_reconciled", "confirmed")


class CollectionsReconcileMatchReview(models.AbstractModel):
    """Reconciliation, the review queue: a person confirms, rejects or
    undoes a match."""

    _name = "collections.reconcile.match.review"
    _description = "Collections Reconciliation: Review"

    def _check_reviewer(self):
        """The review queue is the managers': a confirmation or an undo moves
        money on the ledger. Checked here rather than left to the record
        reads, which Odoo does not check on a button's own records."""
        if self.env.su:
            return
        if not self.env.user.has_group(GROUP_MANAGER):
            raise AccessError(_("Only collections managers review reconciliations."))
        self.check_access("write")

    def _check_reviewable(self):
        for match in self:
            if match.state not in ("proposed", "none"):
                raise UserError(
                    _(
                        "%(match)s is %(state)s: only matches waiting for review can be confirmed or rejected.",
                        match=match.display_name,
                        state=dict(self._fields["state"]._description_selection(self.env))[match.state],
                    )
                )
            source = match.statement_line_id
            if source and source.is_reconciled:
                raise UserError(_("%(line)s is already reconciled.", line=source.display_name))

    def action_confirm(self):
        """Confirm each match's best candidate, all in one batch."""
        self._check_reviewer()
        best = self.env["collections.reconcile.candidate"]
        for match in self:
            if not match.candidate_ids:
                raise UserError(_("%(match)s has no candidate to confirm.", match=match.display_name))
            best |= match.candidate_ids.sorted("rank")[:1]
        best._confirm()
        return True

    def action_reject(self):
        self._check_reviewer()
        self._check_reviewable()
        self.write({"state": "rejected"})
        return True

    def action_undo(self):
        """Revert exactly what the match reconciled and put a statement line
        back on the suspense account. Messages cancelled by the payment stay
        cancelled: the next dunning run plans anew for what is open again."""
        self._check_reviewer()
        for match in self:
            if match.state not in LIVE_STATES:
                raise UserError(_("Only a reconciled match can be undone (%(match)s).", match=match.display_name))
        for match in self:
            # A narrow door, after the checks above: the engine reverts exactly what it
            # reconciled, so a collections manager needs no right to edit bank statement lines.
            ledger = match.sudo()
            ledger.partial_ids.exists().unlink()
            if ledger.statement_line_id:
                ledger.statement_line_id.action_undo_reconciliation()
            match.write({"state": "undone", "undone_at": fields.Datetime.now(), "undone_by_id": self.env.uid})
            self.env["collections.note"]._post(match, "reconciliation_undone")
        return True

    def action_open_source(self):
        self.ensure_one()
        record = self.statement_line_id.move_id or self.payment_id
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
        }
