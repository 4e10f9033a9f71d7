"""Yardstick: OCA's account_credit_control on the data of ``scripts/bench dunning``.

    .venv/bin/python scripts/bench_oca.py [--customers 20000] [--invoices 100000] [--repeat 3]
        [--skip-ours] [--no-communications] [--recreate] [--oca-version 18.0.x]

At bench time, and never into the repository (the OCA code is AGPL), the
wheel ``odoo-addon-account-credit-control`` is fetched with ``pip download
--no-deps`` and unpacked into ``.var/oca/addons`` together with any OCA addon
its manifest depends on. ``collections_bench_oca_<customers>_<invoices>`` is
a copy of the dunning benchmark database (``createdb -T``) with the addon
installed and a credit-control policy equivalent to our "Standard" one, set
as the company default: levels 7, 21 and 45 days after the due date (email,
email, letter). The -3 days friendly reminder cannot be expressed: OCA only
considers move lines already due on the controlling date.

One measurement is OCA's run on BENCH_TODAY: a ``credit.control.run`` and its
``generate_credit_lines()`` (one credit line per overdue receivable move line
at the level it reaches), then, timed apart, the grouping of those lines into
``credit.control.communication`` records (one per partner, level and
currency: what OCA sends, and the counterpart of our messages). Each
repetition is rolled back. Unless ``--skip-ours``, our run is measured by
``scripts/bench.py dunning`` on the original database and both are compared.
Prints one JSON line per measurement.
"""

import argparse
import ast
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import BENCH_TODAY, addons_hash, database_exists, ensure_database  # noqa: E402
from odoo_env import ODOO_SRC, ROOT, configure, odoo_command  # noqa: E402

OCA_ADDON = "account_credit_control"
OCA_VERSION = "18.0.2.0.2.6"  # newest 18.0 release on PyPI when written; --oca-version to try another
VAR_DIR = os.environ.get("COLLECTIONS_VAR_DIR", os.path.join(ROOT, ".var"))
OCA_DIR = os.path.join(VAR_DIR, "oca")
OCA_ADDONS = os.path.join(OCA_DIR, "addons")
MARKER_KEY = "collections.bench_oca"  # system parameter of the copy: what it was made from
# Our Standard policy's stages after the due date: (name, days, channel). Our final notice is a letter and an
# email; an OCA level has one channel, so the letter.
LEVELS = (("First reminder", 7, "email"), ("Second reminder", 21, "email"), ("Final notice", 45, "letter"))

os.environ.setdefault("PGHOST", "127.0.0.1")
os.environ.setdefault("PGPORT", os.environ.get("COLLECTIONS_PG_PORT", "55432"))
os.environ.setdefault("PGUSER", os.environ.get("COLLECTIONS_PG_USER", "odoo"))


def log(message):
    print(f"bench_oca: {message}", file=sys.stderr, flush=True)


def psql(db, sql):
    out = subprocess.run(["psql", "-d", db, "-Atc", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


# --------------------------------------------------------------------------
# The OCA addons, fetched from PyPI into .var/oca
# --------------------------------------------------------------------------


def _wheel_version(path):
    return os.path.basename(path).split("-")[1]


def _download_wheel(addon, version=None):
    """``pip download`` an addon's wheel (``version`` pinned, else the newest 18.0) and return its path."""
    wheels = os.path.join(OCA_DIR, "wheels")
    dist = "odoo-addon-" + addon.replace("_", "-")
    spec = f"{dist}=={version}" if version else f"{dist}==18.0.*"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "-d", wheels, spec],
        check=True,
    )
    from packaging.version import Version

    found = glob.glob(os.path.join(wheels, f"odoo_addon_{addon}-{version or '18.0.*'}-*.whl"))
    if not found:
        raise SystemExit(f"bench_oca: pip download {spec} left no wheel in {wheels}")
    return max(found, key=lambda path: Version(_wheel_version(path)))


