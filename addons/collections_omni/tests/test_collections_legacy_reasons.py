import os

from odoo.modules.migration import load_script
from odoo.modules.module import get_module_path
from odoo.tests import tagged

from .common import CollectionsCommon


def _migration():
    path = os.path.join(get_module_path("collections_omni"), "migrations", "18.0.1.0.1", "post-migrate.py")
    return load_script(path, "collections_omni_legacy_reasons")


@tagged("at_install", "-post_install")
class TestLegacyReasons(CollectionsCommon):
    """Messages written before the codes (the sentence in ``blocked_reason``, in
    English or Spanish) get their code and values from the 18.0.1.0.1 migration."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.module.module"]._load_module_terms(["collections_omni"], ["es_ES"], overwrite=True)

    def _old_messages(self, sentences):
        """Messages as the old code left them: no code, the sentence in the old column."""
        self._invoice(self.customer, 250, 10)
        self._run()
        template = self._messages(self.customer)[:1]
        messages = template
        for n in range(len(sentences) - 1):
            messages |= template._engine().copy({"idempotency_key": f"legacy-{n}"})
        self.env.flush_all()
        # The column the old field had (Odoo keeps a dropped field's column); rolled back with the test.
        self.env.cr.execute("ALTER TABLE collections_message ADD COLUMN IF NOT EXISTS blocked_reason varchar")
        for message, sentence in zip(messages, sentences, strict=True):
            self.env.cr.execute(
                "UPDATE collections_message SET blocked_code = NULL, blocked_args = NULL, blocked_reason = %s"
                " WHERE id = %s",
                (sentence, message.id),
            )
        return messages

    def _migrate(self):
        self.env.flush_all()
        mapped = _migration().map_legacy_reasons(self.env.cr)
        self.env.invalidate_all()
        return mapped

    def test_old_sentences_in_english_and_spanish_get_their_codes(self):
        rule_set = self.env["collections.contact.rule.set"].create({"name": "Consent first"})
        sentences = [
            "Paid since planning",
            "Pagado después de la planificación",
            "Sin dirección de correo electrónico",
            "Facturas incluidas en un plan de pagos",
            f"Cancelled by {self.env.user.name}",
            f"No active SMS provider for {self.company.name}",
            "Consent first: Public holiday",
            "Consent first: Fuera del horario permitido",
            "Consent first: no consent for this channel",
            "Impossible number 12: not enough digits.",
            "Número imposible 34: hay demasiados dígitos.",
            "WhatsApp no puede llegar a +34600000000: 131026",
            "El número es un fijo: WhatsApp necesita un móvil",
            "Something nobody wrote in code",
        ]
        messages = self._old_messages(sentences)
        refusal = messages[6]
        # The engine writes refusals (sudo); here one stands for what the old run left.
        self.env["collections.contact.refusal"].sudo().create(
            {
                "message_id": refusal.id,
                "partner_id": refusal.partner_id.id,
                "company_id": refusal.company_id.id,
                "channel": refusal.channel,
                "rule_set_id": rule_set.id,
                "reason": "holiday",
                "refused_at": "2026-01-01 10:00:00",
            }
        )
        self.assertEqual(self._migrate(), len(sentences))
        self.assertEqual(
            [(m.blocked_code, m.blocked_args or {}) for m in messages],
            [
                ("paid", {}),
                ("paid", {}),
                ("no_email", {}),
                ("payment_plan", {}),
                ("cancelled_by", {"user_id": self.env.uid}),
                ("no_provider", {"channel": messages[5].channel, "company_id": self.company.id}),
                ("contact_rules", {"rule_set_id": rule_set.id, "refusal": "holiday"}),
                ("contact_rules", {"rule_set_id": None, "refusal": "outside_hours"}),
                ("no_consent", {"rule_set_id": None}),
                ("invalid_phone", {"number": "12"}),
                ("invalid_phone", {"number": "34"}),
                ("whatsapp_unreachable", {"number": "+34600000000", "reason": "131026"}),
                ("whatsapp_not_mobile", {}),
                ("legacy", {"text": "Something nobody wrote in code"}),
            ],
        )
        english = messages.with_context(lang="en_US")
        spanish = messages.with_context(lang="es_ES")
        self.assertEqual(english[1].blocked_reason, "Paid since planning")
        self.assertEqual(spanish[0].blocked_reason, "Pagado después de la planificación")
        self.assertEqual(english[6].blocked_reason, "Consent first: Public holiday")
        self.assertEqual(spanish[7].blocked_reason, "Preferencia del cliente: Fuera del horario permitido")
        self.assertEqual(spanish[10].blocked_reason, "El número 34 no es un número de teléfono válido")
        self.assertEqual(spanish[13].blocked_reason, "Something nobody wrote in code")
        self.assertEqual(self._migrate(), 0, "a second run changes nothing")

    def test_a_database_without_the_old_column_is_left_alone(self):
        self.env.cr.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'collections_message' AND column_name = 'blocked_reason'"
        )
        if self.env.cr.rowcount:
            self.env.cr.execute("ALTER TABLE collections_message DROP COLUMN blocked_reason")
        self.assertEqual(self._migrate(), 0)
