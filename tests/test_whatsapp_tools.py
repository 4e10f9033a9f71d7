"""The WhatsApp connector's plain-Python parts (addons/collections_whatsapp/tools),
loaded without Odoo, against the local Graph API emulator over real HTTP."""

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.whatsapp_tools import omni_tool, tool

graph = tool("graph_client")
webhook = tool("webhook")
phone = tool("phone")
emulator_module = tool("emulator")
intents = tool("chat_intents")
reply_keywords = omni_tool("reply_keywords")

SECRET = "app-secret-ñ"


# --- signatures -------------------------------------------------------------


def test_signature_is_hmac_sha256_of_the_raw_bytes():
    body = b'{"object":"whatsapp_business_account"}'
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert webhook.sign(SECRET, body) == expected
    assert webhook.verify_signature(SECRET, body, expected)


@pytest.mark.parametrize(
    "case",
    ["invalid", "missing", "wrong_secret", "altered_body", "reserialised_non_ascii", "sha1_prefix", "empty_secret"],
)
def test_signature_matrix_rejects(case):
    body = json.dumps({"text": "José pagó 100 € @ 10:00"}, ensure_ascii=False).encode()
    good = webhook.sign(SECRET, body)
    header, secret, signed_body = good, SECRET, body
    if case == "invalid":
        header = "sha256=" + "0" * 64
    elif case == "missing":
        header = None
    elif case == "wrong_secret":
        header = webhook.sign("another-secret", body)
    elif case == "altered_body":
        signed_body = body.replace(b"100", b"900")
    elif case == "reserialised_non_ascii":  # json.dumps escapes non-ASCII by default: other bytes
        signed_body = json.dumps(json.loads(body)).encode()
    elif case == "sha1_prefix":
        header = good.replace("sha256=", "sha1=")
    elif case == "empty_secret":
        secret = ""
    assert not webhook.verify_signature(secret, signed_body, header)


def test_signature_accepts_non_ascii_body_and_upper_case_hex():
    body = json.dumps({"text": "Ñandú 💶"}, ensure_ascii=False).encode()
    header = webhook.sign(SECRET, body)
    assert webhook.verify_signature(SECRET, body, header)
    assert webhook.verify_signature(SECRET, body, "sha256=" + header[7:].upper())


def test_handshake():
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert webhook.verify_challenge(params, "tok") == "1158201444"
    assert webhook.verify_challenge({**params, "hub.verify_token": "other"}, "tok") is None
    assert webhook.verify_challenge({**params, "hub.mode": "unsubscribe"}, "tok") is None
    assert webhook.verify_challenge({**params, "hub.challenge": ""}, "tok") is None
    assert webhook.verify_challenge(params, "") is None


# --- payload parsing ----------------------------------------------------------


def _envelope(value, field="messages"):
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "PN1"}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "W", "changes": [{"field": field, "value": value}]}],
    }


def test_parse_statuses_with_error_and_callback_data():
    events = webhook.parse(
        _envelope(
            {
                "statuses": [
                    {
                        "id": "wamid.A",
                        "status": "delivered",
                        "timestamp": "1740476674",
                        "recipient_id": "34600",
                        "biz_opaque_callback_data": "key-1",
                        "pricing": {"category": "utility"},
                    },
                    {
                        "id": "wamid.B",
                        "status": "failed",
                        "timestamp": "1740476675",
                        "recipient_id": "34601",
                        "errors": [{"code": 131026, "title": "Undeliverable", "error_data": {"details": "not on WA"}}],
                    },
                    {"id": "wamid.C", "status": "deleted", "timestamp": "1740476675"},
                ]
            }
        )
    )
    assert [(e.wamid, e.status, e.timestamp, e.callback_data) for e in events] == [
        ("wamid.A", "delivered", 1740476674, "key-1"),
        ("wamid.B", "failed", 1740476675, None),
    ]
    assert (events[1].error_code, events[1].error_message) == ("131026", "not on WA")
    assert events[0].key == "wamid.A:delivered"


