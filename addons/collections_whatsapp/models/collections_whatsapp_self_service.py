import logging
import re

from odoo import _, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date

from odoo.addons.collections_omni.tools import reply_keywords, sql_rules

from ..tools import chat_intents

_logger = logging.getLogger(__name__)
# Installments the chat offers at most when no policy says (the portal's limit when installed).
CHAT_MAX_INSTALLMENTS = 6


class CollectionsWhatsappSelfService(models.AbstractModel):
    """Self-service in the chat, a job of collections.whatsapp.conversation
    (which inherits it, as it inherits mail.thread): the customer's intent,
    from a quick-reply button or plain words, answered with the records the
    portal and the call outcomes create (a promise, a plan, a payment claim,
    a to-do for a person, an opt-out) and a reply in the customer's language.
    An addon overrides one ``_answer_<intent>`` alone."""

    _name = "collections.whatsapp.self.service"
    _description = "WhatsApp Self-Service"

    def _answer(self, event):
        """Self-service in the chat: what the customer asked for (a quick-reply
        button or plain words, Spanish or English) creates the same records
        the portal and the call outcomes create, and is answered in the
        customer's language inside the window the message just opened."""
        self.ensure_one()
        intent = chat_intents.intent_of(event.text, event.payload, keyword_intent=reply_keywords.reply_intent)
        today = fields.Date.context_today(self)
        if intent is None and self.awaiting == "promise_date" and chat_intents.promised_date(event.text, today):
            intent = chat_intents.PROMISE
        if intent is None and self.awaiting == "plan_choice" and self._chosen_plan(event.text):
            intent = "plan_choice"
        if intent is None:
            return False
        partner = self.partner_id
        lang = partner.lang or self.account_id.company_id.partner_id.lang or "en_US"
        conversation = self.with_context(lang=lang)
        if not partner:
            if intent in (chat_intents.OPT_OUT, chat_intents.OPT_IN):
                return False  # nobody to opt out: the number is kept for triage
            text = conversation._answer_unknown()
        else:
            text = getattr(conversation, f"_answer_{intent}")(event, today)
        try:
            conversation._send_text(text, reply_to=event.wamid)
        except UserError as error:  # a replay of an old message: the window has closed since
            _logger.info("WhatsApp: no answer to %s: %s", event.wamid, error)
            return False
        return intent

    def _open_invoices(self):
        return (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("commercial_partner_id", "=", self.partner_id.commercial_partner_id.id),
                    ("company_id", "=", self.company_id.id),
                    *sql_rules.OPEN_INVOICE_DOMAIN,
                ]
            )
            .sorted(sql_rules.oldest_first_key)
        )

    def _balance(self):
        invoices = self._open_invoices()
        currency = self.company_id.currency_id
        return invoices, sum(invoices.mapped("amount_residual_signed")), currency

    def _collector(self):
        collector = self.env["collections.hold.mixin"]._find_collector(self.partner_id, self.company_id)
        return collector or self.user_id or self.env.ref("base.user_root")

    def _link(self):
        return self.partner_id.commercial_partner_id._collections_portal_url("whatsapp")

    def _answer_unknown(self):
        self._ask_a_person("whatsapp_unknown_number")
        return _(
            "We could not find your customer account from this number. A person from our team will answer you here."
        )

    def _answer_pay(self, event, today):
        _invoices, amount, currency = self._balance()
        if currency.is_zero(amount):
            return _("You have nothing to pay right now. Thank you!")
        return _(
            "You can pay %(amount)s securely here: %(link)s",
            amount=format_amount(self.env, amount, currency, self.env.lang),
            link=self._link(),
        )

    def _answer_balance(self, event, today):
        invoices, amount, currency = self._balance()
        if currency.is_zero(amount):
            return _("You have nothing to pay right now. Thank you!")
        lines = [
            _(
                "%(invoice)s, due %(date)s: %(amount)s",
                invoice=invoice.name,
                date=format_date(self.env, invoice.invoice_date_due, lang_code=self.env.lang),
                amount=format_amount(self.env, invoice.amount_residual_signed, currency, self.env.lang),
            )
            for invoice in invoices[:3]
        ]
        return _(
            "You owe %(amount)s. Oldest invoices:\n%(lines)s\nPay, ask for a plan or promise a date here: %(link)s",
            amount=format_amount(self.env, amount, currency, self.env.lang),
            lines="\n".join(lines),
            link=self._link(),
        )

    def _answer_plan(self, event, today):
        """The plans the customer's terms allow (monthly, the first today), as
        numbers to reply with; the portal for other terms."""
        invoices, total, currency = self._plan_invoices()
        options = self._plan_offers(total, currency, today)
        if not options:
            return _(
                "You can choose a payment plan in instalments here, within the limits of your terms: %(link)s. "
                "If none suits you, reply PERSON and a collector will call you.",
                link=self._link(),
            )
        self.write({"awaiting": "plan_choice", "plan_options": ",".join(str(count) for count, _a in options)})
        lines = "\n".join(
            _(
                "%(count)s: %(count)s monthly payments of %(amount)s",
                count=count,
                amount=format_amount(self.env, amount, currency, self.env.lang),
            )
            for count, amount in options
        )
        return _(
            "We can split %(amount)s into a payment plan of monthly installments, the first one today:\n%(options)s\n"
            "Reply with the number of installments you choose, or choose other terms here: %(link)s",
            amount=format_amount(self.env, total, currency, self.env.lang),
            options=lines,
            link=self._link(),
        )

    def _plan_invoices(self):
        """The open invoices a plan from the chat covers (those in the company's currency) and their total."""
        currency = self.company_id.currency_id
        invoices = self._open_invoices().filtered(lambda i: i.currency_id == currency)
        return invoices, currency.round(sum(invoices.mapped("amount_residual"))), currency

    def _plan_offers(self, total, currency, today):
        """[(installments, amount of each)] the customer's policy allows: up to
        its portal limit when the portal is installed, else CHAT_MAX_INSTALLMENTS."""
        if currency.compare_amounts(total, 0) <= 0:
            return []
        policy = self.env["collections.policy"].sudo()._for_partner(self.partner_id, self.company_id)
        largest = CHAT_MAX_INSTALLMENTS
        if "portal_max_installments" in policy._fields and policy:
            largest = policy.portal_max_installments
        counts = sorted({count for count in (2, 3, 6, 12) if count <= largest} | ({largest} if largest >= 2 else set()))
        Plan = self.env["collections.payment.plan"].sudo()
        offers = []
        for count in counts:
            try:
                schedule = Plan._schedule_amounts(total, 0.0, count, currency, today, "monthly")
            except UserError:
                continue  # too small to split that far
            offers.append((count, schedule[0][2]))
        return offers

    def _chosen_plan(self, text):
        """The number of installments the customer replied, if it is one offered."""
        match = re.fullmatch(r"(\d{1,2})(?: [A-Z ]{1,20})?", chat_intents.normalise(text))  # "3", "3 cuotas"
        offered = [int(count) for count in (self.plan_options or "").split(",") if count.isdigit()]
        return int(match.group(1)) if match and int(match.group(1)) in offered else None

    def _answer_plan_choice(self, event, today):
        """The customer chose: a proposed plan, as the portal creates it (its
        invoices held from now on), and a to-do for the collector to activate it."""
        count = self._chosen_plan(event.text)
        self.write({"awaiting": False, "plan_options": False})
        invoices, _total, currency = self._plan_invoices()
        try:
            with self.env.cr.savepoint():
                plan = (
                    self.env["collections.payment.plan"]
                    .sudo()
                    .with_context(mail_create_nosubscribe=True)
                    .create(
                        {
                            "company_id": self.company_id.id,
                            "partner_id": self.partner_id.commercial_partner_id.id,
                            "currency_id": currency.id,
                            "move_ids": [fields.Command.set(invoices.ids)],
                            "installment_count": count,
                            "frequency": "monthly",
                            "start_date": today,
                            "origin": "whatsapp",
                            "user_id": self._collector().id,
                            "note": event.text,
                        }
                    )
                )
                plan.action_generate_schedule()
                plan.action_propose()
        except UserError as error:
            _logger.info("WhatsApp: no plan for %s: %s", self.wa_id, error)
            self._ask_a_person("whatsapp_plan_failed")
            return _("We could not set up that plan. A collector will write to you here shortly.")
        plan._tell_collector("whatsapp_plan_chosen")
        first = plan.installment_ids.sorted("sequence")[:1]
        return _(
            "Thank you. We have noted your plan of %(count)s monthly payments of %(amount)s, the first on %(date)s. "
            "A collector will confirm it; meanwhile we have paused the reminders.",
            count=count,
            amount=format_amount(self.env, first.amount, currency, self.env.lang),
            date=format_date(self.env, first.due_date, lang_code=self.env.lang),
        )

    def _answer_promise(self, event, today):
        invoices, amount, currency = self._balance()
        if currency.is_zero(amount):
            return _("You have nothing to pay right now. Thank you!")
        date = chat_intents.promised_date(event.text, today, month_first=self.env.lang == "en_US")
        if not date:
            self.awaiting = "promise_date"
            return _(
                "On what date will you pay %(amount)s? Reply with a date, for example %(example)s.",
                amount=format_amount(self.env, amount, currency, self.env.lang),
                example=format_date(self.env, fields.Date.add(today, days=7), lang_code=self.env.lang),
            )
        self.awaiting = False
        self.env["collections.promise"].sudo().create(
            {
                "partner_id": self.partner_id.commercial_partner_id.id,
                "company_id": self.company_id.id,
                "currency_id": currency.id,
                "amount": amount,
                "promised_date": date,
                "source": "whatsapp",
                "user_id": self._collector().id,
                "note": event.text,
            }
        )
        return _(
            "Thank you. We have noted your promise to pay %(amount)s by %(date)s; "
            "we will not send you reminders until then.",
            amount=format_amount(self.env, amount, currency, self.env.lang),
            date=format_date(self.env, date, lang_code=self.env.lang),
        )

    def _answer_paid(self, event, today):
        invoices, _amount, _currency = self._balance()
        if invoices:
            self.env["collections.dispute"].sudo().create(
                {
                    "partner_id": self.partner_id.commercial_partner_id.id,
                    "company_id": self.company_id.id,
                    "move_ids": [fields.Command.set(invoices.ids)],
                    "reason": "already_paid",
                    "description": event.text or event.payload,
                    "user_id": self._collector().id,
                }
            )
        self._ask_a_person("whatsapp_already_paid")
        return _(
            "Thank you. A collector will check your payment; meanwhile we have paused the reminders. "
            "You can send us the receipt here."
        )

    def _answer_invoice(self, event, today):
        """The invoice PDF in the chat: the one whose number the customer wrote,
        else the oldest open one; then a line with its amount and the link."""
        invoices = self._open_invoices()
        if not invoices:
            return _("You have no open invoices right now. Thank you!")
        written = f" {chat_intents.normalise(event.text)} "
        invoice = next(
            (i for i in invoices if i.name and f" {chat_intents.normalise(i.name)} " in written), invoices[0]
        )
        filename = f"{(invoice.name or 'invoice').replace('/', '_')}.pdf"
        try:
            content, _kind = (
                self.env["ir.actions.report"].sudo()._render_qweb_pdf("account.account_invoices", invoice.ids)
            )
            self._send_document(content, filename, caption=invoice.name)
        except Exception as error:  # noqa: BLE001 (the customer still gets the link; the log says why)
            _logger.warning("WhatsApp: could not send %s to %s: %s", filename, self.wa_id, error)
            return _(
                "We could not attach invoice %(invoice)s just now. You can see and download it here: %(link)s",
                invoice=invoice.name,
                link=self.partner_id._collections_portal_url("whatsapp"),
            )
        return _(
            "Here is invoice %(invoice)s: %(amount)s, due on %(date)s. You can pay it here: %(link)s",
            invoice=invoice.name,
            amount=format_amount(self.env, invoice.amount_residual, invoice.currency_id, self.env.lang),
            date=format_date(self.env, invoice.invoice_date_due, lang_code=self.env.lang),
            link=self.partner_id._collections_portal_url("whatsapp"),
        )

    def _answer_person(self, event, today):
        self._ask_a_person("whatsapp_person")
        return _("A collector will write to you here shortly.")

    def _answer_opt_out(self, event, today):
        self._record_consent("opt_out", event)
        return _("You will not receive more payment reminders by WhatsApp. Reply START to receive them again.")

    def _answer_opt_in(self, event, today):
        self._record_consent("opt_in", event)
        return _("You will receive payment reminders by WhatsApp again.")

    def _record_consent(self, status, event):
        """The engine records STOP/BAJA when the account has a provider; otherwise here (once)."""
        Consent = self.env["collections.consent"].sudo()
        partner = self.partner_id.commercial_partner_id
        if Consent._status_by_partner(partner, self.company_id).get((partner.id, "whatsapp")) != status:
            Consent._record(
                partner,
                "whatsapp",
                status,
                "reply",
                address=self.phone,
                note=(event.text or "")[:200],
                company=self.company_id,
            )

    def _ask_a_person(self, code):
        """A collector activity and the conversation assigned, in the inbox; its summary,
        the note ``code``, in the collector's language (not the customer's the chat speaks)."""
        collector = self._collector()
        if not self.user_id and collector != self.env.ref("base.user_root"):
            self.user_id = collector
        user = self.user_id or collector
        summary = self.env["collections.note"]._for_user(user)._text(code).unescape()
        self.activity_schedule("mail.mail_activity_data_todo", summary=summary, user_id=user.id)
