"""A local fake of a Twilio-compatible SMS provider, for development, demos,
tests and the dispatch benchmark. Nothing leaves the machine.

    python -m collections_worker.fake_sms --port 8099 [--latency-ms 0]
        [--rate-429 0.0] [--rate-5xx 0.0] [--rate-timeout 0.0] [--timeout-seconds 15]
        [--account-sid AC...] [--auth-token ...] [--no-idempotency] [--seed N]

It implements ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form data
To, From, Body, StatusCallback; HTTP basic auth sid:token):

- wrong credentials: 401, code 20003; invalid 'To' (not E.164): 400, code
  21211; no Body: 400, code 21602; otherwise 201 with the message's JSON;
- ``Idempotency-Key`` honoured (unless --no-idempotency): the same key gets
  the same sid and answer again, counted as a replay, not a new delivery;
- faults at the configured rates: 429 (Retry-After: 1), 500 or 503
  (Retry-After: 1), and "timeout": the message IS delivered but the answer
  only comes after --timeout-seconds, when the client has given up (the
  nasty real-world case that idempotency keys exist for);
- StatusCallback: after delivery, a background thread POSTs MessageSid,
  MessageStatus=delivered, To, From and AccountSid there, signed with
  X-Twilio-Signature.

Control endpoints (no auth, loopback clients only): ``GET /_stats``,
``GET /_messages``, ``POST /_config`` (JSON: latency_ms, rate_429, rate_5xx,
rate_timeout, timeout_seconds, idempotency), ``POST /_reset``.

In-process (tests)::

    with FakeSmsServer(port=0, rate_429=0.1) as fake:
        client = TwilioCompatibleClient(fake.url, fake.account_sid, fake.auth_token, "+15005550006")
        ...
        fake.stats()["delivered"]
"""

import argparse
import base64
import datetime as dt
import ipaddress
import json
import queue
import random
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import requests

