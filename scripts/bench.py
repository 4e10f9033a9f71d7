"""Benchmarks of the collections suite (run through scripts/bench).

dunning: one dunning run (planning) over generated open invoices. The data
comes from generate_data.py in its own database per size, created once and
reused; each measurement runs in a transaction that is rolled back, so every
repetition plans the same messages.
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from odoo_env import ROOT, configure, odoo_command  # noqa: E402

BENCH_TODAY = datetime.date(2026, 6, 30)  # data and runs anchored to one date: results comparable across days


def database_exists(name):
    out = subprocess.run(
        ["psql", "-d", "postgres", "-Atc", f"select 1 from pg_database where datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip() == "1"


def odoo_cli(db, *args):
    return odoo_command("-d", db, *args, "--stop-after-init", "--log-level=warn", "--http-port=0")


def addons_hash():
    digest = hashlib.sha1()
    for folder, dirs, files in sorted(os.walk(os.path.join(ROOT, "addons", "collections_omni"))):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            with open(os.path.join(folder, name), "rb") as handle:
                digest.update(name.encode() + handle.read())
    return digest.hexdigest()[:16]


def ensure_database(db, customers, invoices, seed):
    """The bench database of this size, created once, upgraded when the addon changed."""
    stamp = os.path.join(os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var")), f"{db}.addons-hash")
    current = addons_hash()
    if database_exists(db):
        with contextlib.suppress(FileNotFoundError), open(stamp) as handle:
            if handle.read().strip() == current:
                current = None
        if current:
            print(f"bench: upgrading collections_omni in {db}", file=sys.stderr)
            subprocess.run(odoo_cli(db, "-u", "collections_omni"), check=True)
    else:
        print(f"bench: creating {db} with collections_omni (about a minute)", file=sys.stderr)
        subprocess.run(odoo_cli(db, "-i", "collections_omni", "--without-demo=all"), check=True)
    subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "scripts", "generate_data.py"),
            "-d",
            db,
            "--customers",
            str(customers),
            "--invoices",
            str(invoices),
            "--seed",
            str(seed),
            "--today",
            BENCH_TODAY.isoformat(),
            "--reuse",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if current:
        with open(stamp, "w") as handle:
            handle.write(current)


def bench_dunning(args):
    db = f"collections_bench_{args.customers}_{args.invoices}"
    ensure_database(db, args.customers, args.invoices, args.seed)
    odoo = configure(db)
    registry = odoo.modules.registry.Registry(db)
    timings, planned, stats = [], None, None
    for _ in range(args.repeat):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            run = env["collections.run"].create({"company_id": env.company.id, "date": BENCH_TODAY})
            cr.execute("ANALYZE account_move")
            started = time.perf_counter()
            stats = run._execute()
            timings.append(time.perf_counter() - started)
            planned = stats["planned"]
            cr.rollback()
    seconds = min(timings)
    print(
        json.dumps(
            {
                "bench": "dunning",
                "customers": args.customers,
                "invoices": args.invoices,
                "open_invoices": stats["invoices"],
                "seconds": round(seconds, 3),
                "seconds_all": [round(t, 3) for t in timings],
                "messages_planned": planned,
                "invoices_per_s": round(args.invoices / seconds),
                "skipped": stats["skipped"],
            }
        ),
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench", required=True)
    dunning = sub.add_parser("dunning", help="one dunning run over generated open invoices")
    dunning.add_argument("--customers", type=int, default=20000)
    dunning.add_argument("--invoices", type=int, default=100000)
    dunning.add_argument("--seed", type=int, default=1)
    dunning.add_argument("--repeat", type=int, default=3)
    dunning.add_argument(
        "--compare-oca", action="store_true", help="also measure OCA's account_credit_control (scripts/bench_oca.py)"
    )
    if sys.argv[1:2] == ["dunning"] and "--compare-oca" in sys.argv:
        # Hand over to bench_oca.py (which also runs ours) with every option, before any Odoo
        # connection is opened, so the bench database can serve as a template.
        script = os.path.join(ROOT, "scripts", "bench_oca.py")
        os.execv(sys.executable, [sys.executable, script, *[a for a in sys.argv[2:] if a != "--compare-oca"]])
    args = parser.parse_args()
    {"dunning": bench_dunning}[args.bench](args)


if __name__ == "__main__":
    main()
