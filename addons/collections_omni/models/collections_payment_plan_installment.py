from odoo import _, api, fields, models
from odoo.exceptions import UserError


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

    @api.model_create_multi
    def create(self, vals_list):
        plans = self.env["collections.payment.plan"].browse([vals.get("plan_id") for vals in vals_list])
        if any(plan.state != "draft" for plan in plans.exists()):
            raise UserError(_("Installments are added to draft plans only: renegotiate the plan instead."))
        return super().create(vals_list)

    def write(self, vals):
        if {"amount", "due_date", "sequence", "plan_id"} & set(vals) and any(
            installment.plan_id.state != "draft" for installment in self
        ):
            raise UserError(_("The schedule of a plan that left draft cannot change: renegotiate the plan instead."))
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_only_in_drafts(self):
        if any(installment.plan_id.state != "draft" for installment in self):
            raise UserError(_("The schedule of a plan that left draft cannot change: renegotiate the plan instead."))

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
