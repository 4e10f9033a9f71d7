"""Scaled dispatch end to end: a real Odoo server, real Redis, real Celery
workers (scripts/worker) and the local fake SMS provider as a subprocess.
Each test proves exactly-once by counting what the provider received: every
message delivered once, no duplicate, every message ending sent."""

import subprocess
import sys
import time

import pytest
import redis
import requests
from conftest import REDIS_URL, ROOT, delivery_only, free_port, overdue_customers, plan_over
from worker_pool import WorkerPool

from collections_worker.celery_app import app

FINAL = {"sent", "failed", "blocked"}


class Fake:
    def __init__(self, process, port):
        self.process, self.url = process, f"http://127.0.0.1:{port}"

    def configure(self, **options):
        requests.post(f"{self.url}/_config", json=options, timeout=30).raise_for_status()

    def reset(self):
        requests.post(f"{self.url}/_reset", timeout=30).raise_for_status()

    def stats(self):
        return requests.get(f"{self.url}/_stats", timeout=30).json()

    def messages(self):
        return requests.get(f"{self.url}/_messages", timeout=30).json()


@pytest.fixture(scope="module")
def fake():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "collections_worker.fake_sms", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    fake = Fake(process, port)
    deadline = time.monotonic() + 20
    while True:
        try:
            fake.stats()
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.2)
    yield fake
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def shop(odoo_server, fake):
    """Provider, policy and customers, once per module: the tests add messages."""
    rpc = odoo_server.rpc()
    env = rpc.env
    delivery_only(env, odoo_server.url)
    provider_id = env["collections.provider"].create(
        {
            "name": "Fake SMS (e2e)",
            "channel": "sms",
            "provider_type": "sms_http",
            "dispatch_mode": "celery",
            "sms_http_base_url": fake.url,
            "sms_http_account_sid": "AC" + "0" * 32,
            "sms_http_auth_token": "fake-sms-auth-token",
            "sms_http_from_number": "+15005550006",
            "sms_http_timeout": 1.0,
            "rate_per_second": 1000,
            "recipient_interval": 0,
            "batch_size": 10,
            "max_attempts": 20,
            "delivery_reports": False,  # these tests count sends; the callback has its own tests
        }
    )
    policy_id = env["collections.policy"].create(
        {
            "name": "SMS e2e",
            "stage_ids": [(0, 0, {"name": "Text", "offset_days": 1, "action_ids": [(0, 0, {"channel": "sms"})]})],
        }
    )
    customers = overdue_customers(rpc, 10, "Texted {n} SL", "6123450{n:02d}", policy_id)
    return {"provider_id": provider_id, "customers": customers, "currency_id": env.user.company_id.currency_id.id}


@pytest.fixture
def clean(fake):
    subprocess.run(["bash", "-c", f'. "{ROOT}/scripts/lib.sh" && redis_start'], check=True)
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()  # this worktree's own Redis: no queue or state from an earlier test
    fake.reset()
    fake.configure(latency_ms=0, rate_429=0, rate_5xx=0, rate_timeout=0, idempotency=True)
    yield client


@pytest.fixture
def workers(odoo_server, clean, tmp_path):
    pool = WorkerPool(odoo_server.url, odoo_server.db, REDIS_URL, tmp_path)
    yield pool
    pool.stop()
    print(f"worker logs: {tmp_path}")


def plan_messages(rpc, shop, count, tag):
    """``count`` planned SMS messages over the shop's customers (several per
    customer, each with its own amount, so no two texts are the same)."""
    return plan_over(rpc, shop["customers"], shop["currency_id"], count, f"e2e-{tag}", "sms")


def dispatch(rpc, message_ids):
    rpc.execute_kw("collections.message", "action_send_now", [message_ids])


def sweep_after_the_lease(rpc, message_ids):
    """What the engine's sweeper cron does once a scaled hand-out's lease (10 minutes) is over:
    the messages still queued go out again under the same idempotency keys. A worker killed
    between taking a task off Redis and recording it as unacknowledged (kombu's BRPOP, then its
    unacked hash) loses that task; only the sweeper brings its messages back. The test cannot
    wait 10 minutes: it ends their leases now, as the administrator's server action."""
    action_id = rpc.env["ir.actions.server"].create(
        {
            "name": "Test: the sweeper once the lease is over",
            "model_id": rpc.env["ir.model"].search([("model", "=", "collections.message")])[0],
            "state": "code",
            "code": (
                "stalled = model._engine().browse(env.context['collections_test_ids'])"
                ".filtered(lambda m: m.state in ('queued', 'sending'))\n"
                "stalled.write({'lease_until': datetime.datetime.now() - datetime.timedelta(seconds=1)})\n"
                "model._sweep_stalled()\n"
                "action = {'swept': len(stalled)}"
            ),
        }
    )
    result = rpc.execute_kw(
        "ir.actions.server", "run", [[action_id]], {"context": {"collections_test_ids": message_ids}}
    )
    return result["swept"]


def wait_until_final(odoo_server, message_ids, timeout=120, during=None):
    deadline = time.monotonic() + timeout
    while True:
        if during:
            during()
        try:
            states = odoo_server.rpc().env["collections.message"].read(message_ids, ["state"])
        except Exception:  # noqa: BLE001 (Odoo may be restarting)
            states = None
        if states and all(s["state"] in FINAL for s in states):
            return states
        assert time.monotonic() < deadline, f"not final in {timeout} s: {states and _count(states)}"
        time.sleep(0.5)


def _count(states):
    counts = {}
    for row in states:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


