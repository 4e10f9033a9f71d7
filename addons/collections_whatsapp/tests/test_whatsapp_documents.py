import time

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..tools import webhook
from .common import WhatsappCommon

NUMBER = "+34600555666"


@tagged("post_install", "-at_install")
class TestWhatsappDocuments(WhatsappCommon):
    """A collector (exactly the Collector role and Billing) sends the customer's
    statement or an invoice PDF from the conversation's reply box: uploaded to
    the emulator over HTTP, then sent as a ``document`` message, only inside
    the 24-hour window; outside it a clear message and nothing sent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.module.module"]._load_module_terms(["collections_whatsapp"], ["es_ES"], overwrite=True)
        cls.customer.write({"mobile": "600 55 56 66", "country_id": cls.env.ref("base.es").id})
        cls.old_invoice = cls._invoice(cls.customer, 300, 40)
        cls.new_invoice = cls._invoice(cls.customer, 120, 5)
        cls.other_invoice = cls._invoice(cls._customer("Otro Cliente SL"), 90, 10)
        cls.billing_collector = cls.env["res.users"].create(
            {
                "name": "Cobradora Facturas",
                "login": "wa_billing_collector",
                "email": "cobradora.facturas@example.com",
                "company_id": cls.company.id,
                "company_ids": [Command.set(cls.company.ids)],
                "groups_id": [
                    Command.set(
                        [
                            cls.env.ref("base.group_user").id,
                            cls.env.ref("collections_omni.group_collections_collector").id,
                            cls.env.ref("account.group_account_invoice").id,
                        ]
                    )
                ],
            }
        )

    def _customer_writes(self, text="hola"):
        """The customer writes (the emulator opens its window as Meta would): the conversation, as the collector."""
        self.emulator.last_inbound[NUMBER[1:]] = time.time()
        body = self.emulator.inbound_body(NUMBER, text=text)
        self.env["collections.whatsapp.event"].sudo()._store(self.account, webhook.parse(body))._process()
        conversation = self.env["collections.whatsapp.conversation"].search([("wa_id", "=", NUMBER[1:])])
        self.assertEqual(conversation.partner_id, self.customer)
        return conversation.with_user(self.billing_collector)

    def _documents(self, before):
        return [m for m in self.emulator.sent[before:] if m["to"] == NUMBER[1:] and m["type"] == "document"]

    def test_invoice_pdf_goes_as_an_uploaded_document_inside_the_window(self):
        # Odoo renders reports as HTML in tests unless asked: the real PDF (wkhtmltopdf) here.
        conversation = self._customer_writes().with_context(force_report_rendering=True)
        before = len(self.emulator.sent)
        conversation.action_send_invoice()  # none chosen: the oldest open one
        conversation.reply_invoice_id = self.new_invoice
        conversation.action_send_invoice()
        first, second = self._documents(before)
        for sent, invoice in ((first, self.old_invoice), (second, self.new_invoice)):
            filename = f"{invoice.name.replace('/', '_')}.pdf"
            self.assertEqual((sent["document"]["filename"], sent["document"]["caption"]), (filename, invoice.name))
            upload = self.emulator.media[sent["document"]["id"]]
            self.assertEqual((upload["filename"], upload["mime_type"]), (filename, "application/pdf"))
            self.assertTrue(upload["content"].startswith(b"%PDF"))
        self.assertFalse(conversation.reply_invoice_id, "sent: the choice is cleared")
        notes = conversation.message_ids.filtered(lambda m: m.attachment_ids)
        self.assertEqual(len(notes), 2, "each document is kept on the conversation, with the file")
        self.assertTrue(
            any(self.old_invoice.name.replace("/", "_") in (m.body or "") for m in self.customer.message_ids),
            "and noted on the customer's chatter",
        )

    def test_statement_goes_as_an_uploaded_document_inside_the_window(self):
        conversation = self._customer_writes()
        self.assertTrue(conversation.can_send_statement, "the portal's statement is installed with the suite")
        before = len(self.emulator.sent)
        conversation.action_send_statement()
        (sent,) = self._documents(before)
        upload = self.emulator.media[sent["document"]["id"]]
        self.assertTrue(upload["content"].startswith(b"%PDF"))
        self.assertTrue(sent["document"]["filename"].endswith(".pdf"))
        self.assertIn(self.customer.name, sent["document"]["filename"])

    def test_outside_the_window_nothing_is_uploaded_or_sent(self):
        conversation = self._customer_writes()
        conversation.sudo().last_inbound_at = "2020-01-01 00:00:00"
        self.emulator.last_inbound[NUMBER[1:]] = 0
        before, uploads = len(self.emulator.sent), len(self.emulator.media)
        for action in (conversation.action_send_invoice, conversation.action_send_statement):
            with self.assertRaisesRegex(UserError, "24 hours"):
                action()
        conversation = conversation.with_context(lang="es_ES")
        with self.assertRaisesRegex(UserError, "24 horas"):
            conversation.action_send_invoice()
        self.assertEqual((len(self.emulator.sent), len(self.emulator.media)), (before, uploads), "no blind send")

    def test_an_invoice_of_another_customer_is_refused(self):
        conversation = self._customer_writes()
        before = len(self.emulator.sent)
        conversation.reply_invoice_id = self.other_invoice
        with self.assertRaisesRegex(UserError, "not a posted invoice of"):
            conversation.action_send_invoice()
        self.assertEqual(len(self.emulator.sent), before)

    def test_the_customer_form_opens_the_conversation_with_the_reply_box(self):
        customer = self.customer.with_user(self.billing_collector)
        with self.assertRaisesRegex(UserError, "has not written on WhatsApp yet"):
            customer.action_collections_whatsapp()
        conversation = self._customer_writes()
        action = customer.action_collections_whatsapp()
        self.assertEqual(
            (action["res_model"], action["res_id"], action["view_mode"]),
            ("collections.whatsapp.conversation", conversation.id, "form"),
        )
