from datetime import timedelta

from odoo import Command
from odoo.tests import new_test_user, tagged
from odoo.tests.common import freeze_time

from odoo.addons.mail.tools.discuss import Store

from .common import TODAY, CollectionsCommon


@tagged("at_install", "-post_install")
class TestCollectionsNotes(CollectionsCommon):
    """The engine's chatter notes store a code and values: each reader reads them
    in their own language, whoever's language the job ran in."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.english, cls.spanish = cls._english_and_spanish_viewers("note")

    def _body_for(self, user, message):
        # What the web client gets for the chatter, in the reader's own environment (no lang in context).
        store = Store(message.with_user(user).with_context(lang=None)).get_result()
        return next(m["body"] for m in store["mail.message"] if m["id"] == message.id)

    def test_a_reply_note_reads_in_each_readers_language(self):
        self.company.partner_id.lang = "en_US"
        Note = self.env["collections.note"].with_context(lang="es_ES")  # the job ran in Spanish
        message = Note._post(self.customer, "inbound_reply", channel="sms", number="+34600000000", text="<b>Pago</b>")
        self.assertEqual(message.collections_note_code, "inbound_reply")
        self.assertIn("Collections reply by SMS from +34600000000", message.body, "stored in the company's language")
        self.assertIn("&lt;b&gt;Pago&lt;/b&gt;", message.body, "the customer's words are escaped")
        self.assertEqual(
            str(self._body_for(self.english, message)),
            "<p>Collections reply by SMS from +34600000000: &lt;b&gt;Pago&lt;/b&gt;</p>",
        )
        self.assertEqual(
            str(self._body_for(self.spanish, message)),
            "<p>Respuesta de cobranza por SMS desde +34600000000: &lt;b&gt;Pago&lt;/b&gt;</p>",
        )

    def test_an_inbound_reply_is_noted_with_its_code(self):
        provider = self.env["collections.provider"].create(
            {
                "name": "Notes SMS",
                "channel": "sms",
                "provider_type": "sms_http",
                "sms_http_base_url": "http://127.0.0.1:9",
                "sms_http_account_sid": "AC" + "3" * 32,
                "sms_http_auth_token": "notes-token",
                "sms_http_from_number": "+15005550006",
            }
        )
        self.customer.mobile = "+34600000001"
        inbound = self.env["collections.message"].with_context(lang="en_US")
        inbound._record_inbound_reply(provider, "+34600000001", "Pagaré el lunes", "SM-note-1")
        note = self.customer.message_ids.filtered(lambda m: m.collections_note_code == "inbound_reply")
        self.assertEqual(len(note), 1)
        self.assertEqual(
            note.collections_note_args,
            {"code": "inbound_reply", "args": {"channel": "sms", "number": "+34600000001", "text": "Pagaré el lunes"}},
        )
        self.assertIn("Respuesta de cobranza por SMS", str(self._body_for(self.spanish, note)))


@freeze_time(TODAY.isoformat())
@tagged("at_install", "-post_install")
class TestCollectionsNotesPerReader(CollectionsCommon):
    """Notes and to-dos the engine writes while a job runs in English: a Spanish collector's
    to-do is written in Spanish, and each reader of a chatter note reads their language."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.english, cls.spanish = cls._english_and_spanish_viewers("reader")
        cls.company.partner_id.lang = "en_US"
        cls.customer.collections_user_id = cls.spanish  # the Spanish collector looks after the customer

    def _body_for(self, user, message):
        store = Store(message.with_user(user).with_context(lang=None)).get_result()
        return str(next(m["body"] for m in store["mail.message"] if m["id"] == message.id))

    def _note(self, record, code):
        return record.message_ids.filtered(lambda m: m.collections_note_code == code)

    def test_a_broken_promise_reads_in_the_collectors_and_each_readers_language(self):
        self.policy.broken_promise_action = "activity"
        invoice = self._invoice(self.customer, 300, 10)
        Promise = self.env["collections.promise"].with_context(lang="en_US")  # the cron runs in English
        promise = Promise.create(
            {
                "partner_id": self.customer.id,
                "amount": 300,
                "promised_date": TODAY + timedelta(days=2),
                "move_ids": [Command.set(invoice.ids)],
                "user_id": self.spanish.id,
            }
        )
        with freeze_time(TODAY + timedelta(days=3)):
            Promise._cron_check()
        self.assertEqual(promise.state, "broken")
        activity = promise.activity_ids
        self.assertEqual(activity.user_id, self.spanish)
        self.assertTrue(activity.summary.startswith("Promesa de pago incumplida: "), activity.summary)
        self.assertIn("2026", activity.summary)
        self.assertIn("Los recordatorios de cobro permanecen en espera", str(activity.note))
        note = self._note(promise, "promise_broken")
        self.assertEqual(len(note), 1)
        self.assertEqual(note.collections_note_args["args"]["then"], "promise_holds")
        english = self._body_for(self.english, note)
        self.assertTrue(english.startswith("<p>Promise broken: "), english)
        self.assertIn(". Dunning stays on hold until you resume it or cancel the promise.</p>", english)
        spanish = self._body_for(self.spanish, note)
        self.assertIn("Promesa de pago incumplida: ", spanish)
        self.assertIn("Los recordatorios de cobro permanecen en espera", spanish)
        # Dates and amounts follow the reader's language too.
        self.assertIn("06/17/2026", english)
        self.assertIn("17/06/2026", spanish)

    def test_a_broken_plan_reads_in_the_collectors_and_each_readers_language(self):
        invoice = self._invoice(self.customer, 300, 10)
        Plan = self.env["collections.payment.plan"].with_context(lang="en_US")
        plan = Plan.create(
            {
                "partner_id": self.customer.id,
                "currency_id": invoice.currency_id.id,
                "move_ids": [Command.set(invoice.ids)],
                "installment_count": 3,
                "start_date": TODAY,
                "frequency": "monthly",
            }
        )
        plan.action_generate_schedule()
        plan.action_activate()
        with freeze_time(TODAY + timedelta(days=6)):
            Plan._cron_check()
        self.assertEqual(plan.state, "broken")
        activity = plan.activity_ids
        self.assertEqual(activity.user_id, self.spanish)
        self.assertTrue(activity.summary.startswith(f"Plan de pagos {plan.name} incumplido"), activity.summary)
        self.assertIn("La gestión de cobro de sus facturas se reanuda", str(activity.note))
        note = self._note(plan, "plan_broken")
        self.assertIn(f"Payment plan {plan.name} broken: 1 installment(s)", self._body_for(self.english, note))
        self.assertIn(f"Plan de pagos {plan.name} incumplido", self._body_for(self.spanish, note))

    def test_engine_notes_on_a_customer_read_in_each_readers_language(self):
        Note = self.env["collections.note"].with_context(lang="es_ES")  # whoever posted read Spanish
        lifted = Note._post(self.customer, "vulnerable_lifted", user="Ana")
        self.assertEqual(self._body_for(self.english, lifted), "<p>Vulnerable customer protection lifted by Ana.</p>")
        self.assertEqual(
            self._body_for(self.spanish, lifted), "<p>Ana ha retirado la protección de cliente vulnerable.</p>"
        )
        failed = Note._post(self.customer, "not_reconciled", error="Lock date")
        self.assertEqual(self._body_for(self.english, failed), "<p>Not reconciled automatically: Lock date</p>")

    def test_a_note_its_author_edits_or_deletes_reads_as_they_left_it(self):
        """A note posted as a comment (WhatsApp's "Sent ... on WhatsApp.") may be edited or deleted
        in the chatter by its author: everybody then reads the edit, not the note's code again."""
        Note = self.env["collections.note"]
        edited = Note._post(self.customer, "not_reconciled", post_values={"message_type": "comment"}, error="Lock")
        self.customer._message_update_content(edited, "Conciliado a mano")
        self.assertIn("Conciliado a mano", str(self._body_for(self.english, edited)))
        self.assertNotIn("Not reconciled", str(self._body_for(self.english, edited)))
        deleted = Note._post(self.customer, "not_reconciled", post_values={"message_type": "comment"}, error="Lock")
        self.customer._message_update_content(deleted, "", attachment_ids=[])
        self.assertNotIn("Lock", str(self._body_for(self.spanish, deleted)), "deleted: nothing of the note is left")

    def test_the_call_back_task_is_in_the_collectors_language(self):
        customer = self.customer.with_context(lang="en_US")
        activity = customer._collections_schedule_call_back(TODAY)
        self.assertEqual(activity.user_id, self.spanish)
        self.assertEqual(activity.summary, "Volver a llamar (cobranza)")

    def test_a_correction_subject_is_in_the_customers_language(self):
        self._invoice(self.customer, 300, 10)
        wizard = (
            self.env["collections.call.outcome"]
            .with_context(lang="en_US")
            .create({"partner_id": self.customer.id, "outcome": "no_answer", "note": "Nadie contesta"})
        )
        call = self.env["collections.message"].browse(wizard.action_confirm()["infos"]["message_id"])
        action = call.with_context(lang="en_US").action_record_correction()
        self.assertEqual(action["context"]["default_subject"], f"Corrección: {call.subject or ''}")
        correction = (
            self.env["collections.message"]
            .with_context(lang="en_US", default_correction_of_id=call.id)
            .create({"body": "<p>Contestó</p>"})
        )
        self.assertEqual(correction.subject, f"Corrección: {call.subject or ''}")

    def test_a_sent_contact_reads_in_each_readers_language(self):
        self._invoice(self.customer, 250, 50)  # the Final stage: a letter
        self._run()
        self.env["collections.message"].with_context(lang="en_US")._dispatch_planned(self.company)
        note = self._note(self.customer, "messages_sent")
        self.assertEqual(len(note), 1)
        self.assertIn("Collections Printed Letter sent: ", note.body, "stored in the company's language")
        english, spanish = self._body_for(self.english, note), self._body_for(self.spanish, note)
        # The subject is the letter's own, in the customer's language; the rest is the reader's.
        self.assertIn("Collections Printed Letter sent: Último aviso", english)
        self.assertIn("250.00 due)", english)
        self.assertIn("Recordatorio de cobranza enviado (Carta impresa): Último aviso", spanish)
        self.assertIn("250,00 pendiente)", spanish)

    def test_vulnerable_protection_notes_and_review_read_in_the_readers_language(self):
        trained = new_test_user(
            self.env,
            "reader_trained",
            groups="base.group_user,account.group_account_invoice,collections_omni.group_collections_vulnerable",
            lang="es_ES",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        fragile = self._customer("Frágil")
        Wizard = self.env["collections.vulnerable.wizard"].with_user(trained).with_context(lang="en_US")
        values = {"partner_id": fragile.id, "reason": "bereavement", "review_date": TODAY + timedelta(days=30)}
        Wizard.create({**values, "user_id": trained.id}).action_apply()
        protected = self._note(fragile, "vulnerable_protected")
        self.assertIn("Protected as a vulnerable customer", self._body_for(self.english, protected))
        self.assertIn("Protegido como cliente vulnerable", self._body_for(self.spanish, protected))
        self.assertEqual(fragile.activity_ids.summary, "Revisar la protección del cliente vulnerable")
        Wizard.create({**values, "protect": False}).action_apply()
        lifted = self._note(fragile, "vulnerable_lifted")
        self.assertEqual(
            self._body_for(self.spanish, lifted),
            f"<p>{trained.name} ha retirado la protección de cliente vulnerable.</p>",
        )

    def test_a_runs_name_is_in_the_readers_language(self):
        run = self.env["collections.run"].with_context(lang="en_US").create({"date": TODAY})
        self.assertEqual(run.with_context(lang="en_US").name, "Run of 06/15/2026")
        self.assertEqual(run.with_context(lang="es_ES").name, "Ejecución del 15/06/2026")
        Run = self.env["collections.run"].with_context(lang="es_ES")
        self.assertIn(run, Run.search([("name", "ilike", "ejecución del 15/06")]))
        self.assertNotIn(run, Run.search([("name", "ilike", "Run of")]))

    def test_runs_are_found_by_a_list_of_their_names(self):
        """A custom filter "Name is in" (or "is not in") on the runs: the names the reader sees."""
        run = self.env["collections.run"].create({"date": TODAY})
        other = self.env["collections.run"].create({"date": TODAY - timedelta(days=1)})
        Run = self.env["collections.run"].with_context(lang="es_ES")
        self.assertEqual(Run.search([("name", "in", ["Ejecución del 15/06/2026", "otra"])]) & (run | other), run)
        self.assertEqual(Run.search([("name", "not in", ["Ejecución del 15/06/2026"])]) & (run | other), other)
