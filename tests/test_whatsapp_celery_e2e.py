"""WhatsApp on the Celery workers end to end: a real Odoo server, real Redis,
real workers started by scripts/worker (the dispatch tests' WorkerPool), the
whatsapp_cloud client sending to the local Graph API emulator over HTTP, and
the emulator's signed status webhooks coming back to Odoo.

Exactly once is counted where the customer would see it: the messages the
emulator accepted, by idempotency key (Meta echoes it as
biz_opaque_callback_data). Meta has no idempotency of its own, so a request
whose answer died with a killed worker is the hard case: the send ledger
(graph_client.SendLedger) must keep the next worker from sending it again."""

import subprocess
import time
from collections import Counter

import pytest
import redis
from conftest import REDIS_URL, ROOT, delivery_only, overdue_customers, plan_over, whatsapp_reminders
from worker_pool import WorkerPool

from tests.whatsapp_tools import tool

emulator_module = tool("emulator")

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
    delivery_only(env, odoo_server.url)
    emulator = emulator_module.GraphApiEmulator(phone_number_id="1099000101", waba_id="2099000102").start()
    _account_id, provider_id, policy_id = whatsapp_reminders(
        rpc,
        emulator,
        odoo_server.url,
        "WhatsApp Celery e2e",
        provider_values={
            "name": "WhatsApp on the workers (e2e)",
            "sequence": 1,  # before any other WhatsApp provider of this database
            "dispatch_mode": "celery",
            "rate_per_second": 1000,
            "recipient_interval": 0,
            "batch_size": 10,
            "max_attempts": 20,
        },
    )
    action_id = env["collections.policy"].read([policy_id], ["stage_ids"])[0]["stage_ids"]
    action_id = env["collections.stage"].read(action_id, ["action_ids"])[0]["action_ids"][0]
    languages = env["res.lang"].with_context(active_test=False)
    languages.browse(languages.search([("code", "=", "es_ES")])).write({"active": True})
    customers = overdue_customers(rpc, 10, "Chateado {n} SL", "6223450{n:02d}", policy_id, langs=("en_US", "es_ES"))
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
    return plan_over(
        chat["rpc"], chat["customers"], chat["currency_id"], count, f"wa-{tag}", "whatsapp", action_id=chat["action_id"]
    )


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
