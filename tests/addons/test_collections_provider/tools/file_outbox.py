"""The client of the test provider: plain Python, no Odoo, so that the Celery
workers import it (``COLLECTIONS_WORKER_CLIENTS=test_file_outbox=file_outbox:FileOutboxClient``
with this folder on PYTHONPATH). It "sends" by appending one JSON line per
message to a file, which the end-to-end test reads back."""

import fcntl
import json
import os
from typing import NamedTuple


class Result(NamedTuple):
    status: str
    provider_ref: str | None
    code: str | None
    message: str | None
    retry_after: float | None


class FileOutboxClient:
    def __init__(self, path):
        if not path:
            raise ValueError("the file outbox needs a path")
        self.path = path

    def send(self, to, body, idempotency_key, status_callback=None):
        line = json.dumps({"to": to, "body": body, "key": idempotency_key, "pid": os.getpid()}, sort_keys=True)
        with open(self.path, "a", encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)  # workers' threads and processes append side by side
            outbox.write(line + "\n")
        return Result("sent", f"file-{idempotency_key}", None, None, None)
