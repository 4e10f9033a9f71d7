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

reconcile: the matcher and the reconciliation of bank statement lines over the
same generated invoices (seconds: matching and reconciling; seconds_matching:
loading the open invoices, deciding and writing the matches; seconds_by_step:
where the time goes). A labelled set of statement lines (the invoices each
line truly pays, or none) is generated from the open invoices, created once in
its own bank journal and reused; the measurement (matching and reconciling
only) runs in a transaction that is rolled back. Precision: the automatic
reconciliations that settled exactly the true invoices; recall: the matchable
lines (those that pay something) reconciled correctly by themselves.

analytics: every figure of the Collections > Analytics menu (aging, overdue
trend, DSO, CEI, contact effectiveness by channel, stage, template and
collector, promises, plans, disputes), each read as the dashboard reads it
(one grouped read), over a database generated with --history (months of
payments by per-customer habits, reminders, replies, opt-outs) and computed
as of the bench date. seconds: the sum of each figure's best time over
--repeat, read from the stored snapshots; refresh_seconds: recomputing those
snapshots (the daily cron and the Refresh Figures menu); figures: per
figure its seconds, rows and a few headline numbers.
When scripts/bench_risk.py exists, the dict its evaluate(env, customers,
invoices) returns joins the line.

dispatch: 20,000 planned SMS (inserted set-based into their own database)
sent through the local fake provider (collections_worker.fake_sms), first in
embedded mode (Odoo sends, batch after batch), then with 1, 2, 4 Celery
workers (scripts/worker, 4 threads each) reporting to an Odoo server started
here. One JSON line per mode: seconds until every message is final in Odoo,
messages per second, p95 of the time from a message's batch being handed out
to the provider receiving it, duplicates and lost counted at the provider,
CPU milliseconds per message per process. Contact rule sets are switched off
in that database (this measures delivery; the check still runs), delivery
reports too (another flow).
"""

import argparse
import contextlib
import cProfile
import datetime
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from odoo_env import ROOT, configure, odoo_command  # noqa: E402
from worker_pool import WorkerPool  # noqa: E402

BENCH_TODAY = datetime.date(2026, 6, 30)  # data and runs anchored to one date: results comparable across days


def database_exists(name):
    out = subprocess.run(
        ["psql", "-d", "postgres", "-Atc", f"select 1 from pg_database where datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip() == "1"


# What a reconcile run writes (and the rollback leaves as dead rows).
RECONCILE_TABLES = (
    "account_move_line",
    "account_move",
    "account_partial_reconcile",
    "account_full_reconcile",
    "account_bank_statement_line",
    "account_payment",
    "mail_message",
    "mail_tracking_value",
    "collections_reconcile_match",
    "collections_reconcile_candidate",
    "collections_reconcile_candidate_move_rel",
    "collections_reconcile_match_invoice_rel",
    "collections_reconcile_match_partial_rel",
)


def vacuum(db, tables):
    """Clean up the dead rows a rolled-back repetition left, before the next
    one: otherwise autovacuum does it during the next measurement, on the
    same two cores, and the planner sees the dead rows as live."""
    subprocess.run(["psql", "-q", "-d", db, "-c", f"VACUUM (ANALYZE) {', '.join(tables)}"], check=True)


def odoo_cli(db, *args):
    return odoo_command("-d", db, *args, "--stop-after-init", "--log-level=warn", "--http-port=0")


def addons_hash(addons=("collections_omni",)):
    digest = hashlib.sha1()
    for addon in addons:
        for folder, dirs, files in sorted(os.walk(os.path.join(ROOT, "addons", addon))):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                with open(os.path.join(folder, name), "rb") as handle:
                    digest.update(name.encode() + handle.read())
    return digest.hexdigest()[:16]


def ensure_database(db, customers, invoices, seed, generator_args=(), addons=("collections_omni",)):
    """The bench database of this size, created once, upgraded when the addons changed."""
    stamp = os.path.join(os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var")), f"{db}.addons-hash")
    current = addons_hash(addons)
    names = ",".join(addons)
    if database_exists(db):
        with contextlib.suppress(FileNotFoundError), open(stamp) as handle:
            if handle.read().strip() == current:
                current = None
        if current:
            print(f"bench: upgrading {names} in {db}", file=sys.stderr)
            subprocess.run(odoo_cli(db, "-u", names), check=True)
    else:
        print(f"bench: creating {db} with {names} (about a minute)", file=sys.stderr)
        subprocess.run(odoo_cli(db, "-i", names, "--without-demo=all"), check=True)
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
            *generator_args,
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


RECONCILE_PARAM = "collections.bench.reconcile"
# Kinds of generated statement lines and their shares; "noise" pays nothing.
RECONCILE_KINDS = [
    ("exact_reference", 0.20),
    ("number_in_text", 0.14),
    ("rounded_amount", 0.08),
    ("partial_payment", 0.08),
    ("several_invoices", 0.08),
    ("amount_only", 0.08),
    ("combination", 0.05),
    ("wrong_reference", 0.05),
    ("unknown_customer", 0.04),
    ("noise", 0.10),
    # Traps (issue 18): a careful accountant would ask, so the machine must not decide alone.
    ("shared_account", 0.02),
    ("closed_reference", 0.02),
    ("credit_note_reference", 0.02),
    ("before_invoice", 0.02),
    # A bank line and a registered payment for the same invoice: the line pays it, the payment goes to review.
    ("payment_and_bank_line", 0.02),
]
# Kinds whose right outcome is the review queue (or nothing): reconciling one of them
# automatically is a wrong decision even when it picks the labelled invoice.
RECONCILE_REVIEW_KINDS = frozenset(
    {"shared_account", "closed_reference", "credit_note_reference", "before_invoice", "duplicate_payment"}
)
# Bump when the labelled set changes: a bench database holding another set is refused.
RECONCILE_SET_VERSION = 2
NOISE_LABELS = [
    "Interest {n}",
    "Refund supplier {n}",
    "Card settlement {n}",
    "Transfer from savings",
    "Cash deposit",
    "Reimbursement travel {n}",
    "Grant payment {n}",
]


class LabelledLines:
    """Generates the labelled statement lines: one method per kind, each
    returning (label, amount, partner, true invoices) or a dict of statement line
    values with "truth". ``open_invoices``: [(id, name, reference, partner,
    residual, invoice date)]; ``closed_documents``: {partner: {"paid": [names],
    "refund": [names]}}; every invoice is paid by one line at most."""

    def __init__(self, open_invoices, partner_names, rng, closed_documents=None):
        self.rng, self.partner_names = rng, partner_names
        self.closed = closed_documents or {}
        self.shared_accounts = []  # (account number, holder, other holder)
        self.payments = []  # (index of the plan entry it doubles, payment values, truth)
        self.by_partner = {}
        for invoice in open_invoices:
            self.by_partner.setdefault(invoice[3], []).append(invoice)
        self.partners = list(self.by_partner)
        self.used = set()
        pool = list(open_invoices)
        rng.shuffle(pool)
        self.pool = iter(pool)

    def plan(self, count):
        """[(kind, statement line values, true invoices)] in random order of kinds."""
        kinds = [kind for kind, share in RECONCILE_KINDS for _ in range(round(share * count))][:count]
        kinds += ["exact_reference"] * (count - len(kinds))
        self.rng.shuffle(kinds)
        plan = []
        for kind in kinds:
            generated = getattr(self, kind)()
            if isinstance(generated, dict):
                truth = generated.pop("truth")
                plan.append((kind, {**generated, "amount": round(generated["amount"], 2)}, truth))
                continue
            label, amount, partner, truth = generated
            plan.append(
                (kind, {"amount": round(amount, 2), "payment_ref": label, "partner_id": partner or False}, truth)
            )
        return plan

    def take(self):
        for invoice in self.pool:
            if invoice[0] not in self.used:
                self.used.add(invoice[0])
                return invoice
        raise RuntimeError("not enough open invoices for the statement lines")

    def take_several(self, size):
        """``size`` unused invoices of one customer."""
        while True:
            first = self.take()
            others = [inv for inv in self.by_partner[first[3]] if inv[0] not in self.used][: size - 1]
            if len(others) == size - 1:
                self.used.update(inv[0] for inv in others)
                return [first, *others]

    def maybe(self, partner, probability):
        return partner if self.rng.random() < probability else None

    @staticmethod
    def ref(invoice):
        return invoice[2] or invoice[1]

    def exact_reference(self):
        inv = self.take()
        label = self.rng.choice(["{r}", "Payment {r}", "PAGO {r}", "/ROC/{r}/", "Transfer ref {r} thank you"])
        return label.format(r=self.ref(inv)), inv[4], self.maybe(inv[3], 0.7), [inv]

    def number_in_text(self):
        inv = self.take()
        label = self.rng.choice(
            ["Pago factura {r} de {p}", "{p} invoice {r}", "Settlement of {r} - {p}", "fra. {r}, {p}"]
        )
        return label.format(r=inv[1], p=self.partner_names[inv[3]]), inv[4], self.maybe(inv[3], 0.5), [inv]

    def rounded_amount(self):
        inv = self.take()
        amount = round(inv[4]) if round(inv[4]) != round(inv[4], 2) else inv[4] - 0.5
        return f"Payment {self.ref(inv)}", amount, self.maybe(inv[3], 0.5), [inv]

    def partial_payment(self):
        inv = self.take()
        label = self.rng.choice(["Partial payment {r}", "A cuenta {r}", "{r} 1/2"]).format(r=self.ref(inv))
        return label, round(inv[4] * self.rng.uniform(0.2, 0.9), 2), inv[3], [inv]

    def several_invoices(self):
        truth = self.take_several(self.rng.choice([2, 2, 3]))
        label = "Invoices " + ", ".join(inv[1] for inv in truth)
        return label, sum(inv[4] for inv in truth), self.maybe(truth[0][3], 0.7), truth

    def amount_only(self):
        inv = self.take()
        label = self.rng.choice(["Transfer", "Payment", "Pago proveedor", "{p}"]).format(p=self.partner_names[inv[3]])
        return label, inv[4], inv[3], [inv]

    def combination(self):
        truth = self.take_several(2)
        label = self.rng.choice(["Payment of open invoices", "Pago facturas pendientes"])
        return label, sum(inv[4] for inv in truth), truth[0][3], truth

    def wrong_reference(self):
        """One digit of the number mistyped: usually nobody's invoice, sometimes another customer's."""
        inv = self.take()
        name = inv[1]
        position = max(i for i, char in enumerate(name) if char.isdigit())
        wrong = name[:position] + str((int(name[position]) + self.rng.randint(1, 9)) % 10) + name[position + 1 :]
        return f"Payment {wrong}", inv[4], inv[3], [inv]

    def unknown_customer(self):
        inv = self.take()
        return self.ref(inv), inv[4], None, [inv]

    # === traps: the right outcome is a person's decision === #

    def take_with_closed(self, closed_kind):
        """An unused open invoice of a customer who also has a closed document of ``closed_kind``."""
        for _attempt in range(1000):
            inv = self.take()
            names = self.closed.get(inv[3], {}).get(closed_kind)
            if names:
                return inv, self.rng.choice(names)
            self.used.discard(inv[0])
        raise RuntimeError(f"no customer with both an open invoice and a {closed_kind} document")

    def shared_account(self):
        """Paid from an account two customers registered: the account identifies neither."""
        inv = self.take()
        other = self.rng.choice([p for p in self.partners[:50] if p != inv[3]])
        number = "ES" + "".join(str(self.rng.randint(0, 9)) for _ in range(22))
        self.shared_accounts.append((number, inv[3], other))
        return {"amount": inv[4], "payment_ref": "Transfer", "account_number": number, "truth": [inv]}

    def closed_reference(self):
        """Quotes the customer's invoice that is already paid (a duplicate payment?) with another one's amount."""
        inv, quoted = self.take_with_closed("paid")
        return f"Payment {quoted}", inv[4], inv[3], [inv]

    def credit_note_reference(self):
        """Quotes one of the customer's credit notes, with an open invoice's amount."""
        inv, quoted = self.take_with_closed("refund")
        return f"Payment {quoted}", inv[4], inv[3], [inv]

    def before_invoice(self):
        """An amount-only line dated before the invoice with that amount was issued (an advance?)."""
        inv = self.take()
        early = inv[5] - datetime.timedelta(days=self.rng.randint(20, 90))
        return {"amount": inv[4], "payment_ref": "Transfer", "partner_id": inv[3], "date": early, "truth": [inv]}

    def payment_and_bank_line(self):
        """The bank line pays the invoice; a registered payment of the same money follows in the same run."""
        inv = self.take()
        self.payments.append(
            {"partner_id": inv[3], "amount": round(inv[4], 2), "memo": f"Payment {self.ref(inv)}", "truth": [inv]}
        )
        return f"Payment {self.ref(inv)}", inv[4], inv[3], [inv]

    def noise(self):
        label = self.rng.choice(NOISE_LABELS).format(n=self.rng.randint(1000, 99999))
        partner = self.maybe(self.rng.choice(self.partners), 0.5)
        return label, round(self.rng.uniform(5, 5000), 2), partner, []


def ensure_reconcile_lines(env, lines, seed):
    """The bench's statement lines, created once per size and seed in their own
    bank journal (not timed); returns [(statement line id, kind, true invoice ids)]."""
    params = {"lines": lines, "seed": seed, "set": RECONCILE_SET_VERSION}
    stored = env["ir.config_parameter"].sudo().get_param(RECONCILE_PARAM)
    if stored:
        stored = json.loads(stored)
        if stored["params"] == params:
            return stored["lines"]
        raise RuntimeError(f"the bench database holds reconcile lines for {stored['params']}; drop it to change sizes")
    company = env.company
    env.cr.execute(
        """
        SELECT m.id, m.name, m.payment_reference, m.commercial_partner_id, m.amount_residual, m.invoice_date
          FROM account_move m
         WHERE m.company_id = %s AND m.state = 'posted' AND m.move_type = 'out_invoice'
           AND m.payment_state IN ('not_paid', 'partial') AND m.amount_residual > 0 AND m.currency_id = %s
         ORDER BY m.invoice_date_due, m.id
        """,
        [company.id, company.currency_id.id],
    )
    open_invoices = env.cr.fetchall()
    env.cr.execute(
        """
        SELECT m.commercial_partner_id, CASE WHEN m.move_type = 'out_refund' THEN 'refund' ELSE 'paid' END, m.name
          FROM account_move m
         WHERE m.company_id = %s AND m.state = 'posted'
           AND ((m.move_type = 'out_invoice' AND m.payment_state = 'paid') OR m.move_type = 'out_refund')
        """,
        [company.id],
    )
    closed_documents = {}
    for partner_id, closed_kind, name in env.cr.fetchall():
        closed_documents.setdefault(partner_id, {}).setdefault(closed_kind, []).append(name)
    env.cr.execute("SELECT id, name FROM res_partner WHERE id = ANY(%s)", [list({row[3] for row in open_invoices})])
    partner_names = dict(env.cr.fetchall())
    generator = LabelledLines(open_invoices, partner_names, random.Random(seed), closed_documents)
    plan = generator.plan(lines)
    journal = env["account.journal"].create({"name": "Bench reconcile", "code": "BRCN", "type": "bank"})
    started = time.perf_counter()
    # Shared accounts registered by both customers; lines carrying an account number get
    # their customer as the statement import gives it (an account two customers share: nobody).
    env["res.partner.bank"].create(
        [
            {"acc_number": number, "partner_id": holder, "allow_out_payment": False}
            for number, *holders in generator.shared_accounts
            for holder in holders
        ]
    )
    with_account = [values for _kind, values, _truth in plan if values.get("account_number")]
    importer = env["collections.statement.import"].new({"company_id": company.id})
    recognised = importer._partners_by_line(
        [{"account_number": values["account_number"], "partner_name": False} for values in with_account]
    )
    for values, partner_id in zip(with_account, recognised, strict=True):
        values["partner_id"] = partner_id or False
    created = env["account.bank.statement.line"]
    for start in range(0, len(plan), 1000):
        created |= created.create(
            [
                {"journal_id": journal.id, "date": BENCH_TODAY, **values}
                for _kind, values, _truth in plan[start : start + 1000]
            ]
        )
        print(f"bench: {len(created)} statement lines created", file=sys.stderr)
    stored = [
        [line.id, kind, [inv[0] for inv in truth]] for line, (kind, _values, truth) in zip(created, plan, strict=True)
    ]
    # The registered payments that double a bank line, posted after it (same run, later in the order).
    payment_journal = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", company.id), ("id", "!=", journal.id)], limit=1
    )
    for values in generator.payments:
        truth = values.pop("truth")
        payment = env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "journal_id": payment_journal.id,
                "date": BENCH_TODAY,
                **values,
            }
        )
        payment.action_post()
        stored.append([payment.id, "duplicate_payment", [inv[0] for inv in truth], "payment"])
    env["ir.config_parameter"].sudo().set_param(RECONCILE_PARAM, json.dumps({"params": params, "lines": stored}))
    env.cr.commit()
    print(f"bench: statement lines created in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return stored


def bench_reconcile(args):
    db = f"collections_bench_{args.customers}_{args.invoices}"
    ensure_database(db, args.customers, args.invoices, args.seed)
    odoo = configure(db)
    registry = odoo.modules.registry.Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        labelled = ensure_reconcile_lines(env, args.lines, args.seed)
    truth = {(entry[3] if len(entry) > 3 else "line", entry[0]): (entry[1], frozenset(entry[2])) for entry in labelled}
    timings, result = [], None
    for _ in range(args.repeat):
        vacuum(db, RECONCILE_TABLES)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            company = env.company
            company.collections_reconcile_writeoff_account_id = env["account.account"].search(
                [("account_type", "=", "expense"), ("company_ids", "in", company.id)], limit=1
            )
            lines = env["account.bank.statement.line"].browse([key for source, key in truth if source == "line"])
            payments = env["account.payment"].browse([key for source, key in truth if source == "payment"])
            env.flush_all()
            load = os.getloadavg()[0]
            profiler = cProfile.Profile() if args.profile else contextlib.nullcontext()
            started = time.perf_counter()
            with profiler:
                stats = env["collections.reconcile.match"]._match(company, statement_lines=lines, payments=payments)
                env.flush_all()
            timings.append(time.perf_counter() - started)
            if args.profile:
                profiler.dump_stats(args.profile)
            # Fresh statistics for scoring: without them the planner may take minutes over these joins.
            cr.execute(
                "ANALYZE collections_reconcile_match, collections_reconcile_match_invoice_rel,"
                " collections_reconcile_candidate, collections_reconcile_candidate_move_rel"
            )
            sources = {"lines": lines.ids, "payments": payments.ids}
            cr.execute(
                """
                SELECT CASE WHEN x.payment_id IS NULL THEN 'line' ELSE 'payment' END,
                       COALESCE(x.statement_line_id, x.payment_id), x.state, array_remove(array_agg(rel.move_id), NULL)
                  FROM collections_reconcile_match x
                  LEFT JOIN collections_reconcile_match_invoice_rel rel ON rel.match_id = x.id
                 WHERE x.statement_line_id = ANY(%(lines)s) OR x.payment_id = ANY(%(payments)s)
                 GROUP BY x.id
                """,
                sources,
            )
            outcomes = {(row[0], row[1]): row[2:] for row in cr.fetchall()}
            candidate_sets = {}
            cr.execute(
                """
                SELECT CASE WHEN x.payment_id IS NULL THEN 'line' ELSE 'payment' END,
                       COALESCE(x.statement_line_id, x.payment_id), c.id, array_agg(cm.move_id)
                  FROM collections_reconcile_match x
                  JOIN collections_reconcile_candidate c ON c.match_id = x.id
                  JOIN collections_reconcile_candidate_move_rel cm ON cm.candidate_id = c.id
                 WHERE x.statement_line_id = ANY(%(lines)s) OR x.payment_id = ANY(%(payments)s)
                 GROUP BY 1, 2, c.id
                """,
                sources,
            )
            for source, key, _candidate, moves in cr.fetchall():
                candidate_sets.setdefault((source, key), set()).add(frozenset(moves))
            # The log against the ledger after the run (scripts/reconcile-check): must be empty.
            problems = len(env["collections.reconcile.match"]._consistency_problems(company))
            cr.rollback()
        result = _reconcile_scores(truth, outcomes, candidate_sets)
        result.update(stats=stats, load=load, consistency_problems=problems)
    seconds = min(timings)
    print(
        json.dumps(
            {
                "bench": "reconcile",
                "lines": args.lines,
                "payments": len(payments),
                "invoices": args.invoices,
                "seconds": round(seconds, 3),
                "seconds_all": [round(t, 3) for t in timings],
                "seconds_median": round(statistics.median(timings), 3),
                "seconds_matching": round(
                    sum(result["stats"]["seconds"].get(step, 0.0) for step in ("load", "quoted", "decide", "record")), 3
                ),
                "seconds_by_step": result["stats"]["seconds"],
                "auto_reconciled": result["auto_reconciled"],
                "proposed": result["proposed"],
                "no_match": result["none"],
                "precision": result["precision"],
                "recall": result["recall"],
                "recall_with_review": result["recall_with_review"],
                "matchable": result["matchable"],
                "review_expected": result["review_expected"],
                "review_kept": result["review_kept"],
                "by_kind": result["by_kind"],
                "consistency_problems": result["consistency_problems"],
                "load_avg_1min": round(result["load"], 2),
            }
        ),
        flush=True,
    )


def _reconcile_scores(truth, outcomes, candidate_sets):
    """Precision and recall of one run against the labels. A line of a review kind
    reconciled automatically is a wrong decision whatever it picked; those kinds
    count apart (``review_kept``: the share a person gets to decide)."""
    by_kind = {}
    auto = correct = proposed = none = matchable = found_in_review = review_expected = review_kept = 0
    for line_id, (kind, true_moves) in truth.items():
        state, reconciled = outcomes.get(line_id, ("none", []))
        counts = by_kind.setdefault(kind, {"lines": 0, "auto_ok": 0, "auto_wrong": 0, "proposed": 0, "none": 0})
        counts["lines"] += 1
        review = kind in RECONCILE_REVIEW_KINDS
        review_expected += review
        review_kept += review and state != "auto_reconciled"
        matchable += bool(true_moves) and not review
        if state == "auto_reconciled":
            auto += 1
            ok = not review and frozenset(reconciled) == true_moves
            correct += ok
            counts["auto_ok" if ok else "auto_wrong"] += 1
        elif state == "proposed":
            proposed += 1
            counts["proposed"] += 1
            found_in_review += bool(true_moves) and not review and true_moves in candidate_sets.get(line_id, set())
        else:
            none += 1
            counts["none"] += 1
    for counts in by_kind.values():
        counts["recall"] = round(counts["auto_ok"] / counts["lines"], 4)
    for kind in RECONCILE_REVIEW_KINDS & set(by_kind):
        counts = by_kind[kind]
        counts["recall"] = None
        counts["review_kept"] = round((counts["proposed"] + counts["none"]) / counts["lines"], 4)
    return {
        "auto_reconciled": auto,
        "proposed": proposed,
        "none": none,
        "matchable": matchable,
        "review_expected": review_expected,
        "review_kept": round(review_kept / review_expected, 4) if review_expected else None,
        "precision": round(correct / auto, 4) if auto else None,
        "recall": round(correct / matchable, 4) if matchable else None,
        "recall_with_review": round((correct + found_in_review) / matchable, 4) if matchable else None,
        "by_kind": dict(sorted(by_kind.items())),
    }


# === dispatch ================================================================

DISPATCH_DB = "collections_bench_dispatch"
DISPATCH_BATCH = 500  # messages per dispatch transaction, as the scheduled action


def _redis_url(db_index):
    port = os.environ.get("COLLECTIONS_REDIS_PORT", "56379")
    return f"redis://127.0.0.1:{port}/{db_index}"


def _start_redis():
    subprocess.run(["bash", "-c", f'. "{ROOT}/scripts/lib.sh" && redis_start'], check=True)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_odoo_http(db, log, workers, cron_threads, *extra, db_filter=True):
    """Odoo serving ``db`` alone on free ports with ``workers`` HTTP workers and ``cron_threads``
    cron workers, its output to the open file ``log``: (process, base URL). ``db_filter=False``:
    ``db_name`` alone, as a server of one database is configured: then Odoo does not list the
    databases (a new connection to PostgreSQL's ``postgres`` database) for every request that
    comes without a session, as webhooks do."""
    port, gevent_port = _free_port(), _free_port()
    process = subprocess.Popen(
        odoo_command(
            "-d",
            db,
            *([f"--db-filter=^{db}$"] if db_filter else []),
            f"--http-port={port}",
            f"--gevent-port={gevent_port}",
            f"--workers={workers}",
            f"--max-cron-threads={cron_threads}",
            "--log-level=warn",
            "--limit-time-real=600",
            *extra,
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_http(url, process, what, seconds=180):
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy on a loaded machine
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer in {seconds} s") from None
            time.sleep(0.3)


def _prepare_dispatch_data(env, fake_url):
    """A bench provider for SMS, a valid mobile for every customer, and no
    contact rule sets (this measures delivery; the rules still run, allowing)."""
    cr = env.cr
    cr.execute("UPDATE collections_contact_rule_set SET active = FALSE")
    cr.execute(
        """UPDATE res_partner SET mobile = '+3461' || lpad((id % 10000000)::text, 7, '0')
            WHERE customer_rank > 0 OR id IN (SELECT partner_id FROM account_move WHERE move_type = 'out_invoice')"""
    )
    provider = env["collections.provider"].search([("name", "=", "Bench fake SMS")])
    values = {
        "name": "Bench fake SMS",
        "channel": "sms",
        "provider_type": "sms_http",
        "company_id": env.company.id,
        "sequence": 0,
        "sms_http_base_url": fake_url,
        "sms_http_account_sid": "AC" + "0" * 32,
        "sms_http_auth_token": "fake-sms-auth-token",
        "sms_http_from_number": "+15005550006",
        "rate_per_second": 5000,
        "recipient_interval": 1.0,
        "batch_size": 50,
        "max_attempts": 10,
        # Delivery-status callbacks are another flow (and the bench database's URL leads nowhere).
        "delivery_reports": False,
    }
    if provider:
        provider.write(values)
    else:
        provider = provider.create(values)
    env["collections.provider"].search([("channel", "=", "sms"), ("id", "!=", provider.id)]).active = False
    return provider


class _FakeSmsSink:
    """The local fake SMS provider, as the dispatch bench reads it."""

    provider_name = "Bench fake SMS"
    channel = "sms"
    what = "the fake SMS provider"
    action_id = None  # SMS bodies are written by the bench: no stage action

    def __init__(self, latency_ms=0):
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collections_worker.fake_sms", "--port", self.url.rsplit(":", 1)[1]]
            + (["--latency-ms", str(latency_ms)] if latency_ms else []),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        _wait_http(f"{self.url}/_stats", self.process, self.what)

    def prepare(self, env):
        """The bench's provider, created once."""
        return _prepare_dispatch_data(env, self.url)

    def reset(self):
        requests.post(f"{self.url}/_reset", timeout=30).raise_for_status()

    def delivered_count(self):
        return requests.get(f"{self.url}/_stats", timeout=30).json()["delivered"]

    def results(self):
        """Deliveries (``{"key", "at"}``) and the provider's own counts: requests, deliveries,
        replays answered from its idempotency cache, duplicates it saw."""
        stats = requests.get(f"{self.url}/_stats", timeout=30).json()
        deliveries = requests.get(f"{self.url}/_messages", timeout=60).json()
        return deliveries, stats


class _WhatsAppSink:
    """The local Graph API emulator (collections_whatsapp): reminders go out as
    approved templates; each payload carries the message's idempotency key
    (``biz_opaque_callback_data``), which is how duplicates are counted. Status
    webhooks are off: this measures sending (``scripts/bench webhook`` measures them)."""

    provider_name = "Bench WhatsApp"
    channel = "whatsapp"
    what = "the WhatsApp Graph API emulator"
    action_id = None  # the stage action whose templates the messages take (set by prepare)

    def __init__(self, latency_ms=0):
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                os.path.join(ROOT, "addons", "collections_whatsapp", "tools", "emulator.py"),
                "--port",
                self.url.rsplit(":", 1)[1],
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        _wait_http(f"{self.url}/_emulator/stats", self.process, self.what)
        switches = {"auto_statuses": [], "response_delay": latency_ms / 1000}
        requests.post(f"{self.url}/_emulator/config", json=switches, timeout=30).raise_for_status()

    def prepare(self, env):
        cr = env.cr
        cr.execute("UPDATE collections_contact_rule_set SET active = FALSE")
        cr.execute(
            """UPDATE res_partner SET mobile = '+3461' || lpad((id % 10000000)::text, 7, '0'),
                      country_id = (SELECT id FROM res_country WHERE code = 'ES')
                WHERE customer_rank > 0
                   OR id IN (SELECT partner_id FROM account_move WHERE move_type = 'out_invoice')"""
        )
        account_values = {
            "name": "Bench WhatsApp",
            "phone_number_id": "1000000001",
            "waba_id": "2000000002",
            "graph_url": self.url,
            "access_token": "emulator-token",
            "app_secret": "emulator-app-secret",
            "company_id": env.company.id,
        }
        Account = env["collections.whatsapp.account"]
        account = Account.search([("name", "=", "Bench WhatsApp")], limit=1)
        if account:
            account.write(account_values)
        else:
            account = Account.create(account_values)
        account.action_sync_templates()
        templates = env["collections.whatsapp.template"].search(
            [("account_id", "=", account.id), ("name", "=", "collections_reminder")]
        )
        provider_values = {
            "name": self.provider_name,
            "channel": "whatsapp",
            "provider_type": "whatsapp_cloud",
            "whatsapp_account_id": account.id,
            "company_id": env.company.id,
            "sequence": 0,
            "rate_per_second": 5000,
            "recipient_interval": 1.0,
            "batch_size": 50,
            "max_attempts": 10,
        }
        Provider = env["collections.provider"]
        provider = Provider.search([("name", "=", self.provider_name)], limit=1)
        if provider:
            provider.write(provider_values)
        else:
            provider = Provider.create(provider_values)
        Provider.search([("channel", "=", "whatsapp"), ("id", "!=", provider.id)]).active = False
        policy = (
            env["collections.policy"].with_context(active_test=False).search([("name", "=", "Bench WhatsApp")], limit=1)
        )
        if not policy:
            policy = env["collections.policy"].create(
                {
                    "name": "Bench WhatsApp",
                    "active": False,  # only the bench's messages name its action
                    "stage_ids": [
                        (0, 0, {"name": "Chat", "offset_days": 1, "action_ids": [(0, 0, {"channel": "whatsapp"})]})
                    ],
                }
            )
        action = policy.stage_ids.action_ids[:1]
        action.whatsapp_template_ids = templates
        self.action_id = action.id
        return provider

    def reset(self):
        requests.post(f"{self.url}/_emulator/reset", json={}, timeout=30).raise_for_status()

    def delivered_count(self):
        return requests.get(f"{self.url}/_emulator/stats", timeout=30).json()["sent"]

    def results(self):
        sent = requests.get(f"{self.url}/_emulator/messages", timeout=120).json()["messages"]
        deliveries = [{"key": m.get("biz_opaque_callback_data"), "at": m["at"]} for m in sent]
        # Meta has no idempotency cache: every accepted request is a message the customer receives.
        return deliveries, {"requests": len(sent), "delivered": len(sent), "replays": 0, "duplicates": 0}


def _insert_messages(cr, company_id, count, tag, channel="sms", action_id=None):
    """``count`` planned messages of ``channel`` (from stage action
    ``action_id``, whose template a WhatsApp message takes), set-based, spread
    round-robin over the customers with an open invoice (each message covers
    one of them)."""
    from odoo.tools import SQL  # noqa: PLC0415

    from odoo.addons.collections_omni.tools.sql_rules import open_invoice  # noqa: PLC0415

    cr.execute("DELETE FROM collections_message WHERE idempotency_key LIKE 'bench-%%'")
    cr.execute(
        SQL(
            """
        CREATE TEMP TABLE bench_target ON COMMIT DROP AS
        SELECT row_number() OVER (ORDER BY partner_id) - 1 AS n, partner_id, move_id, currency_id FROM (
            SELECT DISTINCT ON (m.partner_id) m.partner_id, m.id AS move_id, m.currency_id
              FROM account_move m
             WHERE m.company_id = %s AND %s
          ORDER BY m.partner_id, m.id) t
        """,
            company_id,
            open_invoice("m"),
        )
    )
    cr.execute("SELECT count(*) FROM bench_target")
    targets = cr.fetchone()[0]
    if not targets:
        raise RuntimeError("the bench database has no open invoice")
    cr.execute(
        """
        INSERT INTO collections_message (company_id, partner_id, direction, channel, action_id, currency_id,
                                         amount_due, state, idempotency_key, planned_date, subject, attempt_count,
                                         create_uid, create_date, write_uid, write_date)
        SELECT %(company)s, t.partner_id, 'outbound', %(channel)s, %(action)s, t.currency_id, 10 + s.i, 'planned',
               'bench-' || %(tag)s || '-' || s.i, CURRENT_DATE, 'Bench reminder', 0,
               1, now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC'
          FROM generate_series(0, %(count)s - 1) AS s(i)
          JOIN bench_target t ON t.n = s.i %% %(targets)s
      ORDER BY s.i
        """,
        {
            "company": company_id,
            "channel": channel,
            "action": action_id,
            "tag": tag,
            "count": count,
            "targets": targets,
        },
    )
    cr.execute(
        """
        INSERT INTO collections_message_account_move_rel (message_id, move_id)
        SELECT msg.id, t.move_id FROM collections_message msg JOIN bench_target t ON t.partner_id = msg.partner_id
         WHERE msg.idempotency_key LIKE 'bench-' || %s || '-%%'
        """,
        [tag],
    )
    cr.execute(
        "SELECT id FROM collections_message WHERE idempotency_key LIKE 'bench-' || %s || '-%%' ORDER BY id", [tag]
    )
    return [row[0] for row in cr.fetchall()], targets


def _wait_workers_ready(redis_url, count, seconds=60):
    from celery import Celery  # noqa: PLC0415 (only this benchmark needs it)

    app = Celery("bench", broker=redis_url)
    deadline = time.monotonic() + seconds
    while len(app.control.ping(timeout=0.5) or []) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} workers did not answer in {seconds} s")


