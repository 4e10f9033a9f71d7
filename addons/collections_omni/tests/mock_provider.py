"""A mock at the transport seam, as Odoo's ``sms`` tests mock the IAP gateway:
every provider with a client (``collections.provider._get_client``) sends
into a list instead of the network; the test decides each answer."""

from contextlib import contextmanager
from unittest.mock import patch

from ..tools.sms_http_client import PERMANENT, SENT, TEMPORARY, SendResult


class MockProviderClient:
    """``with self.mock_provider_client(answer) as sent:`` — ``sent`` lists
    {"provider", "to", "body", "key", "callback"} per message, in order;
    ``answer(to, body, key)`` returns a SendResult (default: sent, ref "mock-<key>")."""

    @contextmanager
    def mock_provider_client(self, answer=None):
        sent = []

        class Client:
            def __init__(self, provider):
                self.provider = provider

            def send(self, to, body, idempotency_key, status_callback=None):
                sent.append(
                    {"provider": self.provider, "to": to, "body": body, "key": idempotency_key,
                     "callback": status_callback}
                )  # fmt: skip
                if answer:
                    return answer(to, body, idempotency_key)
                return SendResult(SENT, f"mock-{idempotency_key}", None, None, None)

        def get_client(provider):
            return Client(provider)

        with patch.object(type(self.env["collections.provider"]), "_get_client", get_client):
            yield sent

    @staticmethod
    def temporary_error(code="503"):
        return SendResult(TEMPORARY, None, code, "Service unavailable", 1.0)

    @staticmethod
    def permanent_error(code="21211"):
        return SendResult(PERMANENT, None, code, "Invalid number", None)


def unreachable_sms_provider(env, name, auth_token, account_sid="AC" + "0" * 32):
    """A Twilio-compatible SMS provider whose gateway nobody listens on (port
    9): for tests of its webhooks and of replies, which never send."""
    return env["collections.provider"].create(
        {
            "name": name,
            "channel": "sms",
            "provider_type": "sms_http",
            "sms_http_base_url": "http://127.0.0.1:9",
            "sms_http_account_sid": account_sid,
            "sms_http_auth_token": auth_token,
            "sms_http_from_number": "+15005550006",
        }
    )
