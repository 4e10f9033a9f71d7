import logging
import queue
import threading

from odoo import SUPERUSER_ID, api, http
from odoo.http import request
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tools import SQL, config

from ..models.collections_whatsapp_event import store_events
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
                    retrying(lambda events=events: events._claim()._process(), env)
            except Exception:  # noqa: BLE001 (they stay pending: the scheduled action applies them)
                _logger.exception("WhatsApp: %s webhook events left for the scheduled action", len(event_ids))


processor = EventProcessor()


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
        applies them, commit. No session, no user, no ORM: a cursor of its
        own. The heavy work (statuses onto messages, replies onto
        conversations and the chat's answers) runs after commit, in the
        cron worker (``_cron_apply_events``)."""
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > webhook.MAX_BODY_BYTES:
            _logger.warning("WhatsApp: refused an oversized webhook for account %s", account_id)
            return request.make_response("Payload Too Large", status=413)
        raw = httprequest.get_data(cache=True, parse_form_data=False)
        registry = request.registry
        test_mode = registry.in_test_mode()
        cron_workers = config["max_cron_threads"] > 0 and not test_mode
        with registry.cursor() as cr:
            if not test_mode:
                # Before any query: a duplicate stored meanwhile by a concurrent request is then
                # skipped (READ COMMITTED), instead of failing this snapshot and being retried.
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(
                SQL(
                    """
                    SELECT a.app_secret,
                           EXISTS (SELECT FROM collections_provider p
                                    WHERE p.whatsapp_account_id = a.id AND p.provider_type = 'whatsapp_cloud'
                                      AND p.dispatch_mode = 'celery' AND p.active)
                      FROM collections_whatsapp_account a
                     WHERE a.id = %s
                    """,
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
        if woken:
            request.env["ir.cron"]._notifydb()  # the cron workers apply them now, not at their next poll
        elif ids and not cron_workers and not test_mode:
            processor.add(registry.db_name, ids)
        return request.make_response("", status=200)
