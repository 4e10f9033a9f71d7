"""The workers' client registry: provider types find their client by entry
point or COLLECTIONS_WORKER_CLIENTS, never by a list in collections_worker."""

import importlib.metadata

import pytest

from collections_omni_tools import sms_http_client
from collections_worker import clients


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch):
    monkeypatch.setattr(clients, "_classes", {})
    monkeypatch.delenv(clients.ENV_VAR, raising=False)


class EchoClient:
    def __init__(self, prefix):
        self.prefix = prefix

    def send(self, to, body, idempotency_key, status_callback=None):
        return sms_http_client.SendResult("sent", f"{self.prefix}{idempotency_key}", None, None, None)


def test_the_core_sms_client_is_registered():
    assert clients.client_class("sms_http") is sms_http_client.TwilioCompatibleClient


def test_a_client_from_the_environment(monkeypatch):
    monkeypatch.setenv(clients.ENV_VAR, f"echo={__name__}:EchoClient, other=json:loads")
    client = clients.make_client("echo", {"prefix": "E-"})
    assert isinstance(client, EchoClient)
    assert client.send("+34600000001", "hola", "k1").provider_ref == "E-k1"
    assert clients.client_class("other").__name__ == "loads"


def test_a_client_from_an_entry_point(monkeypatch):
    point = importlib.metadata.EntryPoint("echo", f"{__name__}:EchoClient", clients.GROUP)
    monkeypatch.setattr(clients, "entry_points", lambda group: [point] if group == clients.GROUP else [])
    assert clients.client_class("echo") is EchoClient


def test_the_environment_wins_over_entry_points(monkeypatch):
    point = importlib.metadata.EntryPoint("sms_http", "json:dumps", clients.GROUP)
    monkeypatch.setattr(clients, "entry_points", lambda group: [point])
    assert clients.client_class("sms_http").__name__ == "dumps"
    clients._classes.clear()
    monkeypatch.setenv(clients.ENV_VAR, f"sms_http={__name__}:EchoClient")
    assert clients.client_class("sms_http") is EchoClient


def test_an_unknown_type_says_how_to_register_it():
    with pytest.raises(clients.UnknownClient, match="COLLECTIONS_WORKER_CLIENTS"):
        clients.client_class("nobody")


def test_a_malformed_environment_entry_is_refused(monkeypatch):
    monkeypatch.setenv(clients.ENV_VAR, "echo")
    with pytest.raises(ValueError, match="type=module:Class"):
        clients.client_class("echo")
