import datetime as dt
import json
import logging

from odoo import SUPERUSER_ID, api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL

from ..tools import graph_client, webhook

_logger = logging.getLogger(__name__)
# The scheduled action that applies stored events (data/ir_cron_data.xml) and its batch.
APPLY_CRON = "ir_cron_whatsapp_apply_events"
APPLY_BATCH = 200
# A status can come before the transaction that sends its message has committed (Meta, or the emulator,
# answers the send and posts the status at once): it is applied again this long after, for this long.
EARLY_RETRY_SECONDS = 5
EARLY_WAIT_MINUTES = 10


class CollectionsWhatsappEvent(models.Model):
    """Every webhook event once: a status of a message or a customer's
    message, keyed by Meta's message id (and the status), however often Meta
    delivers it. Stored before it is applied; applying it is idempotent."""

    _name = "collections.whatsapp.event"
    _description = "WhatsApp Webhook Event"
    _order = "id desc"

    key = fields.Char(required=True, readonly=True, help="wamid:status or wamid:inbound.")
    account_id = fields.Many2one("collections.whatsapp.account", required=True, readonly=True, ondelete="cascade")
    kind = fields.Selection([("status", "Status"), ("inbound", "Customer Message")], required=True, readonly=True)
    wamid = fields.Char(string="Message ID", readonly=True)
    status = fields.Char(readonly=True)
    data = fields.Text(readonly=True, help="The parsed event (JSON).")
    state = fields.Selection(
        [("pending", "Pending"), ("done", "Done"), ("error", "Error")], default="pending", required=True, index=True
    )
    error = fields.Text(readonly=True)
    retry_at = fields.Datetime(
        readonly=True, help="A status that came before its message's sending was committed is applied again then."
    )

    _sql_constraints = [("key_uniq", "unique(key)", "A webhook event is stored once.")]

    @api.model
    def _store(self, account, events):
        """Insert the events Meta sent (set-based); the ones already known
        (retries, duplicates) are skipped. Returns the new events."""
        self.env.flush_all()
        ids, _woken = store_events(self.env.cr, account.id, events)
        return self.browse(ids)

    def _process(self):
        """Apply stored events in the order Meta stamped them: statuses onto
        messages, customers' messages onto conversations. Set-based where it
        can be: the statuses of messages no provider of the account sent
        (nothing to update: another tool on the same number, a test send)
        are closed in one statement, and every applied event is marked done
        in one. One failing event is kept with its error; the others go on."""
        if not self:
            return self
        Conversation = self.env["collections.whatsapp.conversation"].sudo()
        payloads = {event.id: json.loads(event.data) for event in self}
        early = self._statuses_before_their_send()
        idle = self._statuses_without_effect(payloads) - early
        done, errors = list(idle), []
        for event in self.sorted(lambda e: (payloads[e.id].get("timestamp", 0), e.id)):
            if event.id in idle or event.id in early:
                continue
            try:
                with self.env.cr.savepoint():
                    if event.kind == "status":
                        Conversation._apply_status(event.account_id, webhook.StatusEvent(**payloads[event.id]))
                    else:
                        Conversation._receive(event.account_id, webhook.InboundEvent(**payloads[event.id]))
                done.append(event.id)
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise  # another transaction changed the same conversation: the caller retries the batch
            except Exception as error:  # noqa: BLE001 (kept for a person to see; the webhook still answers 200)
                _logger.exception("WhatsApp event %s could not be applied", event.key)
                errors.append((event, str(error)))
        self.env.flush_all()
        if done:
            self.env.cr.execute(
                SQL(
                    "UPDATE collections_whatsapp_event SET state = 'done', write_date = now() AT TIME ZONE 'UTC' "
                    "WHERE id = ANY(%s)",
                    done,
                )
            )
        self.browse(done).invalidate_recordset(["state"])
        for event, error in errors:
            event.write({"state": "error", "error": error})
        return self.browse(sorted(early))

    def _statuses_before_their_send(self):
        """Ids of the status events among these whose message is still to be
        sent as far as this transaction sees (planned, no provider: the
        transaction sending it has not committed), stored less than
        ``EARLY_WAIT_MINUTES`` ago. They stay pending, applied again in
        ``EARLY_RETRY_SECONDS`` (``retry_at``): closed now, as statuses of no
        message of ours, they would be lost."""
        statuses = self.filtered(lambda e: e.kind == "status")
        if not statuses:
            return set()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE collections_whatsapp_event e
                   SET retry_at = now() AT TIME ZONE 'UTC' + make_interval(secs => %(retry)s)
                 WHERE e.id = ANY(%(ids)s)
                   AND e.create_date > now() AT TIME ZONE 'UTC' - make_interval(mins => %(wait)s)
                   AND EXISTS (
                        SELECT FROM collections_message m
                         WHERE m.idempotency_key = (e.data::jsonb ->> 'callback_data')
                           AND m.provider_id IS NULL AND m.state IN ('planned', 'queued'))
             RETURNING e.id
                """,
                ids=statuses.ids,
                retry=EARLY_RETRY_SECONDS,
                wait=EARLY_WAIT_MINUTES,
            )
        )
        early = {row[0] for row in self.env.cr.fetchall()}
        self.browse(early).invalidate_recordset(["retry_at"])
        return early

    def _statuses_without_effect(self, payloads):
        """Ids of the status events among these that change nothing: no
        message of the account's providers has their message id (or the
        idempotency key they echo back), and they do not mark a number
        undeliverable (failed with 131026 and the like)."""
        statuses = self.filtered(
            lambda e: (
                e.kind == "status"
                and not (
                    e.status == "failed"
                    and graph_client.error_kind(payloads[e.id].get("error_code")) == graph_client.UNDELIVERABLE
                )
            )
        )
        if not statuses:
            return set()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT e.id
                  FROM collections_whatsapp_event e
                 WHERE e.id = ANY(%(ids)s)
                   AND NOT EXISTS (
                        SELECT FROM collections_message m
                          JOIN collections_provider p ON p.id = m.provider_id
                         WHERE p.provider_type = 'whatsapp_cloud' AND p.whatsapp_account_id = e.account_id
                           AND m.provider_ref = e.wamid)
                   AND NOT EXISTS (
                        SELECT FROM collections_message m
                          JOIN collections_provider p ON p.id = m.provider_id
                         WHERE p.provider_type = 'whatsapp_cloud' AND p.whatsapp_account_id = e.account_id
                           AND m.idempotency_key = (e.data::jsonb ->> 'callback_data'))
                """,
                ids=statuses.ids,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _claim_pending(self, limit):
        """The oldest pending events (at most ``limit``), locked for this
        transaction; those another transaction holds are skipped."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM collections_whatsapp_event WHERE state = 'pending' AND %s "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                READY,
                limit,
            )
        )
        claimed = self.browse([row[0] for row in self.env.cr.fetchall()])
        claimed.invalidate_recordset(["state"])
        return claimed

    @api.model
    def _cron_apply_events(self):
        """The scheduled action the webhook triggers with each commit that
        stored something new: one batch of pending events per call, with its
        progress told to the scheduler, which commits it and calls again at
        once while some remain. The cron's own lock makes it the only
        consumer; the trigger and the events are in the database, so a
        restart loses nothing. A batch that meets a concurrent update (a
        collector on the same conversation) is undone and tried again in a
        few seconds."""
        try:
            with self.env.cr.savepoint():
                events = self._claim_pending(APPLY_BATCH)
                early = events._process()
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
            _logger.info("WhatsApp: webhook events met a concurrent update, applied again shortly: %s", error)
            self.env.invalidate_all()
            self.env.ref(f"collections_whatsapp.{APPLY_CRON}")._trigger(fields.Datetime.now() + dt.timedelta(seconds=5))
            return
        self.env.cr.execute(
            SQL("SELECT count(*) FROM collections_whatsapp_event WHERE state = 'pending' AND %s", READY)
        )
        remaining = self.env.cr.fetchone()[0]
        if early:  # at the cron worker's next poll after then (it is not woken for a later trigger)
            self.env.ref(f"collections_whatsapp.{APPLY_CRON}")._trigger(min(early.mapped("retry_at")))
        self.env["ir.cron"]._notify_progress(done=len(events), remaining=remaining)
        if remaining:
            # The scheduler calls again at once, but only ten times per wake-up; a backlog larger than
            # that would then wait for the cron worker's next poll (a minute): wake it again after commit.
            self.env.ref(f"collections_whatsapp.{APPLY_CRON}")._trigger()

    def _claim(self):
        """The pending ones among these events, locked for this transaction: the
        webhook's processor and the scheduled action never apply one twice."""
        if not self:
            return self
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM collections_whatsapp_event WHERE id = ANY(%s) AND state = 'pending' AND %s "
                "ORDER BY id FOR UPDATE SKIP LOCKED",
                self.ids,
                READY,
            )
        )
        claimed = self.browse([row[0] for row in self.env.cr.fetchall()])
        claimed.invalidate_recordset(["state"])
        return claimed

    @api.model
    def _cron_process_pending(self):
        """What the webhook's processor left (a process killed before it ran):
        events pending for more than a minute."""
        before = fields.Datetime.subtract(fields.Datetime.now(), minutes=1)
        self.search(
            [
                ("state", "=", "pending"),
                ("create_date", "<", before),
                "|",
                ("retry_at", "=", False),
                ("retry_at", "<=", fields.Datetime.now()),
            ],
            order="id",
            limit=1000,
        )._claim()._process()