from .sms_http_client import E164, sign

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-sms-auth-token"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
CONFIG_KEYS = {
    "latency_ms": float,
    "rate_429": float,
    "rate_5xx": float,
    "rate_timeout": float,
    "timeout_seconds": float,
    "idempotency": bool,
}
REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FakeSmsServer:
    """The fake provider, served from a background thread (``start``/``stop``
    or ``with``). ``port=0`` picks a free port; see ``url``."""

    def __init__(
        self,
        port=8099,
        host="127.0.0.1",
        account_sid=DEFAULT_ACCOUNT_SID,
        auth_token=DEFAULT_AUTH_TOKEN,
        latency_ms=0.0,
        rate_429=0.0,
        rate_5xx=0.0,
        rate_timeout=0.0,
        timeout_seconds=15.0,
        idempotency=True,
        seed=None,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._expected_auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.config = {}
        self.configure(
            latency_ms=latency_ms,
            rate_429=rate_429,
            rate_5xx=rate_5xx,
            rate_timeout=rate_timeout,
            timeout_seconds=timeout_seconds,
            idempotency=idempotency,
        )
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._callbacks = queue.SimpleQueue()
        self.reset()
        handler = type("FakeSmsHandler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._threads = []
        self._serving = False

    # -- lifecycle -----------------------------------------------------------

    def start(self):
        self._serving = True
        self._threads = [
            threading.Thread(target=self.httpd.serve_forever, args=(0.1,), name="fake-sms-http", daemon=True),
            threading.Thread(target=self._send_callbacks, name="fake-sms-callbacks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def serve_forever(self):
        """Serve from the calling thread (the command line) until ``stop``."""
        threading.Thread(target=self._send_callbacks, name="fake-sms-callbacks", daemon=True).start()
        self._serving = True
        self.httpd.serve_forever()

    def stop(self):
        self._stopping.set()  # wakes the requests sleeping out a simulated timeout
        self._callbacks.put(None)
        if self._serving:  # shutdown() waits for serve_forever, forever if it never ran
            self._serving = False
            self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- state ---------------------------------------------------------------

    def configure(self, **options):
        unknown = set(options) - set(CONFIG_KEYS)
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        new = {**self.config, **{key: CONFIG_KEYS[key](value) for key, value in options.items()}}
        rates = [new.get(key, 0.0) for key in ("rate_429", "rate_5xx", "rate_timeout")]
        if any(rate < 0 for rate in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        if new.get("latency_ms", 0) < 0 or new.get("timeout_seconds", 0) < 0:
            raise ValueError("latency_ms and timeout_seconds must be >= 0")
        self.config = new  # replaced whole: request threads read a consistent dict
        return dict(new)

    def reset(self):
        with self._lock:
            self._counts = {"requests": 0, "delivered": 0, "replays": 0, "rejected": 0, "duplicates": 0}
            self._faults = {"429": 0, "5xx": 0, "timeout": 0}
            self._callback_counts = {"sent": 0, "failed": 0}
            self._connections = 0
            self._answers = {}  # idempotency key -> (status, body bytes)
            self._deliveries = {}  # key, or (To, Body) without key -> deliveries
            self._messages = []

    def stats(self):
        with self._lock:
            return {
                **self._counts,
                "faults": dict(self._faults),
                "callbacks": dict(self._callback_counts),
                "connections": self._connections,
            }

    def messages(self):
        with self._lock:
            return [dict(message) for message in self._messages]

    def _count(self, name):
        with self._lock:
            self._counts[name] += 1

    # -- the Messages endpoint -------------------------------------------------

    def _create_message(self, account_sid, authorization, key, form):
        """(status, payload or body bytes, extra headers, seconds to hold the answer back)."""
        config = self.config
        with self._lock:
            self._counts["requests"] += 1
        if authorization != self._expected_auth:
            self._count("rejected")
            headers = (("WWW-Authenticate", 'Basic realm="Twilio API"'),)
            return 401, _error(20003, "Authentication Error - invalid username", 401), headers, 0
        if account_sid != self.account_sid:
            self._count("rejected")
            return 404, _error(20404, "The requested resource was not found", 404), (), 0
        to, body = form.get("To", ""), form.get("Body", "")
        if not E164.match(to):
            self._count("rejected")
            return 400, _error(21211, f"Invalid 'To' Phone Number: {to}", 400), (), 0
        if not body:
            self._count("rejected")
            return 400, _error(21602, "Message body is required.", 400), (), 0

        draw = self._random.random()
        if draw < config["rate_429"]:
            self._fault("429")
            return 429, _error(20429, "Too Many Requests", 429), (("Retry-After", "1"),), 0
        draw -= config["rate_429"]
        if draw < config["rate_5xx"]:
            self._fault("5xx")
            status = self._random.choice((500, 503))
            headers = (("Retry-After", "1"),) if status == 503 else ()
            return status, _error(status, REASONS[status], status), headers, 0
        draw -= config["rate_5xx"]
        times_out = draw < config["rate_timeout"]
        if config["latency_ms"]:
            time.sleep(config["latency_ms"] / 1000)

        key = key if config["idempotency"] else None
        with self._lock:
            if key and key in self._answers:
                self._counts["replays"] += 1
                status, answer = self._answers[key]
                return status, answer, (), 0
            message = {
                "sid": "SM" + uuid.uuid4().hex,
                "to": to,
                "body": body,
                "key": key,
                "at": time.time(),
            }
            dedup = ("key", key) if key else ("content", to, body)
            seen = self._deliveries.get(dedup, 0)
            self._deliveries[dedup] = seen + 1
            self._counts["duplicates"] += 1 if seen else 0
            self._counts["delivered"] += 1
            self._messages.append(message)
            answer = json.dumps(self._message_json(message, form)).encode()
            if key:
                self._answers[key] = (201, answer)
            if times_out:
                self._faults["timeout"] += 1
        if form.get("StatusCallback"):
            self._callbacks.put((form["StatusCallback"], message, form.get("From", "")))
        return 201, answer, (), config["timeout_seconds"] if times_out else 0

    def _fault(self, kind):
        with self._lock:
            self._faults[kind] += 1

    def _message_json(self, message, form):
        now = dt.datetime.fromtimestamp(message["at"], dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
        return {
            "sid": message["sid"],
            "account_sid": self.account_sid,
            "to": message["to"],
            "from": form.get("From"),
            "body": message["body"],
            "status": "queued",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "num_segments": "1",
            "date_created": now,
            "date_updated": now,
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message['sid']}.json",
        }

    def _send_callbacks(self):
        session = requests.Session()
        while True:
            item = self._callbacks.get()
            if item is None:
                return
            url, message, from_number = item
            params = {
                "AccountSid": self.account_sid,
                "MessageSid": message["sid"],
                "MessageStatus": "delivered",
                "To": message["to"],
                "From": from_number,
            }
            headers = {"X-Twilio-Signature": sign(self.auth_token, url, params)}
            try:
                ok = session.post(url, data=params, headers=headers, timeout=10).status_code < 400
            except requests.RequestException:
                ok = False
            with self._lock:
                self._callback_counts["sent" if ok else "failed"] += 1


def _error(code, message, status):
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "FakeSms/1.0"
    disable_nagle_algorithm = True
    fake = None  # the FakeSmsServer, set on the subclass

    def setup(self):
        result = super().setup()
        with self.fake._lock:
            self.fake._connections += 1
        return result

    def log_message(self, format, *args):
        """Quiet: a log line per request would cost more than the answer."""

    def do_POST(self):
        raw = self._read_body()
        path = self.path.split("?", 1)[0]
        match = MESSAGES_PATH.match(path)
        if match:
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            status, answer, headers, hold = self.fake._create_message(
                match.group(1), self.headers.get("Authorization"), self.headers.get("Idempotency-Key"), form
            )
            if hold and self.fake._stopping.wait(hold):
                self.close_connection = True  # shutting down: no answer
                return
            self._reply(status, answer, headers)
        elif path in ("/_config", "/_reset") and self._local():
            if path == "/_reset":
                self.fake.reset()
                self._reply(200, {"reset": True})
                return
            try:
                options = json.loads(raw or b"{}")
                self._reply(200, self.fake.configure(**options))
            except (ValueError, TypeError) as exc:
                self._reply(400, {"message": str(exc)})
        else:
            self._reply(404, _error(20404, "The requested resource was not found", 404))

    def do_GET(self):
        self._read_body()
        path = self.path.split("?", 1)[0]
        if path == "/_stats" and self._local():
            self._reply(200, self.fake.stats())
        elif path == "/_messages" and self._local():
            self._reply(200, self.fake.messages())
        else:
            self._reply(404, _error(20404, "The requested resource was not found", 404))

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _local(self):
        return ipaddress.ip_address(self.client_address[0]).is_loopback

    def _reply(self, status, answer, headers=()):
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        head = [
            f"HTTP/1.1 {status} {REASONS.get(status, '')}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        head.extend(f"{name}: {value}" for name, value in headers)
        if self.close_connection:
            head.append("Connection: close")
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)  # one write, one packet
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (simulated timeout)
            self.close_connection = True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m collections_worker.fake_sms", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every accepted request")
    parser.add_argument("--rate-429", type=float, default=0.0, help="share of requests answered 429")
    parser.add_argument("--rate-5xx", type=float, default=0.0, help="share of requests answered 500 or 503")
    parser.add_argument("--rate-timeout", type=float, default=0.0, help="share delivered but answered too late")
    parser.add_argument("--timeout-seconds", type=float, default=15.0, help="how late a 'timeout' answers")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--no-idempotency", action="store_true", help="ignore Idempotency-Key (shows duplicates)")
    parser.add_argument("--seed", type=int, help="random seed of the fault injection")
    args = parser.parse_args(argv)
    try:
        server = FakeSmsServer(
            port=args.port,
            host=args.host,
            account_sid=args.account_sid,
            auth_token=args.auth_token,
            latency_ms=args.latency_ms,
            rate_429=args.rate_429,
            rate_5xx=args.rate_5xx,
            rate_timeout=args.rate_timeout,
            timeout_seconds=args.timeout_seconds,
            idempotency=not args.no_idempotency,
            seed=args.seed,
        )
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.stop, daemon=True).start())
    # A command-line tool's banner.
    print(  # pylint: disable=print-used
        f"fake SMS provider on {server.url} (account {server.account_sid}, token {server.auth_token}); "
        f"stats at {server.url}/_stats",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
