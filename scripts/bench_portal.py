"""Customer portal benchmark (scripts/bench portal): the balance page, the
statement PDF and paying the ticked invoices up to the payment provider's
form, over real HTTP, for customers with 500 and 50 open invoices (issue 16).

Each customer is visited as a logged-in portal user and as a visitor of a
reminder's signed link (no password), one request at a time, against Odoo
started here with 2 HTTP workers. Measured routes (``routes`` in the output):

- ``balance``: GET /my/collections
- ``statement_pdf``: GET /my/collections/statement.pdf
- ``pay``: GET /my/collections/pay with every open invoice ticked (the page with the payment form)
- ``pay_transaction``: POST /my/collections/pay/transaction with the demo provider: the
  transaction and the provider's redirect form (the first one creates it, the next ones
  find it running, as a double tap does)

Server-side times and query counts come from Odoo's own werkzeug log line
(``query_count query_time remaining_time`` at the end of each request);
``client_p50_ms`` is what the HTTP client waited. One JSON line per size:
``bench``, ``invoices``, ``requests``, ``p50_ms``, ``p95_ms`` and
``queries_per_request`` overall (server side), and per route.

The data comes from generate_data.py (one customer, invoices over 150 days,
some partly paid or credited), in its own database, created once and reused;
the open invoices that nothing touched are then spread so that one customer
has exactly 500 open invoices and another 50 (the rest go to a third one).

    scripts/bench portal [--invoices 500,50] [--repeat 20] [--http-workers 2]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402
from odoo_env import ROOT, environment  # noqa: E402

DB = "collections_bench_portal"
GENERATED_INVOICES = 900  # one customer's, about 700 of them open: room for 500 + 50
PASSWORD = "bench-portal"
PARAM = "collections.bench_portal"
# Odoo's werkzeug log line: "... "GET /path HTTP/1.1" 200 - <queries> <query seconds> <other seconds>".
LOG_LINE = re.compile(r'werkzeug: \S+ - - \[[^\]]*\] "(\w+) (\S+) [^"]*" (\d{3}) \S+ (\d+) ([\d.]+) ([\d.]+)')
ROUTES = ("balance", "statement_pdf", "pay", "pay_transaction")


def _psql(sql):
    out = subprocess.run(["psql", "-q", "-d", DB, "-Atc", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _arrange(env, sizes):
    """Customers with exactly ``sizes`` open invoices each, and a portal user
    for each: the generated customer's untouched open invoices (not paid at
    all, nothing reconciled) are handed to the others by SQL, whole (the
    invoice and its lines)."""
    wanted = {"sizes": sorted(sizes, reverse=True)}
    stored = env["ir.config_parameter"].get_param(PARAM)
    if stored and json.loads(stored)["sizes"] == wanted["sizes"]:
        return json.loads(stored)["customers"]
    if stored:
        raise RuntimeError(f"{DB} was arranged for other sizes ({stored}): drop it (dropdb {DB})")
    Partner = env["res.partner"]
    source = Partner.search([("customer_rank", ">", 0), ("is_company", "=", True)], order="id", limit=1)
    cr = env.cr
    env.flush_all()
    open_sql = """
        SELECT m.id, m.payment_state FROM account_move m
         WHERE m.commercial_partner_id = %s AND m.move_type = 'out_invoice' AND m.state = 'posted'
           AND m.payment_state IN ('not_paid', 'partial', 'in_payment') AND m.amount_residual > 0
      ORDER BY m.id
    """
    cr.execute(open_sql, [source.id])
    rows = cr.fetchall()
    untouched = [move_id for move_id, state in rows if state == "not_paid"]
    kept_open = len(rows) - len(untouched)  # partly paid or credited: they stay with the generated customer
    biggest, *others = wanted["sizes"]
    if biggest < kept_open or len(untouched) < biggest - kept_open + sum(others):
        raise RuntimeError(f"the generated customer has {len(rows)} open invoices: not enough for {wanted['sizes']}")
    customers = {str(biggest): source.id}
    spare = untouched[biggest - kept_open :]
    overflow = Partner.create({"name": "Bench Overflow", "is_company": True, "customer_rank": 1})
    portal = env.ref("base.group_portal")
    for size in others:
        partner = source.copy({"name": f"{source.name} ({size})", "ref": False})
        customers[str(size)] = partner.id
        moves, spare = spare[:size], spare[size:]
        _move_invoices(cr, moves, partner)
    _move_invoices(cr, spare, overflow)
    for size, partner_id in customers.items():
        env["res.users"].with_context(no_reset_password=True).create(
            {
                "name": f"Bench portal {size}",
                "login": f"bench_portal_{size}",
                "password": PASSWORD,
                "parent_id": partner_id,
                "groups_id": [(6, 0, portal.ids)],
            }
        )
    provider = env.ref("payment.payment_provider_demo")
    provider.write({"state": "test", "is_published": True})
    env["ir.config_parameter"].set_param(PARAM, json.dumps({**wanted, "customers": customers}))
    env.invalidate_all()
    return customers


def _move_invoices(cr, move_ids, partner):
    if not move_ids:
        return
    cr.execute(
        """UPDATE account_move SET partner_id = %(p)s, commercial_partner_id = %(p)s, partner_shipping_id = %(p)s,
                  invoice_partner_display_name = %(name)s WHERE id = ANY(%(ids)s);
           UPDATE account_move_line SET partner_id = %(p)s WHERE move_id = ANY(%(ids)s)""",
        {"p": partner.id, "name": partner.name, "ids": move_ids},
    )


def ensure_database(sizes, seed):
    bench.ensure_database(DB, 1, GENERATED_INVOICES, seed, addons=("collections_omni", "collections_portal"))
    if _psql("select state from ir_module_module where name = 'payment_demo'") != "installed":
        subprocess.run(bench.odoo_cli(DB, "-i", "payment_demo"), check=True)
    with environment(DB) as env:
        customers = _arrange(env, sizes)
        # A reminder's link per customer, signed with this database's secret, valid for the default 30 days.
        links = {
            size: env["res.partner"].browse(pid)._collections_portal_url("email") for size, pid in customers.items()
        }
        provider = env.ref("payment.payment_provider_demo")
        method = provider.payment_method_ids.filtered("active")[:1] or provider.payment_method_ids[:1]
        # Ticked for payment: every open invoice in the company's currency (one payment is in one currency).
        open_ids = {
            size: env["account.move"]
            ._collections_portal_open_invoices(env["res.partner"].browse(pid))
            .filtered(lambda m: m.currency_id == env.company.currency_id)
            .ids
            for size, pid in customers.items()
        }
        return customers, links, open_ids, provider.id, method.id


def _session(base, size, mode, link):
    """A requests session as the customer's portal user, or as a visitor of their signed link."""
    session = requests.Session()
    if mode == "login":
        page = session.get(f"{base}/web/login", timeout=60)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = session.post(
            f"{base}/web/login",
            data={"login": f"bench_portal_{size}", "password": PASSWORD, "csrf_token": csrf, "redirect": "/my"},
            timeout=60,
        )
    else:
        response = session.get(link.replace(link.split("/my/")[0], base), timeout=60)
    response.raise_for_status()
    return session


