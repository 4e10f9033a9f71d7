from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import ACCOUNTANT_GROUPS, COLLECTOR_GROUPS, MANAGER_GROUPS, TODAY, VIEWER_GROUPS, CollectionsCommon


@tagged("at_install", "-post_install")
class TestCollectionsRoles(CollectionsCommon):
    """What each role may do, acted by users with exactly that role's groups."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = cls._staff_user("role_collector", COLLECTOR_GROUPS)
        cls.viewer = cls._staff_user("role_viewer", VIEWER_GROUPS)
        cls.manager = cls._staff_user("role_manager", MANAGER_GROUPS)
        cls.accountant = cls._staff_user("role_accountant", ACCOUNTANT_GROUPS)
        cls.invoice = cls._invoice(cls.customer, 300, 10)

    def _log_call(self, user, outcome, **values):
        wizard = (
            self.env["collections.call.outcome"]
            .with_user(user)
            .with_context(active_model="res.partner", active_id=self.customer.id)
            .create({"outcome": outcome, **values})
        )
        return wizard.action_confirm()

    # === COLLECTOR === #

    def test_collector_logs_a_call_with_every_outcome(self):
        """The probe's first finding: the wizard wrote the partner as the collector."""
        follow_up = fields.Date.context_today(self.customer) + timedelta(days=5)
        outcomes = {
            "no_answer": {},
            "wrong_number": {},
            "paid": {"note": "Pagado ayer"},
            "callback": {"next_date": follow_up},
            "promised": {"next_date": follow_up},
            "disputed": {"note": "No reconoce la factura"},
        }
        for outcome, values in outcomes.items():
            with self.subTest(outcome=outcome):
                result = self._log_call(self.collector, outcome, **values)
                message = self.env["collections.message"].browse(result["infos"]["message_id"])
                self.assertEqual((message.channel, message.state), ("call", "sent"))
        self.assertEqual(self.customer.collections_last_date, fields.Date.context_today(self.customer))
        self.assertEqual(self.customer.collections_next_date, follow_up)
        self.assertTrue(self.env["collections.promise"].search([("partner_id", "=", self.customer.id)]))
        self.assertTrue(self.env["collections.dispute"].search([("partner_id", "=", self.customer.id)]))

    def test_collector_call_closes_the_run_call_task(self):
        self._invoice(self.customer, 200, 25)  # the "Second" stage plans an email and a call task
        self._run()
        self.env["collections.message"]._dispatch_planned(self.company)
        task = self.env["mail.activity"].search([("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)])
        self.assertTrue(task)
        self._log_call(self.collector, "no_answer")
        self.assertFalse(task.exists(), "the call task is done (archived as a message)")

    def test_collector_call_without_invoices_holds_the_customer(self):
        other = self._customer("Cliente Sin Facturas")
        wizard = (
            self.env["collections.call.outcome"]
            .with_user(self.collector)
            .create({"partner_id": other.id, "outcome": "disputed"})
        )
        wizard.action_confirm()
        self.assertTrue(other.collections_dispute_hold)

    def test_collector_still_cannot_write_partners(self):
        """The call goes through a narrow engine method, not a wider right."""
        with self.assertRaises(AccessError):
            self.customer.with_user(self.collector).write({"collections_next_date": TODAY})
        with self.assertRaises(AccessError):
            self.customer.with_user(self.collector).write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self.customer.with_user(self.collector)._collections_record_contact({"name": "Renamed"})

    def test_viewer_and_accountant_cannot_log_calls(self):
        for user in (self.viewer, self.accountant):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self._log_call(user, "no_answer")
        with self.assertRaises(AccessError):
            self.customer.with_user(self.viewer)._collections_record_contact({"collections_last_date": TODAY})

    def test_collector_sends_now(self):
        self._run()
        planned = self._messages(self.customer).filtered(lambda m: m.state == "planned")
        self.assertTrue(planned)
        planned.with_user(self.collector).action_send_now()
        self.assertNotIn("planned", planned.mapped("state"))

    def test_collector_records_promise_plan_dispute(self):
        Promise = self.env["collections.promise"].with_user(self.collector)
        promise = Promise.create(
            {
                "company_id": self.company.id,
                "partner_id": self.customer.id,
                "currency_id": self.company.currency_id.id,
                "amount": 100,
                "promised_date": fields.Date.context_today(self.customer) + timedelta(days=3),
            }
        )
        promise.action_cancel()
        self.assertEqual(promise.state, "cancelled")
        plan = (
            self.env["collections.payment.plan"]
            .with_user(self.collector)
            .create(
                {
                    "company_id": self.company.id,
                    "partner_id": self.customer.id,
                    "currency_id": self.company.currency_id.id,
                    "move_ids": [Command.set(self.invoice.ids)],
                    "installment_count": 3,
                    "start_date": fields.Date.context_today(self.customer),
                }
            )
        )
        plan.action_generate_schedule()
        plan.action_activate()
        self.assertEqual(plan.state, "active")
        plan.action_cancel()
        dispute = self._open_and_resolve_dispute(self.collector, self.invoice, company_id=self.company.id)
        self.assertEqual(dispute.state, "resolved")

    def test_collector_works_the_worklist(self):
        self._run()
        rows = self.env["collections.worklist"].with_user(self.collector).search([])
        self.assertIn(self.customer, rows.partner_id)
        row = rows.filtered(lambda r: r.partner_id == self.customer)[:1]
        action = row.action_log_call()
        self.assertEqual(action["res_model"], "collections.call.outcome")
