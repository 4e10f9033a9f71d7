from .celery_app import app


@app.task(name="collections.ping", ignore_result=False)
def ping():
    """Health check: proves a worker is connected to the broker."""
    return "pong"
