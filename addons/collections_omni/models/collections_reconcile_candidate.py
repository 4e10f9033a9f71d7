from odoo import _, fields, models
from odoo.exceptions import UserError

from .collections_reconcile_match import RULES


class CollectionsReconcileCandidate(models.Model):
    """One way to settle a match: an invoice, or several together, ranked by score."""

    _name = "collections.reconcile.candidate"
    _description = "Collections Reconciliation Candidate"
    _order = "match_id, rank"

    match_id = fields.Many2one("collections.reconcile.match", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="match_id.company_id", store=True)
    rank = fields.Integer(required=True)
    score = fields.Integer()
    rule = fields.Selection(RULES)
    partner_id = fields.Many2one("res.partner", string="Customer")
    move_ids = fields.Many2many(
        "account.move",
        "collections_reconcile_candidate_move_rel",
        "candidate_id",
        "move_id",
        string="Invoices",
    )
    amount = fields.Monetary(string="Open Amount", help="What the invoices still owe together.")
    currency_id = fields.Many2one(related="match_id.currency_id")
    selected = fields.Boolean(readonly=True, help="The candidate that was reconciled.")

    def action_confirm(self):
        """One click in the review queue: reconcile the match with this candidate."""
        self.ensure_one()
        self.match_id._check_reviewer()
        self._confirm()
        return True

    def _confirm(self):
        """Reconcile each candidate's match with it, in one batch per company."""
        for candidate in self:
            match = candidate.match_id
            match._check_reviewable()
            if match.original_partner_id and candidate.partner_id != match.original_partner_id:
                raise UserError(
                    _(
                        "%(match)s comes from %(customer)s: it cannot settle invoices of %(other)s. "
                        "Correct the statement line's customer first if the bank named the wrong one.",
                        match=match.display_name,
                        customer=match.original_partner_id.display_name,
                        other=candidate.partner_id.display_name,
                    )
                )
        for company in self.match_id.company_id:
            candidates = self.filtered(lambda c, company=company: c.match_id.company_id == company)
            candidates.match_id._reconcile_candidates(candidates, "confirmed")
