"""Open an Odoo environment on the project's database from a plain script.

Used by the data generator and the benchmarks: they run in the project's
virtualenv (Odoo on the path through scripts/setup) against the private
PostgreSQL cluster that scripts/lib.sh starts.
"""

import contextlib
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ODOO_SRC = os.environ.get("ODOO_SRC") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "odoo", "18.0"
)


def server_args(extra_addons=()):
    """The options of scripts/lib.sh's odoo_cmd: config file, addons path,
    the project's database cluster and data folder."""
    var_dir = os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var"))
    return [
        "-c",
        os.path.join(ROOT, "odoo.conf"),
        "--addons-path=" + ",".join([f"{ODOO_SRC}/odoo/addons", f"{ROOT}/addons", *extra_addons]),
        "--db_host=127.0.0.1",
        f"--db_port={os.environ.get('COLLECTIONS_PG_PORT', '55432')}",
        f"--db_user={os.environ.get('COLLECTIONS_PG_USER', 'odoo')}",
        f"--data-dir={var_dir}/filestore",
    ]


def odoo_command(*args, extra_addons=()):
    """An odoo-bin command line for a subprocess."""
    return [sys.executable, os.path.join(ODOO_SRC, "odoo-bin"), *server_args(extra_addons), *args]


def configure(db_name):
    """Load odoo.conf with the same options as the scripts, in this process."""
    import odoo

    odoo.tools.config.parse_config([*server_args(), "--log-level=warn", "-d", db_name])
    return odoo


@contextlib.contextmanager
def environment(db_name):
    """Yield a superuser ``env`` on ``db_name``; commits on success."""
    odoo = configure(db_name)
    registry = odoo.modules.registry.Registry(db_name)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        yield env
        cr.commit()


class Progress:
    """One self-overwriting line on a terminal, plain lines otherwise."""

    def __init__(self, label, total):
        self.label, self.total, self.done = label, max(total, 1), 0
        self.started = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def advance(self, n=1):
        self.done += n
        now = time.monotonic()
        if now - self.last >= (0.2 if self.tty else 5) or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            line = f"{self.label}: {self.done}/{self.total} ({100 * self.done // self.total}%, {rate:,.0f}/s)"
            sys.stderr.write(("\r" + line + " " * 8) if self.tty else line + "\n")
            if self.tty and self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()