def _requests(base, session, invoice_ids, provider_id, method_id):
    """(route, callable) of one visit: the four measured requests."""
    ticked = "&".join(f"invoice_ids={invoice_id}" for invoice_id in invoice_ids)

    # The pay page's token for these invoices (oldest due first, as the page orders them).
    token = ".".join(map(str, invoice_ids))

    def transaction():
        return session.post(
            f"{base}/my/collections/pay/transaction",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "access_token": token,
                    "provider_id": provider_id,
                    "payment_method_id": method_id,
                    "token_id": None,
                    "amount": 1,
                    "flow": "redirect",
                    "tokenization_requested": False,
                    "landing_route": "/my/collections?done=paid",
                    "is_validation": False,
                },
            },
            timeout=120,
        )

    return [
        ("balance", lambda: session.get(f"{base}/my/collections", timeout=120)),
        ("statement_pdf", lambda: session.get(f"{base}/my/collections/statement.pdf", timeout=120)),
        ("pay", lambda: session.get(f"{base}/my/collections/pay?{ticked}", timeout=120)),
        ("pay_transaction", transaction),
    ]


def _route_of(method, path):
    path = path.split("?")[0]
    return {
        ("GET", "/my/collections"): "balance",
        ("GET", "/my/collections/statement.pdf"): "statement_pdf",
        ("GET", "/my/collections/pay"): "pay",
        ("POST", "/my/collections/pay/transaction"): "pay_transaction",
    }.get((method, path))


