import time

from odoo.tests import tagged

from ..tools import webhook
from .common import WhatsappCommon

ES_NUMBER, EN_NUMBER = "+34600111222", "+34600333444"


@tagged("post_install", "-at_install")
class TestWhatsappSelfService(WhatsappCommon):
    """Each intent, from a quick-reply button and from plain words, in Spanish
    and English: the records the portal and call outcomes create, and the
    answer the customer reads (sent through the emulator)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_US")
        cls.env["ir.module.module"]._load_module_terms(["collections_whatsapp"], ["es_ES"], overwrite=True)
        spain = cls.env.ref("base.es")
        cls.customer.write({"mobile": "600 11 12 22", "country_id": spain.id})
        cls.english = cls._customer("Customer Two", lang="en_US", mobile="600 33 34 44", country_id=spain.id)
        cls.collector.partner_id.lang = "es_ES"
        (cls.customer | cls.english).collections_user_id = cls.collector
        cls.invoice_es = cls._invoice(cls.customer, 300, 30)
        cls.invoice_en = cls._invoice(cls.english, 120, 10)
        cls._whatsapp_provider()

    def _writes(self, number, text=None, button=None):
        """The customer writes (the emulator opens the window as Meta would); returns the chat's answer."""
        self.emulator.last_inbound[number[1:]] = time.time()
        before = len(self.emulator.sent)
        body = self.emulator.inbound_body(number, text=text, button=button)
        self.env["collections.whatsapp.event"].sudo()._store(self.account, webhook.parse(body))._process()
        answers = self.emulator.sent[before:]
        self.assertLessEqual(len(answers), 1)
        return answers[0]["text"]["body"] if answers else None

    def _conversation(self, number):
        return self.env["collections.whatsapp.conversation"].search([("wa_id", "=", number[1:])])

    def test_pay_from_words_and_button_in_both_languages(self):
        for number, text, expected in (
            (ES_NUMBER, "Quiero pagar", "Puede pagar"),
            (EN_NUMBER, "pay now", "You can pay"),
        ):
            answer = self._writes(number, text)
            self.assertIn(expected, answer)
            self.assertIn("/my/collections", answer)
        self.assertIn("Puede pagar", self._writes(ES_NUMBER, "Pagar ahora", button="COLLECTIONS_PAY"))

    def _writes_all(self, number, text=None, button=None):
        """The customer writes; returns everything the chat sent back."""
        self.emulator.last_inbound[number[1:]] = time.time()
        before = len(self.emulator.sent)
        body = self.emulator.inbound_body(number, text=text, button=button)
        self.env["collections.whatsapp.event"].sudo()._store(self.account, webhook.parse(body))._process()
        return self.emulator.sent[before:]

    def test_invoice_pdf_sent_in_the_chat_from_words_and_button_in_both_languages(self):
        older = self._invoice(self.customer, 80, 60)
        for number, kwargs, invoice, expected in (
            (ES_NUMBER, {"text": "¿Me envías la factura?"}, older, "Aquí tiene la factura"),
            (ES_NUMBER, {"text": f"Necesito la factura {self.invoice_es.name}"}, self.invoice_es, "Aquí tiene"),
            (EN_NUMBER, {"text": "Invoice", "button": "COLLECTIONS_INVOICE"}, self.invoice_en, "Here is invoice"),
        ):
            with self.subTest(number=number, **kwargs):
                document, answer = self._writes_all(number, **kwargs)
                filename = invoice.name.replace("/", "_") + ".pdf"
                self.assertEqual((document["type"], document["document"]["filename"]), ("document", filename))
                self.assertTrue(document["document"]["id"].startswith("media."), "uploaded, then sent by its id")
                self.assertIn(expected, answer["text"]["body"])
                self.assertIn(invoice.name, answer["text"]["body"])
                self.assertIn("/my/collections", answer["text"]["body"])
                attachments = self._conversation(number).message_ids.attachment_ids
                self.assertIn(filename, attachments.mapped("name"), "the file stays on the conversation")

    def test_invoice_request_without_open_invoices(self):
        self._pay(self.invoice_en)
        (answer,) = self._writes_all(EN_NUMBER, "send me the invoice pdf")
        self.assertIn("no open invoices", answer["text"]["body"])

    def test_balance_lists_the_oldest_invoices(self):
        answer = self._writes(ES_NUMBER, "¿Cuánto debo?")
        self.assertIn("Debe", answer)
        self.assertIn(self.invoice_es.name, answer)
        self.assertIn("300,00", answer)
        self.assertIn(self.invoice_en.name, self._writes(EN_NUMBER, "my balance"))

    def test_plan_answers_the_plan_link(self):
        self.assertIn("plan de pagos", self._writes(ES_NUMBER, "Plan de pagos", button="COLLECTIONS_PLAN").lower())
        self.assertIn("payment plan", self._writes(EN_NUMBER, "payment plan").lower())

    def test_plan_offers_what_the_terms_allow_and_records_the_choice(self):
        Plan = self.env["collections.payment.plan"]
        answer = self._writes(ES_NUMBER, "Quiero un plan de pagos")
        self.assertIn("plan de pagos mensuales", answer)
        self.assertRegex(answer, r"\n2: 2 pagos mensuales de \D*150,00\n")  # 300 over 2, in the company's currency
        self.assertRegex(answer, r"\n3: 3 pagos mensuales de \D*100,00\n")
        self.assertEqual(self._conversation(ES_NUMBER).awaiting, "plan_choice")
        self.assertIsNone(self._writes(ES_NUMBER, "5"), "a number not offered is not a choice")
        self.assertFalse(Plan.search([("partner_id", "=", self.customer.id)]))
        answer = self._writes(ES_NUMBER, "3 cuotas")
        plan = Plan.search([("partner_id", "=", self.customer.id)])
        self.assertEqual((plan.state, plan.origin, plan.installment_count), ("proposed", "whatsapp", 3))
        self.assertEqual(plan.move_ids, self.invoice_es)
        self.assertEqual(plan.installment_ids.mapped("amount"), [100.0, 100.0, 100.0])
        self.assertRegex(answer, r"plan de 3 pagos mensuales de \D*100,00")
        self.assertIn("pausado los recordatorios", answer)
        self.assertEqual(plan.activity_ids.user_id, self.collector, "the collector activates or cancels it")
        self.assertFalse(self._conversation(ES_NUMBER).awaiting)
        self.assertIsNone(self._writes(ES_NUMBER, "3"), "asked once, chosen once")
        self.assertEqual(len(Plan.search([("partner_id", "=", self.customer.id)])), 1)

    def test_plan_in_english_from_the_button(self):
        answer = self._writes(EN_NUMBER, "Payment plan", button="COLLECTIONS_PLAN")
        self.assertIn("2: 2 monthly payments of", answer)
        answer = self._writes(EN_NUMBER, "2")
        self.assertIn("your plan of 2 monthly payments", answer)
        plan = self.env["collections.payment.plan"].search([("partner_id", "=", self.english.id)])
        self.assertEqual((plan.state, plan.installment_count), ("proposed", 2))

    def test_promise_with_a_date_and_asked_for_one(self):
        Promise = self.env["collections.promise"]
        answer = self._writes(ES_NUMBER, "Prometo pagar el 20/12")
        promise = Promise.search([("partner_id", "=", self.customer.id)])
        self.assertEqual((promise.source, promise.amount, promise.user_id), ("whatsapp", 300, self.collector))
        self.assertEqual(promise.promised_date.strftime("%m-%d"), "12-20")
        self.assertIn("promesa", answer)
        # From the button, without a date: the chat asks for one, then records it.
        self.assertIn(
            "What date",
            self._writes(EN_NUMBER, "Promise to pay", button="COLLECTIONS_PROMISE").replace("On what", "What"),
        )
        self.assertFalse(Promise.search([("partner_id", "=", self.english.id)]))
        self._writes(EN_NUMBER, "in 3 days")
        promise = Promise.search([("partner_id", "=", self.english.id)])
        self.assertEqual(promise.amount, 120)
        self.assertFalse(self._conversation(EN_NUMBER).awaiting)

    def test_promise_in_plain_english_words(self):
        """ "I will pay on 12/20" from an American English customer is December 20, as is "December 20th"."""
        Promise = self.env["collections.promise"]
        answer = self._writes(EN_NUMBER, "I will pay on 12/20")
        promise = Promise.search([("partner_id", "=", self.english.id)])
        self.assertEqual((promise.source, promise.amount), ("whatsapp", 120))
        self.assertEqual(promise.promised_date.strftime("%m-%d"), "12-20")
        self.assertIn("promise", answer)

    def test_already_paid_opens_a_claim_and_pauses_reminders(self):
        answer = self._writes(ES_NUMBER, "Ya pagué la semana pasada")
        dispute = self.env["collections.dispute"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual((dispute.reason, dispute.move_ids), ("already_paid", self.invoice_es))
        self.assertIn("Gracias", answer)
        activity = self._conversation(ES_NUMBER).activity_ids
        self.assertEqual(activity.user_id, self.collector)

    def test_talk_to_a_person_assigns_the_conversation(self):
        answer = self._writes(EN_NUMBER, "I want to talk to a person")
        conversation = self._conversation(EN_NUMBER)
        self.assertEqual(conversation.user_id, self.collector)
        self.assertEqual(len(conversation.activity_ids), 1)
        self.assertIn("collector will write", answer)

    def test_the_collectors_to_dos_are_in_the_collectors_language_not_the_chats(self):
        """The chat speaks the customer's English; the Spanish collector reads Spanish to-dos."""
        self._writes(EN_NUMBER, "I want to talk to a person")
        activity = self._conversation(EN_NUMBER).activity_ids
        self.assertEqual(activity.summary, "El cliente pide hablar con una persona por WhatsApp")
        self._writes(EN_NUMBER, "Payment plan", button="COLLECTIONS_PLAN")
        self._writes(EN_NUMBER, "2")
        plan = self.env["collections.payment.plan"].search([("partner_id", "=", self.english.id)])
        self.assertEqual(plan.activity_ids.user_id, self.collector)
        self.assertEqual(
            plan.activity_ids.summary, "Plan de pagos elegido por WhatsApp: acéptelo (Activar) o rechácelo (Cancelar)"
        )

    def test_stop_and_baja_opt_out_at_once(self):
        Consent = self.env["collections.consent"]
        self.assertIn("WhatsApp", self._writes(ES_NUMBER, "BAJA"))
        self.assertIn("START", self._writes(EN_NUMBER, "STOP"))
        statuses = Consent._status_by_partner(self.customer | self.english)
        self.assertEqual(statuses[self.customer.id, "whatsapp"], "opt_out")
        self.assertEqual(statuses[self.english.id, "whatsapp"], "opt_out")
        self.assertEqual(Consent.search_count([("partner_id", "=", self.customer.id), ("channel", "=", "whatsapp")]), 1)

    def test_small_talk_gets_no_automatic_answer(self):
        self.assertIsNone(self._writes(ES_NUMBER, "Buenos días"))
        self.assertEqual(self._conversation(ES_NUMBER).unread_count, 1)

    def test_unknown_number_is_told_a_person_will_answer(self):
        self.assertIsNotNone(self._writes("+34699000111", "pagar"))
        self.assertTrue(self._conversation("+34699000111").activity_ids)

    def test_an_unknown_number_is_named_in_the_readers_language(self):
        conversation = self.env["collections.whatsapp.conversation"]._for_number(self.account, "34699000112")
        self.assertTrue(conversation.with_context(lang="en_US").display_label.startswith("Unknown number ("))
        self.assertTrue(conversation.with_context(lang="es_ES").display_label.startswith("Número desconocido ("))
