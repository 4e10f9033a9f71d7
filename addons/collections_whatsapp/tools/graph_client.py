"""Client of the WhatsApp Business Cloud API (Meta's Graph API).

Plain Python (requests only): the addon sends with it from inside Odoo, the
Celery workers with the same code. Payload builders are separate functions,
so a payload can be checked (and stored) before anything is sent.

:meth:`CloudApiClient.send` never raises for what Meta answers: every outcome
is a :class:`SendResult` with the same shape as the SMS client's
(``sent`` / ``temporary`` / ``permanent``), plus :func:`error_kind` to tell
what a code means (window closed, undeliverable, throttled, token...).
See shared/reference/whatsapp-cloud-api.md §1, §7 and §8.
"""

import email.utils
import json
import re
import time
from typing import NamedTuple
from urllib.parse import urlsplit

import requests
import urllib3

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"

SENT = "sent"
TEMPORARY = "temporary"
PERMANENT = "permanent"

# Error kinds (codes, so the addon can translate what a person reads).
WINDOW_CLOSED = "window_closed"  # 131047: free-form outside the 24 h window: use a template
UNDELIVERABLE = "undeliverable"  # 131026: not on WhatsApp / old app / ToS: mark the number
MARKETING_OPT_OUT = "marketing_opt_out"  # 131050
THROTTLED = "throttled"  # 130429, 131057, 131048, HTTP 429/503: back off
PAIR_RATE = "pair_rate"  # 131056: one business number to one user too often: 4^X s
AUTH = "auth"  # 190, 0: token expired or revoked: stop the provider, lose nothing
ACCOUNT_BLOCKED = "account_blocked"  # 131031, 368, 131042: stop the provider
TEMPLATE = "template"  # 132xxx: parameters or template do not match
INVALID_PARAMETER = "invalid_parameter"  # 100, 131008, 131009...
TRANSIENT = "transient"  # HTTP 5xx, timeouts, connection errors
OTHER = "other"

_KINDS = {
    "131047": WINDOW_CLOSED,
    "470": WINDOW_CLOSED,
    "131026": UNDELIVERABLE,
    "131050": MARKETING_OPT_OUT,
    "130429": THROTTLED,
    "131057": THROTTLED,
    "131048": THROTTLED,
    "131049": THROTTLED,
    "429": THROTTLED,
    "503": THROTTLED,
    "131056": PAIR_RATE,
    "190": AUTH,
    "0": AUTH,
    "131031": ACCOUNT_BLOCKED,
    "368": ACCOUNT_BLOCKED,
    "131042": ACCOUNT_BLOCKED,
    "100": INVALID_PARAMETER,
    "131008": INVALID_PARAMETER,
    "131009": INVALID_PARAMETER,
    "timeout": TRANSIENT,
    "connection": TRANSIENT,
}
# Retried later (same idempotency key); everything else is final.
RETRIED_KINDS = frozenset({THROTTLED, PAIR_RATE, TRANSIENT, AUTH})
# Kinds that stop the whole provider until a manager acts: its messages wait, none is failed.
STOPPING_KINDS = frozenset({AUTH, ACCOUNT_BLOCKED})
THROTTLE_BACKOFF = 1.0  # seconds, doubled per attempt, when Meta gives no Retry-After
PAIR_BACKOFF_CAP = 4**5  # 4^X seconds (Meta), capped at about 17 minutes


def error_kind(code):
    """What an error code (Meta's ``code``, an HTTP status or ``timeout`` /
    ``connection``) means; ``TEMPLATE`` for the 132xxx family."""
    code = str(code or "")
    if code in _KINDS:
        return _KINDS[code]
    if code.startswith("132"):
        return TEMPLATE
    if code.isdigit() and len(code) == 3 and code.startswith("5"):
        return TRANSIENT
    return OTHER


