import base64
import email
import email.policy
import io
from unittest.mock import patch

from PIL import Image
from PyPDF2 import PdfFileReader

from odoo import Command
from odoo.tests import tagged

from odoo.addons.base.models.ir_mail_server import IrMailServer
from odoo.addons.mail.tests.common import MockEmail

from ..tools import letter_pdf
from ..tools.sms_segments import sms_segments
from .common import CollectionsCommon

PORTAL = "/my/collections"


def portal_link(partner, channel=False):
    return f"https://cobros.example.com{PORTAL}/{partner.id}/{channel}"


@tagged("at_install", "-post_install")
class TestReminderContent(CollectionsCommon, MockEmail):
    """What the customer receives: tone per stage, the call to action, headers
    on the raw message, a readable plain-text part, SMS length, the letter."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # base: country names in Spanish
        cls.env["ir.module.module"]._load_module_terms(["base", "collections_omni"], ["es_ES"], overwrite=True)
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://cobros.example.com")
        cls.company.write({"email": "cobros@acme.example", "phone": "+34 910 000 000", "name": "Acme Iberia"})
        cls.company.partner_id.bank_ids = [Command.create({"acc_number": "ES91 2100 0418 4502 0005 1332"})]
        cls.collector = cls.env["res.users"].create(
            {"name": "Laura Gómez", "login": "laura.collector", "email": "laura@acme.example"}
        )
        cls.customer.collections_user_id = cls.collector

    def setUp(self):
        super().setUp()
        # The seam every reminder takes its link from (the portal signs it): a known link per customer and channel.
        self.patch(type(self.env["res.partner"]), "_collections_portal_url", portal_link)

    def _message(self, days_overdue, channel="email", customer=None, amount=1250):
        customer = customer or self.customer
        self._invoice(customer, amount, days_overdue)
        self._run()
        return self._messages(customer).filtered(lambda m: m.channel == channel)

    def _sent_raw(self, message):
        """Dispatch the message and send its mail the way Odoo does; the raw bytes as built for SMTP."""
        self.env["collections.message"]._dispatch_planned(self.company)
        built = []
        original = IrMailServer.build_email

        def build_email(server, *args, **kwargs):
            built.append(original(server, *args, **kwargs))
            return built[-1]

        with self.mock_mail_gateway(), patch.object(IrMailServer, "build_email", build_email):
            message.mail_id.send(raise_exception=True)
        self.assertEqual(len(built), 1)
        return built[0].as_bytes()

    def test_stages_have_their_own_tone(self):
        tones = self.policy.stage_ids.sorted("offset_days").mapped("tone")
        self.assertEqual(tones, ["pre_due", "first", "second", "final"])
        subjects = {}
        for days, name in ((-2, "Antes"), (10, "Primero"), (25, "Segundo"), (50, "Final")):
            customer = self._customer(f"Tono {name}", lang="es_ES")
            message = self._message(days, "email" if days < 45 else "letter", customer)
            subjects[days] = message._reminder_subject()
            body = message._reminder_html()
            link = portal_link(customer, message.channel)
            self.assertIn(link, body, "every reminder links to the customer's page")
            self.assertIn("1.250,00", body, "and states the amount")
        self.assertIn("con vencimiento el", subjects[-2])
        self.assertIn("Recordatorio de pago: factura", subjects[10])
        self.assertIn("Segundo aviso", subjects[25])
        self.assertIn("Último aviso", subjects[50])
        customer = self._customer("Final EN", lang="en_US")
        final = self._message(50, "letter", customer)
        intro, options, next_step = final._reminder_paragraphs(final._reminder_values())
        self.assertIn("final notice", intro)
        self.assertIn("payment plan", options, "the relief options are named")
        self.assertIn("formal collection", next_step, "the final notice says what happens next")
        final.stage_id.next_step_note = "We will call you."
        self.assertEqual(final._reminder_paragraphs(final._reminder_values())[2], "We will call you.")

    def test_raw_email_headers_sender_and_plain_part(self):
        message = self._message(10)
        raw = self._sent_raw(message)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        # RFC 8058 exactly, on one line: no RFC 2047 encoded word a mail client cannot read.
        unsubscribe = f"List-Unsubscribe: <{message._unsubscribe_url()}>\r\n".encode()
        self.assertIn(unsubscribe, raw)
        self.assertTrue(message._unsubscribe_url().startswith("https://cobros.example.com/collections/unsubscribe/"))
        self.assertIn(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", raw)
        self.assertNotIn(b"=?utf-8?q?=3C", raw)
        self.assertEqual(parsed["From"].addresses[0].addr_spec, "cobros@acme.example")
        self.assertIn("Laura", parsed["From"].addresses[0].display_name)
        self.assertNotIn("OdooBot", str(parsed["From"]))
        self.assertEqual(parsed["Reply-To"].addresses[0].addr_spec, "laura@acme.example", "replies reach the collector")
        plain = parsed.get_body(("plain",)).get_content()
        html = parsed.get_body(("html",)).get_content()
        self.assertRegex(html, r"Pagar \$(&nbsp;|\xa0)1\.250,00</a>", "the action button says the amount")
        self.assertIn(portal_link(self.customer, "email"), html)
        self.assertIn("ES91 2100 0418 4502 0005 1332", html, "how to pay without the page")
        invoice = message.move_ids
        self.assertIn(f"- {invoice.name}  ", plain, "one line per open item, not one cell per line")
        amount = message._reminder_values()["amount"]
        self.assertIn(f"Pagar {amount}: {portal_link(self.customer, 'email')}\r\n", plain)
        self.assertIn(message._unsubscribe_url(), plain)
        self.assertNotIn("\n\n\n", plain)

    def test_reply_lands_on_the_customer_chatter_and_the_collector_follows(self):
        self.env["mail.alias.domain"].create({"name": "acme.example", "catchall_alias": "cobros-respuestas"})
        self.company.alias_domain_id = self.env["mail.alias.domain"].search([("name", "=", "acme.example")])
        message = self._message(10)
        self.env["collections.message"]._dispatch_planned(self.company)
        mail = message.mail_id
        self.assertEqual((mail.model, mail.res_id), ("res.partner", self.customer.id))
        self.assertIn("cobros-respuestas@acme.example", mail.reply_to)
        self.assertIn(self.collector.partner_id, self.customer.message_partner_ids)
        with self.mock_mail_gateway():
            self.format_and_process(
                "From: {email_from}\nTo: {to}\nSubject: {subject}\nMessage-ID: <reply-1@cliente>\n"
                "In-Reply-To: {extra}\n\nYa he pagado, adjunto justificante.",
                self.customer.email,
                "cobros-respuestas@acme.example",
                subject="Re: " + mail.subject,
                extra=mail.message_id,
                target_model="res.partner",
            )
        reply = self.customer.message_ids.filtered(lambda m: "Ya he pagado" in (m.body or ""))
        self.assertEqual(len(reply), 1, "the reply is on the customer's chatter")

    def test_footer_offers_only_opt_outs_that_work_by_email(self):
        message = self._message(10)
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertIn(message._unsubscribe_url(), message.mail_id.body_html)
        self.assertNotIn("STOP", message.mail_id.body_html)

    def test_sms_texts_fit_two_segments_and_carry_the_link(self):
        for days in (-2, 10, 25, 50):
            for lang in ("es_ES", "en_US"):
                customer = self._customer(f"SMS {days} {lang}", lang=lang)
                self._invoice(customer, 98765.43, days)
                self._run()
                message = self._messages(customer)[:1]
                text = message._reminder_sms_texts()[message.id]
                self.assertIn(portal_link(customer, message.channel), text)
                encoding, segments = sms_segments(text)
                self.assertEqual(encoding, "GSM-7", text)
                self.assertLessEqual(segments, 2, text)

    def test_sms_segments(self):
        self.assertEqual(sms_segments("a" * 160), ("GSM-7", 1))
        self.assertEqual(sms_segments("a" * 161), ("GSM-7", 2))
        self.assertEqual(sms_segments("€" * 80), ("GSM-7", 1), "the euro sign takes two septets")
        self.assertEqual(sms_segments("€" * 81), ("GSM-7", 2))
        self.assertEqual(sms_segments("ñé¿¡ü"), ("GSM-7", 1))
        self.assertEqual(sms_segments("á" * 70), ("UCS-2", 1))
        self.assertEqual(sms_segments("á" * 71), ("UCS-2", 2))

    def test_letter_has_sender_payment_instructions_qr_and_signature(self):
        self.company.partner_id.write(
            {"street": "Calle Mayor 1", "zip": "28013", "city": "Madrid", "country_id": self.env.ref("base.es").id}
        )
        self.customer.country_id = self.env.ref("base.de")
        message = self._message(50, "letter")
        message._render_content()
        values = message._letter_values()
        self.assertIn("Calle Mayor 1", values["company_address"])
        self.assertIn("España", values["company_address"])
        self.assertIn("Alemania", values["address"], "country names in the customer's language")
        self.assertIn("+34 910 000 000", values["company_contact"])
        self.assertIn("ES91 2100 0418 4502 0005 1332", values["payment"])
        self.assertIn(message.move_ids.name, values["payment"], "the reference to quote")
        self.assertEqual(values["url"], portal_link(self.customer, "letter"))
        self.assertEqual(values["signature"][:2], ["Laura Gómez", "Acme Iberia"])
        self.assertIsNone(values["logo"], "Odoo's 'Your logo' placeholder is never printed")
        pdf = letter_pdf.render([values])
        text = PdfFileReader(io.BytesIO(pdf)).pages[0].extractText()
        self.assertIn("cobros.example.com", text)
        self.assertIn("Laura", text)
        self.assertNotIn(b"/Subtype /Image", pdf)
        # A real logo is printed on the letterhead.
        logo = io.BytesIO()
        Image.new("RGB", (300, 100), (31, 111, 92)).save(logo, format="PNG")
        self.company.logo = base64.b64encode(logo.getvalue())
        values = message._letter_values()
        self.assertEqual(values["logo"], logo.getvalue())
        self.assertIn(b"/Subtype /Image", letter_pdf.render([values]))

    def test_transfer_reference_lists_the_invoices_that_fit_a_sepa_remittance(self):
        customer = self._customer("Muchas Facturas", lang="es_ES")
        for _n in range(11):
            self._invoice(customer, 100, 20)
        self._run()
        message = self._messages(customer).filtered(lambda m: m.channel == "email")
        reference = message._reminder_values()["reference"]
        self.assertLessEqual(len(reference), 140)
        self.assertNotIn("…", reference, "the template ends the sentence: no dangling ellipsis")
        quoted = reference.split(", ")
        self.assertGreater(len(quoted), 3)
        self.assertLess(len(quoted), 11)
        self.assertLessEqual(set(quoted), set(message.move_ids.mapped("name")))

    def test_a_huge_inbound_reply_is_capped_and_kept_as_a_file(self):
        provider = self.env["collections.provider"].create(
            {
                "name": "SMS test",
                "channel": "sms",
                "provider_type": "sms_http",
                "sms_http_base_url": "http://127.0.0.1:9",
                "sms_http_account_sid": "AC0",
                "sms_http_auth_token": "token",
                "sms_http_from_number": "+15005550006",
            }
        )
        self.customer.phone = "+34612345678"
        huge = "pagaré mañana " * 15000  # 210,000 characters
        reply = self.env["collections.message"]._record_inbound_reply(provider, "+34612345678", huge, "ref-huge")
        self.assertEqual(reply.partner_id, self.customer)
        self.assertLessEqual(len(reply.body_text), 1600)
        self.assertEqual(reply.attachment_id.raw.decode(), huge, "the original is kept whole")
        note = self.customer.message_ids[:1]
        self.assertLess(len(note.body), 2000, "the chatter shows the capped text")
