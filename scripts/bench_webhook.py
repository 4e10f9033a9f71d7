"""WhatsApp webhook benchmark (scripts/bench webhook): signed status and
customer-message webhooks posted to a running Odoo with 2 HTTP workers.

Every distinct event (a status of a message, or a customer's message) is
posted twice, all in shuffled order, by --clients concurrent HTTP clients, one
event per request, each signed with the account's app secret as Meta does.
The client stays out of the measure as far as it can: every request (headers,
signature, body) is built before the clock starts and sent over a plain socket
(Odoo's prefork workers speak HTTP/1.0, one connection per request, so there
is no connection to reuse); its own CPU is reported with Odoo's and
PostgreSQL's, per event (``cpu_ms_per_event``), which depends far less on what
else runs on the machine than the wall-clock figures. The clients post in a
closed loop: N of them keep N requests in flight, so the mean acknowledgement
is N / (events per second) whatever the server does (Little's law): 16
clients at 300 events/s wait 53 ms on average, most of it queued for a
worker; 4 clients keep both workers busy at a quarter of the wait.
Prints one JSON line: requests posted (``events``), distinct events, seconds,
events per second, p50/p95 of the acknowledgement (the 200), the records
stored, duplicates (records beyond one per distinct event) and lost (distinct
events without a record); then how the cron worker applied them after the
200s (``applied``, ``apply_s``: from the first post until none is pending,
``pending``/``errors`` left) and the machine's load average before and after.
The database (the three addons and a WhatsApp account, no provider: the
webhook's own work) is created once and reused; its events are deleted before
each run, and only the events' scheduled action runs in its cron worker.

    scripts/bench webhook [--events 20000] [--clients 16] [--http-workers 2] [--apply-after]
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402
from odoo_env import ROOT, odoo_command  # noqa: E402

sys.path.insert(0, ROOT)

from collections_whatsapp_tools import emulator as emulator_module  # noqa: E402
from collections_whatsapp_tools import webhook  # noqa: E402

DB = "collections_bench_webhook"
ADDONS = "collections_omni,collections_portal,collections_whatsapp"
APP_SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "1700000001"
APPLY_CRON = "ir_model_data where module = 'collections_whatsapp' and name = 'ir_cron_whatsapp_apply_events'"


def _psql(db, sql):
    out = subprocess.run(["psql", "-q", "-d", db, "-Atc", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _cpu_seconds(pid):
    """CPU seconds used so far by a process and its children (Odoo's main process, its HTTP and cron workers)."""
    return sum(_cpu_by_role(pid).values())


def _odoo_role(process, root_pid):
    """Odoo's main process (``master``: it wakes at every worker's watchdog ping), its HTTP
    workers (``http``) and its cron worker (``cron``, the one Odoo runs at nice 10)."""
    return "master" if process.pid == root_pid else "cron" if process.nice() > 0 else "http"


def _cpu_by_role(pid):
    """CPU seconds used so far by Odoo's processes by role (see ``_odoo_role``); children that
    exited count with their parent."""
    return bench.tree_cpu_by_role(pid, _odoo_role, roles=("master", "http", "cron"), reaped=True)


def _machine_busy_seconds():
    """CPU seconds the whole machine spent busy so far (every process: other people's too), from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _requests(url, raws):
    """The complete HTTP request of each body, signed: built before the clock starts."""
    parsed = urllib.parse.urlsplit(url)
    head = (
        f"POST {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nContent-Type: application/json\r\n"
        "Connection: close\r\n"
    )
    return [
        (
            f"{head}Content-Length: {len(raw)}\r\n{webhook.SIGNATURE_HEADER}: {webhook.sign(APP_SECRET, raw)}\r\n\r\n"
        ).encode()
        + raw
        for raw in raws
    ], (parsed.hostname, parsed.port)


def _post(address, request_bytes):
    """One request on its own connection, as Meta posts: (seconds until the whole answer is in, status)."""
    started = time.perf_counter()
    with socket.create_connection(address, timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    seconds = time.perf_counter() - started
    return seconds, int(answer[9:12]) if answer.startswith(b"HTTP/") else 0


def _post_all(address, requests_bytes, clients):
    """Every request, by ``clients`` threads each posting the next one as soon as its previous answer is in:
    [(seconds, status)] in the order given."""
    results = [None] * len(requests_bytes)
    indexes = iter(range(len(requests_bytes)))
    lock = threading.Lock()

    def client():
        while True:
            with lock:
                index = next(indexes, None)
            if index is None:
                return
            results[index] = _post(address, requests_bytes[index])

    threads = [threading.Thread(target=client) for _n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _postgres_cpu_seconds():
    """CPU seconds used so far by the PostgreSQL cluster (its postmaster's processes), or None."""
    pgdata = os.path.join(os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var")), "pgdata")
    try:
        with open(os.path.join(pgdata, "postmaster.pid")) as handle:
            return _cpu_seconds(int(handle.readline()))
    except (OSError, ValueError):
        return None


def ensure_database():
    exists = _psql("postgres", f"select 1 from pg_database where datname = '{DB}'") == "1"
    if not exists:
        subprocess.run(
            odoo_command(
                "-d", DB, "-i", ADDONS, "--without-demo=all", "--stop-after-init", "--log-level=warn", "--http-port=0"
            ),
            check=True,
        )
    else:
        subprocess.run(
            odoo_command(
                "-d", DB, "-u", "collections_whatsapp", "--stop-after-init", "--log-level=warn", "--http-port=0"
            ),
            check=True,
        )
    account = _psql(DB, f"select id from collections_whatsapp_account where phone_number_id = '{PHONE_NUMBER_ID}'")
    if not account:
        company = _psql(DB, "select id from res_company order by id limit 1")
        account = _psql(
            DB,
            "insert into collections_whatsapp_account (name, sequence, active, company_id, phone_number_id, waba_id,"
            " api_version, graph_url, access_token, app_secret, verify_token, timeout, create_date, write_date)"
            f" values ('Bench', 10, true, {company}, '{PHONE_NUMBER_ID}', '2700000002', 'v21.0',"
            f" 'http://127.0.0.1:9', 'bench-token', '{APP_SECRET}', 'bench-verify', 10, now(), now()) returning id",
        )
    return int(account.splitlines()[0])


def distinct_events(count, seed):
    """``count`` distinct webhook bodies: three statuses per sent message and customers' messages, half each."""
    emulator = emulator_module.GraphApiEmulator(phone_number_id=PHONE_NUMBER_ID, waba_id="2700000002")
    emulator.server.server_close()  # only its payload builders
    rng = random.Random(seed)
    bodies, keys = [], []
    statuses = ("sent", "delivered", "read")
    n = 0
    while len(bodies) < count:
        n += 1
        if n % 2:
            wamid = f"wamid.BENCH{seed}S{n:09d}"
            to = f"3460{rng.randrange(10**7):07d}"
            for status in statuses[: count - len(bodies)]:
                bodies.append(emulator.status_body(wamid, status, to, callback_data=f"bench-{n}"))
                keys.append(f"{wamid}:{status}")
        else:
            wamid = f"wamid.BENCH{seed}I{n:09d}"
            sender = f"+3469{rng.randrange(10**7):07d}"
            bodies.append(emulator.inbound_body(sender, text="Hola, buenos días", name="Cliente", wamid=wamid))
            keys.append(f"{wamid}:inbound")
    return [json.dumps(body, ensure_ascii=False).encode() for body in bodies], keys


def run(args):
    account_id = ensure_database()
    _psql(DB, "delete from collections_whatsapp_event; delete from collections_whatsapp_conversation")
    # Only the events' scheduled action runs in the cron worker: the bench measures the webhook, nothing else
    # (--apply-after: not even that while posting; it is switched on once every 200 is in).
    _psql(
        DB,
        f"update ir_cron set active = (id in (select res_id from {APPLY_CRON}) and not {args.apply_after})",
    )
    load_before = os.getloadavg()[0]
    raws, keys = distinct_events(args.events // 2, args.seed)
    posts = [raw for raw in raws for _copy in range(2)]
    random.Random(args.seed).shuffle(posts)
    log_dir = os.path.join(os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var")), "log")
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, "bench-webhook-odoo.log"), "wb") as log:
        # One cron worker: it applies the events the webhook stored. One database, named (db_name) and
        # not filtered (dbfilter): see the README's WhatsApp section, "One database per server".
        server, base = bench._start_odoo_http(DB, log, args.http_workers, 1, db_filter=args.db_filter)
        url = f"{base}/collections/whatsapp/webhook/{account_id}"
    try:
        bench._wait_http(f"{base}/web/login", server, "Odoo (see .var/log/bench-webhook-odoo.log)")
        requests_bytes, address = _requests(url, posts)
        # Warm-up: both workers load their registry and caches before the clock starts.
        warm, _keys = distinct_events(20, args.seed + 1)
        _post_all(address, _requests(url, warm)[0], args.clients)
        pg_before = _postgres_cpu_seconds()
        odoo_before, client_before = _cpu_by_role(server.pid), time.process_time()
        machine_before = _machine_busy_seconds()
        started = time.perf_counter()
        results = _post_all(address, requests_bytes, args.clients)
        seconds = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        pg_posting = _postgres_cpu_seconds()
        odoo_posting, client_posting, machine_posting = (
            _cpu_by_role(server.pid),
            time.process_time(),
            _machine_busy_seconds(),
        )
        # The 200s are in; the cron worker applies what they stored (it was triggered by each commit).
        if args.apply_after:
            _psql(DB, f"update ir_cron set active = true where id in (select res_id from {APPLY_CRON})")
            _psql("postgres", f"select pg_notify('cron_trigger', '{DB}')")
        deadline = time.monotonic() + args.apply_timeout
        while _psql(DB, "select count(*) from collections_whatsapp_event where state = 'pending'") != "0":
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        apply_seconds = time.perf_counter() - started
        odoo_after = _cpu_by_role(server.pid)
        pg_after = _postgres_cpu_seconds()
    finally:
        server.terminate()
        server.wait(timeout=60)
    cpu_posting = {role: odoo_posting[role] - odoo_before[role] for role in odoo_before}
    cpu_total = {role: odoo_after[role] - odoo_before[role] for role in odoo_before}
    postgres_cpu = pg_after - pg_before if pg_before is not None else None
    cpu_posting["postgres"] = pg_posting - pg_before if pg_before is not None else None
    cpu_posting["client"] = client_posting - client_before
    # What the machine spent beyond this run (other people's work) while posting.
    cpu_posting["others"] = machine_posting - machine_before - sum(v or 0 for v in cpu_posting.values())
    latencies = sorted(r[0] * 1000 for r in results)
    refused = sum(1 for r in results if r[1] != 200)
    mine = f"key ~ '^wamid\\.BENCH{args.seed}[SI]'"
    records = int(_psql(DB, f"select count(*) from collections_whatsapp_event where {mine}"))
    applied = int(_psql(DB, f"select count(*) from collections_whatsapp_event where {mine} and state = 'done'"))
    stored = set(_psql(DB, f"select distinct key from collections_whatsapp_event where {mine}").splitlines())
    distinct_stored = len(stored & set(keys))
    print(
        json.dumps(
            {
                "bench": "webhook",
                "events": len(posts),
                "distinct": len(keys),
                "http_workers": args.http_workers,
                "clients": args.clients,
                "seconds": round(seconds, 2),
                "events_per_s": round(len(posts) / seconds, 1),
                "p50_ms": round(statistics.median(latencies), 1),
                "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
                "refused": refused,
                "records": records,
                "duplicates": records - distinct_stored,
                "lost": len(keys) - distinct_stored,
                "applied": applied,
                "apply_after": args.apply_after,
                "apply_s": round(apply_seconds, 1),
                "pending": int(_psql(DB, "select count(*) from collections_whatsapp_event where state = 'pending'")),
                "errors": int(_psql(DB, "select count(*) from collections_whatsapp_event where state = 'error'")),
                "load_before": round(load_before, 2),
                "load_after": round(load_after, 2),
                # CPU time, unlike wall time, hardly depends on what else runs on the machine:
                # Odoo's (acknowledging, and applying meanwhile) while posting, Odoo's until all was
                # applied, PostgreSQL's until all was applied, and this client's own (posting).
                "server_cpu_s_posting": round(sum(v for k, v in cpu_posting.items() if k in cpu_total), 1),
                "server_cpu_s": round(sum(cpu_total.values()), 1),
                "client_cpu_s": round(cpu_posting["client"], 1),
                "postgres_cpu_s": round(postgres_cpu, 1) if postgres_cpu is not None else None,
                # Per posted event while posting, by process (the budget on 2 cores at 300 events/s is
                # 6.7 ms for everything): Odoo's main process, HTTP workers, cron worker, PostgreSQL,
                # this client, and the rest of the machine (other people's work, the kernel's softirqs).
                "cpu_ms_per_event": {
                    k: round(1000 * v / len(posts), 2) for k, v in cpu_posting.items() if v is not None
                },
                "cron_cpu_s": round(cpu_total["cron"], 1),
            }
        ),
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000, help="requests posted (each distinct event twice)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--http-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--apply-timeout", type=int, default=600, help="seconds to wait for the cron worker")
    parser.add_argument(
        "--db-filter",
        action="store_true",
        help="serve the database through --db-filter too, as a server of several databases does",
    )
    parser.add_argument(
        "--apply-after",
        action="store_true",
        help="apply the events only once every 200 is in: the acknowledgement alone, then the apply alone",
    )
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
