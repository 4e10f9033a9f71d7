from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date, formatLang

from ..tools import letter_pdf, sql_rules
from .collections_message_audit import engine_transition


class CollectionsMessageRendering(models.AbstractModel):
    """Rendering: a message's subject and body from its mail template, the
    short text of SMS and WhatsApp, invoice PDFs, letters (one or a batch to
    print) and amounts, in the customer's language. What a reminder says is
    collections_message_content.py."""

    _name = "collections.message.rendering"
    _description = "Collections Message Rendering"

    @engine_transition
    def _render_text(self):
        """The short text of SMS and WhatsApp messages, in each customer's
        language: the stage action's text, else a standard one."""
        rule_sets = self.env["collections.contact.rule.set"]._for_messages(self)
        Render = self.env["mail.render.mixin"]
        for (action, lang), messages in self.grouped(
            lambda m: (m.action_id, (m.recipient_id or m.partner_id).lang or "en_US")
        ).items():
            source = action.with_context(lang=lang).sms_text
            if source:
                texts = Render.with_context(lang=lang)._render_template(
                    source, self._name, messages.ids, engine="inline_template"
                )
            else:
                texts = messages.with_context(lang=lang)._reminder_sms_texts()
            for message in messages:
                text = texts[message.id]
                opt_out = rule_sets[message].with_context(lang=lang).opt_out_text
                message.body_text = f"{text} {opt_out}" if opt_out else text

    def _template(self):
        self.ensure_one()
        return self.action_id.mail_template_id or self.env.ref("collections_omni.mail_template_collections_reminder")

    @engine_transition
    def _render_content(self):
        """Subject and body from each message's template, in the customer's language."""
        for template, messages in self.grouped(lambda m: m._template()).items():
            # compute_lang: in each customer's language, as send_mail does
            subjects = template._render_field("subject", messages.ids, compute_lang=True)
            bodies = template._render_field("body_html", messages.ids, compute_lang=True)
            for message in messages:
                message.write({"subject": subjects[message.id], "body": bodies[message.id]})

    def _invoice_pdf_attachments(self):
        report = self.env.ref("account.account_invoices")
        attachments = self.env["ir.attachment"]
        for move in self.move_ids.filtered(lambda m: m.move_type == "out_invoice"):
            content, _type = report._render_qweb_pdf(report.report_name, move.ids)
            attachments |= attachments.create(
                {"name": f"{move.name.replace('/', '_')}.pdf", "raw": content, "mimetype": "application/pdf"}
            )
        return attachments

    def action_print_letters(self):
        """One PDF with the selected letters, each on its own pages, to print in a batch."""
        letters = self.filtered(lambda m: m.channel == "letter" and m.state not in ("planned", "cancelled", "blocked"))
        if not letters:
            raise UserError(_("Select letters that were sent to print them."))
        pdf = letter_pdf.render([letter._letter_values() for letter in letters])
        attachment = self.env["ir.attachment"].create(
            {
                "name": _("Collections letters %s.pdf", fields.Date.context_today(self)),
                "raw": pdf,
                "mimetype": "application/pdf",
            }
        )
        return {"type": "ir.actions.act_url", "url": f"/web/content/{attachment.id}?download=true", "target": "self"}

    def _letter_values(self):
        """Plain data for tools.letter_pdf: no ORM records cross that line."""
        self.ensure_one()
        partner = self.recipient_id or self.partner_id
        lang = partner.lang or "en_US"
        self = self.with_context(lang=lang)
        moves = self.move_ids.sorted(sql_rules.oldest_first_key)

        def date_text(value):
            return format_date(self.env, value, lang_code=lang) if value else ""

        def amount_text(value):
            return formatLang(self.env, value)

        return {
            "company": self.company_id.name,
            "company_address": self.company_id.partner_id._display_address(without_company=True),
            "recipient": partner.commercial_partner_id.name,
            "address": partner._display_address(without_company=True),
            "date": date_text(self.planned_date),
            "subject": self.subject or "",
            "body": self._letter_text(),
            "currency": self.currency_id.name,
            "labels": {
                "number": _("Document"),
                "date": _("Date"),
                "due": _("Due date"),
                "open": _("Open amount"),
                "total": _("Total due"),
            },
            "rows": [
                (
                    m.name,
                    date_text(m.invoice_date),
                    date_text(m.invoice_date_due),
                    amount_text((-1 if m.move_type == "out_refund" else 1) * m.amount_residual),
                )
                for m in moves
            ],
            "total": amount_text(self.amount_due),
        }

    def _letter_text(self):
        return _(
            "According to our records the documents below are still open. "
            "Please pay the amount due, or contact us if you have already paid or disagree with it."
        )

    def _amount_text(self):
        self.ensure_one()
        return self.currency_id.format(self.amount_due)

    def _amount_texts(self, lang_code=None):
        """{message id: amount due with its currency, in ``lang_code``}."""
        return {m.id: format_amount(self.env, m.amount_due, m.currency_id, lang_code) for m in self}