def test_parse_inbound_text_button_interactive_document_batched():
    payload = _envelope(
        {
            "contacts": [{"profile": {"name": "Lucía"}, "wa_id": "34600111222"}],
            "messages": [
                {"from": "34600111222", "id": "wamid.1", "timestamp": "1", "type": "text", "text": {"body": "pagar"}},
                {
                    "from": "34600111222",
                    "id": "wamid.2",
                    "timestamp": "2",
                    "type": "button",
                    "button": {"payload": "COLLECTIONS_PLAN", "text": "Plan de pagos"},
                    "context": {"id": "wamid.X"},
                },
                {
                    "from": "34600111222",
                    "id": "wamid.3",
                    "timestamp": "3",
                    "type": "interactive",
                    "interactive": {
                        "type": "button_reply",
                        "button_reply": {"id": "COLLECTIONS_PAY", "title": "Pagar"},
                    },
                },
                {
                    "from": "34600111222",
                    "id": "wamid.4",
                    "timestamp": "4",
                    "type": "document",
                    "document": {"id": "media.1", "mime_type": "application/pdf", "filename": "justificante.pdf"},
                },
            ],
        }
    )
    payload["entry"].append(payload["entry"][0])  # Meta batches entries: every one is read
    events = webhook.parse(payload)
    assert len(events) == 8
    text, button, interactive, document = events[:4]
    assert (text.type, text.text, text.profile_name, text.from_wa_id) == ("text", "pagar", "Lucía", "34600111222")
    assert (button.payload, button.text, button.reply_to) == ("COLLECTIONS_PLAN", "Plan de pagos", "wamid.X")
    assert (interactive.payload, interactive.text) == ("COLLECTIONS_PAY", "Pagar")
    assert (document.media_id, document.media_filename) == ("media.1", "justificante.pdf")
    assert text.key == "wamid.1:inbound"


def test_other_fields_are_ignored():
    assert webhook.parse(_envelope({"event": "APPROVED"}, field="message_template_status_update")) == []


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account", "entry": "x"},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": []}]}]},
        _envelope({"statuses": [{"status": "sent", "timestamp": "1"}]}),  # no id
        _envelope({"statuses": [{"id": "w", "status": "sent", "timestamp": "NaN"}]}),
        _envelope({"statuses": [{"id": "w", "status": "sent", "timestamp": str(10**20)}]}),
        _envelope({"messages": [{"id": "w", "timestamp": "1", "type": "text"}]}),  # no sender
        _envelope({"messages": {"id": "w"}}),
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {}}]}]},
    ],
)
def test_malformed_payloads_raise_payload_error(payload):
    with pytest.raises(webhook.PayloadError):
        webhook.parse(payload)


def test_loads_refuses_oversized_and_non_json():
    with pytest.raises(webhook.PayloadError):
        webhook.loads(b"{" * (webhook.MAX_BODY_BYTES + 1))
    with pytest.raises(webhook.PayloadError):
        webhook.loads(b"\xff\xfe not json")


def test_statuses_never_go_backwards():
    assert webhook.status_advances(None, "sent")
    assert webhook.status_advances("sent", "read")  # delivered skipped
    assert not webhook.status_advances("read", "delivered")  # out of order
    assert not webhook.status_advances("delivered", "sent")
    assert webhook.status_advances("read", "failed")
    assert not webhook.status_advances("failed", "read")


# --- phone numbers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "country", "expected"),
    [
        ("600 12 34 56", "ES", ("+34600123456", None)),
        ("0034 600123456", None, ("+34600123456", None)),
        ("+52 55 1234 5678", "ES", ("+525512345678", None)),  # MX mobiles lost their "1" in 2019
        ("55 1234 5678", "MX", ("+525512345678", None)),
        ("", "ES", (None, "empty")),
        ("abc", "ES", (None, "unparsable")),
        ("600 12", "ES", (None, "invalid")),
        ("910 00 00 00", "ES", (None, "not_mobile")),  # a Madrid fixed line
        ("600123456", None, (None, "unparsable")),  # no country, no prefix
    ],
)
def test_to_e164(number, country, expected):
    assert phone.to_e164(number, country) == expected


def test_wa_id_round_trip():
    assert phone.wa_id("+34600123456") == "34600123456"
    assert phone.from_wa_id("34600123456") == "+34600123456"
    assert phone.from_wa_id("12") is None


# --- chat intents -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pagar", "pay"),
        ("Pay now", "pay"),
        ("¿Cuánto debo?", "balance"),
        ("my balance", "balance"),
        ("Plan de pagos", "plan"),
        ("payment plan please", "plan"),
        ("Prometo pagar el 20/12", "promise"),
        ("I will pay on 2026-12-20", "promise"),
        ("Ya pagué ayer", "paid"),
        ("I already paid", "paid"),
        ("Quiero hablar con una persona", "person"),
        ("talk to a person", "person"),
        ("PERSONA", "person"),
        ("STOP", "opt_out"),
        ("Baja por favor", "opt_out"),
        ("START", "opt_in"),
        ("¿Me envías la factura?", "invoice"),
        ("send me the invoice PDF", "invoice"),
        ("quiero pagar la factura", "pay"),
        ("¿Cuánto debo de la factura?", "balance"),
        ("hola, buenos días", None),
        ("", None),
    ],
)
def test_intent_of_words(text, expected):
    assert intents.intent_of(text, keyword_intent=reply_keywords.reply_intent) == expected


