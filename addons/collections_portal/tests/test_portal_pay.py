import re

from odoo import Command, fields
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException

from odoo.addons.collections_omni.tests.common import engine_message

from .common import PortalCollectionsCommon


@tagged("post_install", "-at_install", "collections_http")
class TestPortalPay(PortalCollectionsCommon, HttpCase):
    """Several invoices paid in one payment through Odoo's payment providers, over real HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.first = cls._invoice(cls.customer, 300, 40)
        cls.second = cls._invoice(cls.customer, 200, 10)
        cls.third = cls._invoice(cls.customer, 50, 5)
        cls.foreign = cls._invoice(cls.other_customer, 777.77, 10)
        cls._setup_payment_provider()

    def setUp(self):
        super().setUp()
        self.authenticate("cliente_uno", "cliente_uno_pw")

    def _pay_page(self, query, status=200):
        page = self.url_open(f"/my/collections/pay?{query}")
        self.assertEqual(page.status_code, status, page.text[-800:])
        return page

    def _transaction(self, selection, amount=1.0):
        return self.make_jsonrpc_request(
            "/my/collections/pay/transaction",
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.method.id,
                "token_id": None,
                "amount": amount,
                "flow": "redirect",
                "tokenization_requested": False,
                "landing_route": "/my/collections?done=paid",
                "is_validation": False,
                "access_token": selection,
            },
        )

    def _transactions(self):
        return self.env["payment.transaction"].search([("partner_id", "child_of", self.customer.id)])

    def test_several_invoices_in_one_payment_that_stops_their_reminders(self):
        reminder = engine_message(
            self.env,
            self.customer,
            "portal-pay-reminder",
            state="planned",
            move_ids=[Command.set((self.first | self.second).ids)],
        )
        page = self._pay_page(f"invoice_ids={self.first.id}&invoice_ids={self.second.id}")
        self.assertIn("500.00", re.search(r"o_collections_pay_total.*?</span>\s*</li>", page.text, re.S).group(0))
        self.assertIn(
            f'data-provider-id="{self.provider.id}"', page.text, "the payment form with the company's providers"
        )
        self.assertIn('data-transaction-route="/my/collections/pay/transaction"', page.text)
        self.assertNotIn(self.third.name, page.text)
        selection = re.search(r'data-access-token="([^"]+)"', page.text).group(1)
        self.assertEqual(selection, f"{self.first.id}.{self.second.id}")

        self._transaction(selection, amount=0.01)  # the browser's amount is not trusted
        tx = self._transactions()
        self.assertEqual(len(tx), 1)
        self.assertEqual((tx.invoice_ids, tx.amount), (self.first | self.second, 500), "what the invoices owe")
        self._transaction(selection)
        self._transaction(f"{self.second.id}.{self.first.id}")
        self.assertEqual(self._transactions(), tx, "a replay of the same selection gets the same transaction")

        tx._set_done()
        tx._post_process()
        self.assertEqual(len(tx.payment_id), 1, "one payment")
        self.assertEqual((self.first | self.second).mapped("amount_residual"), [0, 0], "reconciled with the payment")
        self.assertEqual(self.third.payment_state, "not_paid", "exactly the chosen invoices")
        self.assertEqual(reminder.state, "cancelled", "their pending reminder stops at once")
        done = self.url_open("/my/collections?done=paid")
        self.assertIn("Thank you for your payment", done.text)

    def test_pay_everything(self):
        page = self._pay_page("all=1")
        self.assertIn("550.00", page.text)
        selection = re.search(r'data-access-token="([^"]+)"', page.text).group(1)
        self._transaction(selection)
        self.assertEqual(self._transactions().invoice_ids, self.first | self.second | self.third)

    def test_no_way_to_another_customers_invoices_or_bad_selections(self):
        for query, message in (
            (f"invoice_ids={self.first.id}&invoice_ids={self.foreign.id}", "not open invoices of your account"),
            (f"invoice_ids={self.foreign.id}", "not open invoices of your account"),
            ("invoice_ids=NaN", "Choose invoices from the list."),
            ("invoice_ids=-1", "Choose invoices from the list."),
            ("invoice_ids=99999999999999999999999", "Choose invoices from the list."),
            ("invoice_ids=%C3%B1", "Choose invoices from the list."),
            ("", "Choose at least one invoice to pay."),
        ):
            page = self._pay_page(query, status=400)
            self.assertIn(message, page.text, query)
            self.assertNotIn("777.77", page.text)
        for selection in (f"{self.foreign.id}", f"{self.first.id}.{self.foreign.id}", "1e9", "", "x.y"):
            with self.assertRaises(JsonRpcException, msg=selection) as refused:
                self._transaction(selection)
            self.assertIn("odoo.exceptions.ValidationError", str(refused.exception), "a clear refusal, not a crash")
        self.assertFalse(self._transactions())
        self.assertFalse(self.env["payment.transaction"].search([("invoice_ids", "in", self.foreign.ids)]))

    def test_a_link_visitor_pays_without_a_password(self):
        self.opener.cookies.clear()  # a phone that never logged in
        url = self.customer._collections_portal_url("sms")
        self.url_open(url[url.index("/my/collections/access/") :])
        page = self._pay_page(f"invoice_ids={self.second.id}")
        self._transaction(re.search(r'data-access-token="([^"]+)"', page.text).group(1))
        tx = self._transactions()
        self.assertEqual((tx.invoice_ids, tx.partner_id), (self.second, self.customer))

    def test_the_next_installment_of_a_plan_in_one_payment(self):
        # 500 in 3: 166.67, 166.67, 166.66
        plan = self._running_plan(self.first | self.second, start=fields.Date.today())
        first_installment = plan.installment_ids[0]
        self.assertEqual(first_installment.amount, 166.67)
        page = self.url_open(f"/my/collections/plans/{plan.id}")
        self.assertIn(f'href="/my/collections/pay?plan_id={plan.id}"', page.text)
        self.assertIn("Pay the next installment", page.text)
        self.assertNotIn("Pay an installment online from any of these invoices", page.text)
        pay = self._pay_page(f"plan_id={plan.id}")
        total = re.search(r"o_collections_pay_total.*?</span>\s*</li>", pay.text, re.S).group(0)
        self.assertIn("166.67", total, "the installment, not the invoices")
        self.assertIn(f'data-landing-route="/my/collections/plans/{plan.id}?paid=1"', pay.text)
        token = re.search(r'data-access-token="([^"]+)"', pay.text).group(1)
        self.assertEqual(token, f"plan-{plan.id}-{first_installment.id}")
        self._transaction(token, amount=500)  # the browser's amount is not trusted
        self._transaction(token)
        tx = self._transactions()
        self.assertEqual((tx.invoice_ids, tx.amount), (self.first | self.second, 166.67), "once, for the installment")

        tx._set_done()
        tx._post_process()
        self.assertEqual(len(tx.payment_id), 1)
        self.assertEqual(
            (self.first | self.second).mapped("amount_residual"),
            [133.33, 200.0],
            "exactly the installment's amount, into the oldest invoice first",
        )
        self.assertEqual(self.third.payment_state, "not_paid", "nothing on invoices outside the plan")
        self.assertEqual(first_installment.state, "paid")
        self.assertEqual(plan.installment_ids[1].state, "pending")
        self.assertEqual(plan.state, "active")
        after = self.url_open(f"/my/collections/plans/{plan.id}?paid=1")
        self.assertIn("It counts for your installment", after.text)
        second_token = re.search(r'data-access-token="([^"]+)"', self._pay_page(f"plan_id={plan.id}").text).group(1)
        self.assertEqual(second_token, f"plan-{plan.id}-{plan.installment_ids[1].id}", "then the next one")
        with self.assertRaises(JsonRpcException, msg="a page shown before the payment pays nothing twice"):
            self._transaction(token)

    def test_no_installment_of_a_plan_not_running_or_not_theirs(self):
        proposed = self._running_plan(self.first, start=fields.Date.today())
        proposed.action_cancel()
        foreign_plan = self.env["collections.payment.plan"].create(
            {"partner_id": self.other_customer.id, "move_ids": [Command.set(self.foreign.ids)]}
        )
        foreign_plan.action_generate_schedule()
        foreign_plan.action_activate()
        for plan_id in (proposed.id, foreign_plan.id, "99999999999", "NaN", "-1"):
            page = self._pay_page(f"plan_id={plan_id}", status=400)
            self.assertIn("This payment plan is not running", page.text)
            self.assertNotIn("777.77", page.text)
        for token in (f"plan-{foreign_plan.id}-{foreign_plan.installment_ids[0].id}", "plan-x", "plan-1-2-3"):
            with self.assertRaises(JsonRpcException, msg=token):
                self._transaction(token)
        self.assertFalse(self._transactions())
        self.assertFalse(self.env["payment.transaction"].search([("invoice_ids", "in", self.foreign.ids)]))
