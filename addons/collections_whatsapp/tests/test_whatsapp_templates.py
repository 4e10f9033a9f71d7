import json
import os

from odoo.exceptions import AccessError, ValidationError
from odoo.modules.migration import load_script
from odoo.modules.module import get_module_path
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

    def test_a_stopped_account_reads_in_each_readers_language(self):
        """Meta's code and words are stored; the sentence is the reader's, whoever's sync stopped it."""
        self.env["ir.module.module"]._load_module_terms(["collections_whatsapp"], ["es_ES"], overwrite=True)
        self.env["res.lang"]._activate_lang("es_ES")
        self.account.access_token = "expired"
        with self.assertRaisesRegex(Exception, "190"):
            self.account.with_user(self.manager).with_context(lang="en_US").action_sync_templates()
        self.assertEqual(self.account.stopped_code, "190")
        english = self.account.with_context(lang="en_US").stopped_reason
        spanish = self.account.with_context(lang="es_ES").stopped_reason
        self.assertTrue(english.startswith("Stopped by Meta's error 190: "), english)
        self.assertTrue(spanish.startswith("Detenida por el error 190 de Meta: "), spanish)
        note = self.account.message_ids[:1]
        self.assertEqual(note.collections_note_code, "whatsapp_account_stopped")
        self.account.with_user(self.manager).action_resume()
        self.assertFalse(self.account.stopped_reason)

    def test_a_reason_stored_as_a_sentence_becomes_code_and_words(self):
        """Accounts stopped before 18.0.1.0.1 (the sentence in the old column) get Meta's code and words."""
        path = os.path.join(get_module_path("collections_whatsapp"), "migrations", "18.0.1.0.1", "post-migrate.py")
        migration = load_script(path, "collections_whatsapp_stopped_reasons")
        other = self.account.copy({"phone_number_id": "another-number", "name": "Otra"})
        third = self.account.copy({"phone_number_id": "a-third-number", "name": "Tercera"})
        self.env.flush_all()
        cr = self.env.cr
        # The old field's column (Odoo keeps it); rolled back with the test.
        cr.execute("ALTER TABLE collections_whatsapp_account ADD COLUMN IF NOT EXISTS stopped_reason varchar")
        for account, sentence in (
            (self.account, "Stopped by Meta's error 190: Session has expired"),
            (other, "Detenida por el error 368 de Meta: Cuenta bloqueada"),
            (third, "Something else"),
        ):
            cr.execute(
                "UPDATE collections_whatsapp_account SET stopped_reason = %s WHERE id = %s", (sentence, account.id)
            )
        self.assertEqual(migration.map_stopped_reasons(cr), 3)
        self.env.invalidate_all()
        self.assertEqual(
            [(a.stopped, a.stopped_code, a.stopped_message) for a in (self.account, other, third)],
            [(True, "190", "Session has expired"), (True, "368", "Cuenta bloqueada"), (True, False, "Something else")],
        )
        self.assertEqual(migration.map_stopped_reasons(cr), 0, "a second run changes nothing")

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