def _cpu_seconds(pid):
    import psutil  # noqa: PLC0415 (an Odoo requirement)

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def tree_cpu_seconds(pid):
    """CPU seconds used so far by a process and its children (Odoo's main process, its HTTP and
    cron workers): load-independent, unlike the times; 0 once the process is gone."""
    return sum(tree_cpu_by_role(pid).values())


def tree_cpu_by_role(pid, role_of=lambda process, root_pid: "all", roles=("all",), reaped=False):
    """CPU seconds used so far by a process and its children, summed per ``role_of(process,
    pid)``; ``reaped``: with the CPU of their children that exited (short-lived backends)."""
    import psutil  # noqa: PLC0415 (an Odoo requirement)

    cpu = dict.fromkeys(roles, 0.0)
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return cpu
    for process in processes:
        try:
            times = process.cpu_times()
            role = role_of(process, pid)
        except psutil.NoSuchProcess:
            continue
        cpu[role] = cpu.get(role, 0.0) + times.user + times.system
        if reaped:
            cpu[role] += times.children_user + times.children_system
    return cpu


def _run_dispatch_mode(args, registry, odoo, mode, workers, sink, server, pids):
    """One measurement: returns the JSON-ready dict. ``sink``: the fake
    provider the messages go to; ``pids``: its and the Odoo server's
    processes, whose CPU time is measured too."""
    tag = f"{mode}{workers}-{int(time.time())}"
    redis_url = _redis_url(args.redis_db)
    sink.reset()
    pool = None
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        provider = env["collections.provider"].search([("name", "=", sink.provider_name)])
        provider.dispatch_mode = "celery" if mode == "celery" else "embedded"
        env["ir.config_parameter"].set_param("collections_omni.redis_url", redis_url)
        message_ids, _targets = _insert_messages(cr, env.company.id, args.messages, tag, sink.channel, sink.action_id)
        cr.execute("ANALYZE collections_message")
        cr.commit()
    if mode == "celery":
        import redis  # noqa: PLC0415

        redis.Redis.from_url(redis_url).flushdb()
        log_dir = os.path.join(os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var")), "log")
        pool = WorkerPool(
            server,
            registry.db_name,
            redis_url,
            log_dir,
            loglevel="WARNING",
            extra_args=("--without-mingle", "--without-gossip"),
        )
        for number in range(workers):
            pool.start(f"bench-worker-{number + 1}", concurrency=args.concurrency)
        _wait_workers_ready(redis_url, workers)
    killed = threading.Event()

    def kill_halfway():
        while not killed.is_set():
            if sink.delivered_count() >= args.messages // 2:
                # A process supervisor would start a replacement: so does the bench.
                pool.kill(next(p for p in pool.processes if p.poll() is None))
                pool.start(f"bench-worker-{len(pool.processes) + 1}", concurrency=args.concurrency)
                killed.set()
                return
            time.sleep(0.05)

    if pool and args.kill_worker:
        threading.Thread(target=kill_halfway, daemon=True).start()
    handed_out = {}
    cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    cpu_before["dispatcher (this process)"] = _cpu_seconds(os.getpid())
    worker_cpu = {}
    started = time.time()
    try:
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"collections_dispatch_commit": True})
            Message = env["collections.message"]
            for start in range(0, len(message_ids), DISPATCH_BATCH):
                ids = message_ids[start : start + DISPATCH_BATCH]
                batch_started = time.time()
                Message.browse(ids).action_send_now()
                cr.commit()
                handed_out.update(dict.fromkeys(ids, batch_started))
                env.invalidate_all()
        handed_out_seconds = time.time() - started
        deadline = time.monotonic() + max(300, args.messages / 20)
        while True:
            with registry.cursor() as cr:
                cr.execute(
                    "SELECT count(*) FILTER (WHERE state IN ('sent', 'failed', 'blocked')), "
                    "count(*) FILTER (WHERE state = 'sent') FROM collections_message WHERE id = ANY(%s)",
                    [message_ids],
                )
                final, sent = cr.fetchone()
            if final == len(message_ids) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        seconds = time.time() - started
        if pool:
            for process in pool.processes:
                worker_cpu[process.pid] = _cpu_seconds(process.pid)
    finally:
        killed.set()
        if pool:
            pool.stop()
    cpu = {name: _cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["dispatcher (this process)"] = _cpu_seconds(os.getpid()) - cpu_before["dispatcher (this process)"]
    if worker_cpu:
        cpu["workers"] = sum(worker_cpu.values())  # killed workers' CPU is not counted
    delivered, stats = sink.results()
    with registry.cursor() as cr:
        cr.execute(
            "SELECT id, idempotency_key FROM collections_message WHERE id = ANY(%s)",
            [message_ids],
        )
        key_to_id = {key: message_id for message_id, key in cr.fetchall()}
    per_key = {}
    latencies = []
    for message in delivered:
        per_key[message["key"]] = per_key.get(message["key"], 0) + 1
        if message["key"] in key_to_id:
            latencies.append((message["at"] - handed_out[key_to_id[message["key"]]]) * 1000)
    latencies.sort()
    duplicates = sum(n - 1 for n in per_key.values())
    lost = len(message_ids) - sent  # with a healthy provider every message must end sent
    return {
        "bench": "dispatch",
        "channel": sink.channel,
        "mode": mode,
        "workers": workers,
        "messages": len(message_ids),
        "seconds": round(seconds, 2),
        "odoo_dispatch_seconds": round(handed_out_seconds, 2),
        "messages_per_s": round(len(message_ids) / seconds),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)]) if latencies else None,
        "duplicates": max(duplicates, stats["duplicates"]),
        "lost": lost,
        "delivered": stats["delivered"],
        "provider_requests": stats["requests"],
        "replays": stats["replays"],
        "worker_killed": bool(args.kill_worker and mode == "celery" and killed.is_set()),
        "concurrency": args.concurrency if mode == "celery" else 1,
        "cpu_ms_per_message": {name: round(value * 1000 / len(message_ids), 2) for name, value in cpu.items()},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "latency_ms": args.latency_ms,
    }


