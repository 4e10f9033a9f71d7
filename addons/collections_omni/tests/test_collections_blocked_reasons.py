from odoo.tests import tagged

from .common import CollectionsCommon
from .mock_provider import unreachable_sms_provider


@tagged("at_install", "-post_install")
class TestBlockedReasons(CollectionsCommon):
    """Why a message did not go is stored as a code and its values, and read in
    the reader's language, whoever's language it was written in."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.english, cls.spanish = cls._english_and_spanish_viewers("reason")

    def _planned_email(self, customer):
        self._invoice(customer, 250, 10)
        self._run()
        message = self._messages(customer).filtered(lambda m: m.channel == "email")
        self.assertEqual(message.state, "planned")
        return message

    def _read_as(self, user, message):
        # The reader's own environment, as the web client gives it: no language in the context.
        return message.with_user(user).with_context(lang=None).blocked_reason

    def test_blocked_while_english_reads_spanish_to_a_spanish_reader(self):
        self.customer.email = False
        message = self._planned_email(self.customer)
        self.env(context=dict(self.env.context, lang="en_US"))["collections.message"].browse(
            message.ids
        )._dispatch_planned(self.company)
        self.assertEqual((message.state, message.blocked_code), ("blocked", "no_email"))
        self.assertEqual(self._read_as(self.english, message), "No email address")
        self.assertEqual(self._read_as(self.spanish, message), "Sin dirección de correo electrónico")
        self.env.flush_all()
        self.env.cr.execute("SELECT blocked_code FROM collections_message WHERE id = %s", message.ids)
        self.assertEqual(self.env.cr.fetchone()[0], "no_email", "the database holds the code, not a sentence")

    def test_values_are_rendered_in_the_readers_language(self):
        """A reason's values (a rule set's name, the refusal, a channel) are
        stored as ids and codes and read in the reader's language too."""
        rule_set = self.env["collections.contact.rule.set"].create({"name": "Consent first"})
        rule_set.with_context(lang="es_ES").name = "Primero el consentimiento"
        message = self._planned_email(self.customer)
        message._engine().write(message._blocked_vals("contact_rules", rule_set_id=rule_set.id, refusal="holiday"))
        self.assertEqual(message.blocked_args, {"rule_set_id": rule_set.id, "refusal": "holiday"})
        self.assertEqual(self._read_as(self.english, message), "Consent first: Public holiday")
        self.assertEqual(self._read_as(self.spanish, message), "Primero el consentimiento: Día festivo")
        message._engine().write(message._blocked_vals("no_provider", channel="sms", company_id=self.company.id))
        self.assertEqual(
            self._read_as(self.spanish, message),
            f"No hay ningún proveedor activo para el canal SMS en {self.company.name}",
        )

    def test_hold_reasons_read_like_the_runs_skip_reasons(self):
        message = self._planned_email(self.customer)
        self._running_plan(message.move_ids)
        self.assertEqual((message.state, message.blocked_code), ("cancelled", "payment_plan"))
        self.assertEqual(self._read_as(self.english, message), "Invoices under a payment plan")
        skip = self.env["collections.run.preview.skip"].with_context(lang="es_ES")
        spanish = dict(skip._fields["reason"]._description_selection(skip.env))["payment_plan"]
        self.assertEqual(spanish, "Facturas incluidas en un plan de pagos")
        self.assertEqual(self._read_as(self.spanish, message), spanish)

    def test_cancelled_by_names_the_user(self):
        message = self._planned_email(self.customer)
        message.with_user(self.env.user).action_cancel()
        self.assertEqual(message.blocked_args, {"user_id": self.env.uid})
        self.assertEqual(self._read_as(self.spanish, message), f"Cancelado por {self.env.user.name}")

    def test_search_by_the_reason_a_reader_sees(self):
        self.customer.email = False
        blocked = self._planned_email(self.customer)
        blocked._dispatch_planned(self.company)
        Message = self.env["collections.message"].with_user(self.spanish).with_context(lang=None)
        self.assertIn(blocked, Message.search([("blocked_reason", "ilike", "dirección de correo")]))
        self.assertNotIn(blocked, Message.search([("blocked_reason", "ilike", "festivo")]))
        self.assertIn(blocked, Message.search([("blocked_reason", "!=", False)]))
        self.assertNotIn(blocked, Message.search([("blocked_reason", "=", False)]))

    def test_an_unknown_code_is_refused_at_write(self):
        with self.assertRaises(AssertionError):
            self.env["collections.message"]._blocked_vals("made_up")

    def test_a_reply_is_named_in_the_readers_language(self):
        """An inbound reply stores the number, not a sentence in the language of whoever ran the webhook."""
        provider = unreachable_sms_provider(self.env, "Reasons SMS", "reasons-token", "AC" + "2" * 32)
        self.customer.mobile = "+34611222333"
        Message = self.env(context=dict(self.env.context, lang="en_US"))["collections.message"]
        reply = Message._record_inbound_reply(provider, "+34611222333", "Pago el viernes", "SMreasons1")
        self.assertEqual(reply.subject, "+34611222333")
        self.assertEqual(reply.with_user(self.english).with_context(lang=None).display_name, "Reply from +34611222333")
        self.assertEqual(
            reply.with_user(self.spanish).with_context(lang="es_ES").display_name, "Respuesta desde +34611222333"
        )

    def test_a_failed_send_reads_in_the_readers_language(self):
        """Why a send failed is a code (and the provider's own words, kept as they
        came): an English and a Spanish reader of the same message each read it in
        their language."""
        message = self._planned_email(self.customer)
        message._dispatch_planned(self.company)
        self.assertTrue(message.mail_id)
        message.mail_id.failure_reason = "550 5.1.1 mailbox unavailable"
        message.with_context(lang="en_US")._mark_mail_result(failed_mail_ids=message.mail_id.ids)
        self.assertEqual((message.state, message.error_code), ("failed", "email_failed"))
        self.assertEqual(message.error, "550 5.1.1 mailbox unavailable", "the mail server's words, as they came")
        read = lambda user: message.with_user(user).with_context(lang=None).error_reason  # noqa: E731
        self.assertEqual(read(self.english), "The email could not be sent: 550 5.1.1 mailbox unavailable")
        self.assertEqual(read(self.spanish), "No se pudo enviar el correo electrónico: 550 5.1.1 mailbox unavailable")
        message._engine().write({"error_code": "not_delivered", "error": False})
        self.assertEqual((read(self.english), read(self.spanish)), ("Not delivered", "No entregado"))
        message._engine().write({"error_code": "21610", "error": "Attempt to send to unsubscribed recipient"})
        self.assertEqual(read(self.spanish), "Attempt to send to unsubscribed recipient", "a provider's words")
