"""Scaled dispatch on the workers: send each outbox message exactly once, as
the customer sees it, and report the outcome to Odoo in batches.

Per message (the task payload carries id, idempotency key, number, text):

1. a result already in Redis: the message went out before (a redelivered
   task, a sweeper's second hand-out): only report it again;
2. a lease in Redis (SET NX PX): a concurrent copy of the task puts the
   message back on the queue until the lease has run out (a lease left by a
   killed worker expires; then the result, if any, decides);
3. the provider's global token bucket and the recipient interval (Redis,
   shared by all workers);
4. send with the message's idempotency key (so a resend after a crash or a
   timeout is a replay at the provider, not a second SMS);
5. store the result (kept for RESULT_TTL) and add it to the pending reports;
   temporary errors go back to the queue with exponential backoff, permanent
   ones end failed with the provider's code.

Results are reported by one thread per worker process, through odoorpc, in
one call for everything that came in meanwhile (sending never waits for
Odoo). Until Odoo acknowledges them they stay in the pending hash in Redis:
the reporter retries with backoff, and any worker reports entries left behind
by a dead one once they are older than COLLECTIONS_REPORT_STALE_SECONDS, so an
Odoo restart or a killed worker loses nothing.

Environment:
  COLLECTIONS_REDIS_URL            Redis (broker and shared state)
  COLLECTIONS_ODOO_URL             Odoo, e.g. http://127.0.0.1:8069
  COLLECTIONS_ODOO_DB              database
  COLLECTIONS_ODOO_LOGIN           a collections manager (a technical user)
  COLLECTIONS_ODOO_PASSWORD        its password or, better, an API key
  COLLECTIONS_LEASE_SECONDS        lease on a message being sent (default 60)
  COLLECTIONS_REPORT_STALE_SECONDS age after which any worker reports a pending result (default 30)
"""

import json
import logging
import os
import queue
import random
import threading
import time
import uuid
from urllib.parse import urlsplit

import odoorpc
import redis

from . import clients
from .celery_app import REDIS_URL, VISIBILITY_TIMEOUT
from .rate_limit import RecipientInterval, TokenBucket

_logger = logging.getLogger(__name__)

PREFIX = "collections:"
PENDING_KEY = PREFIX + "pending"  # idempotency key -> result JSON, not yet acknowledged by Odoo
RESULT_TTL = 7 * 24 * 3600
LEASE_SECONDS = float(os.environ.get("COLLECTIONS_LEASE_SECONDS", "60"))
SETTINGS_TTL = 60.0
BACKOFF_BASE = 2.0
# A countdown longer than the broker's visibility timeout would be redelivered while it waits.
BACKOFF_MAX = min(300.0, VISIBILITY_TIMEOUT * 0.8)
SLEEP_AT_MOST = 0.25  # a recipient interval wait longer than this goes back to the queue
REPORT_BATCH = 500
REPORT_STALE_SECONDS = float(os.environ.get("COLLECTIONS_REPORT_STALE_SECONDS", "30"))
STALE_LOCK = PREFIX + "stale-report"

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class OdooUnavailable(Exception):
    """Odoo did not answer (down, restarting, or refused the worker's login)."""


class OdooLink:
    """One odoorpc session per worker process, logged in once and reused;
    calls are serialised (odoorpc is not thread-safe)."""

    def __init__(self):
        url = urlsplit(os.environ.get("COLLECTIONS_ODOO_URL", "http://127.0.0.1:8069"))
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.protocol = "jsonrpc+ssl" if url.scheme == "https" else "jsonrpc"
        self.db = os.environ.get("COLLECTIONS_ODOO_DB", "")
        self.login = os.environ.get("COLLECTIONS_ODOO_LOGIN", "")
        self.password = os.environ.get("COLLECTIONS_ODOO_PASSWORD", "")
        self._client = None
        self._lock = threading.Lock()

    def call(self, model, method, *args):
        with self._lock:
            try:
                if self._client is None:
                    client = odoorpc.ODOO(self.host, protocol=self.protocol, port=self.port, timeout=120)
                    client.login(self.db, self.login, self.password)
                    self._client = client
                return self._client.execute_kw(model, method, list(args))
            except odoorpc.error.RPCError:
                raise  # Odoo answered with an error: a bug or a configuration problem, not an outage
            except Exception as exc:
                self._client = None  # log in again next time (Odoo may have restarted)
                raise OdooUnavailable(str(exc)) from exc


