"""Client of a Twilio-compatible SMS HTTP API (Twilio itself, compatible
gateways, and the local fake in ``fake_sms.py``).

Plain Python (requests only, no Odoo import): the Odoo addon uses it when it
sends in embedded mode, the Celery workers import this folder as the package
``collections_omni_tools`` (see ``collections_worker/clients.py``).

:meth:`TwilioCompatibleClient.send` never raises for what the provider
answers: every outcome is a :class:`SendResult`, ``sent``, ``temporary``
(retry later, with the same idempotency key) or ``permanent`` (retrying will
not help).
"""

import base64
import email.utils
import hashlib
import hmac
import re
import time
from typing import NamedTuple
from urllib.parse import urlencode, urlsplit

import requests

E164 = re.compile(r"^\+[1-9]\d{6,14}$")

SENT = "sent"
TEMPORARY = "temporary"
PERMANENT = "permanent"

API_VERSION = "2010-04-01"
INVALID_TO_CODE = "21211"  # Twilio's code for an invalid 'To' number


class SendResult(NamedTuple):
    status: str  # SENT | TEMPORARY | PERMANENT
    provider_ref: str | None  # provider message id (Twilio "sid") when sent
    code: str | None  # provider error code ("21211", "429", "500", "timeout", "connection")
    message: str | None  # human-readable reason
    retry_after: float | None  # seconds, from Retry-After on 429/503


class TwilioCompatibleClient:
    """Sends SMS through ``POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json``.

    One ``requests.Session`` per client, so consecutive sends reuse the
    connection (keep-alive): keep one client per process and reuse it.

    Every request carries ``Idempotency-Key``. Twilio's own API ignores that
    header; the local fake and compatible gateways honour it (same key, same
    message, no second delivery), which makes resending after a timeout safe.
    """

    def __init__(self, base_url, account_sid, auth_token, from_number, timeout=10.0, session=None):
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"SMS provider URL must be an http(s) URL, got {base_url!r}")
        if not account_sid or not auth_token:
            raise ValueError("SMS provider account SID and auth token are required")
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.timeout = timeout
        self.session = session or requests.Session()
        self.messages_url = f"{self.base_url}/{API_VERSION}/Accounts/{account_sid}/Messages.json"

    def send(self, to, body, idempotency_key, status_callback=None) -> SendResult:
        if not E164.match(to or ""):
            return SendResult(PERMANENT, None, INVALID_TO_CODE, f"Invalid 'To' Phone Number: {to}", None)
        data = {"To": to, "From": self.from_number, "Body": body}
        if status_callback:
            data["StatusCallback"] = status_callback
        try:
            response = self.session.post(
                self.messages_url,
                data=data,
                auth=(self.account_sid, self.auth_token),
                headers={"Idempotency-Key": idempotency_key, "Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,  # a redirected POST would become a GET
            )
        except requests.exceptions.ConnectTimeout as exc:  # before ConnectionError: never reached the provider
            return SendResult(TEMPORARY, None, "connection", f"Connection timed out: {exc}", None)
        except requests.exceptions.Timeout:
            return SendResult(
                TEMPORARY,
                None,
                "timeout",
                f"No answer within {self.timeout} s: the provider may have accepted the message; "
                "resending with the same idempotency key is safe",
                None,
            )
        except requests.RequestException as exc:
            return SendResult(TEMPORARY, None, "connection", f"Connection error: {exc}", None)
        return self._result(response)

    @staticmethod
    def _result(response):
        status = response.status_code
        payload = _json(response)
        if 200 <= status < 300:
            sid = payload.get("sid")
            return SendResult(SENT, sid, None, None if sid else "Accepted without a message id", None)
        code = payload.get("code")
        message = payload.get("message") or response.reason or f"HTTP {status}"
        if status in (429, 503):
            return SendResult(TEMPORARY, None, str(status), message, _retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            return SendResult(TEMPORARY, None, str(status), message, None)
        return SendResult(PERMANENT, None, str(code if code is not None else status), message, None)


def _json(response):
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _retry_after(value):
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def callback_url_for(status_callback, idempotency_key):
    """The status-callback URL of one message: the message's key rides along
    (and is signed with the URL), so a delivery report that arrives before the
    send's own result still finds its message."""
    if not status_callback:
        return None
    separator = "&" if "?" in status_callback else "?"
    return f"{status_callback}{separator}{urlencode({'key': idempotency_key})}"


def sign(auth_token, url, params) -> str:
    """Twilio's ``X-Twilio-Signature``: base64(HMAC-SHA1(auth_token, url +
    every parameter name and value, sorted by name)). A parameter may hold a
    list of values: distinct values, sorted, as Twilio's own library does."""
    text = url
    for name in sorted(params or {}):
        values = params[name]
        if not isinstance(values, list | tuple):
            values = [values]
        for value in sorted({str(v) for v in values}):
            text += name + value
    digest = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_signature(auth_token, url, params: dict, signature: str) -> bool:
    """Whether ``signature`` (the ``X-Twilio-Signature`` header) signs this
    exact URL and these form parameters; constant-time comparison."""
    if not signature or not auth_token:
        return False
    return hmac.compare_digest(sign(auth_token, url, params).encode(), signature.encode())
