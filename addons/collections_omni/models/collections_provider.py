import datetime as dt
import logging
import os
import random
import threading

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from odoo.addons.phone_validation.tools import phone_validation

from ..tools import sms_http_client
from ..tools.rules import CHANNELS, GROUP_MANAGER
from .collections_message_audit import engine_messages

_logger = logging.getLogger(__name__)

# A message handed to a sender (embedded) or to the workers (scaled) that has
# not come back within its lease is handed out again, with the same idempotency key.
EMBEDDED_LEASE = dt.timedelta(minutes=2)
SCALED_LEASE = dt.timedelta(minutes=10)
# Temporary errors in embedded mode: retried after 30 s, 1, 2, 4 ... minutes, then failed.
EMBEDDED_MAX_ATTEMPTS = 6
EMBEDDED_BACKOFF = dt.timedelta(seconds=30)
REDIS_URL_PARAM = "collections_omni.redis_url"
SEND_TASK = "collections.send_messages"

_celery_apps = {}
_celery_lock = threading.Lock()


def celery_client(broker_url):
    """A Celery client (one per broker and process) that only publishes tasks
    by name: Odoo never imports the workers' code."""
    with _celery_lock:
        app = _celery_apps.get(broker_url)
        if app is None:
            try:
                from celery import Celery  # noqa: PLC0415 (only scaled mode needs it)
            except ImportError as exc:
                raise UserError(_("Scaled dispatch needs the Python package 'celery' on the Odoo server.")) from exc
            app = Celery("collections_odoo", broker=broker_url, set_as_current=False)
            app.conf.update(task_default_queue="collections", broker_connection_retry_on_startup=True)
            _celery_apps[broker_url] = app
        return app


