import datetime as dt
import logging
import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import format_amount, format_date

from odoo.addons.collections_omni.tools import reply_keywords, sql_rules

from ..tools import chat_intents, graph_client, phone, webhook

_logger = logging.getLogger(__name__)
WINDOW = dt.timedelta(hours=24)
# Installments the chat offers at most when no policy says (the portal's limit when installed).
CHAT_MAX_INSTALLMENTS = 6


class CollectionsWhatsappConversation(models.Model):
    """The chat between one business number and one customer's number: the
    collector inbox. Inbound messages land here (and on the customer's
    chatter); numbers nobody is known by are kept here for triage, never
    dropped. It knows the 24-hour customer-service window."""

    _name = "collections.whatsapp.conversation"
    _description = "WhatsApp Conversation"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "last_inbound_at desc nulls last, id desc"
    _check_company_auto = True
    _rec_name = "display_label"

    account_id = fields.Many2one("collections.whatsapp.account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    wa_id = fields.Char(
        string="WhatsApp ID", required=True, readonly=True, help="The number's digits, as Meta sends them."
    )
    phone = fields.Char(string="Number", readonly=True, help="E.164.")
    profile_name = fields.Char(readonly=True, help="The name the customer set in WhatsApp.")
    partner_id = fields.Many2one("res.partner", string="Customer", index=True, tracking=True)
    display_label = fields.Char(compute="_compute_display_label")
    user_id = fields.Many2one("res.users", string="Assigned To", tracking=True, index=True)
    last_inbound_at = fields.Datetime(string="Last Customer Message", readonly=True)
    window_until = fields.Datetime(
        string="Window Open Until", compute="_compute_window", help="Free text and documents only until then."
    )
    window_open = fields.Boolean(compute="_compute_window")
    unread_count = fields.Integer(string="Unread", readonly=True)
    undeliverable = fields.Boolean(readonly=True, help="Meta said this number cannot get WhatsApp messages (131026).")
    undeliverable_reason = fields.Char(readonly=True)
    awaiting = fields.Selection(
        [("promise_date", "A promised date"), ("plan_choice", "A payment plan's number of installments")],
        readonly=True,
        help="What the chat asked the customer last.",
    )
    plan_options = fields.Char(readonly=True, help="The numbers of installments the chat offered last (2,3,6).")
    reply_text = fields.Text(string="Reply")
    reply_invoice_id = fields.Many2one(
        "account.move",
        string="Invoice to Send",
        domain="[('commercial_partner_id', '=', commercial_partner_id), ('move_type', '=', 'out_invoice'), "
        "('state', '=', 'posted')]",
        help="Its PDF goes as a WhatsApp document; empty: the oldest open invoice.",
    )
    commercial_partner_id = fields.Many2one(related="partner_id.commercial_partner_id")
    can_send_statement = fields.Boolean(
        compute="_compute_can_send_statement", help="The statement of account comes with the customer portal."
    )

    _sql_constraints = [("number_uniq", "unique(account_id, wa_id)", "One conversation per number and account.")]

    @api.depends("partner_id", "profile_name", "phone")
    @api.depends_context("lang")
    def _compute_display_label(self):
        for conversation in self:
            who = conversation.partner_id.display_name or conversation.profile_name or _("Unknown number")
            conversation.display_label = f"{who} ({conversation.phone or conversation.wa_id})"

    def _compute_can_send_statement(self):
        available = hasattr(self.env["res.partner"], "_collections_statement_pdf")  # collections_portal
        for conversation in self:
            conversation.can_send_statement = available and bool(conversation.partner_id)

    @api.depends("last_inbound_at")
    def _compute_window(self):
        now = fields.Datetime.now()
        for conversation in self:
            until = conversation.last_inbound_at and conversation.last_inbound_at + WINDOW
            conversation.window_until = until
            conversation.window_open = bool(until and until > now)

    # === FINDING === #

    @api.model
    def _for_number(self, account, wa_id, profile_name=None):
        """The conversation of a number (created once, even by two webhooks at once)."""
        wa_id = phone.wa_id(wa_id)
        self.env.flush_all()
        self.env.cr.execute(
            """
            INSERT INTO collections_whatsapp_conversation
                   (account_id, company_id, wa_id, phone, profile_name, unread_count,
                    create_uid, create_date, write_uid, write_date)
            VALUES (%s, %s, %s, %s, %s, 0, %s, now() AT TIME ZONE 'UTC', %s, now() AT TIME ZONE 'UTC')
            ON CONFLICT (account_id, wa_id) DO NOTHING
         RETURNING id
            """,
            [
                account.id,
                account.company_id.id,
                wa_id,
                phone.from_wa_id(wa_id),
                profile_name,
                self.env.uid,
                self.env.uid,
            ],
        )
        created = self.env.cr.fetchone()
        conversation = self.search([("account_id", "=", account.id), ("wa_id", "=", wa_id)], limit=1)
        if created:
            conversation.partner_id = self._match_partner(account, conversation.phone)
        elif profile_name and conversation.profile_name != profile_name:
            conversation.profile_name = profile_name
        return conversation

    @api.model
    def _match_partner(self, account, e164):
        """The customer behind a number: the one we last wrote to at it, else a
        customer or contact with it (mobile or phone, written in any format)."""
        if not e164:
            return self.env["res.partner"]
        last = (
            self.env["collections.message"]
            .sudo()
            .search(
                [
                    ("recipient_phone", "=", e164),
                    ("direction", "=", "outbound"),
                    ("company_id", "=", account.company_id.id),
                ],
                order="id desc",
                limit=1,
            )
        )
        if last:
            return last.partner_id.commercial_partner_id
        partners = (
            self.env["res.partner"]
            .sudo()
            .search(expression.OR([[("phone_sanitized", "=", e164)], [("phone_mobile_search", "=", e164)]]), limit=5)
        )
        partners = partners.filtered(lambda p: p.company_id in (account.company_id, self.env["res.company"]))
        return partners[:1].commercial_partner_id

    def _provider(self):
        self.ensure_one()
        return (
            self.env["collections.provider"]
            .sudo()
            .search(
                [("provider_type", "=", "whatsapp_cloud"), ("whatsapp_account_id", "=", self.account_id.id)], limit=1
            )
        )

    # === WEBHOOK EVENTS === #

    @api.model
    def _apply_status(self, account, event):
        """A status of a message we sent: onto its collections message (never
        backwards: the engine's rule); 131026 marks the number undeliverable."""
        provider = (
            self.env["collections.provider"]
            .sudo()
            .search([("provider_type", "=", "whatsapp_cloud"), ("whatsapp_account_id", "=", account.id)])
        )
        Message = self.env["collections.message"].sudo()
        waiting = Message.search(
            [
                ("provider_id", "in", provider.ids),
                ("state", "in", ("queued", "sending")),
                ("early_status", "!=", False),
                "|",
                ("provider_ref", "=", event.wamid),
                ("idempotency_key", "=", event.callback_data or "-"),
            ],
            limit=1,
        )
        if waiting and event.status != "failed" and not webhook.status_advances(waiting.early_status, event.status):
            return  # a status overtook the send's result and a later one is already waiting: keep the later one
        for each in provider:
            Message._apply_provider_status(
                each,
                event.wamid,
                event.status,
                code=event.error_code,
                error=event.error_message,
                key=event.callback_data,
            )
        if event.status == "failed" and graph_client.error_kind(event.error_code) == graph_client.UNDELIVERABLE:
            conversation = self._for_number(account, event.recipient_id or "")
            conversation.write({"undeliverable": True, "undeliverable_reason": event.error_message or event.error_code})

    @api.model
    def _receive(self, account, event):
        """A customer's message: on the conversation (unread, window opened),
        on the customer's chatter and, through the engine, in the collections
        history (STOP/BAJA opt out there); then the chat answers what it
        understood (``_answer``)."""
        conversation = self._for_number(account, event.from_wa_id, event.profile_name)
        received_at = dt.datetime.fromtimestamp(event.timestamp, dt.timezone.utc).replace(tzinfo=None)
        values = {"unread_count": conversation.unread_count + 1, "undeliverable": False}
        if not conversation.last_inbound_at or received_at > conversation.last_inbound_at:
            values["last_inbound_at"] = received_at
        conversation.write(values)
        text = event.text or ""
        post_values = {
            "author_id": conversation.partner_id.id or None,
            "message_type": "comment",
            "subtype_xmlid": "mail.mt_comment",
        }
        if text:
            conversation.message_post(body=Markup("<p>%s</p>") % text, **post_values)
        else:  # an image, a location...: its kind, in the reader's language
            self.env["collections.note"]._post(
                conversation, "whatsapp_no_text", post_values=post_values, type=event.type
            )
        shown = text or f"({event.type})"
        provider = conversation._provider()
        if conversation.partner_id and provider:
            self.env["collections.message"].sudo()._record_inbound_reply(
                provider, conversation.phone, text or event.payload or shown, event.wamid
            )
        conversation._answer(event)
        return conversation

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

    # === SENDING FROM THE INBOX === #

    def _send_text(self, text, reply_to=None):
        """Free text to the customer, only inside the 24-hour window."""
        self.ensure_one()
        self._check_can_send()
        result = self.account_id._client().send_payload(graph_client.text_payload(self.wa_id, text, reply_to=reply_to))
        self._check_sent(result)
        self.message_post(body=Markup("<p>%s</p>") % text, message_type="comment", subtype_xmlid="mail.mt_note")
        return result.provider_ref

    def _send_document(self, content, filename, caption=None):
        """A file (an invoice or statement PDF) to the customer: uploaded to
        Meta, then sent, only inside the 24-hour window; kept on the chatter."""
        self.ensure_one()
        self._check_can_send()
        client = self.account_id._client()
        try:
            media_id = client.upload_media(content, filename)
        except (graph_client.GraphApiError, OSError) as error:
            raise UserError(
                _("WhatsApp did not take the file %(file)s: %(error)s", file=filename, error=error)
            ) from error
        result = client.send_payload(
            graph_client.document_payload(self.wa_id, media_id=media_id, filename=filename, caption=caption)
        )
        self._check_sent(result)
        self.env["collections.note"]._post(
            self,
            "whatsapp_sent_file",
            post_values={"attachments": [(filename, content)], "message_type": "comment"},
            file=filename,
        )
        return result.provider_ref

    def _check_sent(self, result):
        if result.status != graph_client.SENT:
            if result.kind in graph_client.STOPPING_KINDS:
                self.account_id._stop(result.code, result.message)
            if result.kind == graph_client.WINDOW_CLOSED:
                self.sudo().last_inbound_at = False
            raise UserError(
                _(
                    "WhatsApp did not accept the message (%(code)s): %(message)s",
                    code=result.code,
                    message=result.message,
                )
            )

    def _check_can_send(self):
        if not self.window_open:
            raise UserError(
                _(
                    "The customer has not written in the last 24 hours: WhatsApp only allows an approved "
                    "template now. Send a reminder template, or wait for the customer to write."
                )
            )
        if self.undeliverable:
            raise UserError(
                _("This number cannot receive WhatsApp messages: %(reason)s", reason=self.undeliverable_reason)
            )

    def action_send_reply(self):
        for conversation in self:
            if not (conversation.reply_text or "").strip():
                raise UserError(_("Write a reply first."))
            conversation._send_text(conversation.reply_text)
            conversation.reply_text = False
        return True

    def action_send_invoice(self):
        """The chosen invoice's PDF (else the oldest open one) as a WhatsApp
        document, from the reply box: only inside the 24-hour window (checked
        before anything is rendered or uploaded)."""
        for conversation in self:
            conversation._check_can_send()
            partner = conversation.partner_id.commercial_partner_id
            if not partner:
                raise UserError(_("Link this conversation to a customer first."))
            invoice = conversation.reply_invoice_id or conversation._open_invoices()[:1]
            if not invoice:
                raise UserError(_("%(customer)s has no open invoice to send.", customer=partner.display_name))
            if (
                invoice.commercial_partner_id != partner
                or invoice.move_type != "out_invoice"
                or invoice.state != "posted"
            ):
                raise UserError(
                    _(
                        "%(invoice)s is not a posted invoice of %(customer)s.",
                        invoice=invoice.display_name,
                        customer=partner.display_name,
                    )
                )
            content, _kind = (
                self.env["ir.actions.report"].sudo()._render_qweb_pdf("account.account_invoices", invoice.ids)
            )
            filename = f"{(invoice.name or 'invoice').replace('/', '_')}.pdf"
            conversation._send_document(content, filename, caption=invoice.name)
            conversation._note_on_customer(filename)
            conversation.reply_invoice_id = False
        return True

    def action_send_statement(self):
        """The customer's statement of account (the portal's PDF, in the
        customer's language) as a WhatsApp document, from the reply box: only
        inside the 24-hour window (checked before anything is rendered)."""
        for conversation in self:
            conversation._check_can_send()
            if not conversation.can_send_statement:
                raise UserError(
                    _("The statement of account needs a customer on the conversation and the customer portal app.")
                )
            partner = conversation.partner_id.commercial_partner_id.sudo()
            lang = partner.lang or "en_US"
            content = partner._collections_statement_pdf(lang=lang)
            filename = (
                conversation.with_context(lang=lang)
                .env._(
                    "Statement %(customer)s %(date)s.pdf",
                    customer=partner.name,
                    date=fields.Date.to_string(fields.Date.context_today(conversation)),
                )
                .replace("/", "-")
            )
            conversation._send_document(content, filename)
            conversation._note_on_customer(filename)
        return True

    def _note_on_customer(self, filename):
        """The customer's chatter, the contact timeline, says what went on WhatsApp."""
        self.env["collections.note"]._post(
            self.partner_id.commercial_partner_id.sudo(),
            "whatsapp_sent_file",
            post_values={"author_id": self.env.user.partner_id.id, "message_type": "comment"},
            file=filename,
        )

    def action_mark_read(self):
        self.write({"unread_count": 0})
        return True
