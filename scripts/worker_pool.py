"""Start, kill and stop Celery worker processes (scripts/worker) reporting to
an Odoo server: shared by the dispatch benchmark (scripts/bench.py) and the
dispatch end-to-end tests (tests/test_dispatch_e2e.py). Plain Python: no
pytest, no Odoo import."""

import os
import signal
import subprocess

from odoo_env import ROOT

# Short enough for a killed worker's tasks to be handed to another worker within a test or a measurement.
FAST_RECOVERY_ENV = {
    "COLLECTIONS_VISIBILITY_TIMEOUT": "10",
    "COLLECTIONS_LEASE_SECONDS": "5",
    "COLLECTIONS_REPORT_STALE_SECONDS": "10",
}


class WorkerPool:
    """Workers started one by one, each in its own process group (scripts/worker
    execs celery, whose threads and children go down with the group), each
    logging to ``<log_dir>/<name>.log``."""

    def __init__(
        self, odoo_url, db, redis_url, log_dir, login="admin", password="admin", loglevel="INFO", extra_args=()
    ):
        self.env = {
            **os.environ,
            **FAST_RECOVERY_ENV,
            "COLLECTIONS_REDIS_URL": redis_url,
            "COLLECTIONS_ODOO_URL": odoo_url,
            "COLLECTIONS_ODOO_DB": db,
            "COLLECTIONS_ODOO_LOGIN": login,
            "COLLECTIONS_ODOO_PASSWORD": password,
        }
        self.log_dir, self.loglevel, self.extra_args = str(log_dir), loglevel, list(extra_args)
        self.processes = []
        os.makedirs(self.log_dir, exist_ok=True)

    def start(self, name=None, concurrency=4):
        """One more worker (``name``, by default worker<n>) with ``concurrency`` threads."""
        name = name or f"worker{len(self.processes) + 1}"
        with open(os.path.join(self.log_dir, f"{name}.log"), "wb") as log:
            process = subprocess.Popen(
                [
                    os.path.join(ROOT, "scripts", "worker"),
                    "--pool=threads",
                    f"--concurrency={concurrency}",
                    f"--hostname={name}@%h",
                    f"--loglevel={self.loglevel}",
                    *self.extra_args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    @staticmethod
    def kill(process):
        """SIGKILL a worker: no goodbye, the tasks it took stay unacknowledged."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self):
        """SIGTERM every live worker (a warm shutdown), SIGKILL those still there after 30 s."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
