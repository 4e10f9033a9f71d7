from datetime import timedelta

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import freeze_time

from .common import TODAY, CollectionsCommon


@freeze_time(TODAY.isoformat())
class PromiseCommon(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Promise = cls.env["collections.promise"]

    def _promise(self, amount, days=5, invoices=None, partner=None, **values):
        return self.Promise.create(
            {
                "partner_id": (partner or self.customer).id,
                "amount": amount,
                "promised_date": TODAY + timedelta(days=days),
                "move_ids": [Command.set(invoices.ids)] if invoices else [],
                **values,
            }
        )

    def _pay_on(self, invoice, amount, on):
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {"amount": amount, "payment_date": on}
        )._create_payments()

    def _check_on(self, day):
        with freeze_time(day):
            self.Promise._cron_check()


@tagged("at_install", "-post_install")
class TestPromise(PromiseCommon):
    def test_kept_as_soon_as_payments_cover_it(self):
        invoice = self._invoice(self.customer, 300, 10)
        promise = self._promise(200, invoices=invoice)
        self._pay_on(invoice, 150, TODAY + timedelta(days=2))
        self.assertEqual((promise.state, promise.amount_paid), ("open", 150))
        self._pay_on(invoice, 50, TODAY + timedelta(days=5))
        self.assertEqual((promise.state, promise.amount_paid), ("kept", 200))
        self.assertEqual(promise.end_date, TODAY)

    def test_broken_the_day_after_the_date_not_before(self):
        invoice = self._invoice(self.customer, 300, 10)
        promise = self._promise(200, days=5, invoices=invoice, user_id=self.env.user.id)
        self._pay_on(invoice, 150, TODAY + timedelta(days=1))
        self._check_on(TODAY + timedelta(days=5))
        self.assertEqual(promise.state, "open")
        self._check_on(TODAY + timedelta(days=6))
        self.assertEqual((promise.state, promise.amount_paid), ("broken", 150))
        self.assertEqual(promise.activity_ids.user_id, self.env.user, "the policy's default tells the collector")
        self.assertFalse(promise.hold_after_break)

    def test_payments_outside_the_window_do_not_count(self):
        invoice = self._invoice(self.customer, 300, 10)
        self._pay_on(invoice, 100, TODAY - timedelta(days=1))  # before the promise
        promise = self._promise(100, days=5, invoices=invoice)
        self._pay_on(invoice, 100, TODAY + timedelta(days=7))  # after the promised date
        self._check_on(TODAY + timedelta(days=8))
        self.assertEqual((promise.state, promise.amount_paid), ("broken", 0))

    def test_a_promise_without_invoices_counts_any_of_the_customers_invoices(self):
        first, second = self._invoice(self.customer, 100, 10), self._invoice(self.customer, 100, 20)
        promise = self._promise(150)
        self._pay_on(first, 100, TODAY)
        self._pay_on(self._invoice(self._customer("Someone else"), 100, 10), 100, TODAY)
        self.assertEqual(promise.amount_paid, 100, "another customer's payment never counts")
        self._pay_on(second, 50, TODAY + timedelta(days=1))
        self.assertEqual(promise.state, "kept")

    def test_a_promise_holds_its_invoices_until_its_date(self):
        promised = self._invoice(self.customer, 300, 10)
        outside = self._invoice(self.customer, 100, 10)
        self._promise(300, days=5, invoices=promised)
        run = self._run()
        self.assertEqual(self._messages(self.customer).move_ids, outside)
        self.assertEqual(run.skip_reasons, {"promise": 1})
        self.assertEqual(self._run(TODAY + timedelta(days=5)).messages_planned, 0, "held on the promised day too")
        # Past the promised date the invoice is dunned again, even before the cron breaks the promise.
        self._run(TODAY + timedelta(days=6))
        self.assertIn(promised, self._messages(self.customer).move_ids)

    def test_a_promise_without_invoices_holds_the_customer(self):
        self._invoice(self.customer, 300, 10)
        self._invoice(self.customer, 100, 30)
        other = self._customer("Other")
        self._invoice(other, 100, 10)
        self._promise(400, days=5)
        run = self._run()
        self.assertFalse(self._messages(self.customer))
        self.assertEqual(self._messages(other).mapped("state"), ["planned"])
        self.assertEqual(run.skip_reasons, {"promise": 1})

    def test_pending_messages_stop_when_a_promise_is_made(self):
        self._invoice(self.customer, 300, 10)
        self._run()
        message = self._messages(self.customer)
        self._promise(300, days=3)
        self.assertEqual((message.state, message.blocked_reason), ("cancelled", "Promise to pay not yet due"))

    def test_broken_promise_holding_until_the_collector_decides(self):
        self.policy.broken_promise_action = "activity"
        invoice = self._invoice(self.customer, 300, 10)
        promise = self._promise(300, days=2, invoices=invoice)
        later = TODAY + timedelta(days=3)
        self._check_on(later)
        self.assertEqual((promise.state, promise.hold_after_break), ("broken", True))
        self.assertTrue(promise.activity_ids)
        self.assertEqual(self._run(later).messages_planned, 0)
        promise.action_resume_dunning()
        self.assertEqual(self._run(later).messages_planned, 1)

    def test_broken_promise_resuming_silently(self):
        self.policy.broken_promise_action = "resume"
        invoice = self._invoice(self.customer, 300, 10)
        promise = self._promise(300, days=2, invoices=invoice)
        self._check_on(TODAY + timedelta(days=3))
        self.assertEqual(promise.state, "broken")
        self.assertFalse(promise.activity_ids)

    def _stage(self, name):
        return self.policy.stage_ids.filtered(lambda s: s.name == name)

    def test_a_broken_promise_escalates_its_invoices_to_the_next_stage(self):
        self.policy.broken_promise_action = "escalate"
        promised = self._invoice(self.customer, 300, 10)
        not_promised = self._invoice(self.customer, 100, 10)
        other = self._customer("Other")
        elsewhere = self._invoice(other, 100, 10)
        self._run()
        first, second = self._stage("First"), self._stage("Second")
        self.assertEqual((promised | not_promised | elsewhere).mapped("collections_stage_id"), first)
        promise = self._promise(300, days=2, invoices=promised)
        later = TODAY + timedelta(days=3)  # 13 days overdue: Second starts at 21
        self._check_on(later)
        self.assertEqual((promise.state, promise.hold_after_break), ("broken", False))
        self.assertEqual(promise.activity_ids.user_id, self.env.user, "the collector is told")
        self.assertTrue(promised.collections_state_id.escalate)
        run = self._run(later)
        self.assertEqual(run.message_ids.partner_id, self.customer, "no one else is contacted")
        self.assertEqual(run.message_ids.stage_id, second)
        self.assertEqual(sorted(run.message_ids.mapped("channel")), ["call", "email"], "the actions of Second")
        self.assertIn(promised, run.message_ids.move_ids)
        self.assertEqual(promised.collections_stage_id, second)
        self.assertFalse(promised.collections_state_id.escalate, "escalated once")
        self.assertEqual((not_promised | elsewhere).mapped("collections_stage_id"), first, "only the promised one")
        self.assertEqual(self._run(later + timedelta(days=1)).messages_planned, 0, "then time leads again")
        self._run(TODAY + timedelta(days=35))  # 45 days overdue
        self.assertEqual(promised.collections_stage_id, self._stage("Final"), "and on to the last stage on its day")

    def test_without_escalation_a_broken_promise_waits_for_the_next_stages_day(self):
        self.policy.broken_promise_action = "resume_activity"
        promised = self._invoice(self.customer, 300, 10)
        self._run()
        self._promise(300, days=2, invoices=promised)
        later = TODAY + timedelta(days=3)
        self._check_on(later)
        self.assertEqual(self._run(later).messages_planned, 0)
        self.assertEqual(promised.collections_stage_id, self._stage("First"))

    def test_a_promise_without_invoices_escalates_all_of_the_customers(self):
        self.policy.broken_promise_action = "escalate"
        invoices = self._invoice(self.customer, 300, 10) | self._invoice(self.customer, 100, 12)
        self._run()
        self._promise(400, days=2)
        later = TODAY + timedelta(days=3)
        self._check_on(later)
        self._run(later)
        self.assertEqual(invoices.mapped("collections_stage_id"), self._stage("Second"))

    def test_escalation_stays_on_the_last_stage(self):
        self.policy.broken_promise_action = "escalate"
        invoice = self._invoice(self.customer, 300, 50)
        self._run()
        self.assertEqual(invoice.collections_stage_id, self._stage("Final"))
        self._promise(300, days=2, invoices=invoice)
        later = TODAY + timedelta(days=3)
        self._check_on(later)
        self.assertTrue(invoice.collections_state_id.escalate)
        self.assertEqual(self._run(later).messages_planned, 0)
        self.assertEqual(invoice.collections_stage_id, self._stage("Final"))
        self.assertFalse(invoice.collections_state_id.escalate, "nothing left to escalate to")

    def test_the_promises_collector_then_the_customers_then_the_companys(self):
        def told_when_broken(**values):
            invoice = self._invoice(self.customer, 300, 10)
            promise = self._promise(300, days=2, invoices=invoice, **values)
            self._check_on(TODAY + timedelta(days=3))
            return promise.activity_ids.user_id

        promise_collector, customer_collector, company_collector = (
            new_test_user(self.env, login, groups="base.group_user,collections_omni.group_collections_collector")
            for login in ("promise_collector", "customer_collector", "company_collector")
        )
        self.company.collections_user_id = company_collector
        self.customer.collections_user_id = customer_collector
        self.assertEqual(told_when_broken(user_id=promise_collector.id), promise_collector)
        self.assertEqual(told_when_broken(user_id=False), customer_collector)
        portal_user = new_test_user(self.env, "promise_portal", groups="base.group_portal")
        self.assertEqual(told_when_broken(user_id=portal_user.id), customer_collector, "never a portal user")
        self.customer.collections_user_id = False
        self.assertEqual(told_when_broken(user_id=False), company_collector)

    def test_bad_promises_are_refused(self):
        with self.assertRaisesRegex(ValidationError, "positive amount"):
            self._promise(0)
        with self.assertRaisesRegex(ValidationError, "before the day"):
            self._promise(10, days=-1)
        eur = self.setup_other_currency("EUR")
        with self.assertRaisesRegex(ValidationError, "another currency"):
            self._promise(10, invoices=self._invoice(self.customer, 100, 10, currency=eur))
        promise = self._promise(10)
        with self.assertRaises(UserError):
            promise.unlink()

    def test_a_call_outcome_records_the_promise(self):
        self._invoice(self.customer, 300, 10)
        self._invoice(self.customer, 50, -5)  # not due yet: not in the default amount
        wizard = self.env["collections.call.outcome"].create(
            {"partner_id": self.customer.id, "outcome": "promised", "next_date": TODAY + timedelta(days=7)}
        )
        self.assertEqual(wizard.promise_amount, 300)
        wizard.promise_amount = 250
        wizard.action_confirm()
        promise = self.Promise.search([("partner_id", "=", self.customer.id)])
        self.assertEqual(
            (promise.amount, promise.promised_date, promise.source, promise.state),
            (250, TODAY + timedelta(days=7), "call", "open"),
        )

    def test_name_shows_the_date_as_each_reader_writes_it(self):
        english, spanish = self._english_and_spanish_viewers("promise_name")
        promise = self._promise(200, days=5)
        day = TODAY + timedelta(days=5)
        self.assertIn(f"by {day.month:02d}/{day.day:02d}/{day.year}", promise.with_user(english).display_name)
        spanish_name = promise.with_user(spanish).with_context(lang="es_ES").display_name
        self.assertIn(f"antes del {day.day:02d}/{day.month:02d}/{day.year}", spanish_name)
        self.assertNotIn(day.isoformat(), spanish_name)