def bench_dispatch(args):
    whatsapp = args.channel == "whatsapp"
    db = DISPATCH_DB + ("_whatsapp" if whatsapp else "")
    addons = ("collections_omni", "collections_whatsapp") if whatsapp else ("collections_omni",)
    ensure_database(db, args.customers, args.invoices, args.seed, addons=addons)
    _start_redis()
    sink = (_WhatsAppSink if whatsapp else _FakeSmsSink)(args.latency_ms)
    server_process = None
    try:
        odoo = configure(db)
        registry = odoo.modules.registry.Registry(db)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            sink.prepare(env)
            cr.commit()
        modes = [("embedded", 0)] if args.embedded else []
        modes += [("celery", n) for n in args.workers]
        server_url = None
        if any(mode == "celery" for mode, _n in modes):
            port = _free_port()
            server_url = f"http://127.0.0.1:{port}"
            log_dir = os.path.join(os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var")), "log")
            with open(os.path.join(log_dir, "bench-odoo.log"), "wb") as log:
                server_process = subprocess.Popen(
                    odoo_command(
                        "-d",
                        db,
                        f"--db-filter=^{db}$",
                        f"--http-port={port}",
                        "--max-cron-threads=0",
                        "--log-level=warn",
                    ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            _wait_http(f"{server_url}/web/login", server_process, "Odoo")
        pids = {"fake provider": sink.process.pid}
        if server_process:
            pids["odoo server"] = server_process.pid
        for mode, workers in modes:
            result = _run_dispatch_mode(args, registry, odoo, mode, workers, sink, server_url, pids)
            print(json.dumps(result), flush=True)
    finally:
        for process in (server_process, sink.process):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)


# The dashboard's figures as the benchmark reads them: (model, group by, aggregates or None for all measures).
ANALYTICS_FIGURES = {
    "aging_buckets": ("collections.analytics.aging", ["month_end:month", "bucket"], ["amount_residual:sum"]),
    "overdue_trend": ("collections.analytics.aging", ["month_end:month"], ["amount_overdue:sum"]),
    "dso": ("collections.analytics.dso", ["month_end:month"], None),
    "cei": ("collections.analytics.cei", ["month_end:month"], None),
    "by_channel": ("collections.analytics.contact", ["channel"], None),
    "by_stage": ("collections.analytics.contact", ["stage_id"], None),
    "by_template": ("collections.analytics.contact", ["template_id"], None),
    "by_collector": ("collections.analytics.contact", ["user_id"], None),
    "promises": ("collections.analytics.promise", ["state"], None),
    "plans": ("collections.analytics.plan", ["state"], None),
    "disputes": ("collections.analytics.dispute", ["reason"], None),
}


def _headline(name, rows):
    """A few numbers of a figure, to see that it is not empty (amounts rounded)."""
    if name == "dso":
        return {"last_month": {"dso": rows[-1][-2], "best_dso": rows[-1][-1]}} if rows else {}
    if name == "cei":
        return {"last_month_cei": rows[-1][-1]} if rows else {}
    if name == "by_channel":
        return {str(row[0]): {"contacts": row[1], "paid_30_amount": round(row[-1] or 0)} for row in rows}
    return {}


def bench_analytics(args):
    """Every dashboard figure over generated months of history (generate_data.py --history)."""
    # One database per seed: the risk score's weights are tuned on seed 1 and judged on another (held out).
    db = f"collections_bench_history_{args.customers}_{args.invoices}" + (f"_seed{args.seed}" if args.seed != 1 else "")
    ensure_database(db, args.customers, args.invoices, args.seed, ["--history", "--days", str(args.days)])
    odoo = configure(db)
    registry = odoo.modules.registry.Registry(db)
    timings = {name: [] for name in ANALYTICS_FIGURES}
    results = {}
    with registry.cursor() as cr:  # statistics are transactional: committed on leaving the block
        cr.execute("ANALYZE")
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        cr.execute("SELECT set_config('collections.analytics_today', %s, false)", [BENCH_TODAY.isoformat()])
        refreshes = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            env["collections.analytics.aging"].action_refresh_figures()
            refreshes.append(time.perf_counter() - started)
        cr.execute("ANALYZE collections_analytics_snapshot, collections_analytics_contact_outcome")
        for _ in range(args.repeat):
            for name, (model, groupby, aggregates) in ANALYTICS_FIGURES.items():
                Model = env[model]
                if aggregates is None and model == "collections.analytics.contact":
                    aggregates = [
                        "contact_count:sum",
                        "delivery_rate:avg",
                        "read_rate:avg",
                        "reply_rate:avg",
                        "paid_7_count:sum",
                        "paid_7_amount:sum",
                        "paid_30_count:sum",
                        "opt_out_count:sum",
                        "paid_30_amount:sum",
                    ]
                elif aggregates is None and model == "collections.analytics.dso":
                    aggregates = ["receivable:sum", "sales:sum", "dso:avg", "best_dso:avg"]
                elif aggregates is None and model == "collections.analytics.cei":
                    aggregates = ["collected:sum", "collectible:sum", "cei:avg"]
                started = time.perf_counter()
                rows = Model._figure([], groupby, aggregates)
                timings[name].append(time.perf_counter() - started)
                results[name] = rows
        counts = {}
        for table in ("account_move", "account_payment", "collections_message", "collections_consent"):
            cr.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 -- a constant table name
            counts[table] = cr.fetchone()[0]
        risk = {}
        if os.path.exists(os.path.join(ROOT, "scripts", "bench_risk.py")):
            import bench_risk  # noqa: PLC0415 -- written by the risk score's engineer, optional

            risk = bench_risk.evaluate(env, args.customers, args.invoices)
        cr.rollback()
    figures = {
        name: {"seconds": round(min(timings[name]), 3), "rows": len(results[name]), **_headline(name, results[name])}
        for name in ANALYTICS_FIGURES
    }
    print(
        json.dumps(
            {
                "bench": "analytics",
                "customers": args.customers,
                "invoices": args.invoices,
                "history_days": args.days,
                "payments": counts["account_payment"],
                "messages": counts["collections_message"],
                "opt_outs": counts["collections_consent"],
                "seconds": round(sum(figure["seconds"] for figure in figures.values()), 3),
                "refresh_seconds": round(min(refreshes), 3),
                "figures": figures,
                **risk,
            },
            default=str,
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
    reconcile = sub.add_parser("reconcile", help="match and reconcile generated bank statement lines")
    reconcile.add_argument("--lines", type=int, default=10000)
    reconcile.add_argument("--invoices", type=int, default=100000)
    reconcile.add_argument("--customers", type=int, default=20000)
    reconcile.add_argument("--seed", type=int, default=1)
    reconcile.add_argument("--repeat", type=int, default=3)
    reconcile.add_argument("--profile", metavar="FILE", help="write a cProfile of the (last) run to FILE")
    if sys.argv[1:2] == ["webhook"]:
        # The WhatsApp webhook benchmark lives in its own module (collections_whatsapp's owner).
        import bench_webhook

        return bench_webhook.main(sys.argv[2:])
    if sys.argv[1:2] == ["portal"]:
        # The customer portal benchmark lives in its own module (collections_portal's owner).
        import bench_portal

        return bench_portal.main(sys.argv[2:])
    if sys.argv[1:2] == ["dunning"] and "--compare-oca" in sys.argv:
        # Hand over to bench_oca.py (which also runs ours) with every option, before any Odoo
        # connection is opened, so the bench database can serve as a template.
        script = os.path.join(ROOT, "scripts", "bench_oca.py")
        os.execv(sys.executable, [sys.executable, script, *[a for a in sys.argv[2:] if a != "--compare-oca"]])
    dispatch = sub.add_parser(
        "dispatch", help="send outbox SMS through the local fake provider, embedded and with Celery workers"
    )
    dispatch.add_argument("--messages", type=int, default=20000)
    dispatch.add_argument(
        "--channel",
        choices=("sms", "whatsapp"),
        default="sms",
        help="sms: the fake SMS provider; whatsapp: templates through the Graph API emulator",
    )
    dispatch.add_argument(
        "--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2, 4], help="e.g. 1,2,4"
    )
    dispatch.add_argument("--no-embedded", dest="embedded", action="store_false", help="skip the embedded mode")
    dispatch.add_argument("--kill-worker", action="store_true", help="SIGKILL one worker halfway through each run")
    dispatch.add_argument("--concurrency", type=int, default=4, help="threads per worker")
    dispatch.add_argument("--latency-ms", type=float, default=0, help="the fake provider's answer time")
    dispatch.add_argument("--customers", type=int, default=4000)
    dispatch.add_argument("--invoices", type=int, default=12000)
    dispatch.add_argument("--seed", type=int, default=1)
    dispatch.add_argument("--redis-db", type=int, default=1, help="Redis database for the bench's queue and state")
    analytics = sub.add_parser("analytics", help="every dashboard figure over generated months of history")
    analytics.add_argument("--customers", type=int, default=20000)
    analytics.add_argument("--invoices", type=int, default=100000)
    analytics.add_argument("--days", type=int, default=270, help="invoice dates spread over the last DAYS days")
    analytics.add_argument("--seed", type=int, default=1)
    analytics.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    {
        "dunning": bench_dunning,
        "reconcile": bench_reconcile,
        "dispatch": bench_dispatch,
        "analytics": bench_analytics,
    }[args.bench](args)


if __name__ == "__main__":
    main()
