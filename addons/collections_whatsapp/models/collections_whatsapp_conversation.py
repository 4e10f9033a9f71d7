import datetime as dt

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ..tools import graph_client, phone, webhook

WINDOW = dt.timedelta(hours=24)


class CollectionsWhatsappConversation(models.Model):
    """The chat between one business number and one customer's number: the
    collector inbox. Inbound messages land here (and on the customer's
    chatter); numbers nobody is known by are kept here for triage, never
    dropped. It knows the 24-hour customer-service window."""

    _name = "collections.whatsapp.conversation"
    _description = "WhatsApp Conversation"
    _inherit = ["mail.thread", "mail.activity.mixin", "collections.whatsapp.self.service"]
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
