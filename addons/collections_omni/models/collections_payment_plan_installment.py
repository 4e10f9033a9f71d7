from odoo import _, api, fields, models


class CollectionsPaymentPlanInstallment(models.Model):
    """One installment of a payment plan: what is due when, and how much of
    it the customer has paid (allocated by the plan, oldest first)."""

    _name = "collections.payment.plan.installment"
    _description = "Payment Plan Installment"
    _order = "plan_id, due_date, sequence, id"
    _rec_name = "label"

    plan_id = fields.Many2one("collections.payment.plan", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=1, help="0 is the down payment.")
    label = fields.Char(compute="_compute_label")
    company_id = fields.Many2one(related="plan_id.company_id", store=True, index=True)
    partner_id = fields.Many2one(related="plan_id.partner_id", store=True, index=True)
    currency_id = fields.Many2one(related="plan_id.currency_id", store=True)
    due_date = fields.Date(required=True)
    amount = fields.Monetary(required=True)
    paid_amount = fields.Monetary(readonly=True, copy=False)
    amount_residual = fields.Monetary(string="Still Due", compute="_compute_amount_residual")
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("partial", "Partly Paid"),
            ("overdue", "Overdue"),
            ("missed", "Missed"),
            ("paid", "Paid"),
        ],
        required=True,
        default="pending",
        readonly=True,
        copy=False,
        help="Overdue: past its due date, within the grace days. Missed: past the grace days; it breaks the plan.",
    )

    @api.depends("sequence", "plan_id.installment_ids")
    def _compute_label(self):
        for installment in self:
            if installment.sequence == 0:
                installment.label = _("Down payment")
            else:
                count = len(installment.plan_id.installment_ids.filtered("sequence"))
                installment.label = _("Installment %(number)s of %(count)s", number=installment.sequence, count=count)

    @api.depends("amount", "paid_amount")
    def _compute_amount_residual(self):
        for installment in self:
            installment.amount_residual = installment.amount - installment.paid_amount
