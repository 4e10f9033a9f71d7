"""The WhatsApp client's send ledger (graph_client.SendLedger) against a real
redis-server and the Graph API emulator: a message whose answer was lost is
never sent twice, and a business number / customer pair refused with 131056
backs off 4^X seconds for every worker."""

import time

import pytest
from test_rate_limit import redis_client  # noqa: F401 (the fixture: a redis-server of its own)

from tests.whatsapp_tools import tool

graph = tool("graph_client")
emulator_module = tool("emulator")
TO = "34600123456"


@pytest.fixture
def emulator():
    with emulator_module.GraphApiEmulator() as emulator:
        yield emulator


@pytest.fixture
def ledger_url(redis_client):  # noqa: F811
    redis_client.flushdb()
    kwargs = redis_client.connection_pool.connection_kwargs
    return f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs['port']}/0"


def _worker_client(emulator, ledger_url, **options):
    """A client as a worker builds it (one per worker process)."""
    return graph.CloudApiClient(
        emulator.phone_number_id, emulator.access_token, base_url=emulator.url, ledger_url=ledger_url, **options
    )


def _template():
    return graph.template_payload(None, "collections_reminder", "es", ["Lucía"])


def _accepted(emulator, key):
    return [m["id"] for m in emulator.sent if m.get("biz_opaque_callback_data") == key]


def _wait_accepted(emulator, key, timeout=10):
    deadline = time.monotonic() + timeout
    while not _accepted(emulator, key):
        assert time.monotonic() < deadline, f"{key} not accepted in {timeout} s"
        time.sleep(0.05)
    return _accepted(emulator, key)


def test_a_message_accepted_before_is_answered_from_the_ledger(emulator, ledger_url):
    first = _worker_client(emulator, ledger_url).send(TO, _template(), "k-1")
    again = _worker_client(emulator, ledger_url).send(TO, _template(), "k-1")  # another worker, the same task
    assert first.status == again.status == graph.SENT
    assert again.provider_ref == first.provider_ref
    assert _accepted(emulator, "k-1") == [first.provider_ref]


def test_a_lost_answer_waits_for_metas_status_instead_of_sending_twice(emulator, ledger_url):
    emulator.configure(response_delay=1.0)  # Meta accepts; the worker's client gave up after 0.2 s
    lost = _worker_client(emulator, ledger_url, timeout=0.2).send(TO, _template(), "k-2")
    assert lost.code == "timeout"
    emulator.configure(response_delay=0.0)
    retry = _worker_client(emulator, ledger_url).send(TO, _template(), "k-2")
    assert (retry.status, retry.code) == (graph.TEMPORARY, graph.IN_DOUBT)
    assert 0 < retry.retry_after <= graph.IN_DOUBT_SECONDS + 1
    (wamid,) = _wait_accepted(emulator, "k-2")  # the first request did arrive, after the client gave up
    ledger = graph.SendLedger(ledger_url)
    graph.note_accepted(ledger.redis, {"k-2": wamid})  # what Odoo's webhook records from the "sent" status
    settled = _worker_client(emulator, ledger_url).send(TO, _template(), "k-2")
    assert (settled.status, settled.provider_ref) == (graph.SENT, wamid)
    assert _accepted(emulator, "k-2") == [wamid], "sent once"


def test_a_request_in_doubt_without_proof_goes_once_the_wait_is_over(emulator, ledger_url):
    ledger = graph.SendLedger(ledger_url, in_doubt_seconds=60)
    assert ledger.begin("k-3") is None  # a worker marked it, then died before its request left
    client = _worker_client(emulator, ledger_url)
    assert client.send(TO, _template(), "k-3").code == graph.IN_DOUBT
    assert _accepted(emulator, "k-3") == []
    ledger.redis.set(graph.IN_FLIGHT_PREFIX + "k-3", repr(0.0))  # the mark is older than the wait: no status came
    result = client.send(TO, _template(), "k-3")
    assert result.status == graph.SENT
    assert _accepted(emulator, "k-3") == [result.provider_ref]


def test_a_refused_request_clears_its_mark(emulator, ledger_url):
    emulator.configure(fail_next=[500])
    client = _worker_client(emulator, ledger_url)
    assert client.send(TO, _template(), "k-4").code == "500"
    assert client.send(TO, _template(), "k-4").status == graph.SENT, "Meta said no: nothing in doubt"


def test_pair_rate_backs_off_4_to_the_x_for_every_worker(emulator, ledger_url):
    ledger = graph.SendLedger(ledger_url)
    pair = graph.PAIR_WAIT_PREFIX + f"{emulator.phone_number_id}:{TO}"
    emulator.configure(fail_next=[131056, 131056, 131056])
    first = _worker_client(emulator, ledger_url).send(TO, _template(), "k-5")
    assert (first.status, first.code, first.retry_after) == (graph.TEMPORARY, "131056", 4.0)
    other = _worker_client(emulator, ledger_url).send(TO, _template(), "k-6")  # another worker, same customer
    assert (other.status, other.code) == (graph.TEMPORARY, "131056")
    assert 0 < other.retry_after <= 4.0
    assert emulator.switches.fail_next == [131056, 131056], "no request to Meta while the pair backs off"
    ledger.redis.delete(pair)  # the 4 s are over
    assert _worker_client(emulator, ledger_url).send(TO, _template(), "k-5").retry_after == 16.0  # 4^2
    ledger.redis.delete(pair)
    assert _worker_client(emulator, ledger_url).send(TO, _template(), "k-5").retry_after == 64.0  # 4^3
    assert emulator.switches.fail_next == []
    other_customer = _worker_client(emulator, ledger_url).send("34600999999", _template(), "k-7")
    assert other_customer.status == graph.SENT, "only that pair waits"
    ledger.redis.delete(pair)
    assert _worker_client(emulator, ledger_url).send(TO, _template(), "k-5").status == graph.SENT
    emulator.configure(fail_next=[131056])
    assert _worker_client(emulator, ledger_url).send(TO, _template(), "k-8").retry_after == 4.0, "X starts again"
