import functools
import logging
import os
import queue
import threading

import psycopg2
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from odoo import SUPERUSER_ID, api, http, sql_db
from odoo.http import request
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tools import SQL, config

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

from ..models.collections_whatsapp_event import EARLY_RETRY_SECONDS, store_events
from ..tools import webhook

_logger = logging.getLogger(__name__)


class EventProcessor:
    """Applies stored webhook events after the request that stored them has
    committed, in one thread of the Odoo process, for a server that runs no
    cron worker (``max_cron_threads = 0``, as the end-to-end tests run it);
    otherwise the triggered scheduled action applies them. What a killed
    process leaves pending, the scheduled action applies
    (collections.whatsapp.event's ``_cron_process_pending``); a concurrent
    update is retried."""

    def __init__(self):
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()

    def add(self, dbname, event_ids):
        self._queue.put((dbname, event_ids))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="collections-whatsapp-events", daemon=True)
                self._thread.start()

    def _run(self):
        while True:
            dbname, event_ids = self._queue.get()
            # What came in meanwhile for the same database goes in the same transaction.
            while not self._queue.empty() and len(event_ids) < 500:
                more_db, more_ids = self._queue.get()
                if more_db != dbname:
                    self._queue.put((more_db, more_ids))
                    break
                event_ids = event_ids + more_ids
            try:
                with Registry(dbname).cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    events = env["collections.whatsapp.event"].browse(event_ids)
                    early = retrying(lambda events=events: events._claim()._process(), env)
                if early:  # statuses that came before their message's send was committed: once it is
                    timer = threading.Timer(EARLY_RETRY_SECONDS, self.add, (dbname, early.ids))
                    timer.daemon = True
                    timer.start()
            except Exception:  # noqa: BLE001 (they stay pending: the scheduled action applies them)
                _logger.exception("WhatsApp: %s webhook events left for the scheduled action", len(event_ids))


processor = EventProcessor()


