from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.risk_score import BAND_LABELS
from ..tools.rules import GROUP_COLLECTOR

DECISION_KINDS = [
    ("confirmed", "Confirmed by a person"),
    ("rejected", "Rejected by a person"),
    ("automatic", "Applied by an approved rule"),
]


class CollectionsRiskDecision(models.Model):
    """Every decision on a move the risk score suggested: who (or which rule a
    manager approved) moved a customer from one band and policy to another, or
    refused to, on which score. Append-only: the record of GDPR art. 22's
    human intervention. Made only by :meth:`_decide` (the confirmation wizard
    and the approved rules), never directly."""

    _name = "collections.risk.decision"
    _description = "Collections Risk Decision"
    _order = "id desc"
    _rec_name = "partner_id"
    _check_company_auto = True

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    score_id = fields.Many2one("collections.risk.score", readonly=True, ondelete="set null")
    score = fields.Integer(string="Risk", readonly=True)
    kind = fields.Selection(DECISION_KINDS, string="Decision", required=True, readonly=True)
    from_band = fields.Selection(BAND_LABELS, readonly=True)
    to_band = fields.Selection(BAND_LABELS, string="Suggested Band", required=True, readonly=True)
    from_policy_id = fields.Many2one("collections.policy", readonly=True)
    to_policy_id = fields.Many2one("collections.policy", readonly=True)
    user_id = fields.Many2one("res.users", string="Decided By", readonly=True)
    rule_policy_id = fields.Many2one(
        "collections.policy", string="Approved Rule", readonly=True, help="The policy whose approved rule applied it."
    )
    rule_approved_by = fields.Many2one("res.users", readonly=True)
    note = fields.Text(readonly=True)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("Risk decisions are an audit trail: they are never deleted."))

    def write(self, vals):
        if self:
            raise UserError(_("Risk decisions are an audit trail: they are never changed."))
        return super().write(vals)

    @api.model
    def _decide(self, partner, company, score, kind, note=None, rule=None):
        """Record a decision on ``score``'s suggestion for ``partner`` and, unless
        rejected, move the customer to the suggested band (and so to the policy
        that follows it). Called by the confirmation wizard (a collector or a
        manager) and by the approved rules; the only writer of the band."""
        if kind in ("confirmed", "rejected") and not (self.env.su or self.env.user.has_group(GROUP_COLLECTOR)):
            raise AccessError(_("Only collectors and managers decide on a risk move."))
        if kind == "automatic" and not (rule and rule.risk_auto_apply and rule.risk_band == score.band):
            raise AccessError(_("A risk move applies by itself only under a rule a manager approved."))
        partner = partner.commercial_partner_id.with_company(company)
        Policy = self.env["collections.policy"].sudo()
        before_band = partner.collections_risk_band
        before_policy = Policy._for_partner(partner, company)
        if kind != "rejected":
            partner.sudo().with_company(company).write({"collections_risk_band": score.band})
            partner.invalidate_recordset(["collections_risk_band"])
        after_policy = Policy._for_partner(partner, company) if kind != "rejected" else before_policy
        decision = self.sudo().create(
            {
                "partner_id": partner.id,
                "company_id": company.id,
                "score_id": score.id,
                "score": score.score,
                "kind": kind,
                "from_band": before_band,
                "to_band": score.band,
                "from_policy_id": before_policy.id,
                "to_policy_id": after_policy.id,
                "user_id": self.env.user.id if kind != "automatic" else False,
                "rule_policy_id": rule.id if rule else False,
                "rule_approved_by": rule.risk_auto_approved_by.id if rule else False,
                "note": note,
            }
        )
        return decision.with_env(self.env)

    @api.model
    def _apply_approved_rules(self, company):
        """Apply the newest scores' moves into bands whose policy a manager
        approved for automatic moves; the others wait for a person."""
        rules = self.env["collections.policy"].search(
            [("company_id", "=", company.id), ("risk_auto_apply", "=", True), ("risk_band", "!=", False)],
            order="sequence, id",
        )
        if not rules:
            return self
        rule_by_band = {}
        for rule in rules:
            rule_by_band.setdefault(rule.risk_band, rule)
        # The newest score of each customer whose band it suggests has an approved rule, set-based.
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT s.id FROM (
                SELECT DISTINCT ON (partner_id) id, partner_id, band FROM collections_risk_score
                 WHERE company_id = %(company)s ORDER BY partner_id, date DESC, id DESC) s
              JOIN res_partner p ON p.id = s.partner_id
             WHERE s.band = ANY(%(bands)s)
               AND s.band IS DISTINCT FROM (p.collections_risk_band ->> %(company_key)s)
            """,
            {"company": company.id, "bands": list(rule_by_band), "company_key": str(company.id)},
        )
        scores = self.env["collections.risk.score"].browse([row[0] for row in self.env.cr.fetchall()])
        decisions = self
        for score in scores:
            decisions |= self.sudo()._decide(
                score.partner_id, company, score, "automatic", rule=rule_by_band[score.band]
            )
        return decisions
