import json
import time
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import format_amount

from .common import WhatsappCommon

NUMBER = "+34600111222"


@tagged("post_install", "-at_install")
class TestWhatsappSending(WhatsappCommon):
    """Reminders through the channel seam in embedded mode, against the emulator."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.action_sync_templates()
        Template = cls.env["collections.whatsapp.template"]
        cls.templates = Template.search([("name", "=", "collections_reminder")])
        cls.stage = cls.policy.stage_ids.filtered(lambda s: s.name == "First")
        cls.stage.action_ids.write({"channel": "whatsapp", "mail_template_id": False})
        cls.stage.action_ids.whatsapp_template_ids = cls.templates
        cls.provider = cls._whatsapp_provider()
        cls.customer.write({"mobile": "600 11 12 22", "country_id": cls.env.ref("base.es").id})

    def _send_reminder(self, customer=None):
        customer = customer or self.customer
        invoice = self._invoice(customer, 250, 10)
        self._run()
        message = self._messages(customer).filtered(lambda m: m.channel == "whatsapp" and m.state == "planned")
        self.assertEqual(len(message), 1)
        before = len(self.emulator.sent)
        self.env["collections.message"]._dispatch_planned(self.company)
        return invoice, message, self.emulator.sent[before:]

    def _another(self, mobile=NUMBER):
        return self._customer(
            f"Cliente {len(self.emulator.sent)}-{mobile}",
            lang="es_ES",
            mobile=mobile,
            country_id=self.env.ref("base.es").id,
        )

    def test_reminder_is_the_approved_template_in_the_customers_language(self):
        invoice, message, sent = self._send_reminder()
        self.assertEqual(message.state, "sent")
        self.assertTrue(message.provider_ref.startswith("wamid."))
        self.assertEqual(message.recipient_phone, NUMBER)
        (payload,) = sent
        self.assertEqual((payload["to"], payload["type"]), (NUMBER[1:], "template"))
        self.assertEqual(payload["template"]["language"]["code"], "es")
        self.assertEqual(payload["biz_opaque_callback_data"], message.idempotency_key)
        params = payload["template"]["components"][0]["parameters"]
        self.assertEqual(params[0]["text"], "Cliente Uno")
        self.assertEqual(params[1]["currency"]["amount_1000"], 250000)
        self.assertEqual(params[3]["text"], invoice.name)
        self.assertIn("Hola Cliente Uno", message.body_text)  # what the customer read, in the history
        self.assertEqual(json.loads(message.whatsapp_payload)["template"]["name"], "collections_reminder")

    def test_a_batch_is_prepared_as_each_message_alone(self):
        """The set-based hand-out (one query per batch, templates, links and
        dates once) writes what the per-message path writes: payload and text."""
        self.env["res.lang"]._activate_lang("en_US")
        english = self._customer("Customer Two", lang="en_US", mobile="600 11 12 33")
        english.country_id = self.env.ref("base.es")
        self.customer.collections_user_id = self.collector
        self._invoice(self.customer, 250.5, 11)
        self._invoice(self.customer, 1234567.89, 10)
        self._invoice(english, 99, 10)
        self._run()
        messages = self._messages().filtered(lambda m: m.channel == "whatsapp" and m.state == "planned")
        self.assertEqual(messages.partner_id, self.customer | english)
        Partner = type(self.env["res.partner"])
        with patch.object(
            Partner, "_collections_portal_url", lambda partner, channel=False: f"https://pay/{partner.id}"
        ):
            ready = self.provider._prepare_messages(messages)
            self.assertEqual(ready, messages)
            for message in messages:
                lang = self.provider._whatsapp_lang(message)
                template = message.action_id._whatsapp_template_for(lang)
                payload, body_text = self.provider._whatsapp_template_content(message, template, lang)
                self.assertEqual(json.loads(message.whatsapp_payload), payload)
                self.assertEqual(message.body_text, body_text)
        self.assertIn("wa_collector", messages.filtered(lambda m: m.partner_id == self.customer).body_text)

    def test_batch_amounts_are_odoos_format_amount(self):
        self.env["res.lang"]._activate_lang("en_US")
        Template = self.env["collections.whatsapp.template"]
        memo = {}
        for lang in ("es_ES", "en_US"):
            for currency in (self.env.ref("base.EUR"), self.env.ref("base.USD"), self.env.ref("base.JPY")):
                for amount in (0, 0.005, 7.5, -12.345, 1234567.891, 1e9):
                    self.assertEqual(
                        Template._amount_text(self.env, amount, currency, lang, memo),
                        format_amount(self.env, amount, currency, lang),
                        (amount, currency.name, lang),
                    )

    def test_english_customer_gets_the_english_template(self):
        self.env["res.lang"]._activate_lang("en_US")
        self.customer.lang = "en_US"
        _invoice, _message, sent = self._send_reminder()
        self.assertEqual(sent[0]["template"]["language"]["code"], "en")

    def test_invalid_numbers_are_blocked_with_the_reason(self):
        for number, reason in (
            ("910 00 00 00", "fixed line"),
            ("12", "not a valid phone number"),
            (False, "No mobile or phone number"),
        ):
            with self.subTest(number=number):
                _invoice, message, sent = self._send_reminder(self._another(number))
                self.assertEqual(message.state, "blocked")
                self.assertIn(reason, message.with_context(lang="en_US").blocked_reason)
                self.assertFalse(sent)

    def test_without_template_free_text_only_inside_the_window(self):
        self.stage.action_ids.whatsapp_template_ids = False
        _invoice, message, sent = self._send_reminder()
        self.assertEqual(message.state, "blocked")
        self.assertIn("24", message.blocked_reason)
        self.assertFalse(sent)
        # The customer wrote an hour ago: the window is open, the engine's text goes as free text.
        conversation = self.env["collections.whatsapp.conversation"]._for_number(self.account, NUMBER[1:])
        conversation.sudo().last_inbound_at = fields.Datetime.subtract(fields.Datetime.now(), hours=1)
        self.emulator.last_inbound[NUMBER[1:]] = time.time()
        _invoice, message, sent = self._send_reminder(self._another())
        self.assertEqual(message.state, "sent")
        self.assertEqual(sent[0]["type"], "text")
        self.assertEqual(sent[0]["text"]["body"], message.body_text)

    def _free_text_reminder_after_the_window_closed(self):
        """A stage without a template and a window Odoo believes open (the
        customer wrote an hour ago) that Meta has seen close: the text is refused."""
        self.stage.action_ids.whatsapp_template_ids = False
        conversation = self.env["collections.whatsapp.conversation"]._for_number(self.account, NUMBER[1:])
        conversation.sudo().last_inbound_at = fields.Datetime.subtract(fields.Datetime.now(), hours=1)
        self.emulator.last_inbound.pop(NUMBER[1:], None)
        return conversation

    def test_131047_falls_back_to_the_approved_template_once(self):
        conversation = self._free_text_reminder_after_the_window_closed()
        _invoice, message, sent = self._send_reminder()
        key = message.idempotency_key
        self.assertEqual(message.state, "sent")
        self.assertEqual([m["type"] for m in sent], ["template"], "the refused text was not sent again")
        self.assertEqual(sent[0]["template"]["name"], "collections_reminder")
        self.assertEqual(sent[0]["template"]["language"]["code"], "es")
        self.assertEqual(sent[0]["biz_opaque_callback_data"], key)
        self.assertTrue(key.endswith(":template"))
        self.assertEqual(message.provider_ref, sent[0]["id"])
        self.assertIn("Hola Cliente Uno", message.body_text)
        self.assertFalse(conversation.window_open)
        notes = conversation.message_ids.mapped("body")
        self.assertTrue(any("131047" in str(note) and "collections_reminder" in str(note) for note in notes), notes)

    def test_131047_without_an_approved_template_fails_and_is_not_retried(self):
        self._free_text_reminder_after_the_window_closed()
        self.env["collections.whatsapp.template"].search([("account_id", "=", self.account.id)]).active = False
        _invoice, message, sent = self._send_reminder()
        self.assertEqual((message.state, message.error_code), ("failed", "131047"))
        self.assertFalse(sent)
        before = len(self.emulator.sent)
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(len(self.emulator.sent), before)
        self.assertEqual(message.state, "failed")

    def test_131047_from_the_workers_goes_back_to_them_as_the_template(self):
        self.provider.dispatch_mode = "celery"
        self._free_text_reminder_after_the_window_closed()
        self._invoice(self.customer, 250, 10)
        self._run()
        message = self._messages(self.customer).filtered(lambda m: m.channel == "whatsapp" and m.state == "planned")
        message.action_send_now()
        self.assertEqual(message.state, "queued")
        self.assertEqual(json.loads(message.whatsapp_payload)["type"], "text")
        key = message.idempotency_key
        reported = (
            self.env["collections.message"]
            .with_user(self.manager)
            .report_dispatch_results(
                [{"key": key, "status": "failed", "code": "131047", "message": "Re-engagement message"}]
            )
        )
        self.assertEqual(reported, 0, "not failed: handed back to the workers")
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.idempotency_key, f"{key}:template")
        self.assertEqual(json.loads(message.whatsapp_payload)["template"]["name"], "collections_reminder")

    def test_131026_fails_the_message_and_blocks_the_number_from_then_on(self):
        self.emulator.configure(errors_by_recipient={NUMBER[1:]: 131026})
        self.addCleanup(self.emulator.configure, errors_by_recipient={})
        invoice, message, _sent = self._send_reminder()
        self.assertEqual((message.state, message.error_code), ("failed", "131026"))
        conversation = self.env["collections.whatsapp.conversation"].search([("wa_id", "=", NUMBER[1:])])
        self.assertTrue(conversation.undeliverable)
        _invoice, message, sent = self._send_reminder(self._another())
        self.assertEqual(message.state, "blocked")
        self.assertIn("cannot reach +34600111222", message.with_context(lang="en_US").blocked_reason)

    def test_expired_token_stops_the_account_and_loses_nothing(self):
        self.emulator.configure(fail_next=[190])
        _invoice, message, _sent = self._send_reminder()
        self.assertIn(message.state, ("sending", "queued"))  # waiting, not failed
        self.assertEqual(message.error_code, "190")
        self.assertIn("190", self.account.stopped_reason)
        # While stopped nothing goes to Meta; resumed, the same message is sent.
        before = len(self.emulator.sent)
        self.provider._send_messages(message._engine())  # as the sweeper calls it
        self.assertEqual(len(self.emulator.sent), before)
        self.assertEqual(message.state, "queued")
        self.account.action_resume()
        self.provider._send_messages(message._engine())
        self.assertEqual(message.state, "sent")

    def test_opt_out_decides_before_the_provider(self):
        self.env["collections.consent"]._record(self.customer, "whatsapp", "opt_out", "reply")
        _invoice, message, sent = self._send_reminder()
        self.assertEqual(message.state, "blocked")
        self.assertFalse(sent)

    def test_inbox_free_text_is_refused_outside_the_window(self):
        conversation = self.env["collections.whatsapp.conversation"]._for_number(self.account, NUMBER[1:])
        conversation.reply_text = "¿Podemos hablar?"
        with self.assertRaisesRegex(UserError, "24"):
            conversation.with_user(self.collector).action_send_reply()
