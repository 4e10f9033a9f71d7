import re
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from odoo.addons.collections_omni.tests.common import TODAY

from .common import PortalCollectionsCommon


@tagged("post_install", "-at_install", "collections_http")
class TestPortalBalance(PortalCollectionsCommon, HttpCase):
    """A portal customer's balance, promise to pay and plan request, over real HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.today()
        cls.first = cls._invoice(cls.customer, 300, 40)
        cls.second = cls._invoice(cls.customer, 200, 10)
        cls.foreign = cls._invoice(cls.other_customer, 777.77, 10)

    def setUp(self):
        super().setUp()
        self.authenticate("cliente_uno", "cliente_uno_pw")

    def _csrf(self, page):
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _get(self, path):
        page = self.url_open(path)
        self.assertEqual(page.status_code, 200, page.text[-500:])
        return page

    def _post(self, path, form, invoices, csrf_from):
        data = [("csrf_token", self._csrf(self._get(csrf_from)))] + [("invoice_ids", str(i)) for i in invoices.ids]
        return self.url_open(path, data=data + list(form.items()))

    def _promise_form(self, invoices, **form):
        values = {"amount": "", "promised_date": str(self.today + timedelta(days=10)), **form}
        return self._post("/my/collections/promise", values, invoices, "/my/collections/promise")

    def _plan_form(self, invoices, **form):
        values = {"installment_count": "3", "frequency": "monthly", "start_date": str(self.today + timedelta(days=5))}
        return self._post("/my/collections/plan", {**values, **form}, invoices, "/my/collections/plan")

    def test_public_visitor_is_sent_to_login(self):
        self.authenticate(None, None)
        for path in ("/my/collections", "/my/collections/promise", "/my/collections/plan"):
            response = self.url_open(path, allow_redirects=False)
            self.assertIn(response.status_code, (302, 303))
            self.assertIn("/web/login", response.headers["Location"])

    def test_balance_lists_only_the_customers_open_invoices(self):
        page = self._get("/my/collections")
        for invoice in self.first | self.second:
            self.assertIn(invoice.name, page.text)
            self.assertIn(invoice.get_portal_url(), page.text.replace("&amp;", "&"), "links to Odoo's invoice page")
        self.assertNotIn(self.foreign.name, page.text)
        self.assertNotIn("777.77", page.text)
        self.assertIn("2 open invoices", page.text)
        self.assertIn("500.00", page.text, "the total per currency")
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["collections_invoice_count"]})
        self.assertEqual(counters["collections_invoice_count"], 2)
        self.assertIn('href="/my/collections"', self._get("/my").text, "the card on the portal home")

    def test_a_customer_without_invoices_sees_a_friendly_empty_page(self):
        self._pay(self.first)
        self._pay(self.second)
        page = self._get("/my/collections")
        self.assertIn("You have no open invoices", page.text)
        self.assertNotIn("Promise to Pay</button>", page.text)

    def test_promise_from_the_portal_holds_the_invoices(self):
        form = self._get(f"/my/collections/promise?invoice_ids={self.first.id}")
        self.assertRegex(form.text, r'name="amount"[^>]* value="300.00"', "the chosen invoices' residual by default")
        done = self._promise_form(self.first, amount="300")
        self.assertEqual(done.status_code, 200)
        self.assertTrue(done.url.endswith("/my/collections?done=promise"))
        self.assertIn("your promise is recorded", done.text)
        promise = self._promises()
        self.assertEqual(
            (promise.move_ids, promise.amount, promise.promised_date, promise.source),
            (self.first, 300, self.today + timedelta(days=10), "portal"),
        )
        self.assertIn("Payment promised", done.text, "the invoice shows its hold")
        self.assertNotIn(
            self.portal_user.partner_id,
            promise.message_partner_ids,
            "the customer does not follow the back office's chatter",
        )
        run = self._run(self.today)
        self.assertEqual(run.skip_reasons, {"promise": 1})
        self.assertEqual(self._messages(self.customer).move_ids, self.second)

    def test_a_tampered_invoice_id_is_refused_and_creates_nothing(self):
        for invoices in (self.first | self.foreign, self.foreign):
            response = self._promise_form(invoices, amount="100")
            self.assertEqual(response.status_code, 400)
            self.assertIn("not open invoices of your account", response.text)
            self.assertNotIn(self.foreign.name, response.text)
            response = self._plan_form(invoices, submit="1")
            self.assertEqual(response.status_code, 400)
            self.assertIn("not open invoices of your account", response.text)
        self.assertFalse(self._promises() | self._promises(self.other_customer))
        self.assertFalse(self._plans() | self._plans(self.other_customer))

    def test_a_refused_form_keeps_what_the_customer_entered(self):
        later = str(self.today + timedelta(days=12))
        response = self._promise_form(self.first | self.second, amount="999", promised_date=later)
        self.assertEqual(response.status_code, 400)
        self.assertIn("You can promise at most", response.text)
        self.assertIn('value="999"', response.text)
        self.assertIn(f'value="{later}"', response.text)
        for invoice in self.first | self.second:
            self.assertRegex(response.text, rf'value="{invoice.id}" checked="checked"')
        too_late = str(self.today + timedelta(days=31))
        response = self._promise_form(self.first, amount="50", promised_date=too_late)
        self.assertEqual(response.status_code, 400)
        self.assertIn("at most 30 days from today", response.text)
        response = self._promise_form(self.first, amount="fifty")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Enter the amount as a number", response.text)
        response = self._plan_form(self.first, installment_count="9", note="Pago los viernes", submit="1")
        self.assertEqual(response.status_code, 400)
        self.assertIn("between 1 and 6", response.text)
        self.assertIn("Pago los viernes", response.text)
        self.assertFalse(self._promises())
        self.assertFalse(self._plans())

    def test_a_post_without_csrf_token_is_refused(self):
        form = {"invoice_ids": str(self.first.id), "promised_date": str(self.today + timedelta(days=3))}
        self.assertEqual(self.url_open("/my/collections/promise", data=form).status_code, 400)
        self.assertFalse(self._promises())

    def test_plan_request_shows_the_schedule_then_creates_a_proposed_plan(self):
        start = self.today + timedelta(days=5)
        preview = self._plan_form(self.first | self.second, preview="1")
        self.assertEqual(preview.status_code, 200)
        self.assertIn("Your Schedule", preview.text)
        self.assertEqual(re.findall(r"166\.6[67]", preview.text), ["166.67", "166.67", "166.66"])
        link = self._get(
            f"/my/collections/plan?preview=1&invoice_ids={self.first.id}&invoice_ids={self.second.id}"
            f"&installment_count=3&frequency=monthly&start_date={start}"
        )
        self.assertEqual(re.findall(r"166\.6[67]", link.text), ["166.67", "166.67", "166.66"], "a link shows it too")
        self.assertFalse(self._plans(), "showing the schedule creates nothing")
        done = self._plan_form(self.first | self.second, submit="1", note="Cobramos a fin de mes")
        self.assertEqual(done.status_code, 200)
        plan = self._plans()
        self.assertTrue(done.url.endswith(f"/my/collections/plans/{plan.id}?requested=1"))
        self.assertEqual((plan.state, plan.origin, plan.start_date), ("proposed", "portal", start))
        self.assertEqual([i.amount for i in plan.installment_ids.sorted("sequence")], [166.67, 166.67, 166.66])
        self.assertEqual(plan.activity_ids.user_id, self.collector)
        self.assertIn("Waiting for our answer", done.text)
        self.assertNotIn(self.portal_user.partner_id, plan.message_partner_ids)
        self.assertIn("Installment 3 of 3", done.text)
        balance = self._get("/my/collections")
        self.assertIn(plan.name, balance.text)
        self.assertIn("In a payment plan", balance.text)

    def test_another_customers_plan_is_not_found(self):
        other_plan = self.Plan.create({"partner_id": self.other_customer.id, "move_ids": [(6, 0, self.foreign.ids)]})
        other_plan.action_generate_schedule()
        other_plan.action_propose()
        own_draft = self.Plan.create({"partner_id": self.customer.id, "move_ids": [(6, 0, self.first.ids)]})
        csrf_token = self._csrf(self._get("/my/collections/promise"))
        for plan in (other_plan, own_draft):
            self.assertEqual(self.url_open(f"/my/collections/plans/{plan.id}").status_code, 404)
            for answer in ("accept", "decline"):
                response = self.url_open(
                    f"/my/collections/plans/{plan.id}/{answer}", data={"csrf_token": csrf_token, "reason": "No"}
                )
                self.assertEqual(response.status_code, 404)
        self.assertEqual((other_plan.state, own_draft.state), ("proposed", "draft"))
        self.assertFalse(other_plan.activity_ids)

    def test_customer_accepts_the_plan_the_collector_proposed(self):
        plan = self.Plan.create(
            {"partner_id": self.customer.id, "move_ids": [(6, 0, self.first.ids)], "installment_count": 2}
        )
        plan.action_generate_schedule()
        plan.action_propose()
        page = self._get(f"/my/collections/plans/{plan.id}")
        self.assertIn("Waiting for your answer", page.text)
        self.assertIn("Accept the plan", page.text)
        accepted = self.url_open(f"/my/collections/plans/{plan.id}/accept", data={"csrf_token": self._csrf(page)})
        self.assertEqual(accepted.status_code, 200)
        self.assertIn("the plan is active", accepted.text)
        self.assertEqual(plan.state, "active")
        again = self.url_open(f"/my/collections/plans/{plan.id}/accept", data={"csrf_token": self._csrf(page)})
        self.assertEqual(again.status_code, 400)
        self.assertIn("not waiting for your answer", again.text)
        self.assertNotIn("Decline the plan", again.text, "an active plan cannot be declined")

    def _collectors_proposal(self, invoices):
        plan = self.Plan.create(
            {
                "partner_id": self.customer.id,
                "move_ids": [(6, 0, invoices.ids)],
                "installment_count": 2,
                "user_id": self.collector.id,
            }
        )
        plan.action_generate_schedule()
        plan.action_propose()
        return plan

    def test_customer_declines_the_plan_the_collector_proposed(self):
        plan = self._collectors_proposal(self.first | self.second)
        page = self._get(f"/my/collections/plans/{plan.id}")
        self.assertIn("These terms do not work for me", page.text)
        self.assertRegex(
            page.text, r'<details class="o_collections_decline mt-2">', "closed until the customer opens it"
        )
        self.assertRegex(page.text, r'<textarea [^>]*name="reason" rows="2" maxlength="500"></textarea>')
        declined = self.url_open(
            f"/my/collections/plans/{plan.id}/decline",
            data={"csrf_token": self._csrf(page), "reason": "Prefiero pagar en 4 cuotas"},
        )
        self.assertEqual(declined.status_code, 200)
        self.assertTrue(declined.url.endswith(f"/my/collections/plans/{plan.id}?declined=1"))
        self.assertIn("You declined this plan", declined.text)
        self.assertIn(
            f'href="/my/collections/plan?invoice_ids={self.first.id}&amp;invoice_ids={self.second.id}"',
            declined.text,
            "a link to request a plan over the same invoices",
        )
        self.assertNotIn("Accept the plan", declined.text)
        self.assertIn("its installments are no longer due", declined.text)
        self.assertNotIn(">Pending</span>", declined.text, "no installment of a cancelled plan looks due")
        self.assertEqual(plan.state, "cancelled")
        note = plan.message_ids.filtered(lambda m: "Declined by" in m.body)
        self.assertIn("Prefiero pagar en 4 cuotas", note.body)
        self.assertEqual(plan.activity_ids.user_id, self.collector)
        request_form = self._get(f"/my/collections/plan?invoice_ids={self.first.id}&invoice_ids={self.second.id}")
        for invoice in self.first | self.second:
            self.assertRegex(request_form.text, rf'value="{invoice.id}" checked="checked"', "free to choose again")
        again = self.url_open(
            f"/my/collections/plans/{plan.id}/decline", data={"csrf_token": self._csrf(page), "reason": "Otra vez"}
        )
        self.assertEqual(again.status_code, 400)
        self.assertIn("not waiting for your answer", again.text)
        self.assertEqual(len(plan.activity_ids), 1, "declined once")

    def test_a_refused_decline_keeps_the_reason_and_changes_nothing(self):
        plan = self._collectors_proposal(self.first)
        page = self._get(f"/my/collections/plans/{plan.id}")
        reason = "Demasiado <caro> " * 40  # 680 characters: over the limit
        refused = self.url_open(
            f"/my/collections/plans/{plan.id}/decline", data={"csrf_token": self._csrf(page), "reason": reason}
        )
        self.assertEqual(refused.status_code, 400)
        self.assertIn("500 characters at most", refused.text)
        self.assertRegex(
            refused.text,
            r'<textarea [^>]*name="reason"[^>]*>Demasiado &lt;caro&gt; Demasiado',
            "what they wrote, escaped",
        )
        self.assertRegex(refused.text, r'<details class="o_collections_decline mt-2" open="open">', "left open")
        self.assertEqual(plan.state, "proposed")
        self.assertFalse(plan.activity_ids)
        no_token = self.url_open(f"/my/collections/plans/{plan.id}/decline", data={"reason": "No"})
        self.assertEqual(no_token.status_code, 400)
        self.assertEqual(plan.state, "proposed", "no CSRF token, no decline")

    def test_balance_lists_past_promises_most_recent_first(self):
        states = ["kept", "broken", "cancelled"]
        promises = self.Promise.concat(
            *(
                self.Promise.create(
                    {
                        "partner_id": self.customer.id,
                        "amount": 11 * (day + 1),
                        "date": self.today - timedelta(days=10 + day),
                        "promised_date": self.today - timedelta(days=5 + day),
                        "state": states[day % 3],
                    }
                )
                for day in range(11)
            )
        )
        running = self._promise_form(self.first, amount="7")
        self.assertEqual(running.status_code, 200)
        page = self._get("/my/collections").text
        promises_table = page[page.index("My Promises to Pay") :]
        running_part, earlier_part = promises_table.split("Earlier promises")
        amounts = re.compile(r'oe_currency_value">([\d.,]+)<')
        self.assertEqual(amounts.findall(running_part), ["7.00"], "the running promise first")
        self.assertEqual(
            amounts.findall(earlier_part),
            [f"{amount:.2f}" for amount in promises[:10].mapped("amount")],
            "then the last 10 ended promises, latest first",
        )
        for label in ("Kept", "Broken", "Cancelled"):
            self.assertIn(f">{label}</span>", promises_table)

    def test_plan_page_in_spanish(self):
        self.env["ir.module.module"]._load_module_terms(
            ["portal", "collections_omni", "collections_portal"], ["es_ES"], overwrite=True
        )
        self.portal_user.lang = "es_ES"
        self.authenticate("cliente_uno", "cliente_uno_pw")  # the session takes the language at login
        plan = self.Plan.create(
            {
                "partner_id": self.customer.id,
                "move_ids": [(6, 0, (self.first | self.second).ids)],
                "installment_count": 2,
                "start_date": self.today,
            }
        )
        plan.action_generate_schedule()
        plan.action_activate()
        page = self._get(f"/my/collections/plans/{plan.id}")
        self.assertIn("Cuota 1 de 2", page.text, "the engine's installment label")
        self.assertIn("Mensualmente", page.text)
        self.assertIn("Activo", page.text)
        self.assertIn("250,00", page.text, "amounts in the Spanish format")
        self.assertIn(self.today.strftime("%d/%m/%Y"), page.text, "dates in the Spanish format")
        self.assertIn("Preferencias de contacto", self._get("/my").text)

    def test_balance_shows_aging_next_due_date_recent_payments_and_messages(self):
        # The fixtures' invoices are due relative to the engine's TODAY; the page counts from the real today.
        shift = (fields.Date.today() - TODAY).days
        upcoming = self._invoice(self.customer, 50, -7 - shift)
        self._invoice(self.customer, 70, 20 - shift)
        self._invoice(self.customer, 30, 45 - shift)
        self._pay(self.second, 80)
        Message = self.env["collections.message"]._engine()
        common = {"channel": "whatsapp", "currency_id": self.company.currency_id.id, "state": "sent"}
        Message.create(
            [
                {
                    **common,
                    "partner_id": self.customer.id,
                    "subject": "Su factura vence pronto",
                    "sent_at": fields.Datetime.now(),
                    "idempotency_key": "portal-mine",
                },
                {
                    **common,
                    "partner_id": self.other_customer.id,
                    "subject": "Asunto de otro cliente",
                    "sent_at": fields.Datetime.now(),
                    "idempotency_key": "portal-other",
                },
                {
                    **common,
                    "partner_id": self.customer.id,
                    "subject": "Sin enviar",
                    "state": "planned",
                    "idempotency_key": "portal-planned",
                },
            ]
        )
        page = self._get("/my/collections").text
        aging = re.sub(r"\s+", " ", re.search(r"o_collections_aging.*?</table>", page, re.S).group(0))
        for label, amount in (
            ("Not due yet", "50.00"),
            ("1-30 days late", "70.00"),
            ("31-60 days late", "30.00"),
            ("61-90 days late", "0.00"),
            ("More than 90 days late", "420.00"),
        ):
            self.assertRegex(aging, rf"{label}</td> <td[^>]*>[^<]*<span[^>]*>{re.escape(amount)}</span>")
        self.assertIn(upcoming.invoice_date_due.strftime("%m/%d/%Y"), aging, "the next due date")
        self.assertIn("Overdue: <span", page)
        payments = re.search(r"o_collections_payments.*?</ul>", page, re.S).group(0)
        self.assertIn("80.00", payments)
        messages = re.search(r"o_collections_messages.*?</ul>", page, re.S).group(0)
        self.assertIn("Su factura vence pronto", messages)
        self.assertIn("WhatsApp", messages)
        self.assertNotIn("Asunto de otro cliente", page)
        self.assertNotIn("Sin enviar", page, "only messages that went out")
