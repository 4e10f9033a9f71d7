"""The business rules that SQL needs, defined once as ``odoo.tools.SQL``
builders: planning, sending, the worklist, the portal, plans, promises, the
call outcome and reconciliation all compose these, never a copy and never raw
text. Where a rule also exists as an ORM domain or in Python, the twin lives
here too and tests/test_rules.py proves both select the same records.

Aliases are table aliases of the caller's query (``m`` for account_move,
``p`` for res_partner...), quoted as identifiers; dates are values or SQL.
"""

from collections import namedtuple

import pytz

from odoo.tools import SQL

from . import timezones

# --- open receivable ---------------------------------------------------------
RECEIVABLE_TYPES = ("out_invoice", "out_refund")
OPEN_PAYMENT_STATES = ("not_paid", "partial", "in_payment")
# The ORM twin of open_receivable().
OPEN_RECEIVABLE_DOMAIN = [
    ("state", "=", "posted"),
    ("move_type", "in", RECEIVABLE_TYPES),
    ("payment_state", "in", OPEN_PAYMENT_STATES),
    ("amount_residual", ">", 0),
]
# An open customer invoice (no credit notes): the portal's list, a dispute's or a promise's invoices.
OPEN_INVOICE_DOMAIN = [("move_type", "=", "out_invoice"), *OPEN_RECEIVABLE_DOMAIN]


def _date(value):
    return value if isinstance(value, SQL) else SQL("%s::date", value)


def open_receivable(alias="m"):
    """An open customer document (invoice or credit note) of account_move ``alias``:
    posted, not paid, something left to pay."""
    m = SQL.identifier(alias)
    return SQL(
        "(%(m)s.state = 'posted' AND %(m)s.move_type IN %(types)s"
        " AND %(m)s.payment_state IN %(states)s AND %(m)s.amount_residual > 0)",
        m=m,
        types=RECEIVABLE_TYPES,
        states=OPEN_PAYMENT_STATES,
    )


def open_invoice(alias="m"):
    """open_receivable(), invoices only (the twin of OPEN_INVOICE_DOMAIN)."""
    return SQL("(%s.move_type = 'out_invoice' AND %s)", SQL.identifier(alias), open_receivable(alias))


def signed_residual(alias="m"):
    """What a document leaves to pay in its own currency, credit notes negative."""
    m = SQL.identifier(alias)
    return SQL("(CASE WHEN %(m)s.move_type = 'out_refund' THEN -1 ELSE 1 END * %(m)s.amount_residual)", m=m)


# --- overdue -----------------------------------------------------------------
def overdue_domain(on_date):
    """The ORM twin of overdue(): an invoice is overdue on a date when it was due before it."""
    return [("move_type", "=", "out_invoice"), ("invoice_date_due", "<", on_date)]


def overdue(alias, on_date):
    """An invoice of account_move ``alias`` overdue on ``on_date`` (a date or SQL):
    due strictly before that day (due today is not late yet)."""
    m = SQL.identifier(alias)
    return SQL("(%(m)s.move_type = 'out_invoice' AND %(m)s.invoice_date_due < %(d)s)", m=m, d=_date(on_date))


def days_overdue(alias, on_date):
    return SQL("(%s - %s.invoice_date_due)", _date(on_date), SQL.identifier(alias))


def oldest_first(alias="m"):
    """Oldest due first; a document without a due date counts from its accounting date.
    The Python twin: oldest_first_key."""
    m = SQL.identifier(alias)
    return SQL("COALESCE(%(m)s.invoice_date_due, %(m)s.date), %(m)s.id", m=m)


def oldest_first_key(move):
    """sorted(moves, key=oldest_first_key): the Python twin of oldest_first()."""
    return (move.invoice_date_due or move.date, move.id)


# --- time zones and local dates ----------------------------------------------
def _zone_rows():
    """(country, state, zone) rows of timezones.zone_for: state '' is the country's zone."""
    rows = [(country, state, zone) for (country, state), zone in timezones.STATE_ZONES.items()]
    for country, zones in pytz.country_timezones.items():
        zone = timezones.zone_for(country, "", zones)
        if zone:
            rows.append((country.upper(), "", zone))
    return rows


ZONE_ROWS = _zone_rows()


PartnerZone = namedtuple("PartnerZone", "joins name")


def partner_zone(alias="p", prefix="zone"):
    """The time zone of res_partner ``alias`` as the contact rules judge it
    (collections.contact.rule.set._partner_timezone): its own tz, else its
    state's or country's zone, else UTC. Set-based: ``joins`` (LEFT JOINs to
    add after the partner, tables named ``prefix``_...) and ``name`` (the zone).
    """
    p = SQL.identifier(alias)
    country, state = SQL.identifier(f"{prefix}_country"), SQL.identifier(f"{prefix}_state")
    by_state, by_country = SQL.identifier(f"{prefix}_by_state"), SQL.identifier(f"{prefix}_by_country")
    state_rows = [row for row in ZONE_ROWS if row[1]]
    country_rows = [row for row in ZONE_ROWS if not row[1]]
    joins = SQL(
        """
          LEFT JOIN res_country %(country)s ON %(country)s.id = %(p)s.country_id
          LEFT JOIN res_country_state %(state)s ON %(state)s.id = %(p)s.state_id
          LEFT JOIN unnest(%(s_countries)s::text[], %(s_states)s::text[], %(s_zones)s::text[])
                    AS %(by_state)s(country, state, zone)
                 ON %(by_state)s.country = upper(%(country)s.code) AND %(by_state)s.state = upper(%(state)s.code)
          LEFT JOIN unnest(%(c_countries)s::text[], %(c_zones)s::text[]) AS %(by_country)s(country, zone)
                 ON %(by_country)s.country = upper(%(country)s.code)""",
        p=p,
        country=country,
        state=state,
        by_state=by_state,
        by_country=by_country,
        s_countries=[row[0] for row in state_rows],
        s_states=[row[1] for row in state_rows],
        s_zones=[row[2] for row in state_rows],
        c_countries=[row[0] for row in country_rows],
        c_zones=[row[2] for row in country_rows],
    )
    name = SQL("COALESCE(NULLIF(%s.tz, ''), %s.zone, %s.zone, 'UTC')", p, by_state, by_country)
    return PartnerZone(joins, name)