def test_intent_of_button_payload_wins_over_title():
    assert intents.intent_of("Hablar con una persona", "COLLECTIONS_PAY") == "pay"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("el 20/12", dt.date(2026, 12, 20)),
        ("2026-12-20", dt.date(2026, 12, 20)),
        ("20 de diciembre", dt.date(2026, 12, 20)),
        ("mañana", dt.date(2026, 12, 6)),
        ("in 3 days", dt.date(2026, 12, 8)),
        ("el 15/01", dt.date(2027, 1, 15)),
        ("31/02", None),
        ("I will pay on 12/20", dt.date(2026, 12, 20)),  # only valid as month/day
        ("I will pay on December 20th", dt.date(2026, 12, 20)),
        ("pagaré el 5 de enero", dt.date(2027, 1, 5)),
        ("2025-01-01", None),  # in the past
        ("pronto", None),
    ],
)
def test_promised_date(text, expected):
    assert intents.promised_date(text, dt.date(2026, 12, 5)) == expected


def test_promised_date_month_first_for_american_english():
    today = dt.date(2026, 12, 5)
    assert intents.promised_date("I'll pay 01/02", today, month_first=True) == dt.date(2027, 1, 2)
    assert intents.promised_date("pagaré el 01/02", today) == dt.date(2027, 2, 1)


# --- payloads and the client against the emulator -------------------------------------


def test_template_payload_shape():
    payload = graph.template_payload(
        "34600123456",
        "collections_reminder",
        "es",
        ["Lucía", graph.currency_parameter(100.99, "EUR", "100,99 €"), graph.date_parameter("1 de noviembre")],
        [(0, "quick_reply", "COLLECTIONS_PAY")],
        callback_data="key-1",
    )
    body, button = payload["template"]["components"]
    assert body["parameters"][1]["currency"]["amount_1000"] == 100990
    assert button == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "COLLECTIONS_PAY"}],
    }
    assert payload["biz_opaque_callback_data"] == "key-1"
    assert graph.placeholders("Hola {{1}}, {{2}} y {{ 2 }}") == [1, 2]
    assert graph.render("Hola {{1}}, debes {{2}}", ["Lucía", "5 €"]) == "Hola Lucía, debes 5 €"
    with pytest.raises(ValueError):
        graph.document_payload("1", link="https://x", media_id="m")


