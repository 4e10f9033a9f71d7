"""WhatsApp on the Celery workers end to end: a real Odoo server, real Redis,
real workers started by scripts/worker (the dispatch tests' WorkerPool), the
whatsapp_cloud client sending to the local Graph API emulator over HTTP, and
the emulator's signed status webhooks coming back to Odoo.

Exactly once is counted where the customer would see it: the messages the
emulator accepted, by idempotency key (Meta echoes it as
biz_opaque_callback_data). Meta has no idempotency of its own, so a request
whose answer died with a killed worker is the hard case: the send ledger
(graph_client.SendLedger) must keep the next worker from sending it again."""

import os
import subprocess
import time
from collections import Counter
from datetime import date, timedelta

import pytest
import redis
from conftest import ROOT, engine_create
from worker_pool import WorkerPool

from tests.whatsapp_tools import tool

emulator_module = tool("emulator")

REDIS_URL = os.environ.get(
    "COLLECTIONS_REDIS_URL", f"redis://127.0.0.1:{os.environ.get('COLLECTIONS_REDIS_PORT', '56379')}/0"
)
# The repository is not pip-installed on every machine: name the client as the entry point does.
CLIENTS = "whatsapp_cloud=collections_whatsapp_tools.graph_client:CloudApiClient"
SENT_OR_LATER = {"sent", "delivered", "read"}


