"""The Celery application, configured from the environment:

COLLECTIONS_REDIS_URL            broker (default redis://127.0.0.1:56379/0, the Redis
                                 that scripts/run and scripts/worker start)
COLLECTIONS_VISIBILITY_TIMEOUT   seconds after which Redis hands a task that no
                                 worker acknowledged (its worker died) to another
                                 worker (default 900)
"""

import os

from celery import Celery

REDIS_URL = os.environ.get("COLLECTIONS_REDIS_URL", "redis://127.0.0.1:56379/0")
VISIBILITY_TIMEOUT = int(os.environ.get("COLLECTIONS_VISIBILITY_TIMEOUT", "900"))

# Results only for the tasks that ask for them (ping); sends report to Odoo instead.
app = Celery("collections_worker", broker=REDIS_URL, backend=REDIS_URL, include=["collections_worker.tasks"])
app.conf.update(
    task_ignore_result=True,
    task_acks_late=True,  # a task whose worker dies is delivered again: sends must be idempotent
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_default_queue="collections",
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT,
        # Look for tasks of dead workers often enough for a short visibility timeout.
        "unacked_restore_interval": max(1, min(10, VISIBILITY_TIMEOUT // 10)),
        "unacked_restore_throttle": 1,
    },
)
