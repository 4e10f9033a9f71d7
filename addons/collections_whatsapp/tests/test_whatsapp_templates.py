import json

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import format_amount

from .common import WhatsappCommon


@tagged("post_install", "-at_install")
class TestWhatsappTemplates(WhatsappCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account.with_user(cls.manager).action_sync_templates()
        Template = cls.env["collections.whatsapp.template"]
        cls.reminder_es = Template.search([("name", "=", "collections_reminder"), ("language", "=", "es")])
        cls.reminder_en = Template.search([("name", "=", "collections_reminder"), ("language", "=", "en")])
        cls.offer = Template.search([("name", "=", "spring_offer")])

    def test_sync_creates_templates_with_variables_and_is_idempotent(self):
        self.assertEqual(len(self.account.template_ids), 3)
        self.assertEqual((self.reminder_es.category, self.reminder_es.status), ("UTILITY", "APPROVED"))
        self.assertTrue(self.reminder_es.usable_for_reminders)
        self.assertFalse(self.offer.usable_for_reminders, "marketing templates never send reminders")
        self.assertEqual(
            self.reminder_es.variable_ids.mapped("source"),
            ["customer_name", "amount_due", "oldest_due_date", "invoice_numbers", "portal_url", "collector_name"],
        )
        self.assertEqual(self.reminder_es.buttons, "Pagar ahora, Plan de pagos, Hablar con una persona")
        # A collector's own mapping survives a new sync; Meta's status changes are taken.
        self.reminder_es.variable_ids.filtered(lambda v: v.number == 6).source = "company_name"
        self.emulator.templates[0]["status"] = "PAUSED"
        self.addCleanup(self.emulator.templates[0].__setitem__, "status", "APPROVED")
        self.account.with_user(self.manager).action_sync_templates()
        self.assertEqual(len(self.account.template_ids), 3)
        self.assertEqual(self.reminder_es.status, "PAUSED")
        self.assertFalse(self.reminder_es.usable_for_reminders)
        self.assertEqual(self.reminder_es.variable_ids.filtered(lambda v: v.number == 6).source, "company_name")

    def test_template_gone_from_meta_is_archived(self):
        removed = self.emulator.templates.pop()
        self.addCleanup(self.emulator.templates.append, removed)
        self.account.with_user(self.manager).action_sync_templates()
        self.assertFalse(self.offer.active)
        self.assertEqual(self.offer.status, "DELETED")

    def test_expired_token_stops_the_account_and_tells_managers(self):
        self.account.access_token = "expired"
        with self.assertRaisesRegex(Exception, "190"):
            self.account.with_user(self.manager).action_sync_templates()
        self.assertIn("190", self.account.stopped_reason)
        self.assertIn(self.manager.partner_id, self.account.message_ids[:1].partner_ids)

    def test_secrets_are_for_managers_and_never_copied(self):
        account = self.account.with_user(self.collector)
        self.assertEqual(account.name, "Cobros España")
        for secret in ("access_token", "app_secret", "verify_token"):
            with self.assertRaises(AccessError):
                account.read([secret])
        with self.assertRaises(AccessError):
            account.write({"name": "x"})
        self.assertEqual(self.account.with_user(self.manager).access_token, self.emulator.access_token)
        copy = self.account.copy({"phone_number_id": "999"})
        self.assertFalse(copy.access_token or copy.app_secret)
        self.assertNotEqual(copy.verify_token, self.account.verify_token)

    def test_preview_with_a_real_customer_in_their_language(self):
        invoice = self._invoice(self.customer, 1234.5, 20)
        self._invoice(self.customer, 100, 5)
        self.customer.collections_user_id = self.manager
        template = self.reminder_es.with_user(self.manager)
        template.preview_partner_id = self.customer
        preview = template.preview
        self.assertIn("Hola Cliente Uno", preview)
        # Amount and date as a Spanish reader writes them (the HTML keeps the no-break space as &nbsp;).
        self.assertIn(
            format_amount(self.env, 1334.5, self.company.currency_id, "es_ES").replace("\xa0", "&nbsp;"), preview
        )
        self.assertIn("26/05/2026", preview)
        self.assertIn(invoice.name, preview)
        self.assertIn("/my/collections", preview)
        self.assertIn("wa_manager", preview)
        self.assertIn("Pagar ahora", preview)

    def test_payload_fills_variables_and_buttons_carry_intents(self):
        invoice = self._invoice(self.customer, 100.99, 20)
        payload = self.reminder_es._payload_for(
            "34600123456", self.customer, invoice, 100.99, self.company.currency_id, "es_ES", callback_data="k1"
        )
        body, *buttons = payload["template"]["components"]
        self.assertEqual(body["parameters"][0], {"type": "text", "text": "Cliente Uno"})
        self.assertEqual(body["parameters"][1]["currency"]["amount_1000"], 100990)
        self.assertEqual(
            [b["parameters"][0]["payload"] for b in buttons],
            ["COLLECTIONS_PAY", "COLLECTIONS_PLAN", "COLLECTIONS_PERSON"],
        )
        self.assertEqual(payload["template"]["language"]["code"], "es")
        json.dumps(payload)  # plain data: a worker can send it

    def test_stage_actions_take_approved_utility_templates_one_per_language(self):
        action = self.policy.stage_ids[0].action_ids[0]
        action.whatsapp_template_ids = self.reminder_es | self.reminder_en
        self.assertEqual(action._whatsapp_template_for("es_ES"), self.reminder_es)
        self.assertEqual(action._whatsapp_template_for("en_US"), self.reminder_en)
        self.assertEqual(action._whatsapp_template_for("fr_FR"), self.reminder_es)  # the first one
        with self.assertRaises(ValidationError):
            action.whatsapp_template_ids = self.offer