def wait_for(check, timeout, what):
    """Poll ``check()`` until truthy; fail with ``what`` (and the last value) at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s (last: {value!r})"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def chat(odoo_server):
    rpc = odoo_server.rpc()
    env = rpc.env
    env["ir.config_parameter"].set_param("collections_omni.redis_url", REDIS_URL)
    env["ir.config_parameter"].set_param("web.base.url", odoo_server.url)
    rule_sets = env["collections.contact.rule.set"]
    rule_sets.browse(rule_sets.search([])).write({"active": False})  # about delivery, not the hour of the day
    emulator = emulator_module.GraphApiEmulator(phone_number_id="1099000101", waba_id="2099000102").start()
    account_id = env["collections.whatsapp.account"].create(
        {
            "name": "WhatsApp Celery e2e",
            "phone_number_id": emulator.phone_number_id,
            "waba_id": emulator.waba_id,
            "graph_url": emulator.url,
            "access_token": emulator.access_token,
            "app_secret": emulator.app_secret,
        }
    )
    emulator.webhook_url = f"{odoo_server.url}/collections/whatsapp/webhook/{account_id}"
    rpc.execute_kw("collections.whatsapp.account", "action_sync_templates", [[account_id]])
    templates = env["collections.whatsapp.template"].search(
        [("account_id", "=", account_id), ("name", "=", "collections_reminder")]
    )
    provider_id = env["collections.provider"].create(
        {
            "name": "WhatsApp on the workers (e2e)",
            "sequence": 1,  # before any other WhatsApp provider of this database
            "channel": "whatsapp",
            "provider_type": "whatsapp_cloud",
            "dispatch_mode": "celery",
            "whatsapp_account_id": account_id,
            "company_id": env.user.company_id.id,
            "rate_per_second": 1000,
            "recipient_interval": 0,
            "batch_size": 10,
            "max_attempts": 20,
        }
    )
    policy_id = env["collections.policy"].create(
        {
            "name": "WhatsApp Celery e2e",
            "stage_ids": [
                (
                    0,
                    0,
                    {
                        "name": "Chat",
                        "offset_days": 1,
                        "action_ids": [(0, 0, {"channel": "whatsapp", "whatsapp_template_ids": [(6, 0, templates)]})],
                    },
                )
            ],
        }
    )
    action_id = env["collections.policy"].read([policy_id], ["stage_ids"])[0]["stage_ids"]
    action_id = env["collections.stage"].read(action_id, ["action_ids"])[0]["action_ids"][0]
    languages = env["res.lang"].with_context(active_test=False)
    languages.browse(languages.search([("code", "=", "es_ES")])).write({"active": True})
    spain = env.ref("base.es").id
    due = (date.today() - timedelta(days=10)).isoformat()
    customers = []
    for n in range(10):
        partner_id = env["res.partner"].create(
            {
                "name": f"Chateado {n} SL",
                "is_company": True,
                "lang": "es_ES" if n % 2 else "en_US",
                "mobile": f"6223450{n:02d}",
                "country_id": spain,
                "collections_policy_id": policy_id,
            }
        )
        invoice_id = env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner_id,
                "invoice_date": due,
                "invoice_date_due": due,
                "invoice_line_ids": [(0, 0, {"name": "Service", "quantity": 1, "price_unit": 100, "tax_ids": []})],
            }
        )
        rpc.execute_kw("account.move", "action_post", [[invoice_id]])
        customers.append((partner_id, invoice_id))
    yield {
        "rpc": rpc,
        "emulator": emulator,
        "provider_id": provider_id,
        "action_id": action_id,
        "customers": customers,
        "currency_id": env.user.company_id.currency_id.id,
    }
    env["collections.provider"].browse(provider_id).write({"active": False})  # the other WhatsApp tests use theirs
    emulator.stop()


@pytest.fixture
def workers(odoo_server, chat, tmp_path, monkeypatch):
    subprocess.run(["bash", "-c", f'. "{ROOT}/scripts/lib.sh" && redis_start'], check=True)
    redis.Redis.from_url(REDIS_URL).flushdb()  # this worktree's own Redis: no queue or ledger from an earlier test
    chat["emulator"].configure(response_delay=0.0, auto_statuses=["sent", "delivered", "read"])
    monkeypatch.setenv("COLLECTIONS_WORKER_CLIENTS", CLIENTS)
    pool = WorkerPool(odoo_server.url, odoo_server.db, REDIS_URL, tmp_path)
    yield pool
    pool.stop()
    print(f"worker logs: {tmp_path}")


def plan(chat, count, tag):
    values = []
    for n in range(count):
        partner_id, invoice_id = chat["customers"][n % len(chat["customers"])]
        values.append(
            {
                "partner_id": partner_id,
                "channel": "whatsapp",
                "action_id": chat["action_id"],
                "currency_id": chat["currency_id"],
                "amount_due": 100 + n,
                "move_ids": [(6, 0, [invoice_id])],
                "idempotency_key": f"wa-{tag}-{n}",
            }
        )
    return engine_create(chat["rpc"], values)


def accepted_by_key(emulator, prefix):
    return Counter(
        m.get("biz_opaque_callback_data")
        for m in list(emulator.sent)
        if m.get("biz_opaque_callback_data", "").startswith(prefix)
    )


def test_reminder_sent_by_a_worker_and_its_statuses_come_back(odoo_server, chat, workers):
    rpc, emulator = chat["rpc"], chat["emulator"]
    (message_id,) = plan(chat, 1, "one")
    workers.start("wa-one", concurrency=2)
    rpc.execute_kw("collections.message", "action_send_now", [[message_id]])
    Message = rpc.env["collections.message"]

    def read():
        row = Message.read([message_id], ["state", "provider_ref", "read_at"])[0]
        return row if row["state"] == "read" else None

    row = wait_for(read, 120, "the message read by the customer")
    (sent,) = [m for m in emulator.sent if m.get("biz_opaque_callback_data") == "wa-one-0"]
    assert sent["type"] == "template" and sent["template"]["name"] == "collections_reminder"
    assert sent["to"] == "34622345000"
    assert row["provider_ref"] == sent["id"], "the worker reported Meta's wamid"
    assert row["read_at"]


def test_worker_killed_mid_batch_sends_each_whatsapp_once(odoo_server, chat, workers):
    rpc, emulator = chat["rpc"], chat["emulator"]
    count = 200
    # Each send waits 300 ms before the emulator accepts it, as Meta does while the client is gone:
    # the requests in flight when the worker dies are accepted all the same.
    emulator.configure(response_delay=0.3, auto_statuses=["sent"])
    message_ids = plan(chat, count, "kill")
    first = workers.start("wa-first", concurrency=4)
    workers.start("wa-second", concurrency=4)
    rpc.execute_kw("collections.message", "action_send_now", [message_ids])
    wait_for(lambda: sum(accepted_by_key(emulator, "wa-kill-").values()) >= 40, 120, "40 messages accepted")
    workers.kill(first)  # mid-batch: tasks taken, requests in flight, results not reported
    at_kill = sum(accepted_by_key(emulator, "wa-kill-").values())
    assert at_kill < count, "the worker died while there was work left"
    Message = rpc.env["collections.message"]

    def all_sent():
        rows = Message.read(message_ids, ["state"])
        return all(r["state"] in SENT_OR_LATER for r in rows)

    wait_for(all_sent, 240, "every message sent")
    accepted = accepted_by_key(emulator, "wa-kill-")
    assert len(accepted) == count, f"lost: {count - len(accepted)}"
    assert [key for key, n in accepted.items() if n > 1] == [], "duplicates"
    wamids = {m["biz_opaque_callback_data"]: m["id"] for m in emulator.sent if m.get("biz_opaque_callback_data")}
    rows = Message.read(message_ids, ["idempotency_key", "provider_ref"])
    assert {r["idempotency_key"]: r["provider_ref"] for r in rows} == {
        r["idempotency_key"]: wamids[r["idempotency_key"]] for r in rows
    }, "Odoo holds the wamid the customer received"