def _unpack_addon(wheel, addon):
    """Unpack the wheel's ``odoo/addons/<addon>`` folder into OCA_ADDONS; return its manifest."""
    prefix = f"odoo/addons/{addon}/"
    target = os.path.join(OCA_ADDONS, addon)
    shutil.rmtree(target, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(prefix) and not member.endswith("/"):
                path = os.path.join(target, member[len(prefix) :])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with archive.open(member) as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    with open(os.path.join(target, "__manifest__.py"), encoding="utf-8") as manifest:
        return ast.literal_eval(manifest.read())


def fetch_oca(version):
    """Fetch the OCA addon and the OCA addons it depends on; return the wheel versions by addon."""
    versions, todo = {}, [(OCA_ADDON, version)]
    while todo:
        addon, pinned = todo.pop()
        wheel = _download_wheel(addon, pinned)
        versions[addon] = _wheel_version(wheel)
        for dep in _unpack_addon(wheel, addon).get("depends", []):
            if dep not in versions and not os.path.isdir(os.path.join(ODOO_SRC, "odoo", "addons", dep)):
                todo.append((dep, None))  # not in Odoo: an OCA addon, on PyPI under the same scheme
    log(f"OCA addons in {OCA_ADDONS}: {versions}")
    return versions


# --------------------------------------------------------------------------
# The database: a copy of the dunning benchmark's, with the OCA policy
# --------------------------------------------------------------------------


def odoo_cli(db, *args):
    subprocess.run(
        odoo_command(
            "-d", db, "--stop-after-init", "--log-level=warn", "--http-port=0", *args, extra_addons=[OCA_ADDONS]
        ),
        check=True,
    )


def open_registry(db):
    """Odoo's registry of ``db``, with the OCA addons on the path (Odoo is configured once per process)."""
    import odoo

    if OCA_ADDONS not in odoo.tools.config["addons_path"]:
        configure(db)
        odoo.tools.config["addons_path"] += f",{OCA_ADDONS}"
        odoo.modules.module.initialize_sys_path()
    return odoo, odoo.modules.registry.Registry(db)


def configure_policy(env):
    """Our Standard policy in OCA's terms, as the company's default; OCA's sample policies archived."""
    from odoo import Command

    company = env.company
    receivable = env["account.account"].search(
        [("account_type", "=", "asset_receivable"), ("company_ids", "in", company.id)]
    )
    template = env.ref("account_credit_control.email_template_credit_control_base")
    env["credit.control.policy"].search([]).active = False
    policy = env["credit.control.policy"].create(
        {
            "name": "Standard",
            "company_id": company.id,
            "account_ids": [Command.set(receivable.ids)],
            "level_ids": [
                Command.create(
                    {
                        "name": name,
                        "level": level,
                        "computation_mode": "net_days",
                        "delay_days": days,
                        "channel": channel,
                        "email_template_id": template.id,
                        "custom_text": f"{name}: please pay the invoices below.",
                        "custom_mail_text": f"<p>{name}: please pay the invoices below.</p>",
                    }
                )
                for level, (name, days, channel) in enumerate(LEVELS, start=1)
            ],
        }
    )
    company.credit_policy_id = policy


def _wait_template_idle(template, timeout=30):
    """``createdb -T`` needs the template without connections; wait a little, never kill anyone's."""
    deadline = time.monotonic() + timeout
    while psql("postgres", f"select count(*) from pg_stat_activity where datname = '{template}'") != "0":
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_oca: {template} still has open connections; close them and retry")
        time.sleep(1)


def ensure_oca_database(base_db, oca_db, versions, recreate):
    datagen = psql(base_db, "select value from ir_config_parameter where key = 'collections.datagen'")
    # Our addon's code is part of the marker: the copy is rebuilt from the (upgraded) bench database when it changes.
    marker = json.dumps(
        {"oca": versions, "levels": LEVELS, "datagen": datagen, "collections_omni": addons_hash()}, sort_keys=True
    )
    if database_exists(oca_db) and not recreate:
        found = psql(oca_db, f"select value from ir_config_parameter where key = '{MARKER_KEY}'")
        if found == marker:
            return
        log(f"{oca_db} was made from other data, another OCA version or older collections code: recreating it")
    subprocess.run(["dropdb", "--if-exists", oca_db], check=True)
    _wait_template_idle(base_db)
    log(f"creating {oca_db} from {base_db} and installing {OCA_ADDON}")
    subprocess.run(["createdb", "-T", base_db, oca_db], check=True)
    odoo_cli(oca_db, "-i", OCA_ADDON)
    odoo, registry = open_registry(oca_db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        configure_policy(env)
        env["ir.config_parameter"].set_param(MARKER_KEY, marker)
    odoo.sql_db.close_db(oca_db)


# --------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------


def measure_oca(oca_db, repeat, communications):
    odoo, registry = open_registry(oca_db)
    timings, comm_timings, result = [], [], {}
    for _ in range(repeat):
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            run = env["credit.control.run"].create({"date": BENCH_TODAY})
            cr.execute("ANALYZE account_move_line")
            started = time.perf_counter()
            run.generate_credit_lines()
            env.flush_all()
            timings.append(time.perf_counter() - started)
            cr.execute(
                "SELECT level, channel, count(*) FROM credit_control_line WHERE run_id = %s"
                " GROUP BY 1, 2 ORDER BY 1, 2",
                (run.id,),
            )
            rows = cr.fetchall()
            result["credit_lines"] = sum(n for _level, _channel, n in rows)
            result["by_level"] = {f"{level}/{channel}": n for level, channel, n in rows}
            if communications:
                started = time.perf_counter()
                comms = env["credit.control.communication"]._generate_comm_from_credit_lines(run.line_ids)
                env.flush_all()
                comm_timings.append(time.perf_counter() - started)
                result["communications"] = len(comms)
            cr.rollback()
    result["seconds_all"] = [round(t, 3) for t in timings]
    result["seconds"] = min(timings)
    if comm_timings:
        result["communications_seconds_all"] = [round(t, 3) for t in comm_timings]
        result["communications_seconds"] = min(comm_timings)
    odoo.sql_db.close_db(oca_db)
    return result


def measure_ours(args):
    """Our run, measured by bench.py in its own process; its JSON line is passed through."""
    out = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "scripts", "bench.py"),
            "dunning",
            f"--customers={args.customers}",
            f"--invoices={args.invoices}",
            f"--seed={args.seed}",
            f"--repeat={args.repeat}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    sys.stdout.write(out.stdout)
    sys.stdout.flush()
    return next(json.loads(line) for line in out.stdout.splitlines() if '"bench": "dunning"' in line)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--invoices", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--oca-version", default=OCA_VERSION, help=f"wheel version (default {OCA_VERSION})")
    parser.add_argument("--skip-ours", action="store_true", help="measure OCA only")
    parser.add_argument("--no-communications", action="store_true", help="do not time the grouping per partner")
    parser.add_argument("--recreate", action="store_true", help="recreate the OCA database")
    args = parser.parse_args()

    subprocess.run(["bash", "-c", f". '{ROOT}/scripts/lib.sh' && pg_start"], check=True)
    base_db = f"collections_bench_{args.customers}_{args.invoices}"
    oca_db = f"collections_bench_oca_{args.customers}_{args.invoices}"
    versions = fetch_oca(args.oca_version)
    ensure_database(base_db, args.customers, args.invoices, args.seed)
    ensure_oca_database(base_db, oca_db, versions, args.recreate)
    ours = None if args.skip_ours else measure_ours(args)
    oca = measure_oca(oca_db, args.repeat, not args.no_communications)

    line = {
        "bench": "dunning_oca",
        "customers": args.customers,
        "invoices": args.invoices,
        "seconds": round(oca["seconds"], 3),
        "seconds_all": oca["seconds_all"],
        "credit_lines": oca["credit_lines"],
        "lines_per_s": round(oca["credit_lines"] / oca["seconds"]),
        "by_level": oca["by_level"],
        "oca_version": versions[OCA_ADDON],
    }
    if "communications" in oca:
        line.update(
            communications=oca["communications"],
            communications_seconds=round(oca["communications_seconds"], 3),
            communications_seconds_all=oca["communications_seconds_all"],
        )
    print(json.dumps(line), flush=True)
    if ours:
        comparison = {
            "bench": "dunning_vs_oca",
            "customers": args.customers,
            "invoices": args.invoices,
            "ours_seconds": ours["seconds"],
            "oca_seconds": round(oca["seconds"], 3),
            "speedup": round(oca["seconds"] / ours["seconds"], 1),
            "messages_planned": ours["messages_planned"],
            "credit_lines": oca["credit_lines"],
        }
        if "communications" in oca:
            total = oca["seconds"] + oca["communications_seconds"]
            comparison.update(
                oca_seconds_with_communications=round(total, 3),
                speedup_with_communications=round(total / ours["seconds"], 1),
                communications=oca["communications"],
            )
        print(json.dumps(comparison), flush=True)


if __name__ == "__main__":
    main()
