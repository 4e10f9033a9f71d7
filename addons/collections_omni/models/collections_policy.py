from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.osv import expression
from odoo.tools.safe_eval import safe_eval

from ..tools.risk_score import BAND_LABELS
from ..tools.rules import GROUP_MANAGER

# Days an installment may be late before its plan breaks, when no policy says otherwise.
DEFAULT_PLAN_GRACE_DAYS = 5


class CollectionsPolicy(models.Model):
    """How a company chases late payers: ordered stages, each with actions.

    A policy applies to an invoice by precedence: the invoice's own policy,
    then its partner's, then the first matching segment (partner tags or a
    customer domain) by sequence, then the company default.
    """

    _name = "collections.policy"
    _description = "Collections Policy"
    _order = "company_id, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10, help="Order in which segment policies are tried.")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    is_company_default = fields.Boolean(
        string="Company Default", help="Applies to every invoice that no other policy claims."
    )
    partner_category_ids = fields.Many2many(
        "res.partner.category",
        string="Segment (Partner Tags)",
        help="Customers with any of these tags follow this policy unless their partner or invoice says otherwise.",
    )
    partner_domain = fields.Char(
        string="Segment (Customers)",
        help="Customers matching this filter follow this policy, like those with its tags.",
    )
    risk_band = fields.Selection(
        BAND_LABELS,
        string="Segment (Risk Band)",
        help="Customers whose confirmed risk band is this one follow this policy (a person confirms each move "
        "the score suggests, unless the automatic rule below is approved).",
    )
    risk_auto_apply = fields.Boolean(
        string="Apply Risk Moves Automatically",
        readonly=True,
        copy=False,
        help="Moves into this policy's risk band that the score suggests are applied without a person, "
        "each logged as a risk decision. Only a manager approves it.",
    )
    risk_auto_approved_by = fields.Many2one("res.users", string="Approved By", readonly=True, copy=False)
    risk_auto_approved_date = fields.Datetime(string="Approved On", readonly=True, copy=False)
    contact_rule_set_id = fields.Many2one(
        "collections.contact.rule.set",
        string="Contact Rules",
        help="Contact rules for this policy's messages, unless the customer has its own. "
        "Empty: by segment, country or company default.",
    )
    stage_ids = fields.One2many("collections.stage", "policy_id", string="Stages", copy=True)
    stage_count = fields.Integer(compute="_compute_stage_count")
    note = fields.Html(translate=True)
    plan_grace_days = fields.Integer(
        string="Installment Grace Days",
        default=DEFAULT_PLAN_GRACE_DAYS,
        help="Days after an installment's due date before the unpaid installment breaks its payment plan.",
    )
    resume_dunning_on_break = fields.Boolean(
        string="Resume Dunning on Broken Plans",
        default=True,
        help="When a payment plan breaks, its invoices are dunned again by the next run. "
        "Otherwise they stay on hold until the collector renegotiates, cancels or resumes.",
    )
    broken_promise_action = fields.Selection(
        [
            ("resume", "Resume dunning"),
            ("resume_activity", "Resume dunning and tell the collector"),
            ("activity", "Tell the collector; dunning stays on hold"),
            ("escalate", "Escalate to the next stage and tell the collector"),
        ],
        default="resume_activity",
        required=True,
        help="What happens when a promise to pay is broken (not covered by payments on the promised date). "
        "Escalate: its invoices move on to the stage after their current one at the next run, "
        "without waiting for that stage's day (they stay on the last stage).",
    )

    _sql_constraints = [
        (
            "name_company_uniq",
            "unique(name, company_id)",
            "A policy with this name already exists in this company.",
        ),
    ]

    @api.model
    def _for_partner(self, partner, company):
        """The policy that applies to a customer's debts in a company, by the
        planning's precedence (partner > segment > company default)."""
        partner = partner.commercial_partner_id.with_company(company)
        if partner.collections_policy_id:
            return partner.collections_policy_id
        segments = self.search(self._segment_search_domain(company), order="sequence, id")
        for segment in segments:
            domain = segment._segment_domain()
            if (segment.partner_category_ids & partner.category_id) or (domain and partner.filtered_domain(domain)):
                return segment
        return self.search([("company_id", "=", company.id), ("is_company_default", "=", True)], limit=1)

    @api.depends("stage_ids")
    def _compute_stage_count(self):
        for policy in self:
            policy.stage_count = len(policy.stage_ids)

    def _segment_domain(self):
        """The customer filter as a domain list (and the risk band), or an empty list."""
        self.ensure_one()
        domain = safe_eval(self.partner_domain) if self.partner_domain else []
        if self.risk_band:
            domain = expression.AND([domain, [("collections_risk_band", "=", self.risk_band)]])
        return domain

    @api.model
    def _segment_search_domain(self, company):
        """The segment policies of a company: by tags, a customer filter or a risk band."""
        return [
            ("company_id", "=", company.id),
            "|",
            "|",
            ("partner_category_ids", "!=", False),
            ("partner_domain", "not in", (False, "", "[]")),
            ("risk_band", "!=", False),
        ]

    def action_approve_risk_auto_apply(self):
        """A manager approves that the score's moves into this band apply without a person."""
        if not self.env.user.has_group(GROUP_MANAGER):
            raise AccessError(_("Only a collections manager approves automatic risk moves."))
        for policy in self:
            if not policy.risk_band:
                raise ValidationError(_("%s has no risk band: there is nothing to apply.", policy.name))
        self.sudo().write(
            {
                "risk_auto_apply": True,
                "risk_auto_approved_by": self.env.user.id,
                "risk_auto_approved_date": fields.Datetime.now(),
            }
        )
        return True

    def action_revoke_risk_auto_apply(self):
        if not self.env.user.has_group(GROUP_MANAGER):
            raise AccessError(_("Only a collections manager approves automatic risk moves."))
        self.sudo().write({"risk_auto_apply": False, "risk_auto_approved_by": False, "risk_auto_approved_date": False})
        return True

    @api.constrains("partner_domain")
    def _check_partner_domain(self):
        for policy in self.filtered("partner_domain"):
            try:
                domain = policy._segment_domain()
                self.env["res.partner"]._search(domain)
            except Exception as error:
                raise ValidationError(
                    _("The customer filter of %(policy)s is not valid: %(error)s", policy=policy.name, error=error)
                ) from error

    @api.constrains("is_company_default", "company_id", "active")
    def _check_single_company_default(self):
        for policy in self.filtered(lambda p: p.is_company_default and p.active):
            if self.search_count(
                [("company_id", "=", policy.company_id.id), ("is_company_default", "=", True), ("id", "!=", policy.id)]
            ):
                raise ValidationError(
                    _(
                        "The company %(company)s already has a default collections policy.",
                        company=policy.company_id.name,
                    )
                )
