"""A provider written only in a test addon (tests/addons/test_collections_provider,
one model file and its plain-Python client) sends messages through a real Odoo
server in embedded mode and through real Celery workers in scaled mode, with
no edit to collections_omni or collections_worker: the workers find its client
through COLLECTIONS_WORKER_CLIENTS."""

import json
import os
import subprocess
import time
import uuid

import pytest
from conftest import (
    ADDONS,
    PG_ENV,
    REDIS_URL,
    ROOT,
    delivery_only,
    engine_create,
    overdue_customers,
    serve,
)
from odoo_env import odoo_command
from worker_pool import WorkerPool

TEST_ADDONS = os.path.join(ROOT, "tests", "addons")
CLIENT_DIR = os.path.join(TEST_ADDONS, "test_collections_provider", "tools")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An Odoo server with the test addon installed (on a copy of scripts/test's database)."""
    db = f"collections_provider_e2e_{uuid.uuid4().hex[:8]}"
    template = os.environ.get("COLLECTIONS_TEST_TEMPLATE_DB")
    log_path = tmp_path_factory.mktemp("odoo") / "odoo.log"
    install = "test_collections_provider" if template else f"{ADDONS},test_collections_provider"
    if template:
        subprocess.run(["createdb", "-T", template, db], check=True, env=PG_ENV)
    subprocess.run(
        odoo_command(
            "-d", db, "-i", install, "--without-demo=all", "--stop-after-init", "--http-port=0",
            extra_addons=[TEST_ADDONS],
        ),
        check=True,
        env=PG_ENV,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    yield from serve(db, log_path, extra_addons=[TEST_ADDONS])


@pytest.fixture(scope="module")
def customers(server):
    rpc = server.rpc()
    delivery_only(rpc.env)  # about sending, not contact rules
    found = overdue_customers(rpc, 4, "Plantilla {n} SL", "6123460{n:02d}")
    return {"list": found, "currency_id": rpc.env.user.company_id.currency_id.id}


def send(server, customers, outbox, mode, tag):
    env = server.rpc().env
    providers = env["collections.provider"]
    providers.browse(providers.search([("channel", "=", "sms")])).write({"active": False})
    env["collections.provider"].create(
        {
            "name": f"File outbox ({mode})",
            "channel": "sms",
            "provider_type": "test_file_outbox",
            "dispatch_mode": mode,
            "test_outbox_path": str(outbox),
            "rate_per_second": 1000,
            "recipient_interval": 0,
            "delivery_reports": False,
        }
    )
    message_ids = engine_create(
        server.rpc(),
        [
            {
                "partner_id": partner_id,
                "channel": "sms",
                "currency_id": customers["currency_id"],
                "amount_due": 100 + n,
                "move_ids": [(6, 0, [invoice_id])],
                "idempotency_key": f"provider-e2e-{tag}-{n}",
            }
            for n, (partner_id, invoice_id) in enumerate(customers["list"])
        ],
    )
    server.rpc().execute_kw("collections.message", "action_send_now", [message_ids])
    return message_ids


def wait_sent(server, message_ids, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        rows = server.rpc().env["collections.message"].read(message_ids, ["state", "provider_ref", "idempotency_key"])
        if all(row["state"] in ("sent", "failed", "blocked") for row in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def assert_sent_through_the_outbox(rows, outbox, worker_pids=None):
    assert {row["state"] for row in rows} == {"sent"}, rows
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(row["idempotency_key"] for row in rows), "each once"
    assert {row["provider_ref"] for row in rows} == {f"file-{line['key']}" for line in lines}
    for line in lines:
        assert line["to"].startswith("+3461234600"), line
        assert line["body"]["template"] == "collections_reminder", "the provider's content, not the core's text"
        assert line["body"]["parameters"][0].startswith("Plantilla"), line
    if worker_pids is not None:
        assert {line["pid"] for line in lines} <= worker_pids, "sent by the workers, not by Odoo"
    return lines


def test_embedded_mode_sends_through_the_addon_provider(server, customers, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    message_ids = send(server, customers, outbox, "embedded", "embedded")
    rows = server.rpc().env["collections.message"].read(message_ids, ["state", "provider_ref", "idempotency_key"])
    lines = assert_sent_through_the_outbox(rows, outbox)
    assert {line["pid"] for line in lines} == {server.process.pid}, "sent from inside the Odoo server"


def test_scaled_mode_sends_through_the_addon_provider_on_the_workers(server, customers, tmp_path, monkeypatch):
    subprocess.run(["bash", "-c", f'. "{ROOT}/scripts/lib.sh" && redis_start'], check=True)
    monkeypatch.setenv("COLLECTIONS_WORKER_CLIENTS", "test_file_outbox=file_outbox:FileOutboxClient")
    monkeypatch.setenv("PYTHONPATH", CLIENT_DIR)
    outbox = tmp_path / "outbox.jsonl"
    pool = WorkerPool(server.url, server.db, REDIS_URL, tmp_path / "workers")
    try:
        worker = pool.start(concurrency=2)
        message_ids = send(server, customers, outbox, "celery", "scaled")
        rows = wait_sent(server, message_ids)
        assert_sent_through_the_outbox(rows, outbox)
        lines = [json.loads(line) for line in outbox.read_text().splitlines()]
        assert server.process.pid not in {line["pid"] for line in lines}, "sent by a worker, not by Odoo"
        assert worker.poll() is None
    finally:
        pool.stop()
