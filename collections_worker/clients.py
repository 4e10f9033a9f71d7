"""Provider clients for the workers, loaded without Odoo.

The clients live in the addon (``addons/collections_omni/tools/``) so the
embedded Odoo dispatcher and the workers send with the same code. That folder
holds plain Python only; it is loaded here as the stand-alone package
``collections_omni_tools`` (the addon's ``__init__`` is never executed, so
Odoo is not imported).

COLLECTIONS_ADDONS_DIR  folder holding ``collections_omni`` (default: the
                        repository's ``addons``)
"""

import importlib
import importlib.util
import os
import sys
import threading

TOOLS_PACKAGE = "collections_omni_tools"
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_tool(name):
    """The module ``name`` of ``collections_omni/tools`` (e.g. ``"sms_http_client"``)."""
    if TOOLS_PACKAGE not in sys.modules:
        addons_dir = os.environ.get("COLLECTIONS_ADDONS_DIR") or os.path.join(_ROOT, "addons")
        tools_dir = os.path.join(addons_dir, "collections_omni", "tools")
        spec = importlib.util.spec_from_file_location(
            TOOLS_PACKAGE, os.path.join(tools_dir, "__init__.py"), submodule_search_locations=[tools_dir]
        )
        if spec is None:
            raise ImportError(f"collections_omni tools not found in {tools_dir} (see COLLECTIONS_ADDONS_DIR)")
        package = importlib.util.module_from_spec(spec)
        sys.modules[TOOLS_PACKAGE] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[TOOLS_PACKAGE]
            raise
    return importlib.import_module(f"{TOOLS_PACKAGE}.{name}")


sms_http_client = load_tool("sms_http_client")
SendResult = sms_http_client.SendResult
TwilioCompatibleClient = sms_http_client.TwilioCompatibleClient
E164 = sms_http_client.E164
sign = sms_http_client.sign
verify_signature = sms_http_client.verify_signature
callback_url_for = sms_http_client.callback_url_for

_clients = {}
_clients_lock = threading.Lock()


def sms_client(base_url, account_sid, auth_token, from_number, timeout=10.0):
    """One client per configuration and per process, so a worker's sends
    reuse their HTTP connection (a forked child never inherits its parent's
    connections: the process id is part of the key)."""
    key = (os.getpid(), base_url, account_sid, auth_token, from_number, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = TwilioCompatibleClient(base_url, account_sid, auth_token, from_number, timeout)
        return client
