import logging

from .celery_app import app
from .dispatch import BACKOFF_MAX, OdooUnavailable, dispatcher

_logger = logging.getLogger(__name__)

REPORT_FLAG = "collections:report-scheduled"


@app.task(name="collections.ping", ignore_result=False)
def ping():
    """Health check: proves a worker is connected to the broker."""
    return "pong"


@app.task(name="collections.send_messages", bind=True, max_retries=None)
def send_messages(self, provider_id, messages):
    """Send a batch of outbox messages of one provider (published by Odoo
    after commit, or again by its sweeper) and report the results."""
    worker = dispatcher()

    def requeue(later, countdown):
        send_messages.apply_async(args=[provider_id, later], countdown=countdown)

    try:
        results = worker.send_batch(provider_id, messages, requeue)
    except OdooUnavailable as exc:  # the provider settings come from Odoo: try again later
        raise self.retry(countdown=min(BACKOFF_MAX, 2 ** min(self.request.retries, 8)), exc=exc) from exc
    if results and not worker.report(results):
        schedule_report()


def schedule_report(countdown=2):
    """One pending report task at a time (a flag in Redis)."""
    if dispatcher().redis.set(REPORT_FLAG, 1, nx=True, ex=int(countdown) + 30):
        report_results.apply_async(countdown=countdown)


@app.task(name="collections.report_results", bind=True, max_retries=None)
def report_results(self):
    """Report every result Odoo has not acknowledged yet; while Odoo is
    unavailable, try again with exponential backoff."""
    worker = dispatcher()
    worker.redis.delete(REPORT_FLAG)
    if not worker.report_pending():
        countdown = min(BACKOFF_MAX, 2 ** min(self.request.retries + 1, 8))
        worker.redis.set(REPORT_FLAG, 1, ex=int(countdown) + 30)
        raise self.retry(countdown=countdown)