def local_today(zone_sql):
    """Today's date in the zone ``zone_sql`` (an SQL expression), at the transaction's time."""
    return SQL("(now() AT TIME ZONE %s)::date", zone_sql)


# --- customers skipped as a whole ----------------------------------------------
# (column of res_partner, skip reason), in order: the first that holds is the reason.
PARTNER_SKIP_RULES = (
    ("collections_excluded", "excluded"),
    ("collections_do_not_contact", "do_not_contact"),
    ("collections_vulnerable", "vulnerable"),
    ("collections_dispute_hold", "disputed"),
)


def partner_skip_reason(alias="p"):
    """Why no automated contact may reach res_partner ``alias`` (a commercial
    partner), as a skip reason code, or NULL. The one rule for planning (every
    run) and sending (re-checked right before each send)."""
    p = SQL.identifier(alias)
    cases = SQL(" ").join(
        SQL("WHEN %s.%s THEN %s", p, SQL.identifier(column), reason) for column, reason in PARTNER_SKIP_RULES
    )
    return SQL("(CASE %s ELSE NULL END)", cases)


# --- holds -------------------------------------------------------------------
PLAN_HOLDING_STATES = ("proposed", "active")


def plan_holds(alias="plan"):
    """A payment plan (collections_payment_plan ``alias``) that holds its invoices:
    proposed or active, or broken under a policy that keeps the hold (HOLDING_DOMAIN)."""
    plan = SQL.identifier(alias)
    return SQL(
        "(%(plan)s.state IN %(states)s OR (%(plan)s.state = 'broken' AND %(plan)s.hold_after_break))",
        plan=plan,
        states=PLAN_HOLDING_STATES,
    )


def promise_invoices(promises, invoices):
    """The invoices each promise covers, as rows (promise_id, move_id): the
    ones it names or, when it names none, all of its customer's in its
    company. ``promises`` filters the promises (alias pr), ``invoices`` the
    invoices (alias m), both SQL. Shared by holds, payments towards a promise
    and its escalation."""
    return SQL(
        """
            SELECT pr.id AS promise_id, m.id AS move_id
              FROM collections_promise pr
              JOIN collections_promise_account_move_rel rel ON rel.promise_id = pr.id
              JOIN account_move m ON m.id = rel.move_id AND m.company_id = pr.company_id
             WHERE %(promises)s AND %(invoices)s
            UNION ALL
            SELECT pr.id, m.id
              FROM collections_promise pr
              JOIN account_move m ON m.commercial_partner_id = pr.partner_id AND m.company_id = pr.company_id
             WHERE %(promises)s AND %(invoices)s
               AND NOT EXISTS (SELECT 1 FROM collections_promise_account_move_rel r WHERE r.promise_id = pr.id)
        """,
        promises=promises,
        invoices=invoices,
    )


def held_invoices(on_date):
    """Customer documents held out of dunning on ``on_date`` (a date or SQL), as
    rows (move_id, reason): under a holding payment plan, under an open
    promise not yet due (or broken and keeping the hold; a promise without
    invoices holds all of its customer's open documents), or in an open
    dispute. Shared by planning, sending and the portal."""
    on_date = _date(on_date)
    promise_holds = SQL(
        "((pr.state = 'open' AND pr.promised_date >= %s) OR (pr.state = 'broken' AND pr.hold_after_break))",
        on_date,
    )
    return SQL(
        """
            SELECT rel.move_id, 'payment_plan' AS reason
              FROM collections_payment_plan_account_move_rel rel
              JOIN collections_payment_plan plan ON plan.id = rel.plan_id
             WHERE %(plan_holds)s
            UNION ALL
            SELECT covered.move_id, 'promise'
              FROM (%(covered)s) covered
            UNION ALL
            SELECT rel.move_id, 'dispute'
              FROM collections_dispute_account_move_rel rel
              JOIN collections_dispute d ON d.id = rel.dispute_id
             WHERE d.state = 'open'
        """,
        plan_holds=plan_holds("plan"),
        covered=promise_invoices(promise_holds, open_receivable("m")),
    )


# --- policy precedence ---------------------------------------------------------
def policy_precedence(move_alias, partner_alias, segment_alias, default_alias, company_id):
    """The policy of a document: its own, then its customer's (company-dependent),
    then its segment's, then the company default (the Python twin for a
    customer: collections.policy._for_partner)."""
    return SQL(
        "COALESCE(%s, (%s.collections_policy_id ->> %s)::int, %s.id, %s.id)",
        SQL("%s.collections_policy_id", SQL.identifier(move_alias)) if move_alias else SQL("NULL::int"),
        SQL.identifier(partner_alias),
        str(company_id),
        SQL.identifier(segment_alias),
        SQL.identifier(default_alias),
    )


def default_policy_join(alias, company_sql):
    """LEFT JOIN of the active company default policy as ``alias``."""
    return SQL(
        "LEFT JOIN collections_policy %(a)s ON %(a)s.company_id = %(c)s AND %(a)s.is_company_default AND %(a)s.active",
        a=SQL.identifier(alias),
        c=company_sql,
    )
