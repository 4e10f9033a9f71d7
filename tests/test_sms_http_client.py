"""The Twilio-compatible SMS client (addons/collections_omni/tools/sms_http_client.py),
loaded without Odoo the way the workers load it."""

import os
import queue
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl

import pytest
import requests

from collections_worker.clients import SendResult, TwilioCompatibleClient, sign, verify_signature
from collections_worker.fake_sms import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeSmsServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FROM = "+15005550006"
SENT, TEMPORARY, PERMANENT = "sent", "temporary", "permanent"

# Twilio's published example (twilio-python/php/csharp RequestValidator tests).
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_signature_matches_twilio_published_vectors():
    assert sign("12345", TWILIO_URL, TWILIO_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]}
    assert sign("12345", TWILIO_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_verify_signature_rejects_any_tampering():
    signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert verify_signature("12345", TWILIO_URL, dict(reversed(TWILIO_PARAMS.items())), signature)
    assert not verify_signature("12345", TWILIO_URL, {**TWILIO_PARAMS, "Digits": "9999"}, signature)
    assert not verify_signature("12345", TWILIO_URL, {**TWILIO_PARAMS, "Extra": "1"}, signature)
    assert not verify_signature("12345", TWILIO_URL + "&baz=3", TWILIO_PARAMS, signature)
    assert not verify_signature("54321", TWILIO_URL, TWILIO_PARAMS, signature)
    assert not verify_signature("12345", TWILIO_URL, TWILIO_PARAMS, "")
    assert not verify_signature("12345", TWILIO_URL, TWILIO_PARAMS, None)


# --- against the local fake provider (real HTTP on loopback) -------------------


@pytest.fixture
def fake():
    with FakeSmsServer(port=0, seed=7) as server:
        yield server


def client_for(fake, **options):
    return TwilioCompatibleClient(fake.url, fake.account_sid, fake.auth_token, FROM, **options)


def test_send_is_delivered_once_and_a_replay_returns_the_same_sid(fake):
    client = client_for(fake)
    first = client.send("+34600000001", "You owe 10 EUR", "msg-1")
    assert first.status == SENT and first.provider_ref.startswith("SM") and first.code is None
    again = client.send("+34600000001", "You owe 10 EUR", "msg-1")
    assert again == first
    other = client.send("+34600000001", "You owe 10 EUR", "msg-2")
    assert other.status == SENT and other.provider_ref != first.provider_ref
    stats = fake.stats()
    assert (stats["delivered"], stats["replays"], stats["duplicates"]) == (2, 1, 0)
    assert [(m["sid"], m["to"], m["key"]) for m in fake.messages()] == [
        (first.provider_ref, "+34600000001", "msg-1"),
        (other.provider_ref, "+34600000001", "msg-2"),
    ]
    assert stats["connections"] == 1  # keep-alive: one connection for the three sends


def test_without_idempotency_a_resend_is_a_duplicate(fake):
    fake.configure(idempotency=False)
    client = client_for(fake)
    first = client.send("+34600000001", "Hello", "msg-1")
    second = client.send("+34600000001", "Hello", "msg-1")
    assert first.status == second.status == SENT and first.provider_ref != second.provider_ref
    assert fake.stats()["delivered"] == 2 and fake.stats()["duplicates"] == 1


def test_invalid_number_is_permanent_without_calling_the_provider(fake):
    result = client_for(fake).send("600 000 001", "Hello", "msg-1")
    assert (result.status, result.code) == (PERMANENT, "21211")
    assert fake.stats()["requests"] == 0


def test_fake_rejects_invalid_number_and_missing_body():
    with FakeSmsServer(port=0) as fake:
        url = f"{fake.url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
        auth = (fake.account_sid, fake.auth_token)
        invalid = requests.post(url, data={"To": "0034600", "From": FROM, "Body": "x"}, auth=auth, timeout=5)
        assert (invalid.status_code, invalid.json()["code"]) == (400, 21211)
        empty = requests.post(url, data={"To": "+34600000001", "From": FROM}, auth=auth, timeout=5)
        assert (empty.status_code, empty.json()["code"]) == (400, 21602)
        # What the client maps from a 4xx answer: Twilio's code and message.
        result = TwilioCompatibleClient._result(invalid)
        assert (result.status, result.code, result.message) == (
            PERMANENT,
            "21211",
            "Invalid 'To' Phone Number: 0034600",
        )
        assert fake.stats()["rejected"] == 2 and fake.stats()["delivered"] == 0


def test_wrong_credentials_are_permanent(fake):
    client = TwilioCompatibleClient(fake.url, fake.account_sid, "wrong-token", FROM)
    result = client.send("+34600000001", "Hello", "msg-1")
    assert (result.status, result.code) == (PERMANENT, "20003") and "Authentication" in result.message
    assert fake.stats()["delivered"] == 0 and fake.stats()["rejected"] == 1


def test_429_is_temporary_with_retry_after(fake):
    fake.configure(rate_429=1.0)
    result = client_for(fake).send("+34600000001", "Hello", "msg-1")
    assert result == SendResult(TEMPORARY, None, "429", "Too Many Requests", 1.0)
    fake.configure(rate_429=0.0)
    assert client_for(fake).send("+34600000001", "Hello", "msg-1").status == SENT
    assert fake.stats()["faults"]["429"] == 1 and fake.stats()["delivered"] == 1


def test_5xx_is_temporary(fake):
    fake.configure(rate_5xx=1.0)
    client = client_for(fake)
    results = [client.send("+34600000001", "Hello", f"msg-{i}") for i in range(12)]
    assert {r.status for r in results} == {TEMPORARY}
    assert {r.code for r in results} == {"500", "503"}  # seeded: both kinds occur in 12 draws
    assert {r.retry_after for r in results if r.code == "503"} == {1.0}
    assert {r.retry_after for r in results if r.code == "500"} == {None}
    assert fake.stats()["delivered"] == 0 and fake.stats()["faults"]["5xx"] == 12


def test_timeout_is_temporary_and_the_resend_is_not_a_second_delivery(fake):
    fake.configure(rate_timeout=1.0, timeout_seconds=3.0)
    result = client_for(fake, timeout=0.3).send("+34600000001", "Hello", "msg-1")
    assert (result.status, result.code) == (TEMPORARY, "timeout")
    (delivered,) = fake.messages()  # the nasty case: it went out although the client gave up
    assert fake.stats()["faults"]["timeout"] == 1
    fake.configure(rate_timeout=0.0)
    resent = client_for(fake).send("+34600000001", "Hello", "msg-1")
    assert (resent.status, resent.provider_ref) == (SENT, delivered["sid"])
    stats = fake.stats()
    assert (stats["delivered"], stats["replays"], stats["duplicates"]) == (1, 1, 0)


def test_connection_refused_is_temporary():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        client = TwilioCompatibleClient(f"http://127.0.0.1:{port}", "AC1", "token", FROM, timeout=2)
        result = client.send("+34600000001", "Hello", "msg-1")
    assert (result.status, result.code) == (TEMPORARY, "connection")


class _CallbackSink(BaseHTTPRequestHandler):
    received = None  # queue.Queue, set per test

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.received.put((self.path, dict(parse_qsl(body)), self.headers.get("X-Twilio-Signature")))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        """Quiet."""


def test_status_callback_arrives_signed(fake):
    received = queue.Queue()
    handler = type("Sink", (_CallbackSink,), {"received": received})
    sink = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        callback_url = f"http://127.0.0.1:{sink.server_address[1]}/sms/status?msg=42"
        result = client_for(fake).send("+34600000001", "Hello", "msg-1", status_callback=callback_url)
        assert result.status == SENT
        path, params, signature = received.get(timeout=10)
    finally:
        sink.shutdown()
        sink.server_close()
    assert path == "/sms/status?msg=42"
    assert params["MessageSid"] == result.provider_ref
    assert (params["MessageStatus"], params["To"], params["AccountSid"]) == (
        "delivered",
        "+34600000001",
        fake.account_sid,
    )
    assert verify_signature(fake.auth_token, callback_url, params, signature)
    assert not verify_signature(fake.auth_token, callback_url, {**params, "MessageStatus": "failed"}, signature)
    assert not verify_signature("another-token", callback_url, params, signature)


def test_command_line_fake_serves_and_reports():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "collections_worker.fake_sms", "--port", str(port), "--rate-429", "1"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "fake SMS provider on" in process.stderr.readline()
        url = f"http://127.0.0.1:{port}"
        client = TwilioCompatibleClient(url, DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FROM)
        assert client.send("+34600000001", "Hello", "cli-1").code == "429"
        assert requests.post(f"{url}/_config", json={"rate_429": 0}, timeout=5).json()["rate_429"] == 0
        assert requests.post(f"{url}/_config", json={"rate_5xx": 2}, timeout=5).status_code == 400
        assert client.send("+34600000001", "Hello", "cli-1").status == SENT
        stats = requests.get(f"{url}/_stats", timeout=5).json()
        assert (stats["requests"], stats["delivered"], stats["faults"]["429"]) == (2, 1, 1)
        assert [m["key"] for m in requests.get(f"{url}/_messages", timeout=5).json()] == ["cli-1"]
        requests.post(f"{url}/_reset", timeout=5)
        assert requests.get(f"{url}/_stats", timeout=5).json()["requests"] == 0
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
