"""A local stand-in for Meta's Graph API (WhatsApp Cloud API), for the tests
and the demo. Plain Python (standard library and requests).

Graph API side: ``POST /{version}/{phone_number_id}/messages`` (text,
template, document; the 24 h window enforced with 131047),
``GET|POST /{version}/{waba_id}/message_templates`` and
``POST /{version}/{phone_number_id}/media`` (kept: a document must name an
uploaded media id, as on Meta); a wrong token answers 190.
After each accepted message it posts signed status webhooks (sent,
delivered, read) to ``webhook_url``, like Meta.

Control side (for tests and the demo's "play the customer" page):
``POST /_emulator/reply`` ``{"from": "+34...", "text": "pagar"}`` or
``{"from": ..., "button": "PAY"}`` posts the customer's message as a signed
webhook; ``POST /_emulator/config`` changes the switches (see
:class:`Switches`); ``GET /_emulator/messages`` lists what was sent (with the
time it was accepted), ``GET /_emulator/stats`` counts it and
``POST /_emulator/reset`` forgets it (benchmarks).

Run it alone: ``python addons/collections_whatsapp/tools/emulator.py --port 8199
--webhook-url http://localhost:8069/collections/whatsapp/webhook/1`` (scripts/run
does, for the demo); play the customer with ``--reply "+34600000001" "pagar"``
(scripts/whatsapp-reply).
"""

import argparse
import email
import email.policy
import itertools
import json
import queue
import random
import re
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests

try:
    from .webhook import sign
except ImportError:  # run as a script
    from webhook import sign  # pylint: disable=import-error

WINDOW_SECONDS = 24 * 3600


def _reminder_template(language, body, buttons):
    """The approved utility template ``collections_reminder`` in ``language``: its body and quick replies."""
    return {
        "name": "collections_reminder",
        "language": language,
        "category": "UTILITY",
        "status": "APPROVED",
        "components": [
            {"type": "BODY", "text": body},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": text} for text in buttons]},
        ],
    }


DEFAULT_TEMPLATES = [
    _reminder_template(
        "es",
        "Hola {{1}}, tienes un saldo pendiente de {{2}} (vencido desde el {{3}}; facturas {{4}}). "
        "Puedes pagar, pedir un plan o prometer una fecha aquí: {{5}}. {{6}}",
        ["Pagar ahora", "Plan de pagos", "Hablar con una persona"],
    ),
    _reminder_template(
        "en",
        "Hello {{1}}, you have {{2}} outstanding (overdue since {{3}}; invoices {{4}}). "
        "Pay, ask for a plan or promise a date here: {{5}}. {{6}}",
        ["Pay now", "Payment plan", "Talk to a person"],
    ),
    {
        "name": "spring_offer",
        "language": "es",
        "category": "MARKETING",
        "status": "APPROVED",
        "components": [{"type": "BODY", "text": "¡Ofertas de primavera, {{1}}!"}],
    },
]


@dataclass
class Switches:
    """What the emulator does; change with ``POST /_emulator/config``."""

    auto_statuses: list = field(default_factory=lambda: ["sent", "delivered", "read"])
    status_delay: float = 0.0  # seconds before each status webhook
    duplicate_webhooks: int = 1  # each webhook posted this many times
    shuffle_statuses: bool = False  # statuses of one message in random order
    enforce_window: bool = True  # free-form outside the 24 h window -> 131047
    response_delay: float = 0.0  # seconds before answering a send
    errors_by_recipient: dict = field(default_factory=dict)  # wa_id -> Meta code for every send
    fail_next: list = field(default_factory=list)  # codes answered to the next sends, one each
    fail_status_by_recipient: dict = field(default_factory=dict)  # wa_id -> code of a "failed" status


# Meta's answers for the codes the switches can produce: (HTTP status, message).
ERRORS = {
    131047: (400, "Re-engagement message"),
    131026: (400, "Message undeliverable"),
    130429: (429, "Rate limit hit"),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit"),
    131057: (400, "Account in maintenance mode"),
    190: (401, "Error validating access token: Session has expired"),
    132001: (404, "Template name does not exist in the translation"),
    132000: (400, "Number of parameters does not match the expected number of params"),
    500: (500, "Internal error"),
}


