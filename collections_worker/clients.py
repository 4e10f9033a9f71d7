"""Provider clients for the workers: a registry that other packages extend.

A provider type that runs on the workers (``supports_scaled`` in Odoo) names
its client class, plain Python that imports without Odoo, in one of two ways:

- an entry point of the group ``collections_worker.clients`` in its package's
  ``pyproject.toml``::

      [project.entry-points."collections_worker.clients"]
      my_type = "my_package.my_client:MyClient"

- the environment variable ``COLLECTIONS_WORKER_CLIENTS``, for code that is
  not pip-installed (it wins over entry points)::

      COLLECTIONS_WORKER_CLIENTS="my_type=my_package.my_client:MyClient,other=pkg.mod:Client"

The core's own ``sms_http`` is the repository's entry point (pyproject.toml)
and, for a checkout that is not pip-installed, :data:`BUILTIN`.

The client protocol: ``Client(**settings)`` with the provider's
``_get_client_settings()``; ``client.send(to, body, idempotency_key,
status_callback=None)`` returns an object with ``status`` ("sent",
"temporary" or "permanent"), ``provider_ref``, ``code``, ``message`` and
``retry_after`` (:class:`collections_omni_tools.sms_http_client.SendResult`).
"""

import os
import threading
from importlib.metadata import EntryPoint, entry_points

from collections_omni_tools.sms_http_client import (  # noqa: F401 (the workers' names for them)
    E164,
    SendResult,
    TwilioCompatibleClient,
    callback_url_for,
    sign,
    verify_signature,
)

GROUP = "collections_worker.clients"
ENV_VAR = "COLLECTIONS_WORKER_CLIENTS"
BUILTIN = {"sms_http": "collections_omni_tools.sms_http_client:TwilioCompatibleClient"}

_classes = {}
_lock = threading.Lock()


class UnknownClient(LookupError):
    """No client registered for a provider type on this worker."""


def registered():
    """{provider type: "module:attribute"}: built-in, then entry points, then the environment."""
    found = dict(BUILTIN)
    found.update({ep.name: ep.value for ep in entry_points(group=GROUP)})
    for item in filter(None, (part.strip() for part in os.environ.get(ENV_VAR, "").split(","))):
        name, sep, value = item.partition("=")
        if not sep or ":" not in value:
            raise ValueError(f"{ENV_VAR}: expected type=module:Class, got {item!r}")
        found[name.strip()] = value.strip()
    return found


def client_class(provider_type):
    """The client class of ``provider_type``, loaded once per process."""
    with _lock:
        if provider_type not in _classes:
            value = registered().get(provider_type)
            if value is None:
                raise UnknownClient(
                    f"No worker client for provider type {provider_type!r}: "
                    f"declare an entry point in the group {GROUP!r} or set {ENV_VAR}"
                )
            _classes[provider_type] = EntryPoint(provider_type, value, GROUP).load()
        return _classes[provider_type]


def make_client(provider_type, settings):
    return client_class(provider_type)(**settings)
