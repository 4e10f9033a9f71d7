from datetime import date, timedelta

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tests.common import freeze_time

from .common import TODAY, CollectionsCommon


@freeze_time(TODAY.isoformat())
class PlanCommon(CollectionsCommon):
    """Plans run in time: the tests' today is TODAY."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Plan = cls.env["collections.payment.plan"]
        cls.collector = new_test_user(
            cls.env,
            "plan_collector",
            groups="base.group_user,account.group_account_invoice,collections_omni.group_collections_collector",
        )
        cls.customer.collections_user_id = cls.collector

    def _plan(self, invoices, count=3, start=TODAY, frequency="monthly", down_payment=0.0, **values):
        plan = self.Plan.create(
            {
                "partner_id": invoices.commercial_partner_id.id,
                "currency_id": invoices[0].currency_id.id,
                "move_ids": [Command.set(invoices.ids)],
                "installment_count": count,
                "start_date": start,
                "frequency": frequency,
                "down_payment": down_payment,
                **values,
            }
        )
        plan.action_generate_schedule()
        return plan

    def _pay_on(self, invoice, amount, on):
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {"amount": amount, "payment_date": on}
        )._create_payments()

    def _schedule(self, plan):
        return [(i.sequence, i.due_date, i.amount) for i in plan.installment_ids.sorted(lambda i: (i.due_date, i.id))]


@tagged("at_install", "-post_install")
class TestPaymentPlanSchedule(PlanCommon):
    def test_last_installment_absorbs_the_remainder(self):
        plan = self._plan(self._invoice(self.customer, 100, 10))
        self.assertEqual(plan.amount_total, 100)
        self.assertEqual(
            self._schedule(plan),
            [(1, TODAY, 33.33), (2, date(2026, 7, 15), 33.33), (3, date(2026, 8, 15), 33.34)],
        )

    def test_down_payment_is_installment_zero_on_the_start_date(self):
        plan = self._plan(self._invoice(self.customer, 1000, 10), count=3, down_payment=200.5, frequency="weekly")
        self.assertEqual(
            self._schedule(plan),
            [
                (0, TODAY, 200.5),
                (1, TODAY + timedelta(weeks=1), 266.5),
                (2, TODAY + timedelta(weeks=2), 266.5),
                (3, TODAY + timedelta(weeks=3), 266.5),
            ],
        )
        self.assertEqual(plan.installment_ids.sorted("sequence")[0].label, "Down payment")
        self.assertEqual(plan.installment_ids.sorted("sequence")[1].label, "Installment 1 of 3")

    def test_zero_decimal_currency(self):
        jpy = self.setup_other_currency("JPY", rounding=1.0)
        customer = self._customer("Tanaka")
        plan = self._plan(self._invoice(customer, 1000, 10, currency=jpy), count=3, frequency="biweekly")
        self.assertEqual(
            self._schedule(plan),
            [(1, TODAY, 333), (2, TODAY + timedelta(weeks=2), 333), (3, TODAY + timedelta(weeks=4), 334)],
        )

    def test_monthly_dates_keep_the_month_end(self):
        schedule = self.Plan._schedule_amounts(100.0, 10.0, 4, self.company.currency_id, date(2026, 1, 31), "monthly")
        self.assertEqual(
            schedule,
            [
                (0, date(2026, 1, 31), 10.0),
                (1, date(2026, 2, 28), 22.5),
                (2, date(2026, 3, 31), 22.5),
                (3, date(2026, 4, 30), 22.5),
                (4, date(2026, 5, 31), 22.5),
            ],
        )

    def test_total_is_the_open_amount_after_partial_payments(self):
        first, second = self._invoice(self.customer, 300, 40), self._invoice(self.customer, 200, 10)
        self._pay(first, 120.25)
        plan = self._plan(first | second, count=2)
        self.assertEqual(plan.amount_total, 379.75)
        self.assertEqual([i.amount for i in plan.installment_ids], [189.88, 189.87])

    def test_bad_terms_are_refused_clearly(self):
        invoice = self._invoice(self.customer, 100, 10)
        with self.assertRaisesRegex(UserError, "down payment"):
            self._plan(invoice, down_payment=100)
        with self.assertRaisesRegex(UserError, "cannot be split"):
            self._plan(self._invoice(self.customer, 0.05, 10), count=10)
        with self.assertRaises(ValidationError):
            self._plan(invoice, count=0)

    def test_invoices_in_another_currency_are_refused(self):
        eur = self.setup_other_currency("EUR")
        in_eur = self._invoice(self.customer, 100, 10, currency=eur)
        main = self._invoice(self.customer, 100, 10)
        with self.assertRaisesRegex(ValidationError, "another currency: make one per currency"):
            self._plan(main | in_eur)

    def test_only_the_customers_own_invoices(self):
        other = self._invoice(self._customer("Someone else"), 100, 10)
        with self.assertRaisesRegex(ValidationError, "own customer"):
            self.Plan.create({"partner_id": self.customer.id, "move_ids": [Command.set(other.ids)]})


@tagged("at_install", "-post_install")
class TestPaymentPlanLifecycle(PlanCommon):
    def test_state_transitions_and_their_errors(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self.Plan.create({"partner_id": self.customer.id, "move_ids": [Command.set(invoice.ids)]})
        with self.assertRaisesRegex(UserError, "Generate the schedule"):
            plan.action_activate()
        plan.action_generate_schedule()
        plan.installment_ids[0].amount += 1
        with self.assertRaisesRegex(UserError, "add up to"):
            plan.action_propose()
        plan.action_generate_schedule()
        plan.action_propose()
        self.assertEqual(plan.state, "proposed")
        with self.assertRaises(UserError):
            plan.action_generate_schedule()
        with self.assertRaises(UserError):
            plan.write({"move_ids": [Command.clear()]})
        plan.action_activate()
        self.assertEqual((plan.state, plan.activation_date), ("active", TODAY))
        with self.assertRaisesRegex(UserError, "renegotiate"):
            plan.installment_ids[0].amount = 1
        with self.assertRaisesRegex(UserError, "renegotiate"):
            plan.installment_ids[0].unlink()
        with self.assertRaises(UserError):
            plan.action_propose()
        with self.assertRaisesRegex(UserError, "Only draft"):
            plan.unlink()
        plan.action_cancel()
        self.assertEqual(plan.state, "cancelled")
        with self.assertRaises(UserError):
            plan.action_cancel()

    def test_an_invoice_is_in_one_running_plan_only(self):
        invoice = self._invoice(self.customer, 300, 10)
        self._plan(invoice).action_activate()
        with self.assertRaisesRegex(UserError, "already in the plan"):
            self._plan(invoice).action_activate()

    def test_changing_the_invoices_of_a_draft_drops_its_schedule(self):
        first, second = self._invoice(self.customer, 300, 10), self._invoice(self.customer, 100, 10)
        plan = self._plan(first)
        plan.move_ids = [Command.link(second.id)]
        self.assertFalse(plan.installment_ids)
        self.assertEqual(plan.amount_total, 0)

    def test_payments_go_to_the_oldest_installments_first(self):
        first, second = self._invoice(self.customer, 200, 40), self._invoice(self.customer, 100, 10)
        plan = self._plan(first | second, count=3)
        plan.action_activate()
        self._pay(second, 60)  # any of the plan's invoices counts
        states = [(i.paid_amount, i.state) for i in plan.installment_ids]
        self.assertEqual(states, [(60, "partial"), (0, "pending"), (0, "pending")])
        self._pay(first, 90)
        states = [(i.paid_amount, i.state) for i in plan.installment_ids]
        self.assertEqual(states, [(100, "paid"), (50, "partial"), (0, "pending")])
        self.assertEqual((plan.amount_paid, plan.amount_residual), (150, 150))
        self.assertEqual(plan.state, "active")

    def test_a_payment_for_the_plan_settles_the_oldest_invoices_first(self):
        recent = self._invoice(self.customer, 100, 5)
        oldest = self._invoice(self.customer, 200, 40)
        plan = self._plan(recent | oldest, count=3)
        plan.action_activate()
        self.assertEqual(plan._open_invoices_oldest_first(), oldest | recent)
        action = plan.action_register_payment()
        self.assertEqual(action["context"]["default_amount"], 100, "the next installment is proposed")
        wizard = (
            self.env["account.payment.register"]
            .with_context(**action["context"])
            .create({"amount": 250, "payment_date": TODAY})
        )
        wizard._create_payments()
        self.assertEqual((oldest.amount_residual, recent.amount_residual), (0, 50))
        self.assertEqual([i.state for i in plan.installment_ids], ["paid", "paid", "partial"])

    def test_plan_completes_when_everything_is_paid_and_reopens_on_undo(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        plan.action_activate()
        self._pay(invoice)
        self.assertEqual(plan.state, "completed")
        self.assertEqual(set(plan.installment_ids.mapped("state")), {"paid"})
        # Undoing the reconciliation gives the debt back: the plan runs again.
        invoice.line_ids.filtered(lambda line: line.display_type == "payment_term").remove_move_reconcile()
        self.assertEqual(invoice.amount_residual, 300)
        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.amount_paid, 0)

    def test_a_payment_on_another_customers_invoice_never_counts(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        plan.action_activate()
        other = self._invoice(self._customer("Other payer"), 300, 10)
        self._pay(other)
        plan._refresh_allocation()
        self.assertEqual(plan.amount_paid, 0)
        self.assertEqual(plan.state, "active")

    def test_broken_after_the_grace_days_not_before(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice, count=3, start=TODAY)
        plan.action_activate()
        self.assertEqual(self.policy.plan_grace_days, 5)
        with freeze_time(TODAY + timedelta(days=5)):
            self.Plan._cron_check()
        self.assertEqual(plan.state, "active")
        self.assertEqual(plan.installment_ids[0].state, "overdue")
        self.assertFalse(plan.activity_ids)
        with freeze_time(TODAY + timedelta(days=6)):
            self.Plan._cron_check()
        self.assertEqual(plan.state, "broken")
        self.assertEqual(plan.end_date, TODAY + timedelta(days=6))
        self.assertEqual(plan.installment_ids.mapped("state"), ["missed", "pending", "pending"])
        self.assertEqual(plan.activity_ids.user_id, self.collector, "the customer's collector is told")
        self.assertFalse(plan.hold_after_break)

    def test_the_collector_the_plan_was_reassigned_to_is_told(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        self.assertEqual(plan.user_id, self.collector, "the customer's collector by default")
        other = new_test_user(
            self.env, "plan_other_collector", groups="base.group_user,collections_omni.group_collections_collector"
        )
        plan.user_id = other
        plan.action_activate()
        with freeze_time(TODAY + timedelta(days=6)):
            self.Plan._cron_check()
        self.assertEqual(plan.state, "broken")
        self.assertEqual(plan.activity_ids.user_id, other)

    def test_paid_installments_keep_the_plan_alive_over_time(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice, count=3, start=TODAY)
        plan.action_activate()
        for month, pay_on in enumerate((TODAY + timedelta(days=3), date(2026, 7, 20), date(2026, 8, 14))):
            with freeze_time(pay_on):
                self._pay_on(invoice, 100, pay_on)
                self.Plan._cron_check()
            self.assertEqual(plan.installment_ids[month].state, "paid")
        self.assertEqual(plan.state, "completed")
        self.assertFalse(plan.activity_ids)

    def test_a_broken_plan_paid_in_full_completes(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        plan.action_activate()
        with freeze_time(TODAY + timedelta(days=6)):
            self.Plan._cron_check()
            self.assertEqual(plan.state, "broken")
            self._pay_on(invoice, 300, TODAY + timedelta(days=6))
        self.assertEqual(plan.state, "completed")

    def test_renegotiation_keeps_the_history(self):
        invoice = self._invoice(self.customer, 300, 10)
        old = self._plan(invoice, count=3)
        old.action_activate()
        self._pay(invoice, 100)
        with freeze_time(TODAY + timedelta(days=40)):
            self.Plan._cron_check()
            self.assertEqual(old.state, "broken")
            action = old.action_renegotiate()
            new = self.Plan.browse(action["res_id"])
            self.assertEqual((new.previous_plan_id, new.state, new.move_ids), (old, "draft", invoice))
            new.installment_count = 4
            new.action_generate_schedule()
            self.assertEqual(new.amount_total, 200)
            new.action_activate()
        self.assertEqual((old.state, old.superseded_by_id), ("cancelled", new))
        self.assertEqual(len(old.installment_ids), 3, "the old schedule stays as it was")
        self.assertEqual(old.installment_ids[0].state, "paid")
        self.assertEqual(new.state, "active")
        self.assertEqual(sum(new.installment_ids.mapped("amount")), 200)


@tagged("at_install", "-post_install")
class TestPaymentPlanDunning(PlanCommon):
    def test_planning_skips_invoices_under_a_plan(self):
        under_plan = self._invoice(self.customer, 300, 10)
        outside = self._invoice(self.customer, 100, 10)
        self._plan(under_plan).action_activate()
        run = self._run()
        self.assertEqual(self._messages(self.customer).move_ids, outside)
        self.assertEqual(self._messages(self.customer).amount_due, 100)
        self.assertEqual(run.skip_reasons, {"payment_plan": 1})
        self.assertIn("Invoices under a payment plan: 1", run.skip_summary)

    def test_a_proposed_plan_holds_too_and_a_draft_does_not(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        self.assertEqual(self._run().messages_planned, 1)
        self.assertEqual(self._messages(self.customer).state, "planned")
        plan.action_propose()
        message = self._messages(self.customer)
        self.assertEqual((message.state, message.blocked_reason), ("cancelled", "Invoices under a payment plan"))
        self.assertEqual(self._run(TODAY + timedelta(days=15)).messages_planned, 0)

    def test_a_planned_message_drops_invoices_that_join_a_plan(self):
        under_plan = self._invoice(self.customer, 300, 10)
        outside = self._invoice(self.customer, 100, 12)
        self._run()
        message = self._messages(self.customer)
        self.assertEqual((message.move_ids, message.amount_due), (under_plan | outside, 400))
        self._plan(under_plan).action_activate()
        self.assertEqual((message.state, message.move_ids, message.amount_due), ("planned", outside, 100))
        self.assertEqual(message._still_due(), message)

    def test_broken_plan_resumes_dunning_when_the_policy_says_so(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        plan.action_activate()
        later = TODAY + timedelta(days=6)
        self.assertEqual(self._run(later).messages_planned, 0)
        with freeze_time(later):
            self.Plan._cron_check()
        self.assertEqual(plan.state, "broken")
        self.assertEqual(self._run(later).messages_planned, 1)
        self.assertEqual(self._messages(self.customer).move_ids, invoice)

    def _broken_holding_plan(self):
        """A plan broken six days on, under a policy that keeps the hold; returns (plan, that day)."""
        self.policy.resume_dunning_on_break = False
        plan = self._plan(self._invoice(self.customer, 300, 10))
        plan.action_activate()
        later = TODAY + timedelta(days=6)
        with freeze_time(later):
            self.Plan._cron_check()
        self.assertEqual((plan.state, plan.hold_after_break), ("broken", True))
        return plan, later

    def test_broken_plan_keeps_the_hold_when_the_policy_says_so(self):
        plan, later = self._broken_holding_plan()
        self.assertEqual(self._run(later).messages_planned, 0)
        plan.action_resume_dunning()
        self.assertEqual(self._run(later).messages_planned, 1)

    def test_worklist_and_planning_agree_on_a_broken_plan_that_holds(self):
        plan, later = self._broken_holding_plan()
        run = self._run(later)
        self.assertEqual((run.messages_planned, run.skip_reasons), (0, {"payment_plan": 1}))
        self.assertTrue(self._worklist_line().on_payment_plan, "held by planning, shown on a plan")
        plan.action_resume_dunning()
        self.assertEqual(self._run(later).messages_planned, 1)
        self.assertFalse(self._worklist_line().on_payment_plan, "dunned again, no longer shown on a plan")

    def _worklist_line(self):
        self.env.flush_all()
        Worklist = self.env["collections.worklist"]
        Worklist.invalidate_model()
        return Worklist.search([("partner_id", "=", self.customer.id)])

    def test_next_installment_for_bank_matching(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        plan.action_activate()
        self._pay(invoice, 100)
        self.env.flush_all()
        index = self.env["collections.reconcile.match"]._open_installments(self.company)
        (target,) = index.by_partner[self.customer.id]
        self.assertEqual((target.plan_id, target.amount, target.move_ids), (plan.id, 100, tuple(invoice.ids)))
        self.assertEqual(target.amount, plan.installment_ids[1].amount_residual)
        self.assertNotIn(self._customer("No plan").id, index.by_partner)


@tagged("at_install", "-post_install")
class TestPaymentPlanForms(PlanCommon):
    def test_a_collector_makes_a_plan_in_the_form(self):
        invoice = self._invoice(self.customer, 250, 10)
        form = Form(self.Plan.with_user(self.collector).with_context(default_partner_id=self.customer.id))
        form.move_ids.add(invoice)
        form.installment_count = 2
        form.frequency = "weekly"
        plan = form.save()
        self.assertEqual((plan.policy_id, plan.user_id), (self.policy, self.collector))
        self.assertTrue(plan.name.startswith("PLAN/"))
        plan.action_generate_schedule()
        self.assertEqual([row["amount"] for row in Form(plan).installment_ids._records], [125, 125])
        plan.action_activate()
        self.assertEqual(self.customer.collections_plan_ids, plan)
        self.assertEqual(invoice.collections_plan_ids, plan)

    def test_promise_and_dispute_forms(self):
        invoice = self._invoice(self.customer, 250, 10)
        promise_form = Form(self.env["collections.promise"].with_context(default_partner_id=self.customer.id))
        promise_form.amount = 100
        promise_form.promised_date = TODAY + timedelta(days=3)
        promise = promise_form.save()
        self.assertEqual((promise.state, promise.user_id), ("open", self.env.user))
        dispute_form = Form(self.env["collections.dispute"].with_context(default_partner_id=self.customer.id))
        dispute_form.move_ids.add(invoice)
        dispute_form.reason = "quality"
        dispute = dispute_form.save()
        self.assertEqual(invoice.collections_dispute_ids, dispute)


@tagged("at_install", "-post_install")
class TestPaymentPlanSecurity(PlanCommon):
    def test_collector_works_plans_viewer_reads(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice).with_user(self.collector)
        plan.action_generate_schedule()
        plan.action_activate()
        self.assertEqual(plan.state, "active")
        viewer = new_test_user(
            self.env, "plan_viewer", groups="base.group_user,collections_omni.group_collections_viewer"
        )
        self.assertEqual(plan.with_user(viewer).state, "active")
        with self.assertRaises(AccessError):
            plan.with_user(viewer).note = "changed"

    def test_plans_stay_in_their_company(self):
        invoice = self._invoice(self.customer, 300, 10)
        plan = self._plan(invoice)
        other_company = self.setup_other_company()["company"]
        user = self._staff_user(
            "plan_other_co", "base.group_user,collections_omni.group_collections_manager", company=other_company
        )
        self.assertFalse(self.Plan.with_user(user).search([("id", "=", plan.id)]))
        Installment = self.env["collections.payment.plan.installment"].with_user(user)
        self.assertFalse(Installment.search([("plan_id", "=", plan.id)]))
        self.assertTrue(self.Plan.search([("id", "=", plan.id)]))