class GraphApiEmulator:
    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        phone_number_id="1000000001",
        waba_id="2000000002",
        access_token="emulator-token",
        app_secret="emulator-app-secret",
        webhook_url=None,
        display_phone_number="34910000000",
    ):
        self.phone_number_id, self.waba_id = str(phone_number_id), str(waba_id)
        self.access_token, self.app_secret = access_token, app_secret
        self.webhook_url, self.display_phone_number = webhook_url, display_phone_number
        self.switches = Switches()
        self.templates = [dict(t, id=str(1000 + i)) for i, t in enumerate(DEFAULT_TEMPLATES)]
        self.sent = []  # accepted message payloads, with their wamid
        self.webhooks = []  # (body bytes, HTTP status of the receiver or an error string)
        self.last_inbound = {}  # wa_id -> Unix time of the customer's last message
        self.media = {}  # media id -> {"filename", "mime_type", "content"} of each upload
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._outbox = queue.Queue()
        self._session = requests.Session()
        handler = type("Handler", (_Handler,), {"emulator": self})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._threads = []

    # --- life cycle ---

    def start(self):
        for target in (self.server.serve_forever, self._post_webhooks):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self):
        self._outbox.put(None)
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def configure(self, **changes):
        with self._lock:
            for name, value in changes.items():
                if not hasattr(self.switches, name):
                    raise ValueError(f"unknown switch {name}")
                setattr(self.switches, name, value)

    def wait_idle(self, timeout=10.0):
        """Until every queued webhook was posted (tests)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._outbox.unfinished_tasks

    # --- Graph API behaviour ---

    def new_wamid(self):
        return f"wamid.EMU{next(self._ids):08d}{secrets.token_hex(8).upper()}"

    def accept(self, payload):
        """(HTTP status, body) for a POST to /messages."""
        if not isinstance(payload, dict) or payload.get("messaging_product") != "whatsapp":
            return _error(100, 400, "Invalid parameter: messaging_product")
        to = re.sub(r"\D", "", str(payload.get("to") or ""))
        kind = payload.get("type")
        if not to or kind not in ("text", "template", "document", "image", "interactive"):
            return _error(100, 400, "Invalid parameter")
        with self._lock:
            switches = self.switches
            if switches.fail_next:
                return _error_code(switches.fail_next.pop(0))
            if to in switches.errors_by_recipient:
                return _error_code(switches.errors_by_recipient[to])
            if kind == "template":
                template = payload.get("template") or {}
                language = (template.get("language") or {}).get("code")
                if not any(
                    t["name"] == template.get("name") and t["language"] == language and t["status"] == "APPROVED"
                    for t in self.templates
                ):
                    return _error_code(132001)
            elif switches.enforce_window and time.time() - self.last_inbound.get(to, 0) > WINDOW_SECONDS:
                return _error_code(131047)
            document = payload.get("document") if kind == "document" else None
            if isinstance(document, dict) and "id" in document and document["id"] not in self.media:
                return _error(100, 400, "Invalid parameter: no uploaded media has this id")
            wamid = self.new_wamid()
            self.sent.append({**payload, "id": wamid, "to": to, "at": time.time()})
            statuses = list(switches.auto_statuses)
            failed_code = switches.fail_status_by_recipient.get(to)
        if failed_code:
            statuses = ["failed"]
        if self.switches.shuffle_statuses:
            random.shuffle(statuses)
        for status in statuses:
            self.queue_webhook(
                self.status_body(wamid, status, to, payload.get("biz_opaque_callback_data"), failed_code)
            )
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": payload["to"], "wa_id": to}],
            "messages": [{"id": wamid}],
        }

    def _envelope(self, value):
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": self.display_phone_number, "phone_number_id": self.phone_number_id},
            **value,
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"field": "messages", "value": value}]}],
        }

    def status_body(self, wamid, status, to, callback_data=None, error_code=None):
        entry = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": to}
        if callback_data:
            entry["biz_opaque_callback_data"] = callback_data
        if status == "failed":
            code = int(error_code or 131026)
            entry["errors"] = [
                {
                    "code": code,
                    "title": ERRORS.get(code, (0, "Failed"))[1],
                    "error_data": {"details": ERRORS.get(code, (0, "Failed"))[1]},
                }
            ]
        return self._envelope({"statuses": [entry]})

    def inbound_body(self, sender, text=None, button=None, name=None, reply_to=None, wamid=None):
        """A customer's message: plain text, or a quick-reply button (its payload)."""
        sender = re.sub(r"\D", "", sender)
        message = {"from": sender, "id": wamid or self.new_wamid(), "timestamp": str(int(time.time()))}
        if button is not None:
            message.update(type="button", button={"payload": button, "text": text or button})
        else:
            message.update(type="text", text={"body": text or ""})
        if reply_to:
            message["context"] = {"from": self.display_phone_number, "id": reply_to}
        contacts = [{"profile": {"name": name or sender}, "wa_id": sender}]
        return self._envelope({"contacts": contacts, "messages": [message]})

    def reply(self, sender, text=None, button=None, name=None, wait=True):
        """The customer writes (opens the window); returns the inbound wamid."""
        body = self.inbound_body(sender, text, button, name)
        with self._lock:
            self.last_inbound[re.sub(r"\D", "", sender)] = time.time()
        self.queue_webhook(body)
        if wait:
            self.wait_idle()
        return body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]

    def queue_webhook(self, body):
        raw = json.dumps(body, ensure_ascii=False).encode()
        for _copy in range(max(1, int(self.switches.duplicate_webhooks))):
            self._outbox.put(raw)

    def post_signed(self, raw):
        """Post one webhook body, signed with the app secret; the receiver's HTTP status."""
        try:
            response = self._session.post(
                self.webhook_url,
                data=raw,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(self.app_secret, raw)},
                timeout=30,
            )
            return response.status_code
        except requests.RequestException as exc:
            return f"error: {exc}"

    def _post_webhooks(self):
        while True:
            raw = self._outbox.get()
            try:
                if raw is None:
                    return
                if self.switches.status_delay:
                    time.sleep(self.switches.status_delay)
                result = self.post_signed(raw) if self.webhook_url else "no webhook url"
                with self._lock:
                    self.webhooks.append((raw, result))
            finally:
                self._outbox.task_done()


