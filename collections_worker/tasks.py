import logging

from celery import signals

from .celery_app import app
from .dispatch import BACKOFF_MAX, OdooUnavailable, dispatcher

_logger = logging.getLogger(__name__)


@signals.worker_ready.connect
def _start_reporter(**_kwargs):
    # Reports what this worker sends, and what dead workers left pending.
    dispatcher().start_reporter()


@signals.worker_shutting_down.connect
def _flush_reports(**_kwargs):
    dispatcher().flush_reports()


@app.task(name="collections.ping", ignore_result=False)
def ping():
    """Health check: proves a worker is connected to the broker."""
    return "pong"


@app.task(name="collections.send_messages", bind=True, max_retries=None)
def send_messages(self, provider_id, messages):
    """Send a batch of outbox messages of one provider (published by Odoo
    after commit, or again by its sweeper); the results are stored in Redis
    before the task ends, and reported to Odoo by the worker's reporter."""
    worker = dispatcher()

    def requeue(later, countdown):
        send_messages.apply_async(args=[provider_id, later], countdown=countdown)

    try:
        results = worker.send_batch(provider_id, messages, requeue)
    except OdooUnavailable as exc:  # the provider settings come from Odoo: try again later
        raise self.retry(countdown=min(BACKOFF_MAX, 2 ** min(self.request.retries, 8)), exc=exc) from exc
    worker.queue_report(results)


@app.task(name="collections.report_results")
def report_results():
    """Report every result Odoo has not acknowledged yet, whatever its age
    (for operators: ``celery call collections.report_results``)."""
    return dispatcher().report_stale(older_than=0)
