"""Hostile input over real HTTP, shared by the three addons' route tests.

The convention every route of the collections addons keeps (README, "Bad input"):

* a value a route cannot use is refused with a 4xx and a page (or JSON-RPC
  error) that says what is wrong; a form is shown again with the error
  (400), an id that names nothing is a 404, a NUL character is a 400;
* parameters that only choose what a page shows (a flash message key, a
  preselection, where to go next) ignore what they do not understand;
* providers' webhooks answer as their protocol expects: unsigned is a 403;
* never a 500, never a traceback or an ERROR in the log, and a refused
  request writes nothing.
"""

import inspect
import logging
import re
from contextlib import contextmanager
from urllib.parse import quote

import requests

# The fixed list every parameter of every route gets. Bytes are sent as they
# are (percent-encoded): "é", a NUL and a byte that is no UTF-8 at all.
HOSTILE_VALUES = (
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e999",
    "²",
    "-1",
    "0",
    "99999999999",
    b"\xc3\xa9\x00\xff",
    "9" * 10_000,
    "<script>alert(1)</script>",
    "",
)
# Models a refused request must not write to.
WATCHED_MODELS = (
    "collections.promise",
    "collections.payment.plan",
    "collections.dispute",
    "collections.consent",
    "collections.message",
    "mail.message",
)


def controller_routes(*controllers):
    """{(method, path)} of the routes these controller classes define themselves
    (inherited routes of Odoo's own controllers left out), path parameters as ``{id}``."""
    routes = set()
    for controller in controllers:
        for _name, function in inspect.getmembers(controller, inspect.isfunction):
            routing = getattr(function, "original_routing", None)
            if routing is None or function.__module__ != controller.__module__:
                continue
            for path in routing["routes"]:
                for method in routing.get("methods") or ("GET", "POST"):
                    routes.add((method, re.sub(r"<[^>]+>", "{id}", path)))
    return routes


def path_value(value):
    """A hostile value as a path segment (bytes percent-encoded as they are)."""
    return quote(value, safe="")


def label(value):
    return repr(value[:30] if isinstance(value, str | bytes) else value)


class _ErrorCatcher(logging.Handler):
    """Every ERROR (or worse) logged anywhere in Odoo while hostile requests run."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)


class HostileInputMixin:
    """For HttpCase classes: send a request, check the answer's class, the log
    and that nothing was written."""

    watched_models = WATCHED_MODELS

    def _hostile_counts(self):
        self.env.invalidate_all()
        return {model: self.env[model].sudo().search_count([]) for model in self.watched_models}

    @contextmanager
    def _no_error_logged(self):
        catcher = _ErrorCatcher()
        logger = logging.getLogger("odoo")
        logger.addHandler(catcher)
        try:
            yield
        finally:
            logger.removeHandler(catcher)
        self.assertFalse(
            catcher.records,
            "no ERROR or traceback in the log: " + "; ".join(r.getMessage()[:200] for r in catcher.records[:3]),
        )

    def _hostile_request(self, method, path, params=None, session=None, json=None):
        """One request, as a browser or a provider sends it; ``session`` None sends no cookie."""
        opener = session if session is not None else requests
        url = f"{self.base_url()}{path}"
        if json is not None:
            return opener.post(url, json=json, timeout=60, allow_redirects=False)
        if method == "GET":
            return opener.get(url, params=params, timeout=60, allow_redirects=False)
        return opener.post(url, data=params, timeout=60, allow_redirects=False)

    def _assert_refused(self, response, what, allowed=range(400, 500), nothing_written_since=None):
        self.assertIn(response.status_code, allowed, f"{what}: {response.status_code} {response.text[:300]}")
        self.assertNotIn("Traceback", response.text, what)
        if nothing_written_since is not None:
            self.assertEqual(self._hostile_counts(), nothing_written_since, f"{what} wrote nothing")
