from odoo.tests import tagged

from odoo.addons.mail.tools.discuss import Store

from .common import CollectionsCommon


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
