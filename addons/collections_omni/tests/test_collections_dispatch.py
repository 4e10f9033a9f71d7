import base64
import io

from PyPDF2 import PdfFileReader

from odoo.tests import tagged

from odoo.addons.mail.tests.common import MockEmail

from .common import TODAY, CollectionsCommon


@tagged("at_install", "-post_install")
class TestCollectionsDispatch(CollectionsCommon, MockEmail):
    def _planned(self, days_overdue, channel):
        invoice = self._invoice(self.customer, 250, days_overdue)
        self._run()
        messages = self._messages(self.customer).filtered(lambda m: m.channel == channel)
        self.assertEqual(messages.state, "planned")
        return invoice, messages

    def test_email_goes_through_the_mail_queue_and_ends_sent(self):
        invoice, message = self._planned(10, "email")
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(message.state, "queued")
        mail = message.mail_id
        self.assertEqual(mail.state, "outgoing")
        self.assertEqual(mail.recipient_ids, self.customer)
        self.assertIn(invoice.name, mail.body_html)
        self.assertIn(invoice.name, message.body)
        with self.mock_mail_gateway():
            mail.send(raise_exception=False)
        self.assertEqual(len(self._mails), 1)
        self.assertEqual(self._mails[0]["email_to"], [self.customer.email_formatted])
        self.assertEqual(message.state, "sent")
        self.assertTrue(message.sent_at)

    def test_invoice_pdfs_attached_on_demand(self):
        self.policy.stage_ids.filtered(lambda s: s.name == "First").action_ids.attach_invoices = True
        invoice, message = self._planned(10, "email")
        self.env["collections.message"]._dispatch_planned(self.company)
        attachments = message.mail_id.attachment_ids
        self.assertEqual(attachments.mapped("name"), [f"{invoice.name.replace('/', '_')}.pdf"])
        self.assertTrue(attachments.raw)

    def test_email_in_spanish_for_a_spanish_customer(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(["collections_omni"], ["es_ES"], overwrite=True)
        _invoice, message = self._planned(10, "email")
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertIn("Todavía no hemos recibido el pago", message.mail_id.body_html)
        self.assertIn("Recordatorio de pago", message.mail_id.subject)

    def test_failed_email_ends_failed(self):
        _invoice, message = self._planned(10, "email")
        self.env["collections.message"]._dispatch_planned(self.company)
        message.mail_id.write({"state": "exception", "failure_reason": "Mailbox unavailable"})
        message.mail_id._postprocess_sent_message(success_pids=[], failure_type="mail_smtp")
        self.assertEqual((message.state, message.error), ("failed", "Mailbox unavailable"))

    def test_customer_without_email_is_blocked_with_reason(self):
        self.customer.email = False
        _invoice, message = self._planned(10, "email")
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual((message.state, message.blocked_reason), ("blocked", "No email address"))

    def test_invoice_paid_after_planning_is_not_sent(self):
        invoice, message = self._planned(10, "email")
        self._pay(invoice)
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual((message.state, message.blocked_reason), ("cancelled", "Paid since planning"))
        self.assertFalse(message.mail_id)

    def test_payment_cancels_pending_messages_at_once(self):
        invoice, message = self._planned(10, "email")
        other = self._invoice(self._customer("Still owes"), 100, 10)
        self._run(TODAY)  # plans the other customer too
        self._pay(invoice)
        self.assertEqual((message.state, message.blocked_reason), ("cancelled", "Paid since planning"))
        self.assertEqual(self._messages(other.partner_id).state, "planned", "other customers are untouched")

    def test_payment_stops_a_queued_email(self):
        invoice, message = self._planned(10, "email")
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(message.mail_id.state, "outgoing")
        self._pay(invoice)
        self.assertEqual(message.state, "cancelled")
        self.assertEqual(message.mail_id.state, "cancel")

    def test_partial_payment_keeps_the_reminder(self):
        invoice, message = self._planned(10, "email")
        self._pay(invoice, 40)
        self.assertEqual(message.state, "planned")

    def test_letter_is_a_pdf_with_the_statement(self):
        _invoice, message = self._planned(50, "letter")
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(message.state, "sent")
        pdf = base64.b64decode(message.attachment_id.datas)
        self.assertTrue(pdf.startswith(b"%PDF"))
        self.assertEqual(message.attachment_id.mimetype, "application/pdf")

    def test_fee_lines_and_letter_name_are_in_the_customers_language(self):
        """The run is English; the Spanish customer's invoice lines and letter read Spanish."""
        self.env["ir.module.module"]._load_module_terms(["collections_omni"], ["es_ES"], overwrite=True)
        fee_product = self.env["product.product"].create({"name": "Dunning fee", "type": "service"})
        fee_product.with_context(lang="es_ES").name = "Cargo por gestión de cobro"
        final = self.policy.stage_ids.filtered(lambda s: s.name == "Final")  # a letter
        final.write({"fee_product_id": fee_product.id, "fee_amount": 15, "interest_rate": 10})
        self._invoice(self.customer, 3650, 50)
        self._run()
        self.env["collections.message"].with_context(lang="en_US")._dispatch_planned(self.company)
        message = self._messages(self.customer).filtered(lambda m: m.channel == "letter")
        fee_line, interest_line = message.fee_move_id.invoice_line_ids.sorted("id")
        self.assertEqual(fee_line.name, "Cargo por gestión de cobro")
        self.assertEqual(interest_line.name, "Intereses de demora (10.0% anual)")
        self.assertTrue(message.attachment_id.name.startswith("Carta de cobranza Cliente Uno "))

    def test_stage_fee_and_interest_are_posted_once(self):
        fee_product = self.env["product.product"].create(
            {"name": "Dunning fee", "type": "service", "taxes_id": [(6, 0, self.tax_sale_a.ids)]}
        )
        second = self.policy.stage_ids.filtered(lambda s: s.name == "Second")  # email + call
        second.write({"fee_product_id": fee_product.id, "fee_amount": 15, "interest_rate": 10})
        invoice = self._invoice(self.customer, 3650, 25)
        self._run()
        self.env["collections.message"]._dispatch_planned(self.company)
        messages = self._messages(self.customer)
        fee_move = messages.fee_move_id
        self.assertEqual(len(fee_move), 1, "one fee for the stage, not one per action")
        self.assertEqual(fee_move.state, "posted")
        self.assertEqual(fee_move.partner_id, self.customer)
        fee_line, interest_line = fee_move.invoice_line_ids.sorted("id")
        self.assertEqual((fee_line.product_id, fee_line.price_unit), (fee_product, 15))
        self.assertEqual(fee_line.tax_ids, self.tax_sale_a, "the fee product's taxes apply")
        # 3650 * 10% * 25 days / 365 = 25.00
        self.assertAlmostEqual(interest_line.price_unit, 25.0)
        self.assertAlmostEqual(fee_move.amount_untaxed, 40.0)
        self.assertGreater(fee_move.amount_tax, 0)
        self.assertNotIn(fee_move, invoice)
        # Dispatching again posts nothing new.
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(self.env["account.move"].search_count([("invoice_origin", "=", second.display_name)]), 1)

    def test_sent_contacts_show_on_the_customer_timeline(self):
        _invoice, message = self._planned(50, "letter")
        self.env["collections.message"]._dispatch_planned(self.company)
        notes = self.customer.message_ids.filtered(
            lambda m: "Collections" in (m.body or "") or "cobranza" in (m.body or "")
        )
        self.assertTrue(notes, "the letter is on the customer's chatter")

    def test_letters_print_in_one_batch(self):
        for name in ("Uno", "Dos", "Tres"):
            self._invoice(self._customer(f"Carta {name}"), 500, 50)
        self._run()
        self.env["collections.message"]._dispatch_planned(self.company)
        letters = self._messages().filtered(lambda m: m.channel == "letter")
        self.assertEqual(len(letters), 3)
        action = letters.action_print_letters()
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[3].split("?")[0]))
        pdf = base64.b64decode(attachment.datas)
        self.assertEqual(len(PdfFileReader(io.BytesIO(pdf)).pages), 3, "a page per letter")

    def test_letter_speaks_the_customer_language(self):
        self.env["ir.module.module"]._load_module_terms(["collections_omni"], ["es_ES"], overwrite=True)
        final = self.policy.stage_ids.filtered(lambda s: s.name == "Final")
        final.with_context(lang="es_ES").name = "Definitivo"
        invoice = self._invoice(self.customer, 1234.5, 50)
        self._run()
        message = self._messages(self.customer).filtered(lambda m: m.channel == "letter")
        message._render_content()
        values = message._letter_values()
        self.assertEqual(values["rows"][0][2], invoice.invoice_date_due.strftime("%d/%m/%Y"))
        self.assertEqual(values["total"], "1.234,50")
        self.assertEqual(values["labels"]["total"], "Total a pagar")
        self.assertIn("Último aviso", values["subject"])  # the subject is rendered in Spanish too

    def test_call_becomes_an_activity_for_the_collector(self):
        collector = self.env["res.users"].create({"name": "Carla Collector", "login": "carla"})
        self.customer.collections_user_id = collector
        _invoice, message = self._planned(25, "call")
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(message.state, "sent")
        self.assertEqual(message.activity_id.user_id, collector)
        self.assertEqual(message.activity_id.res_id, self.customer.id)
        self.assertIn("250", message.activity_id.summary)

    def test_channel_without_provider_is_blocked_not_lost(self):
        policy = self._policy("SMS only", [("Text", 1, "sms")])
        customer = self._customer("Texted", collections_policy_id=policy.id)
        self._invoice(customer, 100, 5)
        self._run()
        self.env["collections.message"]._dispatch_planned(self.company)
        message = self._messages(customer)
        self.assertEqual(message.state, "blocked")
        self.assertTrue(message.blocked_reason)