class _Receiver:
    """A webhook receiver standing in for Odoo: records what it gets."""

    def __init__(self):
        self.bodies = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append((raw, self.headers.get("X-Hub-Signature-256")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self):
        return [event for raw, _sig in self.bodies for event in webhook.parse(webhook.loads(raw))]


@pytest.fixture
def receiver():
    receiver = _Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def emulator(receiver):
    with emulator_module.GraphApiEmulator(webhook_url=receiver.url) as emulator:
        yield emulator


def _client(emulator, token=None):
    return graph.CloudApiClient(emulator.phone_number_id, token or emulator.access_token, base_url=emulator.url)


def test_template_sent_and_signed_statuses_posted(emulator, receiver):
    result = _client(emulator).send_payload(
        graph.template_payload("34600123456", "collections_reminder", "es", ["Lucía"], callback_data="key-7")
    )
    assert result.status == graph.SENT and result.provider_ref.startswith("wamid.")
    assert emulator.wait_idle()
    assert all(webhook.verify_signature(emulator.app_secret, raw, sig) for raw, sig in receiver.bodies)
    assert [(e.wamid, e.status, e.callback_data) for e in receiver.events()] == [
        (result.provider_ref, status, "key-7") for status in ("sent", "delivered", "read")
    ]


def test_free_text_outside_window_is_131047_and_never_retried(emulator):
    result = _client(emulator).send("34600123456", "¿Hablamos?", "key-1")
    assert (result.status, result.code, result.kind) == (graph.PERMANENT, "131047", graph.WINDOW_CLOSED)
    emulator.reply("+34600123456", "hola")  # the customer writes: the window opens
    assert _client(emulator).send("34600123456", "¿Hablamos?", "key-2").status == graph.SENT


def test_document_inside_window(emulator):
    emulator.reply("+34600123456", "mándame la factura")
    media_id = _client(emulator).upload_media(b"%PDF-1.4", "factura.pdf")
    result = _client(emulator).send_payload(graph.document_payload("34600123456", media_id=media_id, filename="f.pdf"))
    assert result.status == graph.SENT
    assert emulator.sent[-1]["document"] == {"id": media_id, "filename": "f.pdf"}


@pytest.mark.parametrize(
    ("code", "status", "kind", "retry_after"),
    [
        (131026, graph.PERMANENT, graph.UNDELIVERABLE, None),
        (130429, graph.TEMPORARY, graph.THROTTLED, 2.0),  # doubling: attempt 1 -> 2 s
        (131056, graph.TEMPORARY, graph.PAIR_RATE, 16.0),  # 4^X: attempt 1 -> 4^2 s
        (190, graph.TEMPORARY, graph.AUTH, 3600.0),  # waits for a manager, loses nothing
        (132001, graph.PERMANENT, graph.TEMPLATE, None),
        (500, graph.TEMPORARY, graph.TRANSIENT, 2.0),
    ],
)
def test_error_codes(emulator, code, status, kind, retry_after):
    emulator.configure(fail_next=[code])
    result = _client(emulator).send_payload(graph.template_payload("34600123456", "collections_reminder", "es"), 1)
    assert (result.status, result.code, result.kind, result.retry_after) == (status, str(code), kind, retry_after)
    assert result.message


def test_wrong_token_is_190(emulator):
    result = _client(emulator, token="expired").send_payload(graph.template_payload("1", "collections_reminder", "es"))
    assert (result.code, result.kind) == ("190", graph.AUTH)
    assert graph.AUTH in graph.STOPPING_KINDS


def test_unknown_template_is_refused(emulator):
    result = _client(emulator).send_payload(graph.template_payload("34600123456", "nope", "es"))
    assert (result.status, result.code) == (graph.PERMANENT, "132001")


def test_timeout_and_connection_errors_are_temporary(emulator):
    emulator.configure(response_delay=1.0)
    client = graph.CloudApiClient(emulator.phone_number_id, emulator.access_token, base_url=emulator.url, timeout=0.2)
    assert client.send_payload(graph.template_payload("1", "collections_reminder", "es")).code == "timeout"
    dead = graph.CloudApiClient("1", "t", base_url="http://127.0.0.1:9")
    assert dead.send_payload(graph.template_payload("1", "x", "es")).status == graph.TEMPORARY


def test_failed_status_and_duplicates(emulator, receiver):
    emulator.configure(fail_status_by_recipient={"34600999999": 131026}, duplicate_webhooks=3)
    result = _client(emulator).send_payload(graph.template_payload("34600999999", "collections_reminder", "es"))
    assert emulator.wait_idle()
    events = receiver.events()
    assert len(events) == 3 and len({e.key for e in events}) == 1
    assert (events[0].wamid, events[0].status, events[0].error_code) == (result.provider_ref, "failed", "131026")


def test_templates_listed_with_paging_and_created(emulator):
    client = _client(emulator)
    templates = client.list_templates(emulator.waba_id, limit=2)
    assert [(t["name"], t["language"]) for t in templates][:2] == [
        ("collections_reminder", "es"),
        ("collections_reminder", "en"),
    ]
    assert len(templates) == len(emulator_module.DEFAULT_TEMPLATES)
    created = client.create_template(emulator.waba_id, "new_one", "es", "UTILITY", [{"type": "BODY", "text": "x"}])
    assert created["status"] == "PENDING"
    with pytest.raises(graph.GraphApiError) as error:
        _client(emulator, token="bad").list_templates(emulator.waba_id)
    assert error.value.kind == graph.AUTH


def test_control_endpoint_reply_posts_a_signed_inbound_webhook(emulator, receiver):
    response = requests.post(
        f"{emulator.url}/_emulator/reply", json={"from": "+34600123456", "button": "COLLECTIONS_PAY"}, timeout=10
    )
    assert response.status_code == 200
    (event,) = receiver.events()
    assert (event.type, event.payload, event.from_wa_id) == ("button", "COLLECTIONS_PAY", "34600123456")
    assert requests.post(f"{emulator.url}/_emulator/config", json={"nope": 1}, timeout=10).status_code == 400
