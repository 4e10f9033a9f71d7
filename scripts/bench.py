"""Benchmarks of the collections suite (run through scripts/bench).

dunning: one dunning run (planning) over generated open invoices; with
--holds PCT, PCT% of the customers with open invoices are on an active payment
plan (all their invoices, three monthly installments from three days ago:
the first one overdue within the grace days, so no plan breaks), another PCT% have an open
promise to pay without invoices and another PCT% an open dispute on one
invoice, and the daily allocation of all plans is timed too. The data
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


def insert_holds(cr, company_id, currency_id, percent):
    """Payment plans, promises and disputes for a share of the customers, in SQL
    (inside the measurement's transaction, rolled back with it)."""
    step = max(1, round(100 / percent))
    params = {"company": company_id, "currency": currency_id, "today": BENCH_TODAY, "step": step}
    open_invoice = """m.company_id = %(company)s AND m.currency_id = %(currency)s AND m.move_type = 'out_invoice'
                      AND m.state = 'posted' AND m.payment_state IN ('not_paid', 'partial', 'in_payment')
                      AND m.amount_residual > 0"""
    cr.execute(
        f"""
        CREATE TEMP TABLE bench_customers ON COMMIT DROP AS
        SELECT partner_id, row_number() OVER (ORDER BY partner_id) AS n
          FROM (SELECT DISTINCT m.commercial_partner_id AS partner_id FROM account_move m WHERE {open_invoice}) c;
        WITH plans AS (
            INSERT INTO collections_payment_plan (name, company_id, partner_id, currency_id, origin, state,
                   start_date, frequency, installment_count, amount_total, activation_date,
                   create_uid, write_uid, create_date, write_date)
            SELECT 'BENCH/' || c.partner_id, %(company)s, c.partner_id, %(currency)s, 'collector', 'active',
                   %(today)s::date - 3, 'monthly', 3, 0, %(today)s::date - 3, 1, 1, now(), now()
              FROM bench_customers c WHERE c.n %% %(step)s = 0
            RETURNING id, partner_id
        )
        INSERT INTO collections_payment_plan_account_move_rel (plan_id, move_id)
        SELECT plans.id, m.id FROM plans JOIN account_move m ON m.commercial_partner_id = plans.partner_id
         WHERE {open_invoice};
        UPDATE collections_payment_plan plan SET amount_total = t.total
          FROM (SELECT rel.plan_id, sum(m.amount_residual) AS total FROM collections_payment_plan_account_move_rel rel
                  JOIN account_move m ON m.id = rel.move_id GROUP BY rel.plan_id) t
         WHERE plan.id = t.plan_id AND plan.name LIKE 'BENCH/%%';
        INSERT INTO collections_payment_plan_installment (plan_id, sequence, company_id, partner_id, currency_id,
               due_date, amount, paid_amount, state)
        SELECT plan.id, k, plan.company_id, plan.partner_id, plan.currency_id, plan.start_date + (k - 1) * 30,
               CASE WHEN k < 3 THEN round(plan.amount_total / 3, 2)
                    ELSE plan.amount_total - 2 * round(plan.amount_total / 3, 2) END, 0, 'pending'
          FROM collections_payment_plan plan CROSS JOIN generate_series(1, 3) k
         WHERE plan.name LIKE 'BENCH/%%';
        INSERT INTO collections_promise (company_id, partner_id, currency_id, amount, date, promised_date,
               source, state, create_uid, write_uid, create_date, write_date)
        SELECT %(company)s, c.partner_id, %(currency)s, 100, %(today)s, %(today)s::date + 7, 'call', 'open',
               1, 1, now(), now()
          FROM bench_customers c WHERE c.n %% %(step)s = 1 %% %(step)s;
        WITH disputes AS (
            INSERT INTO collections_dispute (name, company_id, partner_id, reason, user_id, state,
                   create_uid, write_uid, create_date, write_date)
            SELECT 'BENCH/' || c.partner_id, %(company)s, c.partner_id, 'quality', 1, 'open', 1, 1, now(), now()
              FROM bench_customers c WHERE c.n %% %(step)s = 2 %% %(step)s
            RETURNING id, partner_id
        )
        INSERT INTO collections_dispute_account_move_rel (dispute_id, move_id)
        SELECT d.id, (SELECT m.id FROM account_move m WHERE m.commercial_partner_id = d.partner_id AND {open_invoice}
                       ORDER BY m.invoice_date_due LIMIT 1)
          FROM disputes d;
        SELECT (SELECT count(*) FROM collections_payment_plan WHERE name LIKE 'BENCH/%%'),
               (SELECT count(*) FROM collections_payment_plan_account_move_rel),
               (SELECT count(*) FROM collections_promise), (SELECT count(*) FROM collections_dispute);
        """,
        params,
    )
    plans, plan_invoices, promises, disputes = cr.fetchone()
    cr.execute("ANALYZE collections_payment_plan, collections_payment_plan_account_move_rel, collections_promise")
    return {"plans": plans, "plan_invoices": plan_invoices, "promises": promises, "disputes": disputes}


def bench_dunning(args):
    db = f"collections_bench_{args.customers}_{args.invoices}"
    ensure_database(db, args.customers, args.invoices, args.seed)
    odoo = configure(db)
    registry = odoo.modules.registry.Registry(db)
    timings, allocations, planned, stats, holds = [], [], None, None, None
    for _ in range(args.repeat):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            if args.holds:
                holds = insert_holds(cr, env.company.id, env.company.currency_id.id, args.holds)
            run = env["collections.run"].create({"company_id": env.company.id, "date": BENCH_TODAY})
            cr.execute("ANALYZE account_move")
            started = time.perf_counter()
            stats = run._execute()
            timings.append(time.perf_counter() - started)
            planned = stats["planned"]
            if args.holds:
                plans = env["collections.payment.plan"].search([("state", "=", "active")])
                started = time.perf_counter()
                plans._refresh_allocation(BENCH_TODAY)
                allocations.append(time.perf_counter() - started)
            cr.rollback()
    seconds = min(timings)
    extra = {}
    if args.holds:
        extra = {"holds": holds, "allocation_seconds": round(min(allocations), 3)}
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
                **extra,
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
        "--holds",
        type=float,
        default=0,
        help="percent of customers on a payment plan, and as many with a promise and with a dispute",
    )
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
