from datetime import timedelta

from odoo import fields
from odoo.exceptions import MissingError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import freeze_time

from odoo.addons.collections_omni.tests.common import TODAY, engine_message

from .common import PortalCollectionsCommon


@freeze_time(TODAY.isoformat())
@tagged("post_install", "-at_install")
class TestPortalRequests(PortalCollectionsCommon):
    """The checks behind the portal's promise and plan forms, called as the portal user."""

    def setUp(self):
        super().setUp()
        self.first = self._invoice(self.customer, 300, 40)
        self.second = self._invoice(self.customer, 200, 10)
        self.foreign = self._invoice(self.other_customer, 100, 10)
        self.as_portal = self.env(user=self.portal_user)

    def _promise(self, invoices, amount=None, days=10):
        return self.as_portal["collections.promise"]._portal_promise(
            self.portal_user.partner_id, [str(i) for i in invoices.ids], amount, TODAY + timedelta(days=days)
        )

    def _request(self, invoices, count=3, frequency="monthly", days=5, note=None):
        return self.as_portal["collections.payment.plan"]._portal_request(
            self.portal_user.partner_id, invoices.ids, count, frequency, TODAY + timedelta(days=days), note=note
        )

    def _proposed_plan_only_its_customer_may_answer(self, answer, **values):
        """A plan a collector drafts for the customer and then proposes: before
        that, and to another customer's portal user, ``answer`` (the name of
        the portal method) finds no such plan. Returns the proposed plan."""
        plan = self.Plan.create({"partner_id": self.customer.id, "move_ids": [(6, 0, self.first.ids)], **values})
        plan.action_generate_schedule()
        with self.assertRaises(MissingError, msg="a draft is the collector's work in progress"):
            getattr(self.as_portal["collections.payment.plan"], answer)(self.portal_user.partner_id, plan.id)
        plan.action_propose()
        other_user = new_test_user(self.env, login="otro", groups="base.group_portal")
        other_user.partner_id.parent_id = self.other_customer
        with self.assertRaises(MissingError):
            getattr(self.env(user=other_user)["collections.payment.plan"], answer)(other_user.partner_id, plan.id)
        return plan

    def test_open_invoices_are_the_customers_own_open_ones(self):
        paid = self._invoice(self.customer, 50, 5)
        self._pay(paid)
        draft = self._invoice(self.customer, 70, 5, post=False)
        refund = self._invoice(self.customer, 30, 0, move_type="out_refund")
        open_invoices = self.as_portal["account.move"]._collections_portal_open_invoices(self.portal_user.partner_id)
        self.assertEqual(open_invoices, self.first | self.second, "oldest due first; no paid, draft, refund or other")
        self.assertNotIn(paid | draft | refund | self.foreign, open_invoices)

    def test_promise_holds_its_invoices_in_planning(self):
        promise = self._promise(self.first)
        self.assertEqual(
            (promise.partner_id, promise.move_ids, promise.amount, promise.source, promise.state),
            (self.customer, self.first, 300, "portal", "open"),
            "the amount defaults to what the invoices owe",
        )
        self.assertEqual((promise.date, promise.promised_date), (TODAY, TODAY + timedelta(days=10)))
        self.assertEqual(promise.user_id, self.collector, "the customer's collector is told if it breaks")
        run = self._run()
        self.assertEqual(run.skip_reasons, {"promise": 1})
        self.assertEqual(self._messages(self.customer).move_ids, self.second, "only the promised invoice is held")

    def test_partial_promise_and_its_limits(self):
        self.assertEqual(self._promise(self.first | self.second, amount=120.5).amount, 120.5)
        self.policy.portal_max_days = 10
        self.assertEqual(
            self._promise(self._invoice(self.customer, 90, 3), days=10).promised_date, TODAY + timedelta(days=10)
        )

    def test_bad_promises_are_refused_and_create_nothing(self):
        eur = self.setup_other_currency("EUR")
        in_eur = self._invoice(self.customer, 100, 10, currency=eur)
        cases = [
            (lambda: self._promise(self.first, amount=0), "more than zero"),
            (lambda: self._promise(self.first, amount=-5), "more than zero"),
            (lambda: self._promise(self.first, amount=300.01), "at most"),
            (lambda: self._promise(self.first, days=-1), "cannot be in the past"),
            (lambda: self._promise(self.first, days=31), "at most 30 days"),
            (lambda: self._promise(self.first | self.foreign), "not open invoices of your account"),
            (lambda: self._promise(self.first | in_eur), "different currencies"),
            (lambda: self._promise(self.first.browse()), "at least one invoice"),
        ]
        for attempt, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                attempt()
        with self.assertRaisesRegex(UserError, "Choose invoices from the list"):
            self.as_portal["collections.promise"]._portal_promise(
                self.portal_user.partner_id, ["x"], None, TODAY + timedelta(days=3)
            )
        self.assertFalse(self._promises() | self._promises(self.other_customer))

    def test_invoices_already_held_are_refused(self):
        self._promise(self.first)
        with self.assertRaisesRegex(UserError, "already covered by a promise"):
            self._promise(self.first | self.second)
        with self.assertRaisesRegex(UserError, "already covered by a promise"):
            self._request(self.first)
        self._request(self.second)
        with self.assertRaisesRegex(UserError, "already in a payment plan"):
            self._promise(self.second)
        third = self._invoice(self.customer, 80, 10)
        self.env["collections.dispute"].create(
            {"partner_id": self.customer.id, "move_ids": [(6, 0, third.ids)], "reason": "quality"}
        )
        with self.assertRaisesRegex(UserError, "under review"):
            self._request(third)
        self.assertEqual(len(self._promises()), 1)
        self.assertEqual(len(self._plans()), 1)

    def test_plan_request_is_a_proposed_plan_with_the_engines_schedule(self):
        invoices = self.first | self.second
        _invoices, preview = self.as_portal["collections.payment.plan"]._portal_schedule(
            self.portal_user.partner_id, invoices.ids, 3, "monthly", TODAY + timedelta(days=5)
        )
        plan = self._request(invoices, note="Cobramos a fin de mes")
        self.assertEqual(
            (plan.state, plan.origin, plan.partner_id, plan.move_ids, plan.amount_total),
            ("proposed", "portal", self.customer, invoices, 500),
        )
        self.assertEqual([(i.sequence, i.due_date, i.amount) for i in plan.installment_ids.sorted("sequence")], preview)
        self.assertEqual([amount for _seq, _due, amount in preview], [166.67, 166.67, 166.66], "the engine's rounding")
        self.assertEqual(preview[1][1], TODAY + timedelta(days=5) + timedelta(days=30), "monthly from the start")
        self.assertEqual(plan.user_id, self.collector)
        activity = plan.activity_ids
        self.assertEqual((len(activity), activity.user_id), (1, self.collector))
        self.assertIn("Cobramos a fin de mes", activity.note)
        run = self._run()
        self.assertEqual(run.skip_reasons, {"payment_plan": 1}, "a proposed plan holds its invoices")
        self.assertFalse(self._messages(self.customer), "both invoices are held: nothing to send")

    def test_a_plan_within_the_policys_amount_starts_at_once(self):
        planned = engine_message(
            self.env, self.customer, "portal-approve-at-once", state="planned", move_ids=[(6, 0, self.second.ids)]
        )
        self.policy.portal_approve_up_to = 300
        beyond = self._request(self.first | self.second)
        self.assertEqual(beyond.state, "proposed", "500 is beyond the policy's 300: the collector decides")
        self.assertEqual(beyond.activity_ids.user_id, self.collector)
        beyond.action_cancel()
        plan = self._request(self.second, count=2)
        self.assertEqual((plan.state, plan.activation_date), ("active", TODAY), "200: approved at once")
        self.assertEqual(len(plan.installment_ids), 2)
        self.assertFalse(plan.activity_ids, "nobody has to decide")
        self.assertIn("Approved at once", plan.message_ids[0].body)
        self.assertEqual(planned.state, "cancelled", "its pending reminder stops at once")
        in_eur = self._invoice(self.customer, 250, 5, currency=self.setup_other_currency("EUR"))  # 2 EUR a dollar
        self.assertEqual(self._request(in_eur).state, "active", "EUR 250 are 125 in the company's currency")
        self.policy.portal_approve_up_to = 0
        self.assertEqual(self._request(self.first).state, "proposed", "0: every request goes to the collector")
        with self.assertRaises(ValidationError):
            self.policy.portal_approve_up_to = -1

    def test_plan_request_limits(self):
        with self.assertRaisesRegex(UserError, "between 1 and 6"):
            self._request(self.first, count=7)
        with self.assertRaisesRegex(UserError, "between 1 and 6"):
            self._request(self.first, count=0)
        with self.assertRaisesRegex(UserError, "how often"):
            self._request(self.first, frequency="daily")
        with self.assertRaisesRegex(UserError, "cannot be in the past"):
            self._request(self.first, days=-1)
        with self.assertRaisesRegex(UserError, "cannot be split"):
            self._request(self._invoice(self.customer, 0.04, 10), count=6)
        self.policy.portal_max_installments = 12
        self.assertEqual(len(self._request(self.first, count=12).installment_ids), 12)
        self.assertEqual(len(self._plans()), 1)

    def test_a_request_goes_to_the_customers_collector_then_the_policys_then_the_companys(self):
        portal_desk, default_collector = (
            new_test_user(self.env, login, groups="base.group_user,collections_omni.group_collections_collector")
            for login in ("portal_desk", "default_collector")
        )
        self.policy.portal_user_id = portal_desk
        self.company.collections_user_id = default_collector

        def handled_by(invoices):
            """Who gets a plan request and a promise over these invoices (one of them each)."""
            plan = self._request(invoices[0])
            promise = self._promise(invoices[1])
            self.assertEqual(plan.user_id, promise.user_id)
            self.assertEqual(plan.activity_ids.user_id, plan.user_id, "the collector, if any, gets the to-do")
            return plan.user_id

        self.assertEqual(handled_by(self.first | self.second), self.collector, "the customer's collector first")
        self.customer.collections_user_id = False
        fresh = self._invoice(self.customer, 90, 5) | self._invoice(self.customer, 80, 5)
        self.assertEqual(handled_by(fresh), portal_desk, "then the policy's collector for portal requests")
        self.policy.portal_user_id = False
        fresh = self._invoice(self.customer, 70, 5) | self._invoice(self.customer, 60, 5)
        self.assertEqual(handled_by(fresh), default_collector, "then the company's Default Collector")
        self.company.collections_user_id = False
        manager = self.env["res.users"].search(
            [("groups_id", "in", self.env.ref("collections_omni.group_collections_manager").id), ("share", "=", False)],
            limit=1,
        )
        self.assertTrue(manager, "a collections manager exists, and is not picked")
        fresh = self._invoice(self.customer, 50, 5) | self._invoice(self.customer, 40, 5)
        plan = self._request(fresh[0])
        self.assertFalse(plan.user_id | self._promise(fresh[1]).user_id, "else nobody")
        self.assertFalse(plan.activity_ids, "no to-do for anyone, least of all the portal user")
        self.assertEqual(plan.state, "proposed", "the request itself stands")

    def test_customer_accepts_a_plan_the_collector_proposed(self):
        plan = self._proposed_plan_only_its_customer_may_answer("_portal_accept", installment_count=2)
        Plan = self.as_portal["collections.payment.plan"]
        partner = self.portal_user.partner_id
        self.assertEqual(Plan._portal_accept(partner, plan.id), plan)
        self.assertEqual((plan.state, plan.activation_date), ("active", TODAY))
        with self.assertRaisesRegex(UserError, "not waiting for your answer"):
            Plan._portal_accept(partner, plan.id)
        requested = self._request(self.second)
        with self.assertRaisesRegex(UserError, "not waiting for your answer"):
            Plan._portal_accept(partner, requested.id)
        self.assertEqual(requested.state, "proposed", "the customer cannot accept their own request")

    def _collectors_proposal(self, invoices, count=2):
        """A plan the collector makes in the back office and proposes to the customer."""
        plan = self.Plan.with_user(self.collector).create(
            {"partner_id": self.customer.id, "move_ids": [(6, 0, invoices.ids)], "installment_count": count}
        )
        plan.action_generate_schedule()
        plan.action_propose()
        return plan.with_user(self.env.user)

    def test_customer_declines_a_plan_the_collector_proposed(self):
        plan = self._collectors_proposal(self.first)
        self.assertEqual(self.first._collections_hold_reasons(TODAY), {self.first.id: "payment_plan"})
        messages_before = plan.message_ids
        declined = self.as_portal["collections.payment.plan"]._portal_decline(
            self.portal_user.partner_id, plan.id, "  Cobro el día 20:\r\n<b>mejor</b> el 25  "
        )
        self.assertEqual(declined, plan)
        self.assertEqual((plan.state, plan.end_date), ("cancelled", TODAY), "the engine's cancellation")
        note = (plan.message_ids - messages_before).filtered(lambda m: "Declined by" in m.body)
        self.assertEqual(len(note), 1)
        self.assertIn(self.portal_user.partner_id.name, note.body)
        self.assertIn("Cobro el día 20:<br>&lt;b&gt;mejor&lt;/b&gt; el 25", note.body, "the reason, escaped")
        activity = plan.activity_ids
        self.assertEqual((len(activity), activity.user_id), (1, self.collector))
        self.assertIn("declined by the customer", activity.summary)
        self.assertIn("Cobro el día 20", activity.note)
        self.assertEqual(activity.date_deadline, TODAY)
        self.assertNotIn(self.portal_user.partner_id, plan.message_partner_ids)
        self.assertFalse(self.first._collections_hold_reasons(TODAY), "no longer held")
        self._run()
        self.assertIn(self.first, self._messages(self.customer).move_ids, "dunned again")

    def test_the_collectors_to_dos_are_in_the_collectors_language_not_the_customers(self):
        """An English customer on the portal; the Spanish collector reads Spanish to-dos."""
        self.env["ir.module.module"]._load_module_terms(["collections_portal"], ["es_ES"], overwrite=True)
        self.collector.lang = "es_ES"
        requested = self._request(self.second, note="End of month")
        self.assertEqual(
            requested.activity_ids.summary,
            "Plan de pagos solicitado en el portal: acéptelo (Activar) o rechácelo (Cancelar)",
        )
        self.assertIn("End of month", requested.activity_ids.note, "the customer's own words, as written")
        plan = self._collectors_proposal(self.first)
        self.as_portal["collections.payment.plan"]._portal_decline(self.portal_user.partner_id, plan.id, "No")
        self.assertEqual(plan.activity_ids.summary, f"Plan de pagos {plan.name} rechazado por el cliente en el portal")

    def test_decline_without_a_reason(self):
        plan = self._collectors_proposal(self.first)
        self.as_portal["collections.payment.plan"]._portal_decline(self.portal_user.partner_id, plan.id, "   ")
        self.assertEqual(plan.state, "cancelled")
        self.assertTrue(plan.message_ids.filtered(lambda m: "Declined by" in m.body))
        self.assertFalse(plan.activity_ids.note, "no empty reason in the to-do")
        self.assertEqual(plan.activity_ids.user_id, self.collector)

    def test_only_the_customer_declines_and_only_while_the_plan_waits_for_them(self):
        plan = self._proposed_plan_only_its_customer_may_answer("_portal_decline")
        Plan = self.as_portal["collections.payment.plan"]
        partner = self.portal_user.partner_id
        with self.assertRaises(MissingError):
            Plan._portal_decline(partner, 0)
        with self.assertRaisesRegex(UserError, "500 characters at most"):
            Plan._portal_decline(partner, plan.id, "x" * 501)
        self.assertEqual(plan.state, "proposed", "a refused decline changes nothing")
        self.assertFalse(plan.activity_ids)
        self.assertFalse(plan.message_ids.filtered(lambda m: "Declined by" in (m.body or "")))
        Plan._portal_decline(partner, plan.id, "\r\n".join(["x" * 99] * 5))  # 5 lines, 499 characters
        self.assertEqual(plan.state, "cancelled")
        with self.assertRaisesRegex(UserError, "not waiting for your answer"):
            Plan._portal_decline(partner, plan.id)
        requested = self._request(self.second)
        with self.assertRaisesRegex(UserError, "not waiting for your answer"):
            Plan._portal_decline(partner, requested.id)
        self.assertEqual(requested.state, "proposed", "the customer's own request waits for the collector")
        active = self._collectors_proposal(self._invoice(self.customer, 90, 5))
        Plan._portal_accept(partner, active.id)
        with self.assertRaisesRegex(UserError, "not waiting for your answer"):
            Plan._portal_decline(partner, active.id)
        self.assertEqual(active.state, "active")

    def test_declining_a_renegotiation_keeps_the_plan_it_renegotiates(self):
        old = self._collectors_proposal(self.first | self.second)
        old.action_activate()
        new = self.Plan.browse(old.action_renegotiate()["res_id"])
        new.write({"installment_count": 5})
        new.action_generate_schedule()
        new.action_propose()
        self.as_portal["collections.payment.plan"]._portal_decline(self.portal_user.partner_id, new.id, "No")
        self.assertEqual((new.state, new.previous_plan_id), ("cancelled", old), "the history is kept")
        self.assertEqual((old.state, old.superseded_by_id), ("active", self.Plan), "the old plan stands")
        self.assertTrue(
            old.message_ids.filtered(lambda m: f"declined its renegotiation {new.name}" in m.body),
            "the old plan tells its story too",
        )
        self.assertEqual(self._run().skip_reasons, {"payment_plan": 1}, "its invoices are still held by the old plan")

    def test_a_decline_with_no_collector_anywhere_tells_nobody(self):
        plan = self._collectors_proposal(self.first)
        plan.user_id = False
        self.customer.collections_user_id = False
        self.company.collections_user_id = False
        self.as_portal["collections.payment.plan"]._portal_decline(self.portal_user.partner_id, plan.id, "No")
        self.assertEqual(plan.state, "cancelled")
        self.assertFalse(plan.activity_ids, "never a to-do for the portal user")
        self.assertTrue(plan.message_ids.filtered(lambda m: "Declined by" in m.body), "the chatter still says it")

    def test_the_balance_lists_running_promises_then_the_last_ended_ones(self):
        def promise(days_ago, state):
            return self.Promise.create(
                {
                    "partner_id": self.customer.id,
                    "amount": 10 + days_ago,
                    "date": TODAY - timedelta(days=days_ago),
                    "promised_date": TODAY - timedelta(days=days_ago) + timedelta(days=3),
                    "state": state,
                }
            )

        running = promise(1, "open") | promise(0, "open")
        ended_states = ["kept", "broken", "cancelled"]
        ended = self.Promise.concat(*(promise(5 + day, ended_states[day % 3]) for day in range(12)))
        self.Promise.create(
            {"partner_id": self.other_customer.id, "amount": 5, "promised_date": TODAY, "state": "kept"}
        )
        shown = self.as_portal["collections.promise"]._portal_promises(self.portal_user.partner_id)
        self.assertEqual(
            shown.ids,
            running.sorted("date", reverse=True).ids + ended[:10].ids,
            "running ones, then the 10 most recent ended ones, each most recent first",
        )
        self.assertEqual(set(shown.mapped("state")), {"open", "kept", "broken", "cancelled"})

    def test_the_collectors_to_do_is_due_on_the_collectors_today(self):
        """A customer a day behind the collector: the to-do is not overdue when it arrives."""
        self.collector.tz = "Europe/Madrid"
        plan = self._collectors_proposal(self.first)
        # 03:00 UTC: 21:00 the day before in Mexico City, 05:00 in Madrid.
        with freeze_time(f"{TODAY} 03:00:00"):
            in_mexico = self.env(user=self.portal_user, context={"tz": "America/Mexico_City"})
            Plan = in_mexico["collections.payment.plan"]
            self.assertEqual(fields.Date.context_today(Plan), TODAY - timedelta(days=1))
            Plan._portal_decline(self.portal_user.partner_id, plan.id, "No")
            requested = Plan._portal_request(
                self.portal_user.partner_id, self.second.ids, 2, "monthly", TODAY + timedelta(days=3)
            )
        self.assertEqual(plan.activity_ids.date_deadline, TODAY)
        self.assertEqual(requested.activity_ids.date_deadline, TODAY)