def assert_exactly_once(rpc, fake, message_ids):
    states = rpc.env["collections.message"].read(message_ids, ["state", "provider_ref", "idempotency_key"])
    assert _count(states) == {"sent": len(message_ids)}
    stats = fake.stats()
    assert stats["delivered"] == len(message_ids), stats
    assert stats["duplicates"] == 0, stats
    delivered = fake.messages()  # reset for each test: all of them are this test's
    assert sorted(m["sid"] for m in delivered) == sorted(s["provider_ref"] for s in states), "Odoo holds each id"
    if all(m["key"] for m in delivered):
        assert sorted(m["key"] for m in delivered) == sorted(s["idempotency_key"] for s in states)
    return stats


def test_worker_killed_mid_batch_loses_and_duplicates_nothing(odoo_server, fake, shop, workers):
    rpc = odoo_server.rpc()
    fake.configure(latency_ms=30)
    message_ids = plan_messages(rpc, shop, 300, "kill")
    first = workers.start("first", concurrency=4)
    workers.start("second", concurrency=4)
    dispatch(rpc, message_ids)
    deadline = time.monotonic() + 60
    while fake.stats()["delivered"] < 60:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers.kill(first)  # mid-batch: tasks taken, some messages sent, none reported
    killed_at, killed_time = fake.stats()["delivered"], time.monotonic()
    assert killed_at < 300, "the worker died while there was work left"
    swept = []

    def sweep_once_the_lease_is_over():
        if not swept and time.monotonic() - killed_time > 45:
            swept.append(sweep_after_the_lease(rpc, message_ids))

    wait_until_final(odoo_server, message_ids, timeout=120, during=sweep_once_the_lease_is_over)
    stats = assert_exactly_once(rpc, fake, message_ids)
    assert stats["requests"] >= stats["delivered"]


def test_the_same_task_delivered_twice_sends_once(odoo_server, fake, shop, workers, clean):
    rpc = odoo_server.rpc()
    # Without the provider's help (no idempotency at the fake): the workers alone must not send twice.
    fake.configure(idempotency=False, latency_ms=5)
    message_ids = plan_messages(rpc, shop, 100, "twice")
    dispatch(rpc, message_ids)  # published once after commit
    rows = rpc.env["collections.message"].read(message_ids, ["idempotency_key", "recipient_phone", "body_text"])
    payloads = [
        {"id": r["id"], "key": r["idempotency_key"], "to": r["recipient_phone"], "body": r["body_text"], "attempt": 0}
        for r in rows
    ]
    for _copy in range(2):  # the broker hands the same tasks out again, twice
        for start in range(0, len(payloads), 10):
            app.send_task("collections.send_messages", args=[shop["provider_id"], payloads[start : start + 10]])
    assert clean.llen("collections") == 30, "three copies of each task are waiting"
    workers.start("one", concurrency=4)
    workers.start("two", concurrency=4)
    wait_until_final(odoo_server, message_ids)
    stats = assert_exactly_once(rpc, fake, message_ids)
    assert stats["requests"] == 100, "the copies found the results and sent nothing"


def test_429_5xx_and_timeouts_are_retried_without_duplicates(odoo_server, fake, shop, workers):
    rpc = odoo_server.rpc()
    # Timeouts: the provider delivers but answers only after the client gave up (1 s).
    fake.configure(rate_429=0.15, rate_5xx=0.15, rate_timeout=0.1, timeout_seconds=2)
    message_ids = plan_messages(rpc, shop, 150, "faults")
    workers.start("faults-a", concurrency=4)
    workers.start("faults-b", concurrency=4)
    dispatch(rpc, message_ids)
    wait_until_final(odoo_server, message_ids, timeout=180)
    stats = assert_exactly_once(rpc, fake, message_ids)
    faults = stats["faults"]
    assert faults["429"] > 0 and faults["5xx"] > 0 and faults["timeout"] > 0, faults
    assert stats["replays"] >= faults["timeout"], "every timed-out message was resent with its key"


def test_permanent_errors_end_failed_with_the_providers_code(odoo_server, fake, shop, workers):
    rpc = odoo_server.rpc()
    provider = rpc.env["collections.provider"].browse(shop["provider_id"])
    provider.write({"sms_http_auth_token": "revoked"})
    try:
        message_ids = plan_messages(rpc, shop, 5, "permanent")
        workers.start("permanent")
        dispatch(rpc, message_ids)
        wait_until_final(odoo_server, message_ids)
    finally:
        provider.write({"sms_http_auth_token": "fake-sms-auth-token"})
    rows = rpc.env["collections.message"].read(message_ids, ["state", "error_code", "error"])
    assert {(r["state"], r["error_code"]) for r in rows} == {("failed", "20003")}
    assert all(r["error"] for r in rows)
    stats = fake.stats()
    assert (stats["delivered"], stats["rejected"]) == (0, 5), "refused once each, not retried"


def test_odoo_restart_during_dispatch_loses_nothing(odoo_server, fake, shop, workers, clean):
    rpc = odoo_server.rpc()
    # Slow enough (300 x 100 ms over 8 slots, about 4 s) that most sends end after Odoo is down.
    fake.configure(latency_ms=100)
    message_ids = plan_messages(rpc, shop, 300, "restart")
    workers.start("restart-a", concurrency=4)
    workers.start("restart-b", concurrency=4)
    dispatch(rpc, message_ids)
    deadline = time.monotonic() + 60
    while fake.stats()["delivered"] < 50:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    odoo_server.stop()  # results can't be reported now: they wait in Redis
    try:
        while fake.stats()["delivered"] < 300:
            assert time.monotonic() < deadline, "the workers go on sending while Odoo is down"
            time.sleep(0.1)
        assert clean.hlen("collections:pending") > 0, "results wait for Odoo"
    finally:
        odoo_server.start()  # the other tests share this server
    wait_until_final(odoo_server, message_ids, timeout=180)
    assert_exactly_once(odoo_server.rpc(), fake, message_ids)
