from odoo import _, api, fields, models
from odoo.exceptions import MissingError, UserError
from odoo.tools import LazyTranslate

from odoo.addons.collections_omni.models.collections_payment_plan import FREQUENCY_STEPS

from .account_move import portal_text

_lt = LazyTranslate(__name__)

# What a customer may write when declining a plan: a short reason, not a letter.
MAX_DECLINE_REASON_LENGTH = 500
DECLINE_REASON_TOO_LONG = _lt("Please keep your reason to %(count)s characters at most (it has %(length)s).")


class CollectionsPaymentPlan(models.Model):
    _inherit = "collections.payment.plan"

    @api.model
    def _portal_schedule(self, partner, invoice_ids, installment_count, frequency, start_date, lock=False):
        """Check a plan the customer is about to request and compute its
        schedule with the engine's arithmetic, writing nothing.

        :return: (invoices as superuser, [(sequence, due date, amount)])
        :raise UserError: with what is wrong
        """
        partner = partner.commercial_partner_id
        invoices = self.env["account.move"]._collections_portal_selection(partner, invoice_ids, lock=lock)
        policy = self.env["collections.policy"].sudo()._for_partner(partner, invoices.company_id)
        max_installments = policy._portal_limits()[1]
        if not installment_count or not 1 <= installment_count <= max_installments:
            raise UserError(_("Choose between 1 and %(count)s installments.", count=max_installments))
        if frequency not in FREQUENCY_STEPS:
            raise UserError(_("Choose how often you will pay."))
        policy._portal_check_date(start_date, fields.Date.context_today(self))
        currency = invoices.currency_id
        # The total as action_generate_schedule computes it, so the request gets the schedule shown.
        total = currency.round(sum(invoices.mapped("amount_residual")))
        return invoices, self._schedule_amounts(total, 0.0, installment_count, currency, start_date, frequency)

    @api.model
    def _portal_request(self, partner, invoice_ids, installment_count, frequency, start_date, note=None):
        """The customer requests a plan in the portal: a proposed plan (its
        invoices are held from now on, as for any proposed plan) and an
        activity for the collector, who activates or cancels it; within the
        policy's amount for approval at once (``portal_approve_up_to``) an
        active plan instead, and no to-do.

        :raise UserError: with what is wrong; nothing is written
        """
        partner = partner.commercial_partner_id
        invoices, _schedule = self._portal_schedule(
            partner, invoice_ids, installment_count, frequency, start_date, lock=True
        )
        company = invoices.company_id
        policy = self.env["collections.policy"].sudo()._for_partner(partner, company)
        collector = policy._portal_collector(partner, company)
        plan = self._portal_create(
            partner,
            invoices,
            {
                "currency_id": invoices.currency_id.id,
                "installment_count": installment_count,
                "frequency": frequency,
                "start_date": start_date,
                "origin": "portal",
                "user_id": collector.id,
                "note": note or False,
            },
        )
        plan.action_generate_schedule()
        plan.action_propose()
        self.env["collections.note"]._post(plan, "portal_plan_requested", person=self.env.user.partner_id.display_name)
        if policy._portal_approves(plan.amount_total, plan.currency_id, company, fields.Date.context_today(self)):
            # Within every limit of the policy: it starts now, nobody has to decide.
            plan.action_activate()
            self.env["collections.note"]._post(plan, "portal_plan_approved", policy=policy.name)
            return plan
        # The plan's collector is the one found above, if any: the to-do goes to them.
        plan._tell_collector("portal_plan_to_decide", words=note or None)
        return plan

    @api.model
    def _portal_plans(self, partner, plan_id=None):
        """The plans a customer sees in the portal, as superuser but only
        theirs: every plan but drafts (the collector's work in progress)."""
        domain = [("partner_id", "=", partner.commercial_partner_id.id), ("state", "!=", "draft")]
        if plan_id is not None:
            domain.append(("id", "=", plan_id))
        return self.sudo().search(domain)

    @api.model
    def _portal_awaiting_answer(self, partner, plan_id):
        """The customer's plan that a collector proposed to them and that waits for their answer.

        :raise MissingError: not a plan of this customer
        :raise UserError: the plan is not waiting for the customer
        """
        plan = self._portal_plans(partner, plan_id)
        if not plan:
            raise MissingError(_("This payment plan does not exist or is not yours."))
        if plan.state != "proposed" or plan.origin != "collector":
            raise UserError(_("This payment plan is not waiting for your answer."))
        return plan

    @api.model
    def _portal_accept(self, partner, plan_id):
        """The customer accepts a plan the collector proposed to them: it starts.

        :raise MissingError: not a plan of this customer
        :raise UserError: the plan is not waiting for the customer
        """
        plan = self._portal_awaiting_answer(partner, plan_id)
        plan.action_activate()
        self.env["collections.note"]._post(plan, "portal_plan_accepted", person=self.env.user.partner_id.display_name)
        return plan

    @api.model
    def _portal_decline(self, partner, plan_id, reason=None):
        """The customer declines a plan the collector proposed to them: it is
        cancelled (its invoices are dunned again unless something else holds
        them), the reason goes to its chatter and the collector gets a to-do.
        A plan that renegotiates another leaves that one as it was, and says so
        in its chatter.

        :param reason: the customer's words, optional, at most MAX_DECLINE_REASON_LENGTH characters
        :raise MissingError: not a plan of this customer
        :raise UserError: the plan is not waiting for the customer, or the reason is too long
        """
        reason = portal_text(self.env, reason, MAX_DECLINE_REASON_LENGTH, DECLINE_REASON_TOO_LONG)
        plan = self._portal_awaiting_answer(partner, plan_id)
        plan.action_cancel()
        Note = self.env["collections.note"]
        Note._post(plan, "portal_plan_declined", words=reason, person=self.env.user.partner_id.display_name)
        previous = plan.previous_plan_id
        if previous:
            Note._post(previous, "portal_renegotiation_declined", plan=plan.name, plan_state=previous.state)
        plan._tell_collector("portal_plan_declined_to_do", words=reason or None, plan=plan.name)
        return plan

    @api.model
    def _portal_next_installment(self, partner, plan_id):
        """What the customer pays online for the next installment of their
        running plan: the installment, the plan's invoices still owing (oldest
        due first, the order in which Odoo's reconciliation settles them) and
        the amount, what the installment still owes (never more than the
        invoices do).

        :param plan_id: the id as received from the link
        :return: (installment, invoices as superuser, amount)
        :raise UserError: not a running plan of this customer, or nothing left to pay
        """
        try:
            ids = self.env["account.move"]._collections_portal_ids([plan_id])
        except UserError:
            ids = set()
        plan = self._portal_plans(partner, next(iter(ids))) if ids else self.browse()
        if not plan or plan.state != "active":
            # Another customer's plan, a plan not running or no plan at all: the same answer.
            raise UserError(_("This payment plan is not running: there is no installment to pay online."))
        installment = plan.installment_ids.filtered(lambda i: i.state != "paid")[:1]
        invoices = plan._open_invoices_oldest_first()
        currency = plan.currency_id
        amount = currency.round(min(installment.amount_residual, sum(invoices.mapped("amount_residual"))))
        if not installment or not invoices or currency.compare_amounts(amount, 0) <= 0:
            raise UserError(_("Every installment of %(plan)s is paid.", plan=plan.name))
        return installment, invoices, amount
