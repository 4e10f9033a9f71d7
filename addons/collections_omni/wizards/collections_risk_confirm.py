from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..tools.risk_score import BAND_LABELS


class CollectionsRiskConfirm(models.TransientModel):
    """A person reviews the move the risk score suggests for a customer, with
    the reason for each point, and confirms or rejects it: the score never
    moves a customer to another policy by itself (GDPR art. 22) unless a rule
    a manager approved applies it. Either way the decision is logged."""

    _name = "collections.risk.confirm"
    _description = "Review a Risk Move"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, readonly=True)
    score_id = fields.Many2one("collections.risk.score", compute="_compute_score")
    score = fields.Integer(related="score_id.score", string="Risk")
    suggested_band = fields.Selection(related="score_id.band", string="Suggested Band")
    current_band = fields.Selection(BAND_LABELS, compute="_compute_score", string="Confirmed Band")
    current_policy_id = fields.Many2one("collections.policy", compute="_compute_score")
    explanation = fields.Html(related="score_id.explanation", string="Why")
    note = fields.Text(help="Why you confirm or reject the move (kept with the decision).")

    @api.depends("partner_id")
    def _compute_score(self):
        company = self.env.company
        latest = self.env["collections.risk.score"]._latest(self.partner_id.commercial_partner_id, company)
        for wizard in self:
            partner = wizard.partner_id.commercial_partner_id.with_company(company)
            wizard.score_id = latest.get(partner.id, False)
            wizard.current_band = partner.collections_risk_band
            wizard.current_policy_id = self.env["collections.policy"].sudo()._for_partner(partner, company)

    def _check_suggestion(self):
        self.ensure_one()
        if not self.score_id:
            raise UserError(_("%s has no risk score yet.", self.partner_id.display_name))
        if self.score_id.band == self.current_band:
            raise UserError(_("The score suggests no move: the customer is already in this band."))

    def action_confirm(self):
        self._check_suggestion()
        self.env["collections.risk.decision"]._decide(
            self.partner_id, self.env.company, self.score_id, "confirmed", note=self.note
        )
        return {"type": "ir.actions.act_window_close"}

    def action_reject(self):
        self._check_suggestion()
        self.env["collections.risk.decision"]._decide(
            self.partner_id, self.env.company, self.score_id, "rejected", note=self.note
        )
        return {"type": "ir.actions.act_window_close"}