def backoff_seconds(code, attempt, retry_after=None):
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from
    0): 4^X for the pair rate (Meta's rule), else Retry-After or doubling."""
    kind = error_kind(code)
    if kind == PAIR_RATE:
        return float(min(4 ** (attempt + 1), PAIR_BACKOFF_CAP))
    if retry_after:
        return float(retry_after)
    if kind == AUTH:
        return 3600.0  # nothing will change until a manager renews the token
    return THROTTLE_BACKOFF * 2**attempt


class SendResult(NamedTuple):
    status: str  # SENT | TEMPORARY | PERMANENT
    provider_ref: str | None  # the wamid when sent
    code: str | None  # Meta's error code, an HTTP status, "timeout" or "connection"
    message: str | None  # Meta's details, for the log and the message's error
    retry_after: float | None  # seconds

    @property
    def kind(self):
        return error_kind(self.code) if self.code else None


# === PAYLOADS === #


def _base(to, kind, callback_data=None, reply_to=None):
    payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind}
    if callback_data:
        payload["biz_opaque_callback_data"] = callback_data[:512]
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def text_payload(to, body, callback_data=None, reply_to=None, preview_url=False):
    """Free text: only inside the customer-service window."""
    return {**_base(to, "text", callback_data, reply_to), "text": {"body": body, "preview_url": bool(preview_url)}}


def document_payload(to, link=None, media_id=None, filename=None, caption=None, callback_data=None):
    """A document (the statement or an invoice PDF) by link or uploaded media id;
    only inside the window."""
    if bool(link) == bool(media_id):
        raise ValueError("a document needs exactly one of link or media_id")
    document = {"link": link} if link else {"id": media_id}
    if filename:
        document["filename"] = filename
    if caption:
        document["caption"] = caption
    return {**_base(to, "document", callback_data), "document": document}


def template_payload(to, name, language, body_params=(), button_params=(), header=None, callback_data=None):
    """An approved template (works outside the window). ``body_params`` are the
    values of ``{{1}}``, ``{{2}}``...: plain strings or ready parameter dicts
    (``currency``, ``date_time``); ``button_params`` are ``(index, sub_type,
    value)`` with sub_type ``url`` (the URL's variable part) or
    ``quick_reply`` (the payload Meta posts back when pressed); ``header`` is a
    parameter dict (document, image, text) or None."""
    components = []
    if header:
        components.append({"type": "header", "parameters": [header]})
    if body_params:
        components.append({"type": "body", "parameters": [_parameter(value) for value in body_params]})
    for index, sub_type, value in button_params:
        key = "payload" if sub_type == "quick_reply" else "text"
        components.append(
            {"type": "button", "sub_type": sub_type, "index": str(index), "parameters": [{"type": key, key: value}]}
        )
    template = {"name": name, "language": {"code": language, "policy": "deterministic"}}
    if components:
        template["components"] = components
    return {**_base(to, "template", callback_data), "template": template}


def _parameter(value):
    return value if isinstance(value, dict) else {"type": "text", "text": str(value)}


def currency_parameter(amount, currency_code, fallback_value):
    """Meta's currency parameter: ``amount_1000`` is the amount times 1000 and
    ``fallback_value`` the same amount formatted for the reader."""
    return {
        "type": "currency",
        "currency": {"fallback_value": fallback_value, "code": currency_code, "amount_1000": round(amount * 1000)},
    }


def date_parameter(fallback_value):
    return {"type": "date_time", "date_time": {"fallback_value": fallback_value}}


PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def placeholders(text):
    """The variable numbers of a template text, sorted: ``"{{1}} ... {{2}}"`` -> [1, 2]."""
    return sorted({int(number) for number in PLACEHOLDER.findall(text or "")})


def render(text, values):
    """A template text with ``{{n}}`` replaced by ``values[n - 1]`` (a preview)."""

    def replace(match):
        index = int(match.group(1)) - 1
        return str(values[index]) if 0 <= index < len(values) else match.group(0)

    return PLACEHOLDER.sub(replace, text or "")


# === THE LEDGER: MESSAGES META MAY HAVE ACCEPTED === #

ACCEPTED_PREFIX = "collections:whatsapp:accepted:"  # idempotency key -> wamid (from Meta's answer or a status)
IN_FLIGHT_PREFIX = "collections:whatsapp:inflight:"  # idempotency key -> Unix time the request left
LEDGER_TTL = 7 * 24 * 3600
IN_DOUBT_SECONDS = 60.0  # Meta posts the "sent" status within seconds; after this, a request in doubt never arrived
IN_DOUBT = "in_doubt"  # a code of ours: an earlier request of this message may have reached Meta
PAIR_PREFIX = "collections:whatsapp:pair:"  # phone number id:wa_id -> 131056 answers in a row (X of 4^X)
PAIR_WAIT_PREFIX = "collections:whatsapp:pairwait:"  # phone number id:wa_id -> set while that pair backs off
PAIR_MEMORY = 3600  # seconds a pair's count of 131056 is remembered