class CollectionsProvider(models.Model):
    """How one channel reaches customers: Odoo's mail queue, printed letters,
    call tasks, an SMS gateway... One provider type per file
    (``collections_provider_<type>.py``), as Odoo's payment providers: it adds
    itself to ``provider_type`` and overrides the methods of "THE CHANNEL
    SEAM" below with a guard clause
    (``if self.provider_type != "x": return super()._send_messages(messages)``).
    A provider with a plain-Python client (``_get_client_settings``) also runs
    on the Celery workers (scaled mode). Messages take the first active
    provider of their company (or a shared one) for their channel."""

    _name = "collections.provider"
    _description = "Collections Channel Provider"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", index=True, help="Leave empty to serve every company that has no provider of its own."
    )
    channel = fields.Selection(CHANNELS, required=True)
    provider_type = fields.Selection([], string="Type", required=True)
    dispatch_mode = fields.Selection(
        [("embedded", "Embedded (Odoo scheduled action)"), ("celery", "Scaled (Celery workers)")],
        required=True,
        default="embedded",
        help="Embedded: Odoo's scheduled action sends in batches, no extra service. "
        "Scaled: Odoo hands messages to Celery workers through Redis after each commit.",
    )
    supports_scaled = fields.Boolean(compute="_compute_supports_scaled")
    rate_per_second = fields.Float(
        string="Messages per Second",
        default=50.0,
        help="Throughput limit of this provider shared by all workers (scaled mode).",
    )
    recipient_interval = fields.Float(
        string="Seconds Between Messages to One Number",
        default=1.0,
        help="Minimum gap between two messages to the same recipient, over all workers (scaled mode).",
    )
    batch_size = fields.Integer(default=50, help="Messages per worker task (scaled mode).")
    max_attempts = fields.Integer(default=5, help="Attempts on temporary errors before the message ends failed.")
    delivery_reports = fields.Boolean(
        default=True,
        help="Ask the provider to call Odoo back when a message is delivered or fails "
        "(Odoo must be reachable from the provider at its web.base.url).",
    )

    # Operators' view: queue depth, throughput and errors.
    queue_count = fields.Integer(string="In Queue", compute="_compute_stats")
    sent_last_minute = fields.Integer(string="Sent (last minute)", compute="_compute_stats")
    sent_last_hour = fields.Integer(string="Sent (last hour)", compute="_compute_stats")
    failed_last_day = fields.Integer(string="Failed (last 24 h)", compute="_compute_stats")
    error_summary = fields.Text(string="Errors (last 24 h)", compute="_compute_stats")

    @api.constrains("rate_per_second", "recipient_interval", "batch_size", "max_attempts")
    def _check_limits(self):
        for provider in self:
            if provider.rate_per_second <= 0 or provider.batch_size <= 0 or provider.max_attempts <= 0:
                raise ValidationError(
                    _("%(provider)s: rate, batch size and attempts must be positive.", provider=provider.name)
                )
            if provider.recipient_interval < 0:
                raise ValidationError(
                    _("%(provider)s: the recipient interval cannot be negative.", provider=provider.name)
                )

    @api.constrains("dispatch_mode", "provider_type")
    def _check_dispatch_mode(self):
        for provider in self:
            if provider.dispatch_mode == "celery" and not provider.supports_scaled:
                raise ValidationError(
                    _(
                        "%(provider)s cannot run on the Celery workers: it sends from inside Odoo.",
                        provider=provider.name,
                    )
                )

    def _compute_stats(self):
        Message = self.env["collections.message"].sudo()
        now = fields.Datetime.now()
        providers = self.filtered("id")
        counts = {}
        if providers:
            base = [("provider_id", "in", providers.ids)]
            for provider, count in Message._read_group(
                base + [("state", "in", ("queued", "sending"))], ["provider_id"], ["__count"]
            ):
                counts[provider.id, "queue"] = count
            for key, since in (("minute", dt.timedelta(minutes=1)), ("hour", dt.timedelta(hours=1))):
                for provider, count in Message._read_group(
                    base + [("sent_at", ">=", now - since)], ["provider_id"], ["__count"]
                ):
                    counts[provider.id, key] = count
            errors = {}
            for provider, code, count in Message._read_group(
                base + [("state", "=", "failed"), ("write_date", ">=", now - dt.timedelta(days=1))],
                ["provider_id", "error_code"],
                ["__count"],
            ):
                errors.setdefault(provider.id, []).append((count, code or _("no code")))
                counts[provider.id, "failed"] = counts.get((provider.id, "failed"), 0) + count
        for provider in self:
            provider.queue_count = counts.get((provider.id, "queue"), 0)
            provider.sent_last_minute = counts.get((provider.id, "minute"), 0)
            provider.sent_last_hour = counts.get((provider.id, "hour"), 0)
            provider.failed_last_day = counts.get((provider.id, "failed"), 0)
            provider.error_summary = "\n".join(
                _("%(code)s: %(count)s", code=code, count=count)
                for count, code in sorted(errors.get(provider.id, []), reverse=True)
            )

    # === THE INTERFACE === #

    @api.model
    def _for_messages(self, messages):
        """{(company id, channel): provider} for the messages: the company's
        first active provider of the channel, else a shared one (no company)."""
        providers = self.sudo().search(
            [
                ("channel", "in", list(set(messages.mapped("channel")))),
                ("company_id", "in", [*messages.company_id.ids, False]),
            ]
        )
        found = {}
        for provider in providers.sorted(lambda p: (not p.company_id, p.sequence, p.id)):
            for company in messages.company_id:
                if provider.company_id in (company, self.env["res.company"]):
                    found.setdefault((company.id, provider.channel), provider)
        return found

    def _send(self, messages):
        """Send ``messages`` (already allowed: still due, within the contact
        rules) through this provider, or hand them to the workers."""
        self.ensure_one()
        messages = self._prepare_messages(messages)
        if not messages:
            return
        messages.write({"provider_id": self.id})
        if self.dispatch_mode == "celery":
            self._enqueue(messages)
        else:
            self._send_messages(messages)

    # === THE CHANNEL SEAM: what a provider type overrides, each with a guard clause === #

    @api.depends("provider_type")
    def _compute_supports_scaled(self):
        """Whether the provider runs on the Celery workers. A provider type with
        a plain-Python client sets it for its own records (after ``super()``)."""
        for provider in self:
            provider.supports_scaled = False

    @engine_messages
    def _prepare_messages(self, messages):
        """The content of ``messages`` on this provider's channel, written on
        the messages (recipient, text, template and its parameters, document);
        the ones that cannot go end blocked with the reason. Returns the
        messages ready to send. Base: ready as they are."""
        return messages

    def _get_message_payloads(self, messages):
        """What the client sends for each message, JSON-serialisable (the
        workers get exactly this): ``{"id", "key", "to", "body", "attempt"}``;
        ``body`` is whatever the provider's client takes as content (a text
        for SMS, a template with its parameters for a template channel)."""
        return [
            {"id": m.id, "key": m.idempotency_key, "to": m.recipient_phone, "body": m.body_text, "attempt": 0}
            for m in messages
        ]

    @engine_messages
    def _send_messages(self, messages):
        """Send prepared ``messages`` from inside Odoo (embedded mode, and the
        sweeper's second try with the same idempotency keys). Base: through
        the provider's plain-Python client, as the workers do."""
        self.ensure_one()
        if not self.supports_scaled:
            raise UserError(_("%(provider)s cannot send: its type has no sending method.", provider=self.name))
        self._send_with_client(messages)

    def _get_client_settings(self):
        """Keyword arguments of the provider's client class, credentials
        included (JSON-serialisable: the workers receive them through
        ``dispatch_settings``). Only for providers that support scaled mode."""
        raise UserError(_("%(provider)s has no client for the workers.", provider=self.name))

    def _get_client(self):
        """The provider's plain-Python client: ``send(to, body, idempotency_key,
        status_callback=None)`` returning a ``sms_http_client.SendResult``."""
        raise UserError(_("%(provider)s has no client for the workers.", provider=self.name))

    def _verify_webhook(self, request_data):
        """Whether a webhook request (status report or inbound message) was
        signed by this provider. ``request_data``: {"url", "form" (lists of
        values), "params" (flat), "headers", "body" (raw bytes)}. Base: refused."""
        return False

    def _parse_status_webhook(self, request_data):
        """Delivery reports in a verified webhook request: [{"provider_ref",
        "status": "delivered" | "read" | "failed", "code", "error", "key"}]."""
        return []

    def _parse_inbound_webhook(self, request_data):
        """Customers' messages in a verified webhook request: [{"number",
        "text", "provider_ref"}]."""
        return []

    # === SHARED STEPS OF THE PROVIDER TYPES === #

    @engine_messages
    def _prepare_phone_messages(self, messages):
        """For channels that write to a phone number (SMS, WhatsApp): each
        message's number in E.164 (the contact's mobile, else phone; the
        contact's country, else the company's, for local numbers) and its text
        in the customer's language. Messages without a valid number end
        blocked with the reason. Returns the messages ready to go."""
        ready = messages.browse()
        for message in messages:
            contact = message.recipient_id or message.partner_id
            number = contact.mobile or contact.phone
            if not number:
                message.write({"state": "blocked", **message._blocked_vals("no_phone")})
                continue
            country = contact.country_id or message.company_id.country_id
            try:
                e164 = phone_validation.phone_format(
                    number, country.code or None, country.phone_code or None, force_format="E164"
                )
            except UserError:
                message.write({"state": "blocked", **message._blocked_vals("invalid_phone", number=number)})
                continue
            message.recipient_phone = e164
            ready |= message
        ready._render_text()
        return ready

    def _status_callback_url(self):
        if not self.delivery_reports:
            return None
        return f"{self.get_base_url()}/collections/status/{self.id}"

    # === EMBEDDED MODE (HTTP providers called from inside Odoo) === #

    def _send_with_client(self, messages):
        """Send through the provider's plain-Python client, one message after
        the other. Each message is marked 'sending' with a lease first and,
        in the scheduled action, committed: a crash after the provider
        accepted a message but before its result was saved is resolved by
        sending it again with the same idempotency key."""
        self.ensure_one()
        self._mark_sending(messages)
        client = self._get_client()
        callback = self._status_callback_url()
        results = []
        for payload in self._get_message_payloads(messages):
            result = client.send(
                payload["to"],
                payload["body"],
                payload["key"],
                sms_http_client.callback_url_for(callback, payload["key"]),
            )
            results.append(
                {
                    "id": payload["id"],
                    "key": payload["key"],
                    "status": result.status,
                    "provider_ref": result.provider_ref,
                    "code": result.code,
                    "message": result.message,
                    "retry_after": result.retry_after,
                }
            )
        self._record_results(messages, results)

    def _mark_sending(self, messages):
        """Before the provider is called: 'sending' with a lease, committed in the scheduled action."""
        messages.write({"state": "sending", "lease_until": fields.Datetime.now() + EMBEDDED_LEASE})
        self._commit_if_allowed()

    def _record_results(self, messages, results):
        """Results of sends from inside Odoo: [{"id", "key", "status": "sent" |
        "temporary" | "permanent", "provider_ref", "code", "message", "retry_after"}]."""
        final = [r for r in results if r["status"] != "temporary"]
        self.env["collections.message"]._apply_dispatch_results(
            [{**r, "status": "sent" if r["status"] == "sent" else "failed"} for r in final]
        )
        self._retry_later(messages.browse([r["id"] for r in results if r["status"] == "temporary"]), results)
        self._commit_if_allowed()

    def _retry_later(self, messages, results):
        """Temporary errors: the lease becomes the retry time (exponential
        backoff, or the provider's Retry-After); after max attempts, failed."""
        by_id = {r["id"]: r for r in results}
        now = fields.Datetime.now()
        give_up = []
        for message in messages:
            result = by_id[message.id]
            attempts = message.attempt_count + 1
            if attempts >= self.max_attempts:
                give_up.append({**result, "status": "failed"})
                continue
            delay = EMBEDDED_BACKOFF * 2 ** (attempts - 1) * random.uniform(1, 1.25)
            if result["retry_after"]:
                delay = max(delay, dt.timedelta(seconds=result["retry_after"]))
            message.write(
                {
                    "attempt_count": attempts,
                    "lease_until": now + delay,
                    "error_code": result["code"],
                    "error": result["message"],
                }
            )
        self.env["collections.message"]._apply_dispatch_results(give_up)

    def _commit_if_allowed(self):
        # Only the scheduled action commits between steps; Send Now and tests stay in one transaction.
        if self.env.context.get("collections_dispatch_commit"):
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # === SCALED MODE (Celery workers) === #

    @api.model
    def _broker_url(self):
        return (
            self.env["ir.config_parameter"].sudo().get_param(REDIS_URL_PARAM)
            or os.environ.get("COLLECTIONS_REDIS_URL")
            or "redis://127.0.0.1:56379/0"
        )

    def _enqueue(self, messages):
        """Mark the messages queued now; publish them to the workers only once
        this transaction commits (nothing is published on a rollback). The
        sweeper publishes again whatever was missed."""
        self.ensure_one()
        messages.write({"state": "queued", "lease_until": fields.Datetime.now() + SCALED_LEASE})
        payloads = self._get_message_payloads(messages)
        broker_url, provider_id, size = self._broker_url(), self.id, self.batch_size

        def publish():
            try:
                app = celery_client(broker_url)
                with app.producer_or_acquire() as producer:
                    for start in range(0, len(payloads), size):
                        app.send_task(SEND_TASK, args=[provider_id, payloads[start : start + size]], producer=producer)
            except Exception:  # a post-commit hook must not raise: the sweeper publishes again later
                _logger.exception("Collections: could not publish %s messages; the sweeper will retry", len(payloads))

        self.env.cr.postcommit.add(publish)

    def dispatch_settings(self):
        """For the workers: how to reach each provider (credentials included).
        Managers only: the same people who may read the credentials."""
        if not self.env.user.has_group(GROUP_MANAGER):
            raise AccessError(_("Only collections managers may read provider settings."))
        self.check_access("read")
        settings = {}
        for provider in self:
            if not provider.supports_scaled:
                raise UserError(_("%(provider)s does not run on the workers.", provider=provider.name))
            settings[str(provider.id)] = {
                "type": provider.provider_type,
                "client": provider._get_client_settings(),
                "status_callback": provider._status_callback_url(),
                "rate_per_second": provider.rate_per_second,
                "recipient_interval": provider.recipient_interval,
                "max_attempts": provider.max_attempts,
            }
        return settings

    def action_open_queue(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Messages of %(provider)s", provider=self.name),
            "res_model": "collections.message",
            "view_mode": "list,form",
            "domain": [("provider_id", "=", self.id)],
            "context": {"search_default_pending": 1},
        }
