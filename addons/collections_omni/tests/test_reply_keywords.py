from odoo.tests import BaseCase, tagged

from ..tools.reply_keywords import reply_intent


@tagged("at_install", "-post_install")
class TestReplyKeywords(BaseCase):
    def test_stop_words_in_english_and_spanish(self):
        for text in (
            "STOP",
            " stop ",
            "Stop.",
            "BAJA",
            "baja por favor",
            "Cancelar",
            "No más",
            "NO MAS mensajes",
            "unsubscribe",
            "Alto!",
            "opt-out",
            "¡Baja!",
        ):
            self.assertEqual(reply_intent(text), "opt_out", text)

    def test_start_words(self):
        for text in ("START", "alta", "Unstop", "Suscribirme"):
            self.assertEqual(reply_intent(text), "opt_in", text)

    def test_ordinary_replies_change_nothing(self):
        for text in (
            "",
            None,
            "I will pay on Friday",
            "Pagaré el viernes",
            "Can you stop by?",
            "Para el viernes le pago",
            "¿Cuánto debo?",
            "123",
        ):
            self.assertIsNone(reply_intent(text), text)
