"""What a reminder says: subject, HTML and plain-text body, SMS text, letter
content and the email's sender, reply-to and headers, per stage tone and in
the customer's language. Kept apart from collections_message.py (sending) so
the two change independently; the mail template and the SMS/letter senders
call these methods."""

import base64
import datetime as dt
from email.utils import formataddr

from markupsafe import Markup, escape

from odoo import _, models
from odoo.tools import format_amount, format_date, html2plaintext

# Final notices give the customer this many days to pay or answer.
FINAL_NOTICE_DAYS = 10
REMITTANCE_MAX_CHARS = 140  # SEPA credit transfer: unstructured remittance information
BUTTON_STYLE = (
    "display: inline-block; padding: 10px 22px; background-color: #1f6f5c; color: #ffffff; "
    "text-decoration: none; border-radius: 4px; font-weight: bold; font-size: 15px;"
)
CELL = "padding: 6px 8px; border-bottom: 1px solid #e5e9ee;"


class CollectionsMessage(models.Model):
    _inherit = "collections.message"

    # === VALUES === #

    def _reminder_tone(self):
        self.ensure_one()
        return self.stage_id.tone or "first"

    def _reminder_lang(self):
        self.ensure_one()
        return (self.recipient_id or self.partner_id).lang or self.env.lang or "en_US"

    def _reminder_collector(self):
        self.ensure_one()
        return self.partner_id.commercial_partner_id.collections_user_id or self.company_id.collections_user_id

    def _reminder_values(self):
        """The facts every reminder states, formatted in the customer's language."""
        self.ensure_one()
        lang = self._reminder_lang()
        self = self.with_context(lang=lang)
        recipient = self.recipient_id or self.partner_id
        invoices = self.move_ids.filtered(lambda m: m.move_type == "out_invoice").sorted(
            lambda m: (m.invoice_date_due or m.date, m.id)
        )
        oldest_due = invoices[:1].invoice_date_due or self.planned_date
        if len(invoices) == 1:
            invoices_text = _("invoice %(number)s", number=invoices.name)
        else:
            invoices_text = _("%(count)s invoices", count=len(invoices))
        company = self.company_id
        bank = company.partner_id.bank_ids[:1]
        account = ""
        if bank:
            account = bank.acc_number + (f" ({bank.bank_id.name})" if bank.bank_id else "")
        # As many invoice references as a SEPA transfer's remittance field holds (140 characters):
        # the customer can paste it whole; the reconciliation reads each number.
        references = []
        for reference in (m.payment_reference or m.name for m in invoices):
            if len(", ".join([*references, reference])) > REMITTANCE_MAX_CHARS:
                break
            references.append(reference)
        deadline = self.planned_date + dt.timedelta(days=FINAL_NOTICE_DAYS)
        return {
            "lang": lang,
            "name": recipient.name,
            "company": company.name,
            "amount": format_amount(self.env, self.amount_due, self.currency_id, lang),
            "date": format_date(self.env, oldest_due, lang_code=lang),
            "deadline": format_date(self.env, deadline, lang_code=lang),
            "invoices": invoices_text,
            "url": self.partner_id.commercial_partner_id._collections_portal_url(self.channel),
            "account": account,
            "reference": ", ".join(references),
            "collector": self._reminder_collector().name or "",
            "phone": company.phone or "",
            "email": company.email or "",
        }

    # === TEXTS === #

    def _reminder_subject(self):
        self.ensure_one()
        values = self._reminder_values()
        self = self.with_context(lang=values["lang"])
        tone = self._reminder_tone()
        if tone == "pre_due":
            return _("%(company)s: %(amount)s due on %(date)s", **values)
        if tone == "second":
            return _("Second notice: %(invoices)s, %(amount)s overdue", **values)
        if tone == "final":
            return _("Final notice: %(amount)s overdue, please act by %(deadline)s", **values)
        return _("Payment reminder: %(invoices)s, %(amount)s", **values)

    def _reminder_paragraphs(self, values):
        """(intro, relief options, next step or '') for this message's tone."""
        tone = self._reminder_tone()
        options = _(
            "Cannot pay it all now? On the same page you can promise a payment date, "
            "ask for a payment plan or tell us if something is wrong with an invoice."
        )
        if tone == "pre_due":
            intro = _(
                "Just a friendly note: a payment of %(amount)s (%(invoices)s) falls due on %(date)s. "
                "If you have already arranged it, thank you, and please disregard this message.",
                **values,
            )
            options = _("Something wrong with an invoice? Reply to this email and we will sort it out.")
            return intro, options, ""
        if tone == "second":
            intro = _(
                "The payment of %(amount)s (%(invoices)s), due on %(date)s, is still open and we have not "
                "heard from you. If paying it all at once is difficult right now, tell us: we can agree on "
                "a date or split it into instalments.",
                **values,
            )
            return intro, options, ""
        if tone == "final":
            intro = _(
                "This is our final notice about %(amount)s (%(invoices)s), overdue since %(date)s. "
                "Please pay it, or contact us, by %(deadline)s.",
                **values,
            )
            next_step = self.stage_id.next_step_note or _(
                "If by then we have neither received the payment nor heard from you, we will suspend "
                "further deliveries on credit and pass the account on for formal collection."
            )
            return intro, options, next_step
        intro = _(
            "We have not yet received the payment of %(amount)s (%(invoices)s) that was due on %(date)s. "
            "It may simply have slipped through: you can settle it in a minute from your page. "
            "If you have already paid, thank you, and please disregard this message.",
            **values,
        )
        return intro, options, ""

    def _reminder_lines(self, values):
        """The closing lines: how to pay without the page, who answers, the signature."""
        lines = {}
        if values["account"]:
            lines["bank"] = _(
                "Prefer a bank transfer? Account %(account)s, reference %(reference)s.",
                **values,
            )
        if values["collector"]:
            lines["contact"] = _("Questions? Reply to this email and it reaches %(collector)s directly.", **values)
        else:
            lines["contact"] = _("Questions? Just reply to this email.")
        lines["regards"] = _("Kind regards,")
        lines["signature"] = [line for line in (values["collector"], values["company"], values["phone"]) if line]
        return lines

    def _reminder_html(self):
        """The body of the standard reminder email (the mail template outputs it)."""
        self.ensure_one()
        values = self._reminder_values()
        self = self.with_context(lang=values["lang"])
        intro, options, next_step = self._reminder_paragraphs(values)
        lines = self._reminder_lines(values)
        rows = Markup("").join(
            Markup(
                "<tr><td style='{cell}'>{name}</td><td style='{cell}'>{due}</td>"
                "<td style='{cell} text-align: right; white-space: nowrap;'>{amount}</td></tr>"
            ).format(cell=CELL, name=name, due=due, amount=amount)
            for name, due, amount in self._reminder_rows(values["lang"])
        )
        html = Markup(
            "<div style='margin: 0; padding: 0; font-size: 14px; line-height: 1.5; color: #222;'>"
            "<p>{greeting}</p><p>{intro}</p>"
            "<table style='border-collapse: collapse; width: 100%; max-width: 560px;'>"
            "<tr style='background-color: #eef2f5;'><th style='{cell} text-align: left;'>{h_doc}</th>"
            "<th style='{cell} text-align: left;'>{h_due}</th><th style='{cell} text-align: right;'>{h_open}</th></tr>"
            "{rows}<tr style='font-weight: bold;'><td style='{cell}' colspan='2'>{h_total}</td>"
            "<td style='{cell} text-align: right; white-space: nowrap;'>{amount}</td></tr></table>"
            "<p style='margin: 24px 0;'><a href='{url}' style='{button}'>{button_text}</a></p>"
            "<p>{options}</p>"
        ).format(
            greeting=_("Dear %(name)s,", **values),
            intro=intro,
            cell=CELL,
            h_doc=_("Document"),
            h_due=_("Due date"),
            h_open=_("Open amount"),
            h_total=_("Total due"),
            rows=rows,
            amount=values["amount"],
            url=values["url"],
            button=BUTTON_STYLE,
            button_text=_("Pay %(amount)s", **values),
            options=options,
        )
        if next_step:
            html += Markup("<p><strong>{}</strong></p>").format(next_step)
        if lines.get("bank"):
            html += Markup("<p>{}</p>").format(lines["bank"])
        html += Markup("<p>{}</p><p>{}<br/>{}</p></div>").format(
            lines["contact"], lines["regards"], Markup("<br/>").join(escape(s) for s in lines["signature"])
        )
        return html

    def _reminder_plain(self):
        """A readable plain-text part: sentences as paragraphs, the open items as aligned lines."""
        self.ensure_one()
        if self._template() != self.env.ref("collections_omni.mail_template_collections_reminder", False):
            return html2plaintext(self.body or "")
        values = self._reminder_values()
        self = self.with_context(lang=values["lang"])
        intro, options, next_step = self._reminder_paragraphs(values)
        lines = self._reminder_lines(values)
        items = [f"- {name}  {due}  {amount}" for name, due, amount in self._reminder_rows(values["lang"])]
        items.append(f"{_('Total due')}: {values['amount']}")
        parts = [
            _("Dear %(name)s,", **values),
            intro,
            "\n".join(items),
            f"{_('Pay %(amount)s', **values)}: {values['url']}",
            options,
            next_step,
            lines.get("bank", ""),
            lines["contact"],
            "\n".join([lines["regards"], *lines["signature"]]),
            "--\n" + _("Stop receiving payment reminders by email") + f": {self._unsubscribe_url()}",
        ]
        return "\n\n".join(part for part in parts if part) + "\n"

    def _reminder_rows(self, lang):
        moves = self.move_ids.sorted(lambda m: (m.invoice_date_due or m.date, m.id))
        return [
            (
                move.name,
                format_date(self.env, move.invoice_date_due, lang_code=lang) if move.invoice_date_due else "",
                format_amount(
                    self.env,
                    (-1 if move.move_type == "out_refund" else 1) * move.amount_residual,
                    move.currency_id,
                    lang,
                ),
            )
            for move in moves
        ]

    def _reminder_sms_texts(self):
        """{message id: SMS text}: the company, the amount, one action and the link; short
        and without á í ó ú so that Spanish stays in GSM-7 (one or two segments)."""
        texts = {}
        for message in self:
            values = message._reminder_values()
            message = message.with_context(lang=values["lang"])
            tone = message._reminder_tone()
            if tone == "pre_due":
                text = _("%(company)s: %(amount)s due on %(date)s. Pay here: %(url)s", **values)
            elif tone == "second":
                text = _(
                    "%(company)s: %(amount)s still open since %(date)s. Hard to pay it all? Ask for a plan: %(url)s",
                    **values,
                )
            elif tone == "final":
                text = _(
                    "%(company)s, final notice: %(amount)s overdue. Pay or contact us by %(deadline)s: %(url)s",
                    **values,
                )
            else:
                text = _(
                    "%(company)s: %(amount)s overdue since %(date)s. Pay, pick a date or ask for a plan: %(url)s",
                    **values,
                )
            # Odoo's amounts hold no-break spaces, which are not GSM-7.
            texts[message.id] = text.replace("\xa0", " ").replace("\u202f", " ")
        return texts

    # === EMAIL ENVELOPE === #

    def _reminder_email_values(self):
        """Sender, reply-to and headers of a reminder email, and the record its
        replies land on: the customer, so a reply shows on the customer's chatter.

        From is the company (the collector when the company has no address);
        the reply goes to the company's catchall when mail comes into Odoo
        (the collector follows the customer and is notified), else straight to
        the collector."""
        self.ensure_one()
        company = self.company_id
        collector = self._reminder_collector()
        customer = self.partner_id.commercial_partner_id
        values = {
            "model": "res.partner",
            "res_id": customer.id,
            # RFC 8058: mail clients show their own unsubscribe button and POST to the link.
            "headers": repr(
                {
                    "List-Unsubscribe": f"<{self._unsubscribe_url()}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                }
            ),
        }
        if company.email:
            name = f"{collector.name} - {company.name}" if collector else company.name
            values["email_from"] = formataddr((name, company.email))
        elif collector.email:
            values["email_from"] = formataddr((f"{collector.name} - {company.name}", collector.email))
        if company.catchall_email:
            values["reply_to"] = formataddr((company.name, company.catchall_email))
            if collector:
                customer.sudo().message_subscribe(partner_ids=collector.partner_id.ids)
        elif collector.email:
            values["reply_to"] = formataddr((collector.name, collector.email))
        elif company.email:
            values["reply_to"] = formataddr((company.name, company.email))
        return values

    # === LETTER === #

    def _letter_values(self):
        values = super()._letter_values()
        reminder = self._reminder_values()
        self = self.with_context(lang=reminder["lang"])
        partner = (self.recipient_id or self.partner_id).with_context(lang=reminder["lang"])
        company_partner = self.company_id.partner_id.with_context(lang=reminder["lang"])
        intro, options, next_step = self._reminder_paragraphs(reminder)
        lines = self._reminder_lines(reminder)
        contact = [line for line in (self.company_id.phone, self.company_id.email, self.company_id.website) if line]
        values.update(
            {
                "company_address": company_partner._display_address(without_company=True),
                "company_contact": " · ".join(contact),
                # Odoo's default logo is a "Your logo" placeholder: a letter prints none instead.
                "logo": None if self.company_id.uses_default_logo else base64.b64decode(self.company_id.logo),
                "address": partner._display_address(without_company=True),
                "subject": self._reminder_subject(),
                "body": " ".join(p for p in (intro, next_step) if p),
                "options": options,
                "url": reminder["url"],
                "qr_caption": _("Scan to pay %(amount)s or choose another option:", **reminder),
                "payment": lines.get("bank", ""),
                "regards": lines["regards"],
                "signature": lines["signature"],
            }
        )
        return values
