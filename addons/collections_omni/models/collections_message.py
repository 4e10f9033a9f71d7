import datetime as dt
import logging
from collections import defaultdict, namedtuple

from markupsafe import Markup

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.osv import expression
from odoo.tools import SQL, format_amount, format_date, formatLang
from odoo.tools.mail import generate_tracking_message_id
from odoo.tools.misc import hmac

from ..tools import contact_rules, letter_pdf, sql_rules
from ..tools.rules import (
    CHANNELS,
    CLOSED_STATES,
    GROUP_MANAGER,
    IN_FLIGHT_STATES,
    MESSAGE_STATES,
    STATUS_RANK,
)
from .collections_message_audit import engine_transition

_logger = logging.getLogger(__name__)
# How far back contact history matters to any rule.
CONTACT_HISTORY_DAYS = 60
# A document of a message as _still_due sees it (hold: the reason it is held out of dunning, or None).
HeldDocument = namedtuple("HeldDocument", "move_id is_invoice is_open hold residual")
# Who may hand messages out to providers and report their results.
DISPATCHERS_GROUP = GROUP_MANAGER


class CollectionsMessage(models.Model):
    """Every outbound and inbound contact with a customer.

    The outbox that the dispatcher works from and the append-only audit trail
    of collections: the engine never deletes a message, it ends it (sent,
    failed, blocked with a reason, or cancelled).
    """

    _name = "collections.message"
    _inherit = [
        "collections.message.audit",
        "collections.message.reason",
        "collections.message.inbound",
        "collections.message.fee",
    ]
    _description = "Collections Message"
    _order = "id desc"
    _check_company_auto = True
    _rec_name = "subject"

    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, ondelete="restrict")
    recipient_id = fields.Many2one("res.partner", string="Contacted", ondelete="restrict")
    direction = fields.Selection([("outbound", "Outbound"), ("inbound", "Inbound")], required=True, default="outbound")
    channel = fields.Selection(CHANNELS, required=True)
    move_ids = fields.Many2many(
        "account.move",
        "collections_message_account_move_rel",
        "message_id",
        "move_id",
        string="Invoices",
        check_company=True,
    )
    currency_id = fields.Many2one("res.currency", required=True)
    amount_due = fields.Monetary(currency_field="currency_id", help="Net open amount covered, in the message currency.")
    policy_id = fields.Many2one("collections.policy", ondelete="restrict")
    stage_id = fields.Many2one("collections.stage", ondelete="restrict")
    action_id = fields.Many2one("collections.stage.action", ondelete="restrict")
    run_id = fields.Many2one("collections.run", ondelete="restrict", index=True)
    subject = fields.Char()
    body = fields.Html(string="Content", sanitize_style=True)
    state = fields.Selection(MESSAGE_STATES, required=True, default="planned", index=True)
    provider_ref = fields.Char(string="Provider ID", index="btree_not_null", copy=False)
    provider_id = fields.Many2one("collections.provider", readonly=True, index="btree_not_null")
    recipient_phone = fields.Char(string="Recipient Number", readonly=True, help="In E.164, as sent.")
    body_text = fields.Text(string="Text", readonly=True, help="What an SMS or WhatsApp message says.")
    lease_until = fields.Datetime(
        readonly=True,
        index="btree_not_null",
        help="A message queued or sending past this moment is handed out again, with the same idempotency key.",
    )
    attempt_count = fields.Integer(string="Attempts", readonly=True)
    early_status = fields.Char(
        readonly=True, copy=False, help="A delivery report that came before the send's own result: applied with it."
    )
    early_status_code = fields.Char(readonly=True, copy=False)
    error_code = fields.Char(
        readonly=True, help="The provider's error code, or the engine's (not_delivered, email_failed, timeout, ...)."
    )
    # The provider's (or mail server's) own words, as they came; what the engine says is error_code's label.
    error = fields.Text(string="Provider's Message", readonly=True)
    error_reason = fields.Char(string="Error", compute="_compute_error_reason")
    idempotency_key = fields.Char(required=True, copy=False, readonly=True)
    planned_date = fields.Date(required=True, default=fields.Date.context_today)
    scheduled_at = fields.Datetime(help="Not sent before this moment (time of day, contact windows).")
    sent_at = fields.Datetime(readonly=True)
    delivered_at = fields.Datetime(readonly=True)
    read_at = fields.Datetime(readonly=True)
    mail_id = fields.Many2one("mail.mail", string="Email", readonly=True, ondelete="set null")
    activity_id = fields.Many2one("mail.activity", string="Call Task", readonly=True, ondelete="set null")
    attachment_id = fields.Many2one("ir.attachment", string="Letter", readonly=True, ondelete="set null")
    fee_move_id = fields.Many2one("account.move", string="Fee Invoice", readonly=True, ondelete="set null")
    attempted_at = fields.Datetime(
        string="Contacted At", readonly=True, help="When the contact rules let it go out: it counts from then on."
    )
    conversation = fields.Boolean(help="A call that reached the person.")
    rule_exception = fields.Char(readonly=True, help="Why a manual contact went ahead against the contact rules.")

    _sql_constraints = [
        ("idempotency_key_uniq", "unique(idempotency_key)", "A message with this idempotency key already exists."),
    ]

    @api.depends("subject", "direction")
    @api.depends_context("lang")
    def _compute_display_name(self):
        inbound = self.filtered(lambda m: m.direction == "inbound")
        for message in inbound:
            message.display_name = _("Reply from %(number)s", number=message.subject or "")
        return super(CollectionsMessage, self - inbound)._compute_display_name()

    @api.depends("error_code", "error")
    @api.depends_context("lang", "uid")
    def _compute_error_reason(self):
        renderer = self.with_context(lang=self._reader_lang())
        for message in self:
            message.error_reason = renderer._render_error(message.error_code, message.error)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("Collections messages are an audit trail: cancel them instead of deleting them."))

    def action_send_now(self):
        """Send the selected planned messages now, through the same checks as
        the scheduled dispatch (still due, contact rules, fees)."""
        self._check_collector()
        return self._send_now()

    @engine_transition
    def _send_now(self):
        planned = self.filtered(lambda m: m.state == "planned" and m.direction == "outbound")
        due = planned._still_due()._apply_contact_rules()
        due._post_stage_fees()
        providers = self.env["collections.provider"]._for_messages(due)
        for (company, channel), messages in due.grouped(lambda m: (m.company_id, m.channel)).items():
            provider = providers.get((company.id, channel))
            if provider:
                provider._send(messages)
            else:
                messages.write(
                    {"state": "blocked", **self._blocked_vals("no_provider", channel=channel, company_id=company.id)}
                )
        return True

    def action_cancel(self):
        self._check_collector()
        return self._cancel()

    @engine_transition
    def _cancel(self):
        # A message handed to a provider (a lease) is in flight: only its result ends it.
        pending = self.filtered(lambda m: m.state == "planned" or (m.state == "queued" and not m.lease_until))
        pending.write({"state": "cancelled", **self._blocked_vals("cancelled_by", user_id=self.env.uid)})
        return True

    # === DISPATCH === #

    @engine_transition
    def _still_due(self):
        """Messages still to send right before sending: those to customers no
        skip rule stops (sql_rules.partner_skip_reason: excluded, do not
        contact, vulnerable, dispute hold), with open invoices that no payment
        plan, promise or dispute holds. The others end cancelled with the
        reason (the skip rule, paid since planning, or the hold); a planned
        message that still chases other invoices drops the held ones and its
        amount follows."""
        self.env.flush_all()  # payments registered in this transaction must count
        # The messages' documents as a constant: the planner looks up only these in every kind of hold.
        self.env.cr.execute(
            "SELECT array_agg(DISTINCT move_id) FROM collections_message_account_move_rel WHERE message_id = ANY(%s)",
            [self.ids],
        )
        move_ids = self.env.cr.fetchone()[0] or []
        self.env.cr.execute(
            SQL(
                """
            WITH held AS (
                SELECT DISTINCT ON (h.move_id) h.move_id, h.reason
                  FROM (%(held)s) h
                 WHERE h.move_id = ANY(%(move_ids)s)
              ORDER BY h.move_id, h.reason
            )
            SELECT rel.message_id, rel.move_id, m.move_type, %(open)s AS is_open, held.reason, %(residual)s
              FROM collections_message_account_move_rel rel
              JOIN account_move m ON m.id = rel.move_id
              LEFT JOIN held ON held.move_id = m.id
             WHERE rel.message_id = ANY(%(ids)s)
            """,
                held=sql_rules.held_invoices(fields.Date.context_today(self)),
                open=sql_rules.open_receivable("m"),
                residual=sql_rules.signed_residual("m"),
                ids=self.ids,
                move_ids=move_ids,
            )
        )
        documents = defaultdict(list)
        for message_id, move_id, move_type, is_open, hold, residual in self.env.cr.fetchall():
            documents[message_id].append(HeldDocument(move_id, move_type == "out_invoice", is_open, hold, residual))
        # The customers no automated contact may reach any more (the planner's skip rule, re-checked now).
        self.env.cr.execute(
            SQL(
                """
            SELECT msg.id, %(skip)s FROM collections_message msg
              JOIN res_partner contact ON contact.id = msg.partner_id
              JOIN res_partner p ON p.id = contact.commercial_partner_id
             WHERE msg.id = ANY(%(ids)s) AND %(skip)s IS NOT NULL
            """,
                skip=sql_rules.partner_skip_reason("p"),
                ids=self.ids,
            )
        )
        skipped = dict(self.env.cr.fetchall())
        ended = defaultdict(lambda: self.browse())  # reason code -> messages
        for message in self:
            docs = documents[message.id]
            chased = [doc for doc in docs if doc.is_invoice and doc.is_open]
            if message.id in skipped:
                ended[skipped[message.id]] |= message
            elif not chased:
                ended["paid"] |= message
            elif all(doc.hold for doc in chased):
                ended[chased[0].hold] |= message
            elif message.state == "planned" and any(doc.hold for doc in docs):
                kept = [doc for doc in docs if not doc.hold]
                amount = message.currency_id.round(sum(doc.residual for doc in kept if doc.is_open))
                if message.currency_id.compare_amounts(amount, 0) <= 0:
                    ended["netted"] |= message
                else:
                    message.write({"move_ids": [Command.set([doc.move_id for doc in kept])], "amount_due": amount})
        stopped = self.browse()
        for reason, messages in ended.items():
            messages.mail_id.filtered(lambda mail: mail.state == "outgoing").cancel()
            messages.write({"state": "cancelled", **self._blocked_vals(reason)})
            stopped |= messages
        return self - stopped

    @api.model
    @engine_transition
    def _recheck_pending(self, moves=None, partners=None):
        """Re-check at once the pending messages about these invoices or
        customers (a payment plan, promise or dispute has just started)."""
        domains = [[("move_ids", "in", moves.ids)]] if moves else []
        domains += [[("partner_id", "in", partners.ids)]] if partners else []
        if not domains:
            return
        pending = self.sudo().search(expression.AND([expression.OR(domains), [("state", "in", ("planned", "queued"))]]))
        if pending:
            pending._still_due()

    @api.model
    @engine_transition
    def _dispatch_planned(self, company=None, limit=500):
        """Send due planned messages in batches, each channel through its
        provider (``collections.provider._send``). Returns the number of messages handled."""
        domain = [
            ("state", "=", "planned"),
            ("direction", "=", "outbound"),
            "|",
            ("scheduled_at", "=", False),
            ("scheduled_at", "<=", fields.Datetime.now()),
        ]
        if company:
            domain.append(("company_id", "=", company.id))
        handled = 0
        while True:
            batch = self.search(domain, limit=limit, order="id")
            if not batch:
                return handled
            handled += len(batch)
            batch._send_now()
            if self.env.context.get("collections_dispatch_commit"):
                # The scheduled action keeps each batch: a crash loses nothing sent.
                self.env.cr.commit()  # pylint: disable=invalid-commit

    @engine_transition
    def _apply_contact_rules(self):
        """Right before sending, with each customer's row locked (so parallel
        dispatchers never exceed a window): the messages the contact rules
        allow now. The others wait, planned, until their next allowed moment,
        or end blocked with the rule when there is none within the horizon."""
        if not self:
            return self
        cr = self.env.cr
        partners = self.partner_id
        # Odoo runs in REPEATABLE READ: a lock alone would let a dispatcher whose snapshot
        # predates another's commit decide on stale history. Bumping a version on each
        # customer's row makes such a dispatcher fail with a serialization error (and be
        # retried on fresh data); locking in id order keeps dispatchers from deadlocking.
        cr.execute("SELECT id FROM res_partner WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [partners.ids])
        cr.execute(
            """UPDATE res_partner SET collections_contact_version = COALESCE(collections_contact_version, 0) + 1
                WHERE id = ANY(%s)""",
            [partners.ids],
        )
        self.flush_model()
        now = fields.Datetime.now()
        history = self._contact_history(partners, now)
        RuleSet = self.env["collections.contact.rule.set"]
        rule_sets = RuleSet._for_messages(self)
        Consent = self.env["collections.consent"]
        # Consent is the contacting company's: each message reads its own company's ledger.
        consent = {company.id: Consent._status_by_partner(partners, company) for company in self.company_id}
        preferences = {company.id: Consent._preferences_by_partner(partners, company) for company in self.company_id}
        aware_now = now.replace(tzinfo=dt.timezone.utc)
        allowed = self.browse()
        refusals = []

        def refuse(message, reason, rule_set, retry_at=None):
            refusals.append(
                {
                    "message_id": message.id,
                    "partner_id": message.partner_id.id,
                    "company_id": message.company_id.id,
                    "channel": message.channel,
                    "rule_set_id": rule_set.id,
                    "reason": reason,
                    "refused_at": now,
                    "retry_at": retry_at,
                }
            )

        for message in self.sorted("id"):
            partner = message.partner_id
            rule_set = rule_sets[message]
            status = consent[message.company_id.id].get((partner.id, message.channel))
            if status == "opt_out":
                message.write({"state": "blocked", **self._blocked_vals("opt_out")})
                refuse(message, "opt_out", rule_set)
                continue
            if rule_set and rule_set._needs_consent(message.channel) and status != "opt_in":
                message.write({"state": "blocked", **self._blocked_vals("no_consent", rule_set_id=rule_set.id)})
                refuse(message, "no_consent", rule_set)
                continue
            preferred_hours = preferences[message.company_id.id].get(partner.id, (None, None))[1]
            if rule_set or preferred_hours:
                decision, later, _reason = self._decide_contact(
                    rule_set, partner, history[partner.id], aware_now, message.channel, preferred_hours
                )
                if not decision.allowed:
                    reason = self._blocked_vals("contact_rules", rule_set_id=rule_set.id, refusal=decision.reason)
                    if later:
                        message.write({"scheduled_at": later, **reason})
                    else:
                        message.write({"state": "blocked", **reason})
                    refuse(message, decision.reason, rule_set, later)
                    continue
            history[partner.id].append(
                contact_rules.Contact(aware_now, message.channel, effective=message.channel != "call")
            )
            allowed |= message
        allowed.write({"attempted_at": now, **self._blocked_vals(False)})
        self.env["collections.contact.refusal"].sudo().create(refusals)
        return allowed

    @api.model
    def _contact_history(self, partners, now):
        """Contacts that count for the rules, per customer: {partner id: [Contact]}."""
        self.env.cr.execute(
            """
            SELECT partner_id, attempted_at, channel, conversation FROM collections_message
             WHERE partner_id = ANY(%s) AND attempted_at > %s
               AND state != ALL(%s)
            """,
            [partners.ids, now - dt.timedelta(days=CONTACT_HISTORY_DAYS), list(CLOSED_STATES)],
        )
        history = defaultdict(list)
        for partner_id, attempted_at, channel, conversation in self.env.cr.fetchall():
            history[partner_id].append(
                contact_rules.Contact(
                    attempted_at.replace(tzinfo=dt.timezone.utc),
                    channel,
                    effective=channel != "call" or bool(conversation),
                    conversation=bool(conversation),
                )
            )
        return history

    @api.model
    def _decide_contact(self, rule_set, partner, history, now, channel, preferred_hours=None):
        """The rules' word on contacting ``partner`` on ``channel`` at ``now`` (aware, UTC).
        The customer's preferred hours, if any, postpone a contact the rules allow to the
        next moment both allow; they never make a contact impossible.

        :return: (Decision, next allowed moment as naive UTC or False, reason text)
        """
        RuleSet = self.env["collections.contact.rule.set"]
        rules = rule_set._to_rules() if rule_set else contact_rules.RuleSet()
        tz = RuleSet._partner_timezone(partner)
        holidays = RuleSet._holidays_around(partner, now, tz) if rules.no_holidays else frozenset()
        decision = contact_rules.check(rules, history, now, channel, tz, holidays)
        preferred = (
            contact_rules.next_preferred(rules, history, now, channel, preferred_hours, tz, holidays)
            if preferred_hours
            else None
        )
        if decision.allowed and preferred in (None, now):
            return decision, False, _("%(rules)s: allowed now", rules=rule_set.name or _("No rules"))
        if decision.allowed:
            decision = contact_rules.Decision(False, "preferred_hours", preferred, "preferred_hours")
            later = preferred
        else:
            later = preferred or contact_rules.next_allowed(rules, history, now, channel, tz, holidays)
        reason = self._render_blocked_reason("contact_rules", {"rule_set_id": rule_set.id, "refusal": decision.reason})
        return decision, (later.astimezone(dt.timezone.utc).replace(tzinfo=None) if later else False), reason

    @api.model
    def _next_contact_for(self, partner, channel):
        """(naive UTC datetime or False, reason) for the partner form."""
        rule_set = self.env["collections.contact.rule.set"]._for_partners(partner)[partner]
        now = fields.Datetime.now()
        if not rule_set:
            return now, False
        history = self._contact_history(partner, now)[partner.id]
        decision, later, reason = self._decide_contact(
            rule_set, partner, history, now.replace(tzinfo=dt.timezone.utc), channel
        )
        return (now if decision.allowed else later), reason

    # === OPT-OUT === #

    def _unsubscribe_token(self):
        self.ensure_one()
        return hmac(self.env(su=True), "collections-unsubscribe", self.id)

    def _unsubscribe_url(self):
        """The link in every collections email that opts the customer out of emails."""
        self.ensure_one()
        base_url = self.company_id.get_base_url()
        return f"{base_url}/collections/unsubscribe/{self.id}/{self._unsubscribe_token()}"

    def _email_opt_out_footer(self, rule_set, recipient):
        """Every collections email carries a way out, whatever its template: the
        unsubscribe link, which works by email (a rule set's opt-out text, such
        as "reply STOP", is for the text channels that understand it)."""
        self.ensure_one()
        self = self.with_context(lang=recipient.lang)
        link_text = _("Stop receiving payment reminders by email")
        return Markup("<p style='font-size: 12px; color: #666;'><a href='%s' style='color: #666;'>%s</a></p>") % (
            self._unsubscribe_url(),
            link_text,
        )

    @engine_transition
    def _unsubscribe(self):
        """Record the customer's opt-out from the channel this message came on (once)."""
        self.ensure_one()
        Consent = self.env["collections.consent"].sudo()
        partner = self.partner_id.commercial_partner_id
        if Consent._status_by_partner(partner, self.company_id).get((partner.id, self.channel)) != "opt_out":
            recipient = self.recipient_id or self.partner_id
            Consent._record(
                partner,
                self.channel,
                "opt_out",
                "unsubscribe",
                address=recipient.email if self.channel == "email" else False,
                note=_("Unsubscribe link of %(subject)s", subject=self.subject or self.idempotency_key),
                company=self.company_id,
            )

    @api.model
    def _cron_dispatch(self):
        self.with_context(collections_dispatch_commit=True)._dispatch_planned()

    # === PROVIDERS (each provider type sends from its own file: collections_provider_*.py) === #

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

    @api.model
    @engine_transition
    def report_dispatch_results(self, results):
        """Public RPC of the Celery workers: the outcome of messages they sent.

        ``results``: [{"key": idempotency key, "status": "sent"|"failed",
        "provider_ref", "code", "message"}]. Idempotent: a result reported
        again, or for a message already further on, changes nothing.
        Returns the number of messages updated."""
        if not self.env.user.has_group(DISPATCHERS_GROUP):
            raise AccessError(_("Only collections managers may report dispatch results."))
        if not isinstance(results, list) or not all(
            isinstance(r, dict) and r.get("key") and r.get("status") in ("sent", "failed") for r in results
        ):
            raise UserError(_("Each result needs an idempotency key and a status 'sent' or 'failed'."))
        # Only the caller's companies, as its record rules would allow.
        return len(self.sudo()._apply_dispatch_results(results, company_ids=self.env.user.company_ids.ids))

    @api.model
    @engine_transition
    def _apply_dispatch_results(self, results, company_ids=None):
        """Set-based: queued or sending messages become sent or failed; anything
        else (already sent, delivered, unknown key) is left alone."""
        if not results:
            return self.browse()
        self.env.flush_all()
        columns = [
            [r.get(name) or None for r in results] for name in ("key", "status", "provider_ref", "code", "message")
        ]
        self.env.cr.execute(
            """
            UPDATE collections_message m
               SET state = v.status,
                   provider_ref = COALESCE(v.ref, m.provider_ref),
                   error_code = v.code,
                   error = CASE WHEN v.status = 'failed' THEN v.msg END,
                   sent_at = CASE WHEN v.status = 'sent' THEN now() AT TIME ZONE 'UTC' ELSE m.sent_at END,
                   lease_until = NULL,
                   write_uid = %s,
                   write_date = now() AT TIME ZONE 'UTC'
              FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::text[])
                   AS v(key, status, ref, code, msg)
             WHERE m.idempotency_key = v.key AND m.state IN ('queued', 'sending')
               AND (%s::int[] IS NULL OR m.company_id = ANY(%s::int[]))
         RETURNING m.id, v.status
            """,
            [self.env.uid, *columns, company_ids, company_ids],
        )
        rows = self.env.cr.fetchall()
        updated = self.browse([row[0] for row in rows])
        updated.invalidate_recordset()
        sent = updated.browse([row[0] for row in rows if row[1] == "sent"])
        sent._log_sent_on_chatter()
        for message in sent.filtered("early_status"):
            message._apply_provider_status(
                message.provider_id, message.provider_ref, message.early_status, code=message.early_status_code
            )
        return updated

    @api.model
    def _cron_sweep_stalled(self):
        self.with_context(collections_dispatch_commit=True)._sweep_stalled()

    @api.model
    @engine_transition
    def _sweep_stalled(self):
        """Hand out again what a crash, a lost task or a temporary error left
        behind: queued or sending messages past their lease, same idempotency key."""
        stalled = self.search(
            [("state", "in", ("queued", "sending")), ("lease_until", "<", fields.Datetime.now())], order="id"
        )
        for provider, messages in stalled.grouped("provider_id").items():
            if not provider:
                continue
            if provider.dispatch_mode == "celery":
                provider._enqueue(messages)
            else:
                provider._send_messages(messages)
        return len(stalled)

    @api.model
    @engine_transition
    def _apply_provider_status(self, provider, provider_ref, status, code=None, error=None, key=None):
        """A delivery-status callback: sent -> delivered (or failed with the
        code); never downgrades, so replays and late callbacks change nothing.
        A report that overtakes the send's own result (found by the message's
        ``key`` in the callback URL) waits on the message until that result."""
        Message = self.sudo()
        message = Message.search([("provider_id", "=", provider.id), ("provider_ref", "=", provider_ref)], limit=1)
        if not message and key:
            message = Message.search([("provider_id", "=", provider.id), ("idempotency_key", "=", key)], limit=1)
        if not message or message.state in CLOSED_STATES:
            return message
        if message.state in IN_FLIGHT_STATES:
            if status != "failed" or not message.early_status:  # a delivery outranks a failure report
                message.write({"early_status": status, "early_status_code": code})
            return message
        rank = STATUS_RANK.get(message.state, 0)
        if status == "failed" and rank <= STATUS_RANK["sent"]:
            message.write({"state": "failed", "error_code": code or "not_delivered", "error": error or False})
        elif status in ("delivered", "read") and STATUS_RANK[status] > rank:
            now = fields.Datetime.now()
            values = {"state": status, "delivered_at": message.delivered_at or now}
            if status == "read":
                values["read_at"] = now
            message.write(values)
        return message

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

    @engine_transition
    def _mark_mail_result(self, failed_mail_ids=()):
        """Called when Odoo's mail queue has processed our emails."""
        for message in self:
            if message.mail_id.id in failed_mail_ids:
                message.write(
                    {"state": "failed", "error_code": "email_failed", "error": message.mail_id.failure_reason or False}
                )
            else:
                message._mark_sent()

    @engine_transition
    def _mark_sent(self):
        """Sent: stamped, and shown on the customer's chatter as the contact timeline."""
        self.write({"state": "sent", "sent_at": fields.Datetime.now()})
        self._log_sent_on_chatter()

    def _log_sent_on_chatter(self):
        """One note per customer on its chatter for these sent messages.

        Thousands at a time (worker reports): the notes are written with one
        INSERT, as ``mail.thread._message_log_batch`` would write them (an
        internal note, no notification) but without the ORM's per-record cost;
        their bodies are built from escaped values, so they need no sanitizing."""
        if not self:
            return
        channels = dict(self._fields["channel"]._description_selection(self.env))
        amounts = self._amount_texts()
        text = _(
            "Collections %(channel)s sent: %(subject)s (%(amount)s due)",
            channel="%(channel)s",
            subject="%(subject)s",
            amount="%(amount)s",
        )
        bodies = defaultdict(list)
        for message in self:
            values = {
                "channel": channels.get(message.channel, message.channel),
                "subject": message.subject or message.stage_id.name or "",
                "amount": amounts[message.id],
            }
            bodies[message.partner_id.id].append(Markup("<p>%s</p>") % (text % values))
        author = self.env.user.partner_id
        partner_ids = list(bodies)
        self.env.flush_all()
        self.env.cr.execute(
            """
            INSERT INTO mail_message (model, res_id, body, message_type, subtype_id, author_id, email_from, date,
                                      is_internal, message_id, create_uid, create_date, write_uid, write_date)
            SELECT 'res.partner', v.res_id, v.body, 'notification', %s, %s, %s, now() AT TIME ZONE 'UTC',
                   TRUE, v.message_id, %s, now() AT TIME ZONE 'UTC', %s, now() AT TIME ZONE 'UTC'
              FROM unnest(%s::int[], %s::text[], %s::varchar[]) AS v(res_id, body, message_id)
            """,
            [
                self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
                author.id,
                author.email_formatted or None,
                self.env.uid,
                self.env.uid,
                partner_ids,
                [str(Markup("").join(bodies[pid])) for pid in partner_ids],
                [generate_tracking_message_id("collections") for _pid in partner_ids],
            ],
        )
        self.env["res.partner"].invalidate_model(["message_ids"])
