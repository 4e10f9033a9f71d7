"""Global rate limits in Redis (collections_worker/rate_limit.py), against a
real redis-server started for these tests."""

import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis

from collections_worker.rate_limit import RecipientInterval, TokenBucket


@pytest.fixture(scope="module")
def redis_client(tmp_path_factory):
    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server not found (install Debian's redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def hammer(acquire, threads=4, seconds=1.5):
    """Acquire from several threads for ``seconds``, each waiting as told;
    returns (grants, elapsed seconds measured around all of it)."""
    grants = []
    start = time.monotonic()

    def run():
        while time.monotonic() - start < seconds:
            wait = acquire()
            if wait == 0:
                grants.append(1)
            else:
                time.sleep(min(wait, seconds / 10))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(grants), time.monotonic() - start


def test_token_bucket_never_exceeds_rate_plus_burst(redis_client):
    # Two buckets on the same key, as two workers would hold them.
    buckets = [TokenBucket(redis_client, "test:bucket:shared", rate_per_s=100, burst=10) for _ in range(2)]
    calls = []

    def acquire():
        calls.append(1)
        return buckets[len(calls) % 2].acquire()

    granted, elapsed = hammer(acquire)
    assert granted <= 100 * elapsed + 10
    assert granted >= 100 * elapsed / 2  # it does grant: not merely refusing everything
    assert len(calls) > granted  # the threads were held back by refusals


def test_refused_acquisitions_consume_nothing(redis_client):
    bucket = TokenBucket(redis_client, "test:bucket:refusals", rate_per_s=1, burst=2)
    assert bucket.acquire() == 0.0  # one token left
    wait = bucket.acquire(2)
    assert 0.9 < wait <= 1.0  # one more token needed at 1 per second
    for _ in range(50):
        assert bucket.acquire(2) > 0.9  # refused again and again, nothing taken
    assert bucket.acquire() == 0.0  # the token left is still there
    wait = bucket.acquire()
    assert 0 < wait <= 1.0
    time.sleep(wait + 0.05)
    assert bucket.acquire() == 0.0
    assert 0 < redis_client.pttl("test:bucket:refusals") <= 3000  # the key expires


def test_token_bucket_rejects_impossible_requests(redis_client):
    with pytest.raises(ValueError):
        TokenBucket(redis_client, "test:bucket:bad", rate_per_s=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(redis_client, "test:bucket:bad", rate_per_s=1, burst=2).acquire(3)


def test_recipient_interval(redis_client):
    limit = RecipientInterval(redis_client, "test:recipient:", interval_s=0.5)
    assert limit.acquire("+34600000001") == 0.0
    wait = limit.acquire("+34600000001")
    assert 0 < wait <= 0.5
    assert limit.acquire("+34600000002") == 0.0  # another recipient is not held back
    assert 0 < redis_client.pttl("test:recipient:+34600000001") <= 500  # the key expires
    time.sleep(wait + 0.05)
    assert limit.acquire("+34600000001") == 0.0


def test_recipient_interval_holds_across_workers(redis_client):
    limits = [RecipientInterval(redis_client, "test:recipient-shared:", interval_s=0.4) for _ in range(2)]
    calls = []

    def acquire():
        calls.append(1)
        return limits[len(calls) % 2].acquire("+34600000009")

    granted, elapsed = hammer(acquire, seconds=1.0)
    assert 2 <= granted <= elapsed / 0.4 + 1
