"""End-to-end fixtures: a real Odoo server process on a copy of the test
database, reached over HTTP and JSON-RPC (odoorpc) like a worker would.

scripts/test sets COLLECTIONS_TEST_TEMPLATE_DB to the database where it just
installed the addons; without it, a database is installed here (slower).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import odoorpc
import pytest
import requests

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(_ROOT, "scripts"), _ROOT]

from odoo_env import ROOT, odoo_command  # noqa: E402

PG_PORT = os.environ.get("COLLECTIONS_PG_PORT", "55432")
PG_USER = os.environ.get("COLLECTIONS_PG_USER", "odoo")
VAR_DIR = os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var"))
FILESTORE = os.path.join(VAR_DIR, "filestore", "filestore")  # Odoo's data_dir is VAR_DIR/filestore
ADDONS = "collections_omni,collections_portal,collections_whatsapp"
PG_ENV = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": PG_PORT, "PGUSER": PG_USER}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooServer:
    def __init__(self, db, port, process, log_path, extra_addons=()):
        self.db, self.port, self.process, self.log_path = db, port, process, log_path
        self.extra_addons = tuple(extra_addons)  # addons paths beyond the repository's addons/
        self.url = f"http://127.0.0.1:{port}"

    def rpc(self, login="admin", password="admin"):
        client = odoorpc.ODOO("127.0.0.1", port=self.port, timeout=300)
        client.login(self.db, login, password)
        return client

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as log_file:
            return log_file.read()

    def start(self):
        with open(self.log_path, "a") as log_file:
            self.process = subprocess.Popen(
                odoo_command(
                    "-d",
                    self.db,
                    f"--db-filter=^{self.db}$",
                    f"--http-port={self.port}",
                    "--max-cron-threads=0",
                    extra_addons=self.extra_addons,
                ),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=PG_ENV,
            )
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                if requests.get(f"{self.url}/web/login", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # still loading the registry (slow on a busy machine): ask again until the deadline
            if time.monotonic() > deadline:
                raise RuntimeError(f"Odoo did not answer in 180 s:\n{self.log()[-3000:]}")
            time.sleep(0.5)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# The Redis of the end-to-end tests' workers (scripts/worker reads the same variables).
REDIS_URL = os.environ.get(
    "COLLECTIONS_REDIS_URL", f"redis://127.0.0.1:{os.environ.get('COLLECTIONS_REDIS_PORT', '56379')}/0"
)


def delivery_only(env, base_url=None):
    """The database set for tests about delivery: scaled dispatch through the
    tests' Redis, Odoo reachable at ``base_url`` (for webhooks), and no
    contact rule set active (not the hour of the day nor the contact limits)."""
    env["ir.config_parameter"].set_param("collections_omni.redis_url", REDIS_URL)
    if base_url:
        env["ir.config_parameter"].set_param("web.base.url", base_url)
    rule_sets = env["collections.contact.rule.set"]
    rule_sets.browse(rule_sets.search([])).write({"active": False})


def posted_invoice(rpc, partner_id, amount, days_overdue, label="Service"):
    """A posted customer invoice of ``amount`` (one line ``label``, no tax) due
    ``days_overdue`` days ago; its id."""
    due = (date.today() - timedelta(days=days_overdue)).isoformat()
    invoice_id = rpc.env["account.move"].create(
        {
            "move_type": "out_invoice",
            "partner_id": partner_id,
            "invoice_date": due,
            "invoice_date_due": due,
            "invoice_line_ids": [(0, 0, {"name": label, "quantity": 1, "price_unit": amount, "tax_ids": []})],
        }
    )
    rpc.execute_kw("account.move", "action_post", [[invoice_id]])
    return invoice_id


def overdue_customers(rpc, count, name, mobile, policy_id=None, langs=None, email=None, amount=100):
    """``count`` Spanish customers (``name``, ``mobile`` and ``email`` formatted
    with their number), each with one posted invoice of ``amount`` due 10 days
    ago; ``langs`` alternate. Returns [(partner id, invoice id)]."""
    env = rpc.env
    spain = env.ref("base.es").id
    customers = []
    for n in range(count):
        values = {"name": name.format(n=n), "is_company": True, "mobile": mobile.format(n=n), "country_id": spain}
        if policy_id:
            values["collections_policy_id"] = policy_id
        if langs:
            values["lang"] = langs[n % len(langs)]
        if email:
            values["email"] = email.format(n=n)
        partner_id = env["res.partner"].create(values)
        customers.append((partner_id, posted_invoice(rpc, partner_id, amount, 10)))
    return customers


def whatsapp_reminders(rpc, emulator, odoo_url, name, account_values=None, provider_values=None):
    """A WhatsApp account on the Graph API ``emulator`` (templates synced, its
    signed webhooks sent to Odoo at ``odoo_url``), a WhatsApp provider of it and
    a policy whose one stage sends the ``collections_reminder`` template:
    (account id, provider id, policy id)."""
    env = rpc.env
    account_id = env["collections.whatsapp.account"].create(
        {
            "name": name,
            "phone_number_id": emulator.phone_number_id,
            "waba_id": emulator.waba_id,
            "graph_url": emulator.url,
            "access_token": emulator.access_token,
            "app_secret": emulator.app_secret,
            **(account_values or {}),
        }
    )
    emulator.webhook_url = f"{odoo_url}/collections/whatsapp/webhook/{account_id}"
    rpc.execute_kw("collections.whatsapp.account", "action_sync_templates", [[account_id]])
    templates = env["collections.whatsapp.template"].search(
        [("account_id", "=", account_id), ("name", "=", "collections_reminder")]
    )
    provider_id = env["collections.provider"].create(
        {
            "name": name,
            "channel": "whatsapp",
            "provider_type": "whatsapp_cloud",
            "whatsapp_account_id": account_id,
            "company_id": env.user.company_id.id,
            **(provider_values or {}),
        }
    )
    policy_id = env["collections.policy"].create(
        {
            "name": name,
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
    return account_id, provider_id, policy_id


def engine_create(rpc, values_list):
    """Collections messages created as the engine creates them, for tests that
    stand in for a dunning run: no user may create one over RPC (the audit
    trail), so the administrator runs the engine's own path in a server action,
    as only a Settings user can."""
    action_id = rpc.env["ir.actions.server"].create(
        {
            "name": "Test fixture: messages through the engine",
            "model_id": rpc.env["ir.model"].search([("model", "=", "collections.message")])[0],
            "state": "code",
            "code": "action = {'ids': model._engine().create(env.context['collections_test_values']).ids}",
        }
    )
    result = rpc.execute_kw(
        "ir.actions.server", "run", [[action_id]], {"context": {"collections_test_values": values_list}}
    )
    return result["ids"]


def plan_over(rpc, customers, currency_id, count, key, channel, **values):
    """``count`` planned messages of ``channel`` over ``customers`` ([(partner
    id, invoice id)], in turn), each with its own amount (no two texts are the
    same) and the idempotency key ``{key}-{n}``; ``values`` go on every one."""
    rows = []
    for n in range(count):
        partner_id, invoice_id = customers[n % len(customers)]
        rows.append(
            {
                "partner_id": partner_id,
                "channel": channel,
                "currency_id": currency_id,
                "amount_due": 100 + n,
                "move_ids": [(6, 0, [invoice_id])],
                "idempotency_key": f"{key}-{n}",
                **values,
            }
        )
    return engine_create(rpc, rows)


def serve(db, log_path, extra_addons=()):
    """A fixture's body: an Odoo server on ``db`` while the fixture lasts; then
    the server stopped and the database (with its filestore) dropped."""
    open(log_path, "w").close()
    server = OdooServer(db, free_port(), None, log_path, extra_addons=extra_addons)
    try:
        server.start()
        yield server
    finally:
        if server.process:
            server.stop()
        subprocess.run(["dropdb", "--if-exists", db], env=PG_ENV, check=False)
        shutil.rmtree(os.path.join(FILESTORE, db), ignore_errors=True)


@pytest.fixture(scope="session")
def odoo_server(tmp_path_factory):
    db = f"collections_e2e_{uuid.uuid4().hex[:8]}"
    template = os.environ.get("COLLECTIONS_TEST_TEMPLATE_DB")
    log_path = tmp_path_factory.mktemp("odoo") / "odoo.log"
    if template:
        subprocess.run(["createdb", "-T", template, db], check=True, env=PG_ENV)
        # The copy's attachments (compiled assets: the PDF reports' CSS) live in the template's filestore.
        if os.path.isdir(os.path.join(FILESTORE, template)):
            shutil.copytree(os.path.join(FILESTORE, template), os.path.join(FILESTORE, db))
    else:
        subprocess.run(
            odoo_command(
                "-d", db, "-i", f"{ADDONS},payment_demo", "--without-demo=all", "--stop-after-init", "--http-port=0"
            ),
            check=True,
            env=PG_ENV,
        )
    yield from serve(db, log_path)