class Dispatcher:
    """The per-process state of a worker: Redis, the Odoo link, provider
    settings and clients (one HTTP client per thread, for keep-alive)."""

    def __init__(self, redis_url=REDIS_URL, odoo=None):
        self.redis = redis.Redis.from_url(redis_url)
        self.odoo = odoo or OdooLink()
        self._release = self.redis.register_script(_RELEASE)
        self._settings = {}
        self._settings_lock = threading.Lock()
        self._local = threading.local()
        self._to_report = queue.SimpleQueue()
        self._reporter = None
        self._reporter_lock = threading.Lock()

    # -- provider settings and clients ---------------------------------------

    def provider(self, provider_id):
        """Settings of a provider, from Odoo, cached for a minute."""
        with self._settings_lock:
            cached = self._settings.get(provider_id)
            if cached and time.monotonic() - cached[0] < SETTINGS_TTL:
                return cached[1]
        settings = self.odoo.call("collections.provider", "dispatch_settings", [provider_id])[str(provider_id)]
        with self._settings_lock:
            self._settings[provider_id] = (time.monotonic(), settings)
        return settings

    def client(self, settings):
        clients_by_config = self._local.__dict__.setdefault("clients", {})
        config = json.dumps([settings["type"], settings["client"]], sort_keys=True)
        if config not in clients_by_config:
            clients_by_config[config] = clients.make_client(settings["type"], settings["client"])
        return clients_by_config[config]

    # -- sending -------------------------------------------------------------

    def send_batch(self, provider_id, messages, requeue):
        """Send ``messages`` of a provider; ``requeue(messages, countdown)``
        puts messages back on the queue for later. Returns the results to
        report (stored in Redis, pending)."""
        settings = self.provider(provider_id)
        client = self.client(settings)
        rate = settings["rate_per_second"]
        bucket = TokenBucket(self.redis, f"{PREFIX}rate:{provider_id}", rate, max(1.0, rate))
        interval = settings["recipient_interval"]
        recipients = (
            RecipientInterval(self.redis, f"{PREFIX}recipient:{provider_id}:", interval) if interval > 0 else None
        )
        existing = self.redis.mget([self._result_key(m["key"]) for m in messages])
        results = [json.loads(raw) for raw in existing if raw]  # sent before: only report again
        todo = [m for m, raw in zip(messages, existing, strict=True) if not raw]
        if not todo:
            return results
        # Leases on the whole batch in one round trip, then a second look at the results.
        token = uuid.uuid4().hex
        pipe = self.redis.pipeline(transaction=False)
        for message in todo:
            pipe.set(self._lease_key(message["key"]), token, nx=True, px=int(LEASE_SECONDS * 1000))
        for message in todo:
            pipe.get(self._result_key(message["key"]))
        replies = pipe.execute()
        held, mine = [], []
        for message, leased, raw in zip(todo, replies[: len(todo)], replies[len(todo) :], strict=True):
            if not leased:
                # Another worker is on it, or was when it died: look again once its lease has run out.
                requeue([message], max(0.5, self.redis.pttl(self._lease_key(message["key"])) / 1000) + 0.5)
                continue
            held.append(message)
            if raw:
                results.append(json.loads(raw))  # finished by another worker between our two looks
            else:
                mine.append(message)
        try:
            self._take_tokens(bucket, len(mine))
            for message in mine:
                result = self._send_one(settings, client, recipients, message, requeue)
                if result:
                    results.append(result)
        finally:
            pipe = self.redis.pipeline(transaction=False)
            for message in held:
                self._release(keys=[self._lease_key(message["key"])], args=[token], client=pipe)
            pipe.execute()
        return results

    @staticmethod
    def _take_tokens(bucket, count):
        while count > 0:
            wanted = min(count, int(bucket.burst))
            while (wait := bucket.acquire(wanted)) > 0:
                time.sleep(wait)
            count -= wanted

    def _send_one(self, settings, client, recipients, message, requeue):
        if recipients:
            wait = recipients.acquire(message["to"])
            if wait > SLEEP_AT_MOST:
                requeue([message], wait)
                return None
            while wait > 0:
                time.sleep(wait)
                wait = recipients.acquire(message["to"])
        key = message["key"]
        callback = clients.callback_url_for(settings.get("status_callback"), key)
        sent = client.send(message["to"], message["body"], key, callback)
        if sent.status == "temporary":
            attempt = message.get("attempt", 0) + 1
            if attempt < settings["max_attempts"]:
                delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1)) * random.uniform(1.0, 1.5)
                requeue([{**message, "attempt": attempt}], max(delay, sent.retry_after or 0.0))
                return None
        result = {
            "id": message["id"],
            "key": key,
            "status": "sent" if sent.status == "sent" else "failed",
            "provider_ref": sent.provider_ref,
            "code": sent.code,
            "message": sent.message,
            "at": time.time(),
        }
        encoded = json.dumps(result)
        # Stored at once: if this worker dies now, the message is reported, not sent again.
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self._result_key(key), encoded, ex=RESULT_TTL)
        pipe.hset(PENDING_KEY, key, encoded)
        pipe.execute()
        return result

    @staticmethod
    def _lease_key(key):
        return f"{PREFIX}lease:{key}"

    @staticmethod
    def _result_key(key):
        return f"{PREFIX}result:{key}"

    # -- reporting -----------------------------------------------------------

    def queue_report(self, results):
        """Hand results (already in the pending hash) to this process's reporter."""
        for result in results:
            self._to_report.put(result)
        self.start_reporter()

    def start_reporter(self):
        with self._reporter_lock:
            if self._reporter is None or not self._reporter.is_alive():
                self._reporter = threading.Thread(target=self._report_forever, name="collections-reporter", daemon=True)
                self._reporter.start()

    def _report_forever(self):
        batch, backoff, stale_checked = [], 0.5, time.monotonic()
        while True:
            try:
                batch.append(self._to_report.get(timeout=1.0))
            except queue.Empty:
                pass
            while len(batch) < REPORT_BATCH:
                try:
                    batch.append(self._to_report.get_nowait())
                except queue.Empty:
                    break
            if batch:
                if self.report(batch):
                    batch, backoff = [], 0.5
                else:
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
            if time.monotonic() - stale_checked > min(10.0, REPORT_STALE_SECONDS):
                stale_checked = time.monotonic()
                self.report_stale()

    def flush_reports(self):
        """Report what this process still holds (on shutdown); what fails stays pending in Redis."""
        batch = []
        while True:
            try:
                batch.append(self._to_report.get_nowait())
            except queue.Empty:
                break
        self.report(batch)

    def report(self, results):
        """Report results to Odoo; acknowledged ones leave the pending hash.
        False when Odoo is unavailable (they stay pending)."""
        for start in range(0, len(results), REPORT_BATCH):
            chunk = results[start : start + REPORT_BATCH]
            try:
                self.odoo.call("collections.message", "report_dispatch_results", chunk)
            except OdooUnavailable as exc:
                _logger.warning("Odoo unavailable, %s results stay pending: %s", len(results) - start, exc)
                return False
            except odoorpc.error.RPCError:
                _logger.exception("Odoo refused %s results; they stay pending", len(chunk))
                return False
            self.redis.hdel(PENDING_KEY, *[r["key"] for r in chunk])
        return True

    def report_stale(self, older_than=REPORT_STALE_SECONDS):
        """Report pending results nobody reported for a while (their worker
        died, or Odoo was down), one worker at a time. False when Odoo is unavailable."""
        if not self.redis.set(STALE_LOCK, os.getpid(), nx=True, ex=60):
            return True
        try:
            limit = time.time() - older_than
            stale = [
                result
                for result in (json.loads(value) for value in self.redis.hvals(PENDING_KEY))
                if result.get("at", 0) <= limit
            ]
            return self.report(stale)
        finally:
            self.redis.delete(STALE_LOCK)

    def pending_count(self):
        return self.redis.hlen(PENDING_KEY)


_dispatcher = None
_dispatcher_lock = threading.Lock()


def dispatcher():
    global _dispatcher  # noqa: PLW0603 (one per worker process)
    with _dispatcher_lock:
        if _dispatcher is None or _dispatcher.pid != os.getpid():
            _dispatcher = Dispatcher()
            _dispatcher.pid = os.getpid()
        return _dispatcher