def _stats(values):
    values = sorted(values)
    if not values:
        return None, None
    return round(statistics.median(values), 1), round(values[int(0.95 * (len(values) - 1))], 1)


def run(args):
    sizes = args.invoices
    customers, links, open_ids, provider_id, method_id = ensure_database(sizes, args.seed)
    log_dir = os.path.join(os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var")), "log")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "bench-portal-odoo.log")
    with open(log_path, "wb") as log:
        server, base = bench._start_odoo_http(DB, log, args.http_workers, 0, "--log-handler=werkzeug:INFO")
    results = {}
    try:
        bench._wait_http(f"{base}/web/login", server, "Odoo (see .var/log/bench-portal-odoo.log)")
        for size in sorted(customers, key=int, reverse=True):
            client = {route: [] for route in ROUTES}
            cpu = dict.fromkeys(ROUTES, 0.0)
            marks = []
            for mode in ("login", "link"):
                session = _session(base, size, mode, links[size])
                visit = _requests(base, session, open_ids[size], provider_id, method_id)
                for _warm in range(3):  # both workers load their caches before the clock starts
                    for _route, call in visit:
                        call().raise_for_status()
                for route, call in visit:
                    # Each route's requests in a row: the Odoo processes' CPU time over them is that route's.
                    time.sleep(0.3)
                    with open(log_path, "rb") as handle:
                        start = handle.seek(0, os.SEEK_END)
                    cpu_before = bench.tree_cpu_seconds(server.pid)
                    for _repeat in range(args.repeat):
                        started = time.perf_counter()
                        response = call()
                        client[route].append((time.perf_counter() - started) * 1000)
                        response.raise_for_status()
                        if route == "pay_transaction" and "error" in response.json():
                            raise RuntimeError(f"pay transaction refused: {response.json()['error']}")
                    time.sleep(0.3)  # the last request's log line
                    cpu[route] += bench.tree_cpu_seconds(server.pid) - cpu_before
                    with open(log_path, "rb") as handle:
                        marks.append((route, start, handle.seek(0, os.SEEK_END)))
            server_ms = {route: [] for route in ROUTES}
            queries = {route: [] for route in ROUTES}
            with open(log_path, "rb") as handle:
                text = handle.read()
            for route, start, end in marks:
                for line in text[start:end].decode("utf-8", "replace").splitlines():
                    match = LOG_LINE.search(line)
                    if match and _route_of(match.group(1), match.group(2)) == route:
                        queries[route].append(int(match.group(4)))
                        server_ms[route].append((float(match.group(5)) + float(match.group(6))) * 1000)
            results[size] = (server_ms, queries, client, cpu)
    finally:
        server.terminate()
        server.wait(timeout=60)
    load = os.getloadavg()[0]
    for size in sorted(results, key=int, reverse=True):
        server_ms, queries, client, cpu = results[size]
        every = [ms for values in server_ms.values() for ms in values]
        every_queries = [count for values in queries.values() for count in values]
        per_route = {}
        for route in ROUTES:
            p50, p95 = _stats(server_ms[route])
            per_route[route] = {
                "requests": len(server_ms[route]),
                "p50_ms": p50,
                "p95_ms": p95,
                # The median: a worker's first request after a while also fills its caches.
                "queries_per_request": statistics.median(queries[route]) if queries[route] else None,
                "queries_max": max(queries[route], default=None),
                "cpu_ms_per_request": round(cpu[route] * 1000 / max(len(client[route]), 1), 1),
                "client_p50_ms": _stats(client[route])[0],
            }
        p50, p95 = _stats(every)
        print(
            json.dumps(
                {
                    "bench": "portal",
                    "invoices": int(size),
                    "modes": ["login", "link"],
                    "requests": len(every),
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "queries_per_request": statistics.median(every_queries) if every_queries else None,
                    "cpu_ms_per_request": round(sum(cpu.values()) * 1000 / max(len(every), 1), 1),
                    "routes": per_route,
                    "pay_ticked": len(open_ids[size]),
                    "http_workers": args.http_workers,
                    "load": round(load, 2),
                }
            ),
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--invoices",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[500, 50],
        help="open invoices of each measured customer, e.g. 500,50",
    )
    parser.add_argument("--repeat", type=int, default=20, help="visits per customer and mode (4 requests each)")
    parser.add_argument("--http-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
