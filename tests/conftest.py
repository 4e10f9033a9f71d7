"""End-to-end fixtures: a real Odoo server process on a copy of the test
database, reached over HTTP and JSON-RPC (odoorpc) like a worker would.

scripts/test sets COLLECTIONS_TEST_TEMPLATE_DB to the database where it just
installed the addons; without it, a database is installed here (slower).
"""

import os
import socket
import subprocess
import sys
import time
import uuid

import odoorpc
import pytest
import requests

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(_ROOT, "scripts"), _ROOT]

from odoo_env import ROOT, odoo_command  # noqa: E402

PG_PORT = os.environ.get("COLLECTIONS_PG_PORT", "55432")
PG_USER = os.environ.get("COLLECTIONS_PG_USER", "odoo")
VAR_DIR = os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var"))
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


@pytest.fixture(scope="session")
def odoo_server(tmp_path_factory):
    db = f"collections_e2e_{uuid.uuid4().hex[:8]}"
    template = os.environ.get("COLLECTIONS_TEST_TEMPLATE_DB")
    log_path = tmp_path_factory.mktemp("odoo") / "odoo.log"
    if template:
        subprocess.run(["createdb", "-T", template, db], check=True, env=PG_ENV)
    else:
        subprocess.run(
            odoo_command(
                "-d", db, "-i", f"{ADDONS},payment_demo", "--without-demo=all", "--stop-after-init", "--http-port=0"
            ),
            check=True,
            env=PG_ENV,
        )
    open(log_path, "w").close()
    server = OdooServer(db, free_port(), None, log_path)
    try:
        server.start()
        yield server
    finally:
        if server.process:
            server.stop()
        subprocess.run(["dropdb", "--if-exists", db], env=PG_ENV, check=False)
