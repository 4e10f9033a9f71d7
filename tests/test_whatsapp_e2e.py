"""WhatsApp end to end: a real Odoo server and the local Graph API emulator,
talking over real HTTP both ways (Odoo sends to the emulator; the emulator
posts signed webhooks back to Odoo), in embedded mode."""

import json
import subprocess
import time
from datetime import date

import pytest
import requests
from conftest import PG_ENV, free_port, posted_invoice, whatsapp_reminders
from odoo_env import odoo_command

from tests.whatsapp_tools import tool

webhook = tool("webhook")
emulator_module = tool("emulator")

NUMBER = "+34612345678"


def wait_for(check, timeout=60):
    """Poll until ``check()`` is truthy (webhooks arrive asynchronously); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture(scope="module")
def whatsapp(odoo_server):
    rpc = odoo_server.rpc()
    env = rpc.env
    env["ir.config_parameter"].set_param("web.base.url", odoo_server.url)
    rule_sets = env["collections.contact.rule.set"]
    rule_sets.browse(rule_sets.search([])).write({"active": False})  # about delivery, not the hour of the day
    emulator = emulator_module.GraphApiEmulator(phone_number_id="1099000001", waba_id="2099000002").start()
    account_id, provider_id, policy_id = whatsapp_reminders(
        rpc, emulator, odoo_server.url, "WhatsApp e2e", account_values={"verify_token": "e2e-verify-token"}
    )
    partner_id = env["res.partner"].create(
        {
            "name": "Chat Customer SL",
            "is_company": True,
            "mobile": "612 34 56 78",
            "country_id": env.ref("base.es").id,
            "collections_policy_id": policy_id,
        }
    )
    yield {
        "rpc": rpc,
        "emulator": emulator,
        "account_id": account_id,
        "provider_id": provider_id,
        "partner_id": partner_id,
        "url": emulator.webhook_url,
        "server": odoo_server,
    }
    emulator.stop()


def _post(url, body, secret):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[webhook.SIGNATURE_HEADER] = webhook.sign(secret, raw)
    return requests.post(url, data=raw, headers=headers, timeout=30)


def _events(whatsapp, wamid):
    return whatsapp["rpc"].env["collections.whatsapp.event"].search_count([("wamid", "=", wamid)])


def test_handshake(whatsapp):
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "e2e-verify-token"}
    response = requests.get(whatsapp["url"], params=params, timeout=30)
    assert (response.status_code, response.text) == (200, "1158201444")
    assert requests.get(whatsapp["url"], params={**params, "hub.verify_token": "x"}, timeout=30).status_code == 403
    assert requests.get(whatsapp["url"], params={}, timeout=30).status_code == 403
    assert requests.get(whatsapp["url"].rsplit("/", 1)[0] + "/999999", params=params, timeout=30).status_code == 403


def test_signature_matrix_over_http(whatsapp):
    emulator, secret, url = whatsapp["emulator"], whatsapp["emulator"].app_secret, whatsapp["url"]
    body = emulator.inbound_body("+34699111000", text="Señora Núñez: ¿cuánto? 💶", name="Núñez")
    raw = json.dumps(body, ensure_ascii=False).encode()
    wamid = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    refused = {
        "invalid": {webhook.SIGNATURE_HEADER: "sha256=" + "0" * 64},
        "missing": {},
        "wrong secret": {webhook.SIGNATURE_HEADER: webhook.sign("not-the-secret", raw)},
    }
    for case, headers in refused.items():
        response = requests.post(url, data=raw, headers={"Content-Type": "application/json", **headers}, timeout=30)
        assert response.status_code == 403, case
    altered = raw.replace("cuánto".encode(), b"cuanto")
    response = requests.post(
        url, data=altered, headers={webhook.SIGNATURE_HEADER: webhook.sign(secret, raw)}, timeout=30
    )
    assert response.status_code == 403
    assert _events(whatsapp, wamid) == 0, "nothing refused is stored"
    assert _post(url, raw, secret).status_code == 200  # the non-ASCII body, signed as sent
    assert _events(whatsapp, wamid) == 1


def test_replayed_100_times_gives_one_record(whatsapp):
    emulator = whatsapp["emulator"]
    body = emulator.inbound_body("+34699111001", text="hola")
    wamid = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    statuses = [emulator.status_body("wamid.REPLAY", s, "34699111001") for s in ("read", "sent", "delivered")]
    for _replay in range(100):
        for each in (body, *statuses):
            assert _post(whatsapp["url"], each, emulator.app_secret).status_code == 200
    assert _events(whatsapp, wamid) == 1
    assert _events(whatsapp, "wamid.REPLAY") == 3
    env = whatsapp["rpc"].env
    applied = [("wamid", "in", [wamid, "wamid.REPLAY"]), ("state", "!=", "pending")]
    assert wait_for(lambda: env["collections.whatsapp.event"].search_count(applied) == 4), "applied after the 200"
    conversation = env["collections.whatsapp.conversation"].search_read(
        [("wa_id", "=", "34699111001")], ["unread_count"]
    )
    assert conversation[0]["unread_count"] == 1


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"not json at all", 400),
        (b"[]", 400),
        (json.dumps({"object": "page", "entry": []}).encode(), 400),
        (
            json.dumps(
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {
                            "changes": [
                                {
                                    "field": "messages",
                                    "value": {"metadata": {"phone_number_id": "1"}, "statuses": [{"status": "read"}]},
                                }
                            ]
                        }
                    ],
                }
            ).encode(),
            400,
        ),
        (b"{" + b" " * (1024 * 1024 + 10) + b"}", 413),
    ],
)
def test_malformed_and_oversized_get_4xx_and_a_log_line(whatsapp, raw, status):
    before = whatsapp["rpc"].env["collections.whatsapp.event"].search_count([])
    tracebacks = whatsapp["server"].log().count("Traceback")
    response = _post(whatsapp["url"], raw, whatsapp["emulator"].app_secret)
    assert response.status_code == status
    assert whatsapp["rpc"].env["collections.whatsapp.event"].search_count([]) == before
    log = whatsapp["server"].log()
    assert "WhatsApp: refused a" in log.splitlines()[-1] or "WhatsApp: refused a" in log[-2000:]
    assert log.count("Traceback") == tracebacks


def test_reminder_sent_and_its_statuses_come_back_out_of_order(whatsapp):
    rpc, emulator = whatsapp["rpc"], whatsapp["emulator"]
    env = rpc.env
    emulator.configure(shuffle_statuses=True, duplicate_webhooks=2)
    posted_invoice(rpc, whatsapp["partner_id"], 80, 10)
    run_id = env["collections.run"].create({"date": date.today().isoformat()})
    rpc.execute_kw("collections.run", "action_run", [[run_id]])
    Message = env["collections.message"]
    message_ids = Message.search(
        [("partner_id", "=", whatsapp["partner_id"]), ("channel", "=", "whatsapp"), ("state", "=", "planned")]
    )
    assert len(message_ids) == 1
    rpc.execute_kw("collections.message", "action_send_now", [message_ids])
    sent = [m for m in emulator.sent if m["to"] == NUMBER[1:] and m["type"] == "template"]
    assert len(sent) == 1
    assert sent[0]["template"]["name"] == "collections_reminder"

    def state():
        record = Message.read(message_ids, ["state", "provider_ref", "read_at"])[0]
        return record if record["state"] == "read" else None

    record = wait_for(state)
    assert record, Message.read(message_ids, ["state"])
    assert record["provider_ref"] == sent[0]["id"]
    assert emulator.wait_idle()
    assert _events(whatsapp, sent[0]["id"]) == 3, "sent, delivered, read: once each, though posted twice"
    assert Message.read(message_ids, ["state"])[0]["state"] == "read", "never backwards"
    emulator.configure(shuffle_statuses=False, duplicate_webhooks=1)


def test_customer_asks_to_pay_and_then_opts_out_in_the_chat(whatsapp):
    rpc, emulator = whatsapp["rpc"], whatsapp["emulator"]
    before = len(emulator.sent)
    emulator.reply(NUMBER, text="I want to pay now")
    answers = wait_for(lambda: [m for m in emulator.sent[before:] if m["type"] == "text"])
    assert answers and "/my/collections" in answers[0]["text"]["body"]
    emulator.reply(NUMBER, button="COLLECTIONS_OPT_OUT", text="STOP")

    def consent():
        rows = rpc.env["collections.consent"].search_read(
            [("partner_id", "=", whatsapp["partner_id"]), ("channel", "=", "whatsapp")], ["status"]
        )
        return [c["status"] for c in rows]

    assert wait_for(consent) == ["opt_out"]  # applied after the webhook's 200, within moments


def test_a_server_with_a_cron_worker_applies_at_once_what_it_acknowledged(whatsapp, tmp_path):
    """As deployed: HTTP workers, a cron worker, one database named (``db_name``, no ``dbfilter``).
    Each acknowledgement that stored something wakes the cron worker, which would otherwise first
    look a minute after it started: the customer's message is applied within seconds, once."""
    server, emulator = whatsapp["server"], whatsapp["emulator"]
    port = free_port()
    with open(tmp_path / "odoo-workers.log", "w") as log:
        process = subprocess.Popen(
            odoo_command(
                "-d",
                server.db,
                f"--http-port={port}",
                f"--gevent-port={free_port()}",
                "--workers=2",
                "--max-cron-threads=1",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=PG_ENV,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        up = wait_for(lambda: _answers(f"{base}/web/login"), timeout=180)
        assert up, (tmp_path / "odoo-workers.log").read_text()[-3000:]
        body = emulator.inbound_body("+34699222001", text="hola")
        url = f"{base}/collections/whatsapp/webhook/{whatsapp['account_id']}"
        for _copy in range(2):
            assert _post(url, body, emulator.app_secret).status_code == 200
        env = whatsapp["rpc"].env

        def unread():
            rows = env["collections.whatsapp.conversation"].search_read(
                [("wa_id", "=", "34699222001")], ["unread_count"]
            )
            return rows and rows[0]["unread_count"]

        assert wait_for(unread, timeout=30) == 1, (tmp_path / "odoo-workers.log").read_text()[-3000:]
        time.sleep(1)
        assert unread() == 1, "applied once"
    finally:
        process.terminate()
        process.wait(timeout=60)


def _answers(url):
    try:
        return requests.get(url, timeout=5).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False
