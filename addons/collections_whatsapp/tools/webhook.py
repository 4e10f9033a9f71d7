"""WhatsApp webhooks: the GET handshake, the ``X-Hub-Signature-256`` check
and the parsing of POSTed events into plain tuples.

Plain Python. The order matters and is the caller's: verify the signature over
the raw bytes *before* parsing anything (never re-serialise parsed JSON: the
bytes would change); parsing raises :class:`PayloadError` on anything that is
not a WhatsApp webhook, so the route answers 400 and stores nothing.
See shared/reference/whatsapp-cloud-api.md §3-§6.
"""

import hashlib
import hmac
import json
from typing import NamedTuple

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY_BYTES = 1024 * 1024  # Meta's batches are a few KB; anything this large is refused unread

# Statuses never go backwards: sent < delivered < read; failed is terminal.
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


def sign(app_secret, raw_body):
    """The header value Meta sends: ``sha256=`` + hex HMAC-SHA256(app secret, raw body)."""
    if isinstance(raw_body, str):
        raw_body = raw_body.encode()
    return "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_signature(app_secret, raw_body, header_value):
    """Whether ``header_value`` signs these exact bytes with this secret
    (constant-time). A missing secret or header never verifies."""
    if not app_secret or not header_value or not isinstance(raw_body, bytes | bytearray):
        return False
    expected = sign(app_secret, bytes(raw_body))
    return hmac.compare_digest(expected.encode(), header_value.strip().lower().encode("ascii", "replace"))


def verify_challenge(params, verify_token):
    """The ``hub.challenge`` to answer with 200 for a valid subscription
    handshake, else None (answer 403)."""
    if not verify_token:
        return None
    mode, token, challenge = (params.get(k) for k in ("hub.mode", "hub.verify_token", "hub.challenge"))
    if mode != "subscribe" or not token or not challenge:
        return None
    if not hmac.compare_digest(str(token).encode(), str(verify_token).encode()):
        return None
    return str(challenge)


class PayloadError(ValueError):
    """Not a WhatsApp webhook the connector understands (answer 400)."""


class StatusEvent(NamedTuple):
    phone_number_id: str
    wamid: str
    status: str  # sent | delivered | read | failed (others are ignored)
    timestamp: int  # Unix seconds
    recipient_id: str | None
    callback_data: str | None  # biz_opaque_callback_data echoed back
    error_code: str | None
    error_message: str | None

    @property
    def key(self):
        """One record per message id and status, however often Meta retries."""
        return f"{self.wamid}:{self.status}"


class InboundEvent(NamedTuple):
    phone_number_id: str
    wamid: str
    from_wa_id: str
    profile_name: str | None
    timestamp: int
    type: str  # text | button | interactive | document | image | audio | ...
    text: str | None  # what the customer wrote or the title of the button pressed
    payload: str | None  # a quick-reply button's payload or an interactive reply's id
    media_id: str | None
    media_mime: str | None
    media_filename: str | None
    reply_to: str | None  # the wamid this message answers (context.id)

    @property
    def key(self):
        return f"{self.wamid}:inbound"


def loads(raw_body):
    """The parsed JSON of a webhook body, or :class:`PayloadError`."""
    if len(raw_body) > MAX_BODY_BYTES:
        raise PayloadError("payload too large")
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from exc
    return payload


def parse(payload):
    """Every status and inbound message of a webhook (one POST may batch
    several entries, changes, statuses and messages). Raises PayloadError
    when the envelope is not a WhatsApp business account webhook; fields the
    connector does not use (pricing, conversation) are ignored."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise PayloadError("not a whatsapp_business_account webhook")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry must be a list")
    events = []
    for entry in entries:
        changes = _dict(entry, "entry").get("changes") or []
        if not isinstance(changes, list):
            raise PayloadError("changes must be a list")
        for change in changes:
            change = _dict(change, "change")
            if change.get("field") != "messages":
                continue  # template status, quality and account updates: not handled here
            value = _dict(change.get("value"), "value")
            phone_number_id = _str(_dict(value.get("metadata") or {}, "metadata").get("phone_number_id"))
            if not phone_number_id:
                raise PayloadError("metadata.phone_number_id missing")
            names = {
                _str(c.get("wa_id")): _str(_dict(c.get("profile") or {}, "profile").get("name"))
                for c in _list(value.get("contacts"), "contacts")
                if isinstance(c, dict)
            }
            for status in _list(value.get("statuses"), "statuses"):
                event = _status(phone_number_id, _dict(status, "status"))
                if event:
                    events.append(event)
            for message in _list(value.get("messages"), "messages"):
                events.append(_inbound(phone_number_id, _dict(message, "message"), names))
    return events


def _status(phone_number_id, status):
    name = _str(status.get("status"))
    if name not in STATUS_RANK:
        return None  # deleted / warning (legacy): nothing to record
    wamid = _required(status, "id")
    errors = [e for e in _list(status.get("errors"), "errors") if isinstance(e, dict)]
    code = message = None
    if errors:
        code = _str(errors[0].get("code"))
        details = errors[0].get("error_data")
        message = _str(details.get("details") if isinstance(details, dict) else None) or _str(
            errors[0].get("message") or errors[0].get("title")
        )
    return StatusEvent(
        phone_number_id,
        wamid,
        name,
        _timestamp(status.get("timestamp")),
        _str(status.get("recipient_id")),
        _str(status.get("biz_opaque_callback_data")),
        code,
        message,
    )


def _inbound(phone_number_id, message, names):
    kind = _required(message, "type")
    sender = _required(message, "from")
    text = payload = media_id = mime = filename = None
    if kind == "text":
        text = _str(_dict(message.get("text") or {}, "text").get("body"))
    elif kind == "button":  # a template's quick-reply button
        button = _dict(message.get("button") or {}, "button")
        text, payload = _str(button.get("text")), _str(button.get("payload"))
    elif kind == "interactive":
        interactive = _dict(message.get("interactive") or {}, "interactive")
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        reply = _dict(reply, "interactive reply")
        text, payload = _str(reply.get("title")), _str(reply.get("id"))
    elif kind in ("document", "image", "audio", "video", "sticker", "voice"):
        media = _dict(message.get(kind) or {}, kind)
        media_id, mime = _str(media.get("id")), _str(media.get("mime_type"))
        filename, text = _str(media.get("filename")), _str(media.get("caption"))
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    return InboundEvent(
        phone_number_id,
        _required(message, "id"),
        sender,
        names.get(sender),
        _timestamp(message.get("timestamp")),
        kind,
        text,
        payload,
        media_id,
        mime,
        filename,
        _str(context.get("id")),
    )


def _dict(value, what):
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object")
    return value


def _list(value, what):
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{what} must be a list")
    return value


def _str(value):
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _required(data, key):
    value = _str(data.get(key))
    if not value:
        raise PayloadError(f"{key} missing")
    if len(value) > 256:
        raise PayloadError(f"{key} too long")
    return value


def _timestamp(value):
    try:
        stamp = int(str(value))
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"timestamp {value!r} is not a Unix time") from exc
    if not 0 <= stamp < 2**32:
        raise PayloadError(f"timestamp {value!r} out of range")
    return stamp


def status_advances(current, new):
    """Whether a message in status ``current`` moves to ``new``: never
    backwards, failed is terminal (out-of-order webhooks are the rule)."""
    if current == "failed":
        return False
    return STATUS_RANK.get(new, 0) > STATUS_RANK.get(current, 0)