# Pending events to apply now (not waiting for their retry).
READY = SQL("(retry_at IS NULL OR retry_at <= now() AT TIME ZONE 'UTC')")


def store_events(cr, account_id, events, wake=True):
    """The webhook's whole write, one statement on ``cr`` and no ORM (the
    acknowledgement stays cheap): the new events, once per key (``ON
    CONFLICT DO NOTHING``: a retry or a duplicate adds nothing) and, when
    something new came and ``wake``, a trigger of the scheduled action that
    applies them (an ``ir_cron_trigger`` row, as ``ir.cron._trigger`` makes
    it, in the same transaction: never lost). Returns (the new events' ids,
    whether a trigger was added: the cron workers are to be woken after
    commit)."""
    if not events:
        return [], False
    rows = [
        (
            event.key,
            "status" if isinstance(event, webhook.StatusEvent) else "inbound",
            event.wamid,
            getattr(event, "status", None),
            json.dumps(event._asdict(), ensure_ascii=False),
        )
        for event in {event.key: event for event in events}.values()
    ]
    keys, kinds, wamids, statuses, data = map(list, zip(*rows, strict=True))
    cr.execute(
        SQL(
            """
            WITH new AS (
                INSERT INTO collections_whatsapp_event
                       (key, account_id, kind, wamid, status, data, state,
                        create_uid, create_date, write_uid, write_date)
                SELECT v.key, %(account)s, v.kind, v.wamid, v.status, v.data, 'pending',
                       %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM unnest(%(keys)s::varchar[], %(kinds)s::varchar[], %(wamids)s::varchar[],
                              %(statuses)s::varchar[], %(data)s::text[]) AS v(key, kind, wamid, status, data)
                ON CONFLICT (key) DO NOTHING
             RETURNING id
            ), wake AS (
                INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, create_date, write_uid, write_date)
                SELECT d.res_id, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC',
                       %(uid)s, now() AT TIME ZONE 'UTC'
                  FROM ir_model_data d
                 WHERE d.module = 'collections_whatsapp' AND d.name = %(cron)s AND d.model = 'ir.cron'
                   AND %(wake)s AND EXISTS (SELECT FROM new)
             RETURNING id
            )
            SELECT ARRAY(SELECT id FROM new ORDER BY id), EXISTS (SELECT FROM wake)
            """,
            account=account_id,
            uid=SUPERUSER_ID,
            keys=keys,
            kinds=kinds,
            wamids=wamids,
            statuses=statuses,
            data=data,
            cron=APPLY_CRON,
            wake=bool(wake),
        )
    )
    ids, woken = cr.fetchone()
    return ids, woken
