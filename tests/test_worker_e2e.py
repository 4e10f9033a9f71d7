"""A real Celery worker started by scripts/worker answers through real Redis."""

import os
import signal
import subprocess

import pytest
from conftest import ROOT

from collections_worker.celery_app import app


@pytest.fixture
def worker():
    process = subprocess.Popen(
        [os.path.join(ROOT, "scripts", "worker"), "--concurrency=1", "--hostname=e2e@%h"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_worker_answers_a_task(worker):
    result = app.send_task("collections.ping")
    assert result.get(timeout=60) == "pong"