# SendLedger.claim: the message accepted before? its pair backing off? an earlier request in doubt?
# Else the in-flight mark, set. KEYS: accepted, pair wait, in flight; ARGV: now, in-doubt seconds, TTL.
_CLAIM = """
local wamid = redis.call('GET', KEYS[1])
if wamid then return {'accepted', wamid} end
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then return {'pair', tostring(pttl)} end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'EX', ARGV[3]) then return {'go', ''} end
local started = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
local elapsed = tonumber(ARGV[1]) - started
if elapsed < tonumber(ARGV[2]) then return {'doubt', tostring(tonumber(ARGV[2]) - elapsed)} end
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[3])
return {'go', ''}
"""


class SendLedger:
    """Meta has no idempotency key: a message whose request left but whose
    answer was lost (the worker was killed, the answer timed out) may have
    been accepted. The ledger, in the workers' Redis, makes a resend of such a
    message wait for proof instead of sending a second WhatsApp:

    - before the request, an in-flight mark (the time) for the message's key;
    - Meta's answer, or the webhook's status carrying the key back in
      ``biz_opaque_callback_data`` (:func:`note_accepted`, called by Odoo),
      records the wamid under the key: a resend answers that wamid, sending nothing;
    - an in-flight mark without a wamid is in doubt: the resend is put off
      until ``in_doubt_seconds`` after the first request; if no status came by
      then, the first request never reached Meta and the message goes.
    """

    def __init__(self, redis_url, in_doubt_seconds=IN_DOUBT_SECONDS):
        import redis  # only where a ledger is used (the workers, Odoo's webhook in scaled mode)

        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.in_doubt_seconds = float(in_doubt_seconds)
        self._claim = self.redis.register_script(_CLAIM)

    def accepted(self, key):
        value = self.redis.get(ACCEPTED_PREFIX + key)
        return value.decode() if value else None

    def begin(self, key, now=None):
        """None when the request may go; else the seconds to wait (in doubt)."""
        now = time.time() if now is None else now
        if self.redis.set(IN_FLIGHT_PREFIX + key, repr(now), nx=True, ex=LEDGER_TTL):
            return None
        started = float(self.redis.get(IN_FLIGHT_PREFIX + key) or 0)
        if now - started < self.in_doubt_seconds:
            return self.in_doubt_seconds - (now - started) + 0.5
        self.redis.set(IN_FLIGHT_PREFIX + key, repr(now), ex=LEDGER_TTL)  # no proof came: it never arrived
        return None

    def claim(self, key, pair, now=None):
        """Before a request, in one round trip (a Lua script, atomic): (the wamid
        Meta gave the message before, or None; the seconds the business number /
        customer pair must still wait after a 131056, shared by every worker;
        the seconds to wait while an earlier request is in doubt, or None when
        this request may go: then its in-flight mark is set). The same
        decisions as ``accepted``, the pair's wait and ``begin`` in that order."""
        now = time.time() if now is None else now
        kind, value = self._claim(
            keys=[ACCEPTED_PREFIX + key, PAIR_WAIT_PREFIX + pair, IN_FLIGHT_PREFIX + key],
            args=[repr(now), repr(self.in_doubt_seconds), LEDGER_TTL],
        )
        kind, value = (part.decode() if isinstance(part, bytes) else part for part in (kind, value))
        if kind == "accepted":
            return value, 0.0, None
        if kind == "pair":
            return None, int(value) / 1000, None
        if kind == "doubt":
            return None, 0.0, float(value) + 0.5
        return None, 0.0, None

    def pair_limited(self, pair):
        """Meta answered 131056 for the pair: back off 4^X seconds, X counting
        the 131056 in a row for that pair; returns the wait."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(PAIR_PREFIX + pair)
        pipe.expire(PAIR_PREFIX + pair, PAIR_MEMORY)
        count = pipe.execute()[0]
        wait = float(min(4**count, PAIR_BACKOFF_CAP))
        self.redis.set(PAIR_WAIT_PREFIX + pair, "1", px=int(wait * 1000))
        return wait

    def settle(self, key, result, pair=None):
        """After the request, in one round trip: accepted, recorded (and the
        ``pair``'s count of 131056 forgotten); refused by Meta (nothing sent),
        the mark goes; no answer (a timeout, a connection lost midway), the
        mark stays and the message is in doubt."""
        pipe = self.redis.pipeline(transaction=False)
        if result.status == SENT and result.provider_ref:
            pipe.set(ACCEPTED_PREFIX + key, result.provider_ref, ex=LEDGER_TTL)
            pipe.delete(IN_FLIGHT_PREFIX + key)
        elif result.code not in ("timeout", "connection"):
            pipe.delete(IN_FLIGHT_PREFIX + key)
        if pair and result.status == SENT:
            pipe.delete(PAIR_PREFIX + pair)
        pipe.execute()


_ledgers = {}


def ledger_for(redis_url):
    """One ledger (one Redis connection pool) per URL and process."""
    if redis_url not in _ledgers:
        _ledgers[redis_url] = SendLedger(redis_url)
    return _ledgers[redis_url]


def note_accepted(redis_client, wamids_by_key):
    """Record that Meta accepted the messages ``{idempotency key: wamid}``."""
    if not wamids_by_key:
        return
    pipe = redis_client.pipeline(transaction=False)
    for key, wamid in wamids_by_key.items():
        pipe.set(ACCEPTED_PREFIX + key, wamid, ex=LEDGER_TTL)
    pipe.execute()


# === THE CLIENT === #


class CloudApiClient:
    """Sends through ``POST {base_url}/{version}/{phone_number_id}/messages``.

    One ``requests.Session`` per client (keep-alive): keep one per process.
    ``base_url`` is Meta's Graph API or the local emulator. With
    ``ledger_url`` (the workers' Redis), :meth:`send` never sends a message
    twice when an earlier request's answer was lost (:class:`SendLedger`)."""

    def __init__(
        self,
        phone_number_id,
        access_token,
        api_version=DEFAULT_API_VERSION,
        base_url=None,
        timeout=10.0,
        session=None,
        ledger_url=None,
        in_doubt_seconds=IN_DOUBT_SECONDS,
    ):
        base_url = base_url or DEFAULT_BASE_URL
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Graph API URL must be an http(s) URL, got {base_url!r}")
        if not phone_number_id or not access_token:
            raise ValueError("WhatsApp phone number id and access token are required")
        if not re.fullmatch(r"v\d+\.\d+", api_version or ""):
            raise ValueError(f"Graph API version must look like v21.0, got {api_version!r}")
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.phone_number_id = str(phone_number_id)
        self.access_token = access_token
        self.timeout = timeout
        self.session = session or requests.Session()  # the management API (templates, media)
        self._pool = urllib3.PoolManager()  # sending (send_payload)
        self.ledger = SendLedger(ledger_url, in_doubt_seconds) if ledger_url else None

    def _url(self, *parts):
        return "/".join([self.base_url, self.api_version, *map(str, parts)])

    def _headers(self):
        return {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}

    def send_payload(self, payload, attempt=0) -> SendResult:
        """POST one message payload; ``attempt`` (0 for the first try) sets the backoff.

        Through urllib3's pool rather than ``requests``: the same request for
        less than half the CPU, which the workers spend once per message."""
        try:
            response = self._pool.request(
                "POST",
                self._url(self.phone_number_id, "messages"),
                body=json.dumps(payload, allow_nan=False).encode(),
                headers={**self._headers(), "Content-Type": "application/json"},
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                redirect=False,
                retries=False,
            )
        except urllib3.exceptions.ConnectTimeoutError as exc:
            return SendResult(
                TEMPORARY, None, "connection", f"Connection timed out: {exc}", backoff_seconds("", attempt)
            )
        except urllib3.exceptions.TimeoutError:
            # Meta has no idempotency key: the message may have gone. The caller
            # decides (the engine resends only messages whose lease ran out).
            return SendResult(
                TEMPORARY, None, "timeout", f"No answer within {self.timeout} s", backoff_seconds("", attempt)
            )
        except urllib3.exceptions.HTTPError as exc:
            return SendResult(TEMPORARY, None, "connection", f"Connection error: {exc}", backoff_seconds("", attempt))
        return self._result(_Answer(response), attempt)

    def send(self, to, body, idempotency_key=None, status_callback=None, attempt=0) -> SendResult:
        """The engine's client interface (``collections.provider._get_client``):
        ``body`` is a message payload without ``to`` (a template, a document:
        :func:`template_payload` ...) or a plain text; the idempotency key
        rides along as ``biz_opaque_callback_data``, echoed in the statuses.
        ``status_callback`` is unused: Meta posts statuses to the app's webhook."""
        if isinstance(body, dict):
            payload = {**body, "to": to}
            if idempotency_key:
                payload["biz_opaque_callback_data"] = idempotency_key
        else:
            payload = text_payload(to, body or "", callback_data=idempotency_key)
        if not (self.ledger and idempotency_key):
            return self.send_payload(payload, attempt)
        pair = f"{self.phone_number_id}:{payload.get('to')}"
        wamid, pair_wait, doubt_wait = self.ledger.claim(idempotency_key, pair)
        if wamid:
            return SendResult(SENT, wamid, None, None, None)  # accepted before: a replay sends nothing
        if pair_wait > 0:  # this customer's pair is backing off: not even a request to Meta
            return SendResult(TEMPORARY, None, "131056", "Pair rate limit: backing off", pair_wait)
        if doubt_wait is not None:
            message = "An earlier request may have reached Meta: waiting for its status before sending again"
            return SendResult(TEMPORARY, None, IN_DOUBT, message, doubt_wait)
        result = self.send_payload(payload, attempt)
        self.ledger.settle(idempotency_key, result, pair)
        if result.kind == PAIR_RATE:
            result = result._replace(retry_after=self.ledger.pair_limited(pair))
        return result

    @staticmethod
    def _result(response, attempt=0):
        status = response.status_code
        payload = _json(response)
        if 200 <= status < 300:
            messages = payload.get("messages") or [{}]
            wamid = messages[0].get("id") if isinstance(messages[0], dict) else None
            return SendResult(SENT, wamid, None, None if wamid else "Accepted without a message id", None)
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        code = str(error.get("code") if error.get("code") is not None else status)
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
        message = details or error.get("message") or response.reason or f"HTTP {status}"
        kind = error_kind(code)
        if kind == OTHER:
            kind = error_kind(str(status)) if status >= 429 else OTHER
        if kind in RETRIED_KINDS:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            backoff = backoff_seconds(code if error_kind(code) != OTHER else str(status), attempt, retry_after)
            return SendResult(TEMPORARY, None, code, message, backoff)
        return SendResult(PERMANENT, None, code, message, None)

    # --- management API (templates, media) ---

    def list_templates(self, waba_id, limit=100):
        """Every message template of the business account (follows paging)."""
        url = self._url(waba_id, "message_templates")
        params = {"limit": limit}
        templates = []
        for _page in range(100):  # a bound, not a real limit: 10,000 templates
            response = self.session.get(url, params=params, headers=self._headers(), timeout=self.timeout)
            raise_for_error(response)
            body = _json(response)
            templates.extend(t for t in body.get("data") or [] if isinstance(t, dict))
            next_url = (body.get("paging") or {}).get("next")
            if not next_url:
                break
            url, params = next_url, None
        return templates

    def create_template(self, waba_id, name, language, category, components):
        response = self.session.post(
            self._url(waba_id, "message_templates"),
            json={"name": name, "language": language, "category": category, "components": components},
            headers=self._headers(),
            timeout=self.timeout,
        )
        raise_for_error(response)
        return _json(response)

    def upload_media(self, content, filename, mimetype="application/pdf"):
        """Upload a file; returns its media id for :func:`document_payload`."""
        response = self.session.post(
            self._url(self.phone_number_id, "media"),
            data={"messaging_product": "whatsapp", "type": mimetype},
            files={"file": (filename, content, mimetype)},
            headers=self._headers(),
            timeout=self.timeout,
        )
        raise_for_error(response)
        return _json(response).get("id")


class _Answer:
    """An urllib3 response as ``_result`` reads an answer (``requests``' names)."""

    def __init__(self, response):
        self.status_code = response.status
        self.reason = response.reason
        self.headers = response.headers
        self._data = response.data

    def json(self):
        return json.loads(self._data)


class GraphApiError(Exception):
    def __init__(self, code, message, http_status):
        super().__init__(f"({code}) {message}")
        self.code, self.message, self.http_status = str(code), message, http_status

    @property
    def kind(self):
        return error_kind(self.code)


def raise_for_error(response):
    if 200 <= response.status_code < 300:
        return
    error = _json(response).get("error") or {}
    if not isinstance(error, dict):
        error = {}
    raise GraphApiError(
        error.get("code", response.status_code),
        error.get("message") or response.reason or f"HTTP {response.status_code}",
        response.status_code,
    )


def _json(response):
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _retry_after(value):
    if not value:
        return None
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