@tagged("at_install", "-post_install")
class TestDispute(PromiseCommon):
    def _dispute(self, invoices, **values):
        return self.env["collections.dispute"].create(
            {
                "partner_id": invoices.commercial_partner_id.id,
                "move_ids": [Command.set(invoices.ids)],
                "reason": "not_received",
                **values,
            }
        )

    def test_disputed_invoices_are_not_dunned_until_resolved(self):
        disputed = self._invoice(self.customer, 300, 10)
        outside = self._invoice(self.customer, 100, 10)
        dispute = self._dispute(disputed)
        self.assertTrue(dispute.name.startswith("DISP/"))
        run = self._run()
        self.assertEqual(self._messages(self.customer).move_ids, outside)
        self.assertEqual(run.skip_reasons, {"dispute": 1})
        dispute.write({"resolution": "rejected", "resolution_note": "Delivery note signed"})
        dispute.action_resolve()
        self.assertEqual((dispute.state, dispute.resolved_date), ("resolved", TODAY))
        self._run(TODAY + timedelta(days=1))
        self.assertIn(disputed, self._messages(self.customer).move_ids)

    def test_still_due_drops_disputed_invoices_right_before_sending(self):
        first = self._invoice(self.customer, 300, 10)
        second = self._invoice(self.customer, 100, 12)
        self._run()
        message = self._messages(self.customer)
        self._dispute(first)
        self.assertEqual((message.state, message.move_ids, message.amount_due), ("planned", second, 100))
        self._dispute(second)
        self.assertEqual((message.state, message.blocked_reason), ("cancelled", "Invoices in dispute"))

    def test_a_resolution_needs_its_document(self):
        invoice = self._invoice(self.customer, 300, 10)
        dispute = self._dispute(invoice)
        with self.assertRaisesRegex(UserError, "how the dispute"):
            dispute.action_resolve()
        dispute.resolution = "credit_note"
        with self.assertRaisesRegex(UserError, "credit note or corrected invoice"):
            dispute.action_resolve()
        dispute.resolution_move_id = self._invoice(self.customer, 300, 0, move_type="out_refund")
        dispute.action_resolve()
        self.assertEqual(dispute.state, "resolved")
        with self.assertRaises(UserError):
            dispute.unlink()

    def test_disputes_are_about_the_customers_own_invoices(self):
        other = self._invoice(self._customer("Other"), 100, 10)
        with self.assertRaisesRegex(ValidationError, "own customer"):
            self.env["collections.dispute"].create(
                {"partner_id": self.customer.id, "move_ids": [Command.set(other.ids)], "reason": "other"}
            )
        draft = self._invoice(self.customer, 100, 10, post=False)
        with self.assertRaisesRegex(ValidationError, "posted invoices"):
            self._dispute(draft)

    def test_the_worklist_shows_plans_promises_and_disputes(self):
        invoice = self._invoice(self.customer, 300, 10)
        self._dispute(invoice)
        self._promise(100, days=4)
        self.env.flush_all()
        line = self.env["collections.worklist"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(
            (line.disputed, line.promise_date, line.on_payment_plan), (True, TODAY + timedelta(days=4), False)
        )
