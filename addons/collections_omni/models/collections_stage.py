from odoo import api, fields, models

# How a stage's reminders sound: a friendly note before the due date, a first
# reminder that assumes an oversight, a firmer second notice that offers a
# plan, and a final notice that says what happens next and when.
TONES = [
    ("pre_due", "Friendly heads-up"),
    ("first", "First reminder"),
    ("second", "Second notice"),
    ("final", "Final notice"),
]


class CollectionsStage(models.Model):
    """One step of a policy: reached when an invoice is ``offset_days`` past
    its due date (negative: a friendly reminder before it) and, optionally,
    after ``min_reminder_count`` earlier reminders."""

    _name = "collections.stage"
    _description = "Collections Stage"
    _order = "policy_id, offset_days, sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    policy_id = fields.Many2one("collections.policy", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="policy_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    offset_days = fields.Integer(
        string="Days After Due Date",
        required=True,
        default=0,
        help="Days after the due date at which the stage starts; negative values remind before the due date.",
    )
    min_reminder_count = fields.Integer(
        string="Minimum Reminders Sent",
        help="The stage is reached only after this many reminders were sent for the invoice.",
    )
    min_amount = fields.Monetary(
        string="Minimum Overdue Amount",
        currency_field="currency_id",
        help="Customers owing less than this (in company currency) are not contacted at this stage.",
    )
    action_ids = fields.One2many("collections.stage.action", "stage_id", string="Actions", copy=True)
    tone = fields.Selection(
        TONES,
        compute="_compute_tone",
        store=True,
        readonly=False,
        help="How the reminders of this stage sound; by default from the stage's place in the policy.",
    )
    next_step_note = fields.Char(
        string="What Happens Next",
        translate=True,
        help="Final notices: what the company will do if nothing happens by the deadline. "
        "Leave empty for the standard sentence.",
    )
    fee_product_id = fields.Many2one(
        "product.product",
        string="Dunning Fee Product",
        check_company=True,
        help="If set, a fee invoice with this product (and its taxes) is posted when the stage is reached.",
    )
    fee_amount = fields.Monetary(currency_field="currency_id")
    interest_rate = fields.Float(
        string="Late Interest (%/year)",
        digits=(5, 2),
        help="Yearly late interest shown on the statement and, with a fee product, invoiced with the fee.",
    )

    _sql_constraints = [
        ("min_reminder_count_positive", "CHECK(min_reminder_count >= 0)", "The reminder count cannot be negative."),
        ("fee_amount_positive", "CHECK(fee_amount >= 0)", "The dunning fee cannot be negative."),
    ]

    @api.depends("offset_days", "policy_id.stage_ids.offset_days")
    def _compute_tone(self):
        """Before the due date: a heads-up; after it, the first stage reminds,
        the last of three or more gives final notice, the others are firmer."""
        for stage in self:
            if stage.offset_days < 0:
                stage.tone = "pre_due"
                continue
            overdue = (stage.policy_id.stage_ids | stage).filtered(lambda s: s.offset_days >= 0)
            overdue = overdue.sorted(lambda s: (s.offset_days, s.sequence, s.id or 0))
            rank = list(overdue).index(stage)
            if rank == 0:
                stage.tone = "first"
            elif len(overdue) >= 3 and rank == len(overdue) - 1:
                stage.tone = "final"
            else:
                stage.tone = "second"

    @api.depends("name", "offset_days")
    def _compute_display_name(self):
        for stage in self:
            stage.display_name = f"{stage.name} ({stage.offset_days:+d})"
