import json

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.collections_omni.models.collections_message_audit import engine_messages

from ..tools import graph_client, phone, webhook

WHATSAPP = "whatsapp_cloud"


# One file per provider type, as Odoo's payment providers: the channel seam's methods, each behind a guard clause.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """WhatsApp through Meta's Cloud API: approved templates for reminders,
    free text only inside the customer-service window. Runs inside Odoo or on
    the Celery workers (the client is plain Python)."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[(WHATSAPP, "WhatsApp Cloud API")], ondelete={WHATSAPP: "cascade"})
    whatsapp_account_id = fields.Many2one(
        "collections.whatsapp.account", string="WhatsApp Account", check_company=True, ondelete="restrict"
    )

    @api.constrains("provider_type", "channel", "whatsapp_account_id")
    def _check_whatsapp(self):
        for provider in self.filtered(lambda p: p.provider_type == WHATSAPP):
            if provider.channel != "whatsapp":
                raise ValidationError(
                    _("%(provider)s sends WhatsApp: set its channel to WhatsApp.", provider=provider.name)
                )
            if not provider.whatsapp_account_id:
                raise ValidationError(_("%(provider)s needs a WhatsApp account.", provider=provider.name))

    @api.depends("provider_type")
    def _compute_supports_scaled(self):
        result = super()._compute_supports_scaled()
        for provider in self.filtered(lambda p: p.provider_type == WHATSAPP):
            provider.supports_scaled = True
        return result

    def _get_client_settings(self):
        """On the workers, the client keeps its send ledger in their Redis: a
        message whose answer was lost with a killed worker is not sent twice."""
        if self.provider_type != WHATSAPP:
            return super()._get_client_settings()
        settings = self.whatsapp_account_id._client_settings()
        if self.dispatch_mode == "celery":
            settings["ledger_url"] = self._broker_url()
        return settings

    def _get_client(self):
        if self.provider_type != WHATSAPP:
            return super()._get_client()
        return self.whatsapp_account_id._client()

    @engine_messages
    def _prepare_messages(self, messages):
        """Number in E.164 (the contact's country, else the company's), then the
        content: the stage action's approved Utility template in the
        customer's language; without one, the engine's text, but only while
        the customer's 24-hour window is open. What cannot go ends blocked,
        with the reason. Set-based: what the templates show is read for the
        whole batch in one query (``_message_rows``), numbers, templates,
        links and dates are worked out once per batch."""
        if self.provider_type != WHATSAPP:
            return super()._prepare_messages(messages)
        account = self.whatsapp_account_id
        Template = self.env["collections.whatsapp.template"]
        rows = Template._message_rows(messages)
        numbers, templates = {}, {}
        plan = []  # (message, e164, reason, template, lang)
        for message in messages:
            row = rows[message.id]
            if (row.mobile or row.phone, row.country) not in numbers:
                numbers[row.mobile or row.phone, row.country] = phone.to_e164(row.mobile or row.phone, row.country)
            e164, reason = numbers[row.mobile or row.phone, row.country]
            lang = row.lang
            if (message.action_id.id, lang) not in templates:
                templates[message.action_id.id, lang] = (
                    message.action_id._whatsapp_template_for(lang) if message.action_id else Template
                )
            plan.append((message, e164, reason, templates[message.action_id.id, lang], lang))
        # The engine's text: for what does not go as a template (free text in the window, or blocked).
        messages.browse([m.id for m, e164, _r, template, _l in plan if not (e164 and template)])._render_text()
        wa_ids = list({phone.wa_id(e164) for _m, e164, _r, _t, _l in plan if e164})
        conversations = (
            {
                c.wa_id: c
                for c in self.env["collections.whatsapp.conversation"]
                .sudo()
                .search([("account_id", "=", account.id), ("wa_id", "in", wa_ids)])
            }
            if wa_ids
            else {}
        )
        memo = {"partners": self.env["res.partner"].browse({row.customer_id for row in rows.values()})}
        ready = []
        for message, e164, reason, template, lang in plan:
            if not e164:
                message.write({"state": "blocked", **self._phone_reason(message, reason)})
                continue
            conversation = conversations.get(phone.wa_id(e164))
            if conversation and conversation.undeliverable:
                message.write(
                    {
                        "state": "blocked",
                        **message._blocked_vals(
                            "whatsapp_unreachable", number=e164, reason=conversation.undeliverable_reason or "131026"
                        ),
                    }
                )
                continue
            if template:
                payload, body_text = template._content_for_row(
                    rows[message.id], message.amount_due, message.currency_id, lang, memo
                )
            elif conversation and conversation.window_open:
                payload = graph_client.text_payload(None, message.body_text)
                body_text = message.body_text
            else:
                message.write({"state": "blocked", **message._blocked_vals("whatsapp_no_template", lang=lang)})
                continue
            payload.pop("to", None)
            message.write(
                {
                    "recipient_phone": e164,
                    "whatsapp_payload": json.dumps(payload, ensure_ascii=False),
                    "body_text": body_text,
                }
            )
            ready.append(message.id)
        return messages.browse(ready)

    @staticmethod
    def _whatsapp_lang(message):
        contact = message.recipient_id or message.partner_id
        return contact.lang or message.partner_id.lang or "en_US"

    @staticmethod
    def _whatsapp_template_content(message, template, lang):
        """(payload without ``to``, the text the customer reads) of ``template`` for a message."""
        partner = message.partner_id.commercial_partner_id
        moves = message.move_ids.filtered(lambda m: m.move_type == "out_invoice")
        values = template._values(partner, moves, message.amount_due, message.currency_id, lang)
        payload = template._payload_from_values(None, values, message.amount_due, message.currency_id)
        payload.pop("to", None)
        return payload, graph_client.render(template.body_text, [values[n] for n in template._numbers()])

    def _whatsapp_template_fallback(self, messages):
        """Meta refused free text with 131047: the customer's window had closed
        after the message was prepared. Never a blind retry: the message goes
        once more as an approved Utility template in the customer's language
        (the stage action's, else the account's), under a new idempotency key
        (the free text's send is over); without one it stays failed. The
        conversation's window is closed either way. Returns the messages now
        carrying a template."""
        self.ensure_one()
        account = self.whatsapp_account_id
        Conversation = self.env["collections.whatsapp.conversation"].sudo()
        usable = (
            self.env["collections.whatsapp.template"]
            .sudo()
            .search([("account_id", "=", account.id), ("usable_for_reminders", "=", True)])
        )
        switched = messages.browse()
        for message in messages.filtered("recipient_phone"):
            conversation = Conversation._for_number(account, phone.wa_id(message.recipient_phone))
            conversation.last_inbound_at = False
            payload = json.loads(message.whatsapp_payload or "null") or {}
            if payload.get("type") == "template":
                continue  # a template is never refused for the window: this is something else
            lang = self._whatsapp_lang(message)
            template = (
                message.action_id and message.action_id._whatsapp_template_for(lang)
            ) or usable._best_for_language(usable, lang)
            if not template:
                continue
            payload, body_text = self._whatsapp_template_content(message, template, lang)
            message.write(
                {
                    "whatsapp_payload": json.dumps(payload, ensure_ascii=False),
                    "body_text": body_text,
                    "idempotency_key": f"{message.idempotency_key}:template",
                }
            )
            self.env["collections.note"]._post(
                conversation,
                "whatsapp_template_instead",
                post_values={"message_type": "comment"},
                template=template.name,
            )
            switched |= message
        return switched

    def _phone_reason(self, message, reason):
        """The blocked reason's values for a number ``tools.phone`` refused."""
        contact = message.recipient_id or message.partner_id
        if reason == phone.INVALID:
            return message._blocked_vals("invalid_phone", number=contact.mobile or contact.phone or "")
        return message._blocked_vals(
            {
                phone.EMPTY: "no_phone",
                phone.UNPARSABLE: "whatsapp_unparsable",
                phone.NOT_MOBILE: "whatsapp_not_mobile",
            }[reason]
        )

    def _get_message_payloads(self, messages):
        if self.provider_type != WHATSAPP:
            return super()._get_message_payloads(messages)
        return [
            {
                "id": m.id,
                "key": m.idempotency_key,
                "to": phone.wa_id(m.recipient_phone),
                "body": json.loads(m.whatsapp_payload or "null") or m.body_text,
                "attempt": m.attempt_count,
            }
            for m in messages
        ]

    @engine_messages
    def _send_messages(self, messages):
        """Through the engine's client loop; then what Meta's errors mean: an
        expired token or a blocked account stops the account (its messages
        wait, none is failed), 131026 marks the number, 131047 closes the
        window (the next reminder takes a template, never a blind retry)."""
        if self.provider_type != WHATSAPP:
            return super()._send_messages(messages)
        account = self.whatsapp_account_id
        if account.stopped:
            # Meta's code and words that stopped the account, shown as the provider's (error_reason).
            messages.write(
                {
                    "state": "queued",
                    "lease_until": fields.Datetime.add(fields.Datetime.now(), hours=1),
                    "error_code": account.stopped_code or False,
                    "error": account.stopped_message or False,
                }
            )
            return None
        result = super()._send_messages(messages)
        self._after_whatsapp_results(messages)
        return result

    def _after_whatsapp_results(self, messages):
        account = self.whatsapp_account_id
        Conversation = self.env["collections.whatsapp.conversation"].sudo()
        for message in messages.filtered("error_code"):
            kind = graph_client.error_kind(message.error_code)
            if kind in graph_client.STOPPING_KINDS:
                account._stop(message.error_code, message.error)
            elif kind == graph_client.UNDELIVERABLE and message.state == "failed":
                Conversation._for_number(account, phone.wa_id(message.recipient_phone)).write(
                    {"undeliverable": True, "undeliverable_reason": message.error or message.error_code}
                )
            elif kind == graph_client.WINDOW_CLOSED:
                Conversation._for_number(account, phone.wa_id(message.recipient_phone)).last_inbound_at = False

    # The engine's generic webhook routes also understand Meta's (statuses and replies);
    # /collections/whatsapp/webhook/<account> adds the GET handshake, idempotent events and the inbox.

    def _verify_webhook(self, request_data):
        if self.provider_type != WHATSAPP:
            return super()._verify_webhook(request_data)
        return webhook.verify_signature(
            self.whatsapp_account_id.sudo().app_secret,
            request_data.get("body") or b"",
            request_data["headers"].get(webhook.SIGNATURE_HEADER),
        )

    def _whatsapp_events(self, request_data):
        try:
            return webhook.parse(webhook.loads(request_data.get("body") or b""))
        except webhook.PayloadError:
            return []

    def _parse_status_webhook(self, request_data):
        if self.provider_type != WHATSAPP:
            return super()._parse_status_webhook(request_data)
        return [
            {
                "provider_ref": e.wamid,
                "status": e.status,
                "code": e.error_code,
                "error": e.error_message,
                "key": e.callback_data,
            }
            for e in self._whatsapp_events(request_data)
            if isinstance(e, webhook.StatusEvent) and e.status != "sent"
        ]

    def _parse_inbound_webhook(self, request_data):
        if self.provider_type != WHATSAPP:
            return super()._parse_inbound_webhook(request_data)
        return [
            {"number": phone.from_wa_id(e.from_wa_id), "text": e.text or e.payload or "", "provider_ref": e.wamid}
            for e in self._whatsapp_events(request_data)
            if isinstance(e, webhook.InboundEvent)
        ]