def _error(code, http_status, message):
    return http_status, {
        "error": {
            "message": f"({code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": secrets.token_hex(6),
        }
    }


def _error_code(code):
    code = int(code)
    http_status, message = ERRORS.get(code, (400, "Error"))
    return _error(code, http_status, message)


def _uploaded_file(content_type, raw):
    """The ``file`` part of a multipart/form-data upload as {"filename",
    "mime_type", "content"}, or None."""
    if not content_type.startswith("multipart/form-data"):
        return None
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw, policy=email.policy.HTTP)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return {
                "filename": part.get_filename(),
                "mime_type": part.get_content_type(),
                "content": part.get_payload(decode=True),
            }
    return None


class _Handler(BaseHTTPRequestHandler):
    emulator = None  # set on the subclass
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes on a kept-alive connection: without TCP_NODELAY each
    # answer waits for the client's delayed ACK (40 ms), which is the emulator, not Meta.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 (quiet: the tests read results, not logs)
        pass

    def _send_json(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self):
        return self.headers.get("Authorization") == f"Bearer {self.emulator.access_token}"

    def do_GET(self):  # noqa: N802
        emulator, parts = self.emulator, urlsplit(self.path)
        path = parts.path.strip("/").split("/")
        if parts.path == "/_emulator/messages":
            with emulator._lock:
                return self._send_json(200, {"messages": list(emulator.sent), "switches": asdict(emulator.switches)})
        if parts.path == "/_emulator/stats":
            with emulator._lock:
                return self._send_json(200, {"sent": len(emulator.sent), "webhooks_queued": emulator._outbox.qsize()})
        if len(path) == 3 and path[1] == emulator.waba_id and path[2] == "message_templates":
            if not self._authorized():
                return self._send_json(*_error_code(190))
            query = parse_qs(parts.query)
            limit = int((query.get("limit") or ["100"])[0])
            after = int((query.get("after") or ["0"])[0])
            page = emulator.templates[after : after + limit]
            body = {"data": page, "paging": {}}
            if after + limit < len(emulator.templates):
                body["paging"]["next"] = f"{emulator.url}{parts.path}?limit={limit}&after={after + limit}"
            return self._send_json(200, body)
        return self._send_json(404, {"error": {"message": "Unknown path", "code": 100}})

    def do_POST(self):  # noqa: N802
        emulator, path = self.emulator, urlsplit(self.path).path
        raw = self._body()
        if path.startswith("/_emulator/"):
            return self._control(path, raw)
        parts = path.strip("/").split("/")
        if not self._authorized():
            return self._send_json(*_error_code(190))
        if len(parts) == 3 and parts[1] == emulator.phone_number_id and parts[2] == "messages":
            if emulator.switches.response_delay:
                time.sleep(emulator.switches.response_delay)
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                return self._send_json(*_error(100, 400, "Invalid JSON"))
            return self._send_json(*emulator.accept(payload))
        if len(parts) == 3 and parts[1] == emulator.phone_number_id and parts[2] == "media":
            upload = _uploaded_file(self.headers.get("Content-Type") or "", raw)
            if not upload:
                return self._send_json(*_error(100, 400, "Invalid parameter: file"))
            media_id = f"media.{secrets.token_hex(8)}"
            with emulator._lock:
                emulator.media[media_id] = upload
            return self._send_json(200, {"id": media_id})
        if len(parts) == 3 and parts[1] == emulator.waba_id and parts[2] == "message_templates":
            try:
                template = json.loads(raw or b"{}")
            except ValueError:
                return self._send_json(*_error(100, 400, "Invalid JSON"))
            template = {**template, "id": str(1000 + len(emulator.templates)), "status": "PENDING"}
            emulator.templates.append(template)
            return self._send_json(
                200, {"id": template["id"], "status": "PENDING", "category": template.get("category")}
            )
        return self._send_json(404, {"error": {"message": "Unknown path", "code": 100}})

    def _control(self, path, raw):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._send_json(400, {"error": "invalid JSON"})
        try:
            if path == "/_emulator/reply":
                wamid = self.emulator.reply(body["from"], body.get("text"), body.get("button"), body.get("name"))
                return self._send_json(200, {"id": wamid})
            if path == "/_emulator/config":
                self.emulator.configure(**body)
                return self._send_json(200, asdict(self.emulator.switches))
            if path == "/_emulator/reset":
                with self.emulator._lock:
                    self.emulator.sent.clear()
                    self.emulator.webhooks.clear()
                return self._send_json(200, {"sent": 0})
        except (KeyError, TypeError, ValueError) as exc:
            return self._send_json(400, {"error": str(exc)})
        return self._send_json(404, {"error": "unknown control path"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--webhook-url")
    parser.add_argument("--app-secret", default="emulator-app-secret")
    parser.add_argument("--access-token", default="emulator-token")
    parser.add_argument("--phone-number-id", default="1000000001")
    parser.add_argument("--waba-id", default="2000000002")
    parser.add_argument(
        "--reply",
        nargs=2,
        metavar=("FROM", "TEXT"),
        help="play the customer: the emulator running on --host/--port posts TEXT from the number FROM to Odoo",
    )
    parser.add_argument("--button", help="with --reply: a quick-reply button's payload (COLLECTIONS_PAY...)")
    args = parser.parse_args(argv)
    if args.reply:
        sender, text = args.reply
        response = requests.post(
            f"http://{args.host}:{args.port}/_emulator/reply",
            json={"from": sender, "text": text, "button": args.button},
            timeout=60,
        )
        sys.stdout.write(f"{response.status_code} {response.text}\n")
        return 0 if response.ok else 1
    emulator = GraphApiEmulator(
        args.host, args.port, args.phone_number_id, args.waba_id, args.access_token, args.app_secret, args.webhook_url
    ).start()
    sys.stdout.write(f"Graph API emulator on {emulator.url} (webhooks to {args.webhook_url})\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
