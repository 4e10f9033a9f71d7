from dateutil.relativedelta import relativedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import sql_rules
from ..tools.rules import PLAN_STATES
from ..tools.sql_rules import PLAN_HOLDING_STATES
from .collections_policy import DEFAULT_PLAN_GRACE_DAYS

FREQUENCIES = [("weekly", "Weekly"), ("biweekly", "Every Two Weeks"), ("monthly", "Monthly")]
FREQUENCY_STEPS = {
    "weekly": relativedelta(weeks=1),
    "biweekly": relativedelta(weeks=2),
    "monthly": relativedelta(months=1),
}
# A plan holds its invoices out of dunning while proposed or active, and once broken under a policy
# that keeps the hold (hold_after_break): the one definition that the plans, planning and sending
# (sql_rules.held_invoices) and the worklist use, as a domain and as SQL.
# (sql_rules.plan_holds is its SQL twin; tests/test_rules.py checks they agree).
HOLDING_STATES = PLAN_HOLDING_STATES
HOLDING_DOMAIN = ["|", ("state", "in", HOLDING_STATES), "&", ("state", "=", "broken"), ("hold_after_break", "=", True)]


class CollectionsPaymentPlan(models.Model):
    """An agreement to pay some of a customer's invoices in installments.

    The schedule is generated from the open amount of the invoices (see
    :meth:`action_generate_schedule`); while the plan is proposed or active its
    invoices are not dunned. What the customer has paid is read from the
    invoices' residuals (whatever the way the money came in, and undone when a
    reconciliation is undone) and allocated to the installments oldest first
    (:meth:`_refresh_allocation`). A daily cron breaks plans whose installments
    are unpaid beyond the policy's grace days.
    """

    _name = "collections.payment.plan"
    _description = "Collections Payment Plan"
    _inherit = ["collections.hold.mixin"]
    _order = "id desc"
    _check_company_auto = True
    _hold_one_currency = True  # installments are paid in one currency

    name = fields.Char(required=True, readonly=True, copy=False, default=lambda self: _("New"))
    currency_id = fields.Many2one(
        "res.currency", required=True, tracking=True, default=lambda self: self.env.company.currency_id
    )
    move_ids = fields.Many2many(
        "account.move",
        "collections_payment_plan_account_move_rel",
        "plan_id",
        "move_id",
        string="Invoices",
        check_company=True,
        domain="[('move_type', '=', 'out_invoice'), ('state', '=', 'posted'), "
        "('commercial_partner_id', '=', partner_id), ('currency_id', '=', currency_id), "
        "('payment_state', 'in', ('not_paid', 'partial', 'in_payment'))]",
    )
    policy_id = fields.Many2one(
        "collections.policy",
        compute="_compute_policy_id",
        store=True,
        readonly=False,
        check_company=True,
        help="Gives the grace days and what happens when the plan breaks.",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Collector",
        compute="_compute_user_id",
        store=True,
        readonly=False,
        tracking=True,
        help="Told when the plan breaks.",
    )
    origin = fields.Selection(
        [("collector", "Collector"), ("portal", "Customer Portal")],
        required=True,
        default="collector",
        help="Who proposed the plan.",
    )
    state = fields.Selection(
        PLAN_STATES,
        required=True,
        default="draft",
        tracking=True,
        index=True,
        copy=False,
    )
    start_date = fields.Date(
        required=True,
        default=fields.Date.context_today,
        help="Due date of the down payment, or of the first installment when there is none.",
    )
    frequency = fields.Selection(FREQUENCIES, required=True, default="monthly")
    installment_count = fields.Integer(
        string="Number of Installments", required=True, default=3, help="Without the down payment."
    )
    down_payment = fields.Monetary(help="Paid first, on the start date; the rest is split into the installments.")
    amount_total = fields.Monetary(
        string="Total", readonly=True, copy=False, help="Open amount of the invoices when the schedule was made."
    )
    amount_paid = fields.Monetary(string="Paid", compute="_compute_amounts")
    amount_residual = fields.Monetary(string="Still Due", compute="_compute_amounts")
    installment_ids = fields.One2many(
        "collections.payment.plan.installment", "plan_id", string="Installments", copy=False
    )
    activation_date = fields.Date(readonly=True, copy=False)
    end_date = fields.Date(string="Ended On", readonly=True, copy=False, help="Completed, broken or cancelled on.")
    hold_after_break = fields.Boolean(
        readonly=True,
        copy=False,
        help="The plan broke under a policy that keeps its invoices out of dunning until the collector decides.",
    )
    previous_plan_id = fields.Many2one(
        "collections.payment.plan", string="Renegotiates", readonly=True, copy=False, index="btree_not_null"
    )
    superseded_by_id = fields.Many2one("collections.payment.plan", string="Renegotiated As", readonly=True, copy=False)
    note = fields.Text()

    # === COMPUTES AND CONSTRAINTS === #

    @api.depends("partner_id", "company_id")
    def _compute_policy_id(self):
        Policy = self.env["collections.policy"]
        for plan in self:
            plan.policy_id = Policy._for_partner(plan.partner_id, plan.company_id) if plan.partner_id else False

    @api.depends("partner_id")
    def _compute_user_id(self):
        for plan in self:
            collector = plan._find_collector(plan.partner_id, plan.company_id) if plan.partner_id else None
            plan.user_id = collector or plan.user_id or self.env.user

    @api.depends("installment_ids.paid_amount", "amount_total")
    def _compute_amounts(self):
        for plan in self:
            plan.amount_paid = sum(plan.installment_ids.mapped("paid_amount"))
            plan.amount_residual = plan.amount_total - plan.amount_paid

    @api.constrains("move_ids", "partner_id", "currency_id")
    def _check_invoices(self):
        self._check_customer_invoices()

    @api.constrains("installment_count", "down_payment")
    def _check_schedule_terms(self):
        for plan in self:
            if plan.installment_count < 1:
                raise ValidationError(_("A payment plan needs at least one installment."))
            if plan.currency_id.compare_amounts(plan.down_payment, 0) < 0:
                raise ValidationError(_("The down payment cannot be negative."))

    @api.ondelete(at_uninstall=False)
    def _unlink_only_drafts(self):
        if any(plan.state != "draft" for plan in self):
            raise UserError(_("Only draft payment plans can be deleted; cancel the others, their history stays."))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("collections.payment.plan") or _("New")
        return super().create(vals_list)

    def write(self, vals):
        terms = {"move_ids", "partner_id", "currency_id"} & set(vals)
        if terms and any(plan.state != "draft" for plan in self):
            raise UserError(_("The invoices of a plan that left draft cannot change: renegotiate it instead."))
        result = super().write(vals)
        if terms:
            # The schedule was made for other invoices: it must be generated again.
            self.installment_ids.unlink()
            self.amount_total = 0
        return result

    # === SCHEDULE === #

    def _state_label(self):
        self.ensure_one()
        return dict(self._fields["state"]._description_selection(self.env))[self.state]

    def action_generate_schedule(self):
        """Installments from the invoices' open amount: the optional down payment
        as installment 0 on the start date, then the installments at the plan's
        frequency, each rounded to the currency and the last one absorbing the
        remainder."""
        for plan in self:
            if plan.state != "draft":
                raise UserError(_("Only a draft plan's schedule can be generated again."))
            if not plan.move_ids:
                raise UserError(_("Choose the invoices the plan covers first."))
            total = plan.currency_id.round(sum(plan.move_ids.mapped("amount_residual")))
            if plan.currency_id.compare_amounts(total, 0) <= 0:
                raise UserError(_("The chosen invoices have nothing left to pay."))
            schedule = self._schedule_amounts(
                total, plan.down_payment, plan.installment_count, plan.currency_id, plan.start_date, plan.frequency
            )
            plan.installment_ids.unlink()
            plan.write(
                {
                    "amount_total": total,
                    "installment_ids": [
                        Command.create({"sequence": sequence, "due_date": due_date, "amount": amount})
                        for sequence, due_date, amount in schedule
                    ],
                }
            )
        return True

    @api.model
    def _schedule_amounts(self, total, down_payment, count, currency, start_date, frequency):
        """[(sequence, due date, amount)]: pure arithmetic, shared with the portal.

        The down payment (sequence 0) falls on the start date and the
        installments one period apart after it; without a down payment the
        first installment falls on the start date. Monthly dates count from the
        start date (31 January, 28 February, 31 March), never drifting."""
        down_payment = currency.round(down_payment or 0.0)
        if currency.compare_amounts(down_payment, total) >= 0:
            raise UserError(
                _(
                    "The down payment (%(down)s) must be less than the total (%(total)s).",
                    down=currency.format(down_payment),
                    total=currency.format(total),
                )
            )
        rest = currency.round(total - down_payment)
        regular = currency.round(rest / count)
        last = currency.round(rest - regular * (count - 1))
        if currency.compare_amounts(regular, 0) <= 0 or currency.compare_amounts(last, 0) <= 0:
            raise UserError(
                _(
                    "%(amount)s cannot be split into %(count)s installments in %(currency)s.",
                    amount=currency.format(rest),
                    count=count,
                    currency=currency.name,
                )
            )
        step = FREQUENCY_STEPS[frequency]
        schedule = []
        if down_payment:
            schedule.append((0, start_date, down_payment))
        first = 1 if down_payment else 0
        for index in range(count):
            amount = last if index == count - 1 else regular
            schedule.append((index + 1, start_date + step * (index + first), amount))
        return schedule

    # === STATE ACTIONS === #

    def action_propose(self):
        for plan in self:
            plan._check_can_start(("draft",))
        self.write({"state": "proposed"})
        self._stop_pending_messages()
        return True

    def action_activate(self):
        for plan in self:
            plan._check_can_start(("draft", "proposed"))
        today = fields.Date.context_today(self)
        self.write({"state": "active", "activation_date": today})
        for plan in self.filtered("previous_plan_id"):
            plan._supersede_previous()
        self._stop_pending_messages()
        self._refresh_allocation()
        return True

    def action_cancel(self):
        for plan in self:
            if plan.state in ("completed", "cancelled"):
                raise UserError(_("The plan %(plan)s is already %(state)s.", plan=plan.name, state=plan._state_label()))
        self.write({"state": "cancelled", "end_date": fields.Date.context_today(self), "hold_after_break": False})
        return True

    def action_draft(self):
        for plan in self:
            if plan.state != "proposed":
                raise UserError(_("Only a proposed plan goes back to draft."))
        self.write({"state": "draft"})
        return True

    def action_renegotiate(self):
        """A new draft plan for what is still open; the old plan is cancelled,
        and linked, when the new one is proposed or activated."""
        self.ensure_one()
        if self.state not in ("proposed", "active", "broken"):
            raise UserError(_("Only a proposed, active or broken plan can be renegotiated."))
        open_invoices = self._open_invoices_oldest_first()
        if not open_invoices:
            raise UserError(_("Every invoice of this plan is paid: there is nothing to renegotiate."))
        new_plan = self.copy(
            {
                "previous_plan_id": self.id,
                "move_ids": [Command.set(open_invoices.ids)],
                "start_date": fields.Date.context_today(self),
                "down_payment": 0.0,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": new_plan.id,
            "view_mode": "form",
        }

    def _check_can_start(self, from_states):
        self.ensure_one()
        if self.state not in from_states:
            raise UserError(
                _(
                    "The plan %(plan)s cannot be started from its state %(state)s.",
                    plan=self.name,
                    state=self._state_label(),
                )
            )
        if not self.installment_ids:
            raise UserError(_("Generate the schedule of %(plan)s first.", plan=self.name))
        scheduled = sum(self.installment_ids.mapped("amount"))
        if self.currency_id.compare_amounts(scheduled, self.amount_total) != 0:
            raise UserError(
                _(
                    "The installments of %(plan)s add up to %(scheduled)s, not to its total %(total)s.",
                    plan=self.name,
                    scheduled=self.currency_id.format(scheduled),
                    total=self.currency_id.format(self.amount_total),
                )
            )
        if any(self.currency_id.compare_amounts(amount, 0) <= 0 for amount in self.installment_ids.mapped("amount")):
            raise UserError(_("Every installment of %(plan)s needs a positive amount.", plan=self.name))
        others = self.search(
            [
                ("id", "not in", (self | self.previous_plan_id).ids),
                ("move_ids", "in", self.move_ids.ids),
                *HOLDING_DOMAIN,
            ],
            limit=1,
        )
        if others:
            raise UserError(
                _(
                    "Some of these invoices are already in the plan %(other)s: renegotiate that plan instead.",
                    other=others.name,
                )
            )

    def _supersede_previous(self):
        previous = self.previous_plan_id
        if previous.state in ("completed", "cancelled"):
            return
        previous.write(
            {
                "state": "cancelled",
                "superseded_by_id": self.id,
                "end_date": fields.Date.context_today(self),
                "hold_after_break": False,
            }
        )
        self.env["collections.note"]._post(previous, "plan_renegotiated", plan=self.name)

    # === ALLOCATION === #

    def _refresh_allocation(self, today=None):
        """Allocate what was paid on each plan's invoices to its installments,
        oldest first, in a few statements for any number of plans; then
        complete fully paid active plans, break those with a missed
        installment, and reopen completed plans whose payment was undone.

        Paid = the total scheduled minus what the plan's invoices still owe:
        payments of any origin count, payments on other invoices never do.
        """
        if not self:
            return
        today = today or fields.Date.context_today(self)
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            """
            WITH paid AS (
                SELECT plan.id AS plan_id,
                       GREATEST(0, plan.amount_total - COALESCE(sum(m.amount_residual), 0)) AS paid,
                       COALESCE(pol.plan_grace_days, %(default_grace)s) AS grace_days
                  FROM collections_payment_plan plan
                  LEFT JOIN collections_policy pol ON pol.id = plan.policy_id
                  LEFT JOIN collections_payment_plan_account_move_rel rel ON rel.plan_id = plan.id
                  LEFT JOIN account_move m ON m.id = rel.move_id AND m.state = 'posted'
                 WHERE plan.id = ANY(%(plan_ids)s)
              GROUP BY plan.id, plan.amount_total, pol.plan_grace_days
            ),
            allocated AS (
                SELECT i.id, i.amount, i.due_date, p.grace_days,
                       LEAST(i.amount, GREATEST(0, p.paid - (sum(i.amount) OVER (
                           PARTITION BY i.plan_id ORDER BY i.due_date, i.sequence, i.id) - i.amount))) AS paid_amount
                  FROM collections_payment_plan_installment i
                  JOIN paid p ON p.plan_id = i.plan_id
            )
            UPDATE collections_payment_plan_installment i
               SET paid_amount = a.paid_amount,
                   state = CASE WHEN a.paid_amount >= a.amount THEN 'paid'
                                WHEN a.due_date + a.grace_days < %(today)s THEN 'missed'
                                WHEN a.due_date < %(today)s THEN 'overdue'
                                WHEN a.paid_amount > 0 THEN 'partial'
                                ELSE 'pending' END
              FROM allocated a
             WHERE i.id = a.id AND (i.paid_amount IS DISTINCT FROM a.paid_amount OR i.state IS DISTINCT FROM
                   CASE WHEN a.paid_amount >= a.amount THEN 'paid'
                        WHEN a.due_date + a.grace_days < %(today)s THEN 'missed'
                        WHEN a.due_date < %(today)s THEN 'overdue'
                        WHEN a.paid_amount > 0 THEN 'partial'
                        ELSE 'pending' END)
            """,
            {"plan_ids": self.ids, "today": today, "default_grace": DEFAULT_PLAN_GRACE_DAYS},
        )
        self.env["collections.payment.plan.installment"].invalidate_model(["paid_amount", "state"])
        # What each plan becomes, decided in SQL: no per-plan query.
        cr.execute(
            """
            SELECT outcome, array_agg(id) FROM (
                SELECT plan.id,
                       CASE WHEN plan.state IN ('active', 'broken') AND s.all_paid THEN 'completed'
                            WHEN plan.state = 'active' AND s.any_missed THEN 'broken'
                            WHEN plan.state = 'completed' AND NOT s.all_paid THEN 'active' END AS outcome
                  FROM collections_payment_plan plan
                  JOIN LATERAL (SELECT bool_and(i.state = 'paid') AS all_paid,
                                       bool_or(i.state = 'missed') AS any_missed
                                  FROM collections_payment_plan_installment i WHERE i.plan_id = plan.id) s ON TRUE
                 WHERE plan.id = ANY(%s)
            ) decided
             WHERE outcome IS NOT NULL
          GROUP BY outcome
            """,
            [self.ids],
        )
        outcomes = {outcome: self.browse(plan_ids) for outcome, plan_ids in cr.fetchall()}
        completed = outcomes.get("completed", self.browse())
        broken = outcomes.get("broken", self.browse())
        reopened = outcomes.get("active", self.browse())
        if completed:
            completed.write({"state": "completed", "end_date": today, "hold_after_break": False})
            self.env["collections.note"]._post(completed, "plan_completed")
        if reopened:
            reopened.write({"state": "active", "end_date": False})
            self.env["collections.note"]._post(reopened, "plan_reactivated")
        if broken:
            broken._break(today)

    def _break(self, today):
        """Broken: the collector is told, and the policy says whether dunning resumes."""
        for plan in self:
            resume = plan.policy_id.resume_dunning_on_break if plan.policy_id else True
            plan.write({"state": "broken", "end_date": today, "hold_after_break": not resume})
            missed = plan.installment_ids.filtered(lambda i: i.state == "missed")
            # Codes and values: the chatter and the collector's to-do read in their reader's language.
            args = {"plan": plan.name, "count": len(missed)}
            then = "plan_broken_resumes" if resume else "plan_broken_holds"
            self.env["collections.note"]._post(plan, "plan_broken", then=then, **args)
            plan._tell_collector("plan_broken", note=then, deadline=today, **args)

    @api.model
    def _cron_check(self):
        """Daily: allocate payments, complete paid plans, break plans past the grace days."""
        self.search([("state", "=", "active")])._refresh_allocation()

    @api.model
    def _on_payments(self, invoices):
        """Payments (or their undoing) touched these invoices: refresh their plans at once."""
        plans = self.search([("move_ids", "in", invoices.ids), ("state", "in", ("active", "completed", "broken"))])
        plans._refresh_allocation()

    def _open_invoices_oldest_first(self):
        """The plan's invoices still owing, oldest due first: the order in
        which a payment for the plan settles them."""
        return self.move_ids.filtered(
            lambda m: m.state == "posted" and m.currency_id.compare_amounts(m.amount_residual, 0) > 0
        ).sorted(sql_rules.oldest_first_key)

    def action_register_payment(self):
        """Register money received for the plan: one payment over its open
        invoices, which Odoo's reconciliation settles oldest due first; the
        next installment's open amount is proposed."""
        self.ensure_one()
        invoices = self._open_invoices_oldest_first()
        if not invoices:
            raise UserError(_("Every invoice of %(plan)s is paid.", plan=self.name))
        next_installment = self.installment_ids.filtered(lambda i: i.state != "paid")[:1]
        action = invoices.action_register_payment()
        action["context"] = dict(
            action.get("context", {}),
            default_group_payment=True,
            default_amount=next_installment.amount_residual or sum(invoices.mapped("amount_residual")),
        )
        return action

    def action_open_invoices(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Invoices"),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("id", "in", self.move_ids.ids)],
        }
