import logging
from collections import defaultdict, namedtuple

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL

from ..tools import sql_rules
from ..tools.rules import CHANNELS, MESSAGE_STATES
from .collections_message_audit import engine_transition

_logger = logging.getLogger(__name__)
# A document of a message as _still_due sees it (hold: the reason it is held out of dunning, or None).
HeldDocument = namedtuple("HeldDocument", "move_id is_invoice is_open hold residual")


class CollectionsMessage(models.Model):
    """Every outbound and inbound contact with a customer.

    The outbox that the dispatcher works from and the append-only audit trail
    of collections: the engine never deletes a message, it ends it (sent,
    failed, blocked with a reason, or cancelled). This file holds the record
    and the hand-out (still due, send now, cancel, the scheduled dispatch and
    its sweeper); each other job is an abstract model of its own file
    (``collections_message_<job>.py``): contact decisions, opt-out, rendering,
    results, inbound replies, fees, the audit trail and blocked reasons.
    """

    _name = "collections.message"
    _inherit = [
        "collections.message.audit",
        "collections.message.reason",
        "collections.message.contact",
        "collections.message.optout",
        "collections.message.rendering",
        "collections.message.results",
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

    @api.model
    def _cron_dispatch(self):
        self.with_context(collections_dispatch_commit=True)._dispatch_planned()

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