class CronWaker:
    """Wakes the cron workers (``NOTIFY cron_trigger``, what ``ir.cron._notifydb``
    sends) on one connection to PostgreSQL's ``postgres`` database that this
    process keeps open. ``_notifydb`` opens a new one every time (Odoo never
    pools connections to ``postgres``): a server process forked and a commit
    flushed to disk for every webhook, more than the acknowledgement's own
    work. This one notifies without waiting for the disk (``synchronous_commit
    = off``): the notification is delivered at commit all the same, and it
    carries nothing to keep; what must survive, the events and the cron's
    trigger, was committed durably before. A failed notification loses
    nothing either: the trigger is there for the cron worker's next poll."""

    def __init__(self):
        self._connection = None
        self._pid = None
        self._lock = threading.Lock()

    def _connect(self):
        if self._connection is not None and not self._connection.closed and self._pid == os.getpid():
            return self._connection
        _dbname, info = sql_db.connection_info_for("postgres")
        connection = psycopg2.connect(**info)
        connection.autocommit = True
        with connection.cursor() as cr:
            cr.execute("SET synchronous_commit = off")
        self._connection, self._pid = connection, os.getpid()
        return connection

    def wake(self, dbname):
        with self._lock:
            for attempt in (1, 2):  # a connection the server closed meanwhile: once more on a new one
                try:
                    query = SQL("SELECT %s('cron_trigger', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), dbname)
                    with self._connect().cursor() as cr:
                        cr.execute(query.code, query.params)
                    return
                except psycopg2.Error as error:
                    if self._connection is not None and self._pid == os.getpid():
                        self._connection.close()
                    self._connection = None
                    if attempt == 2:
                        _logger.warning("WhatsApp: could not wake the cron workers (they poll): %s", error)


cron_waker = CronWaker()


class CollectionsWhatsappWebhook(http.Controller):
    """Meta's webhook for one WhatsApp account: the GET handshake, then signed
    POSTs. The signature is checked over the raw bytes before anything is
    parsed or stored; bad requests get a 4xx and a log line, never a 500."""

    def _account(self, account_id):
        return request.env["collections.whatsapp.account"].sudo().browse(account_id).exists()

    @http.route(
        "/collections/whatsapp/webhook/<int:account_id>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def verify(self, account_id, **params):
        account = self._account(account_id)
        challenge = account and webhook.verify_challenge(request.httprequest.args, account.verify_token)
        if not challenge:
            _logger.warning("WhatsApp: refused a webhook handshake for account %s", account_id)
            return request.make_response("Forbidden", status=403)
        return request.make_response(challenge, headers=[("Content-Type", "text/plain")])

    @http.route(
        "/collections/whatsapp/webhook/<int:account_id>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive(self, account_id, **params):
        """The acknowledgement, and nothing more before Meta gets its 200:
        the signature over the raw bytes, parsing, one INSERT of the new
        events (idempotent) with the trigger of the scheduled action that
        applies them, committed before the 200 leaves. No session, no user,
        no ORM, on the request's own cursor (another one would cost a
        connection reset and a round trip more). The heavy work (statuses
        onto messages, replies onto conversations and the chat's answers)
        runs after commit, in the cron worker (``_cron_apply_events``)."""
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > webhook.MAX_BODY_BYTES:
            _logger.warning("WhatsApp: refused an oversized webhook for account %s", account_id)
            return request.make_response("Payload Too Large", status=413)
        raw = httprequest.get_data(cache=True, parse_form_data=False)
        registry = request.registry
        test_mode = registry.in_test_mode()
        cron_workers = config["max_cron_threads"] > 0 and not test_mode
        cr = request.env.cr
        # Before any query of the transaction (sent with the first one): a duplicate stored meanwhile by a
        # concurrent request is then skipped (READ COMMITTED), instead of failing this snapshot and the
        # request being retried. Should a query have run already, the retry is what happens.
        fresh = not test_mode and cr.connection.info.transaction_status == TRANSACTION_STATUS_IDLE
        cr.execute(
            SQL(
                """
                %s
                SELECT a.app_secret,
                       EXISTS (SELECT FROM collections_provider p
                                WHERE p.whatsapp_account_id = a.id AND p.provider_type = 'whatsapp_cloud'
                                  AND p.dispatch_mode = 'celery' AND p.active)
                  FROM collections_whatsapp_account a
                 WHERE a.id = %s
                """,
                SQL("SET TRANSACTION ISOLATION LEVEL READ COMMITTED;") if fresh else SQL(),
                account_id,
            )
        )
        account = cr.fetchone()
        signature = httprequest.headers.get(webhook.SIGNATURE_HEADER)
        if not account or not webhook.verify_signature(account[0], raw, signature):
            _logger.warning("WhatsApp: refused a webhook for account %s (bad or missing signature)", account_id)
            return request.make_response("Forbidden", status=403)
        try:
            events = webhook.parse(webhook.loads(raw))
        except webhook.PayloadError as error:
            _logger.warning("WhatsApp: refused a malformed webhook for account %s: %s", account_id, error)
            return request.make_response("Bad Request", status=400)
        ids, woken = store_events(cr, account_id, events, wake=cron_workers)
        if account[1] or test_mode:
            env = api.Environment(cr, SUPERUSER_ID, {})
            if account[1]:  # scaled mode: the workers' send ledger learns what Meta accepted
                env["collections.whatsapp.account"].browse(account_id)._note_accepted(events)
            if test_mode:
                env["collections.whatsapp.event"].browse(ids)._process()  # one test cursor: no other thread
        # After the request's commit (Odoo's, before the 200 is sent): what is woken finds the events.
        if woken:
            # The cron workers apply them now, not at their next poll.
            cr.postcommit.add(functools.partial(cron_waker.wake, registry.db_name))
        elif ids and not cron_workers and not test_mode:
            cr.postcommit.add(functools.partial(processor.add, registry.db_name, ids))
        return request.make_response("", status=200)
