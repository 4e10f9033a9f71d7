"""The collections figures, each defined once as an ``odoo.tools.SQL`` builder.

The analytics models (models/collections_analytics_*.py) are read-only SQL
views over these builders; the README's "Analytics" section gives each
figure's formula in words and must say what this file does.

Amounts are in company currency (the ledger's balance); a document's currency
is kept as a filter. Figures are computed as of :func:`analytics_today`.
"""

from odoo.tools import SQL

# How many months the trends show, the current one included.
TREND_MONTHS = 12
# How far back the countback may walk through monthly sales.
COUNTBACK_MONTHS = 24
# The attribution windows: a payment counts for the last contact before it, at most this many days before.
ATTRIBUTION_DAYS = 30
SHORT_ATTRIBUTION_DAYS = 7
# A reply or an opt-out counts for the last contact at most this many days before it.
REACTION_DAYS = 7
# Aging buckets by days overdue at the snapshot date: (key, label, last day included).
AGING_BUCKETS = [
    ("current", "Current", 0),
    ("1_30", "1-30", 30),
    ("31_60", "31-60", 60),
    ("61_90", "61-90", 90),
    ("91_120", "91-120", 120),
    ("over_120", "Over 120", None),
]
# Channels that report neither delivery nor reading: their rates are left empty, not zero.
UNTRACKED_CHANNELS = ("letter", "call")
CONTACT_STATES = ("sent", "delivered", "read")
RECEIVABLE_TYPES = ("out_invoice", "out_refund")
# What the figures read is computed by the two heavy builders into materialized
# views, refreshed daily and on demand (collections.analytics.mixin.action_refresh_figures):
# receivable_snapshots(TREND_MONTHS + 1) and contact_outcomes().
SNAPSHOT_TABLE = "collections_analytics_snapshot"
CONTACT_OUTCOME_TABLE = "collections_analytics_contact_outcome"


def analytics_today():
    """The date figures are computed as of: today, unless the transaction sets
    ``collections.analytics_today`` (benchmarks and tests pin their date with
    ``set_config('collections.analytics_today', '2026-06-30', true)``)."""
    return SQL("COALESCE(NULLIF(current_setting('collections.analytics_today', true), '')::date, CURRENT_DATE)")


def months(count=TREND_MONTHS, today=None):
    """(month_start, month_end, month_days) of the last ``count`` months, this
    one included; the current month ends today."""
    # An integer series: PostgreSQL estimates its size exactly (a timestamp
    # series is guessed at 1000 rows, and the inflated costs switch JIT on, seconds of compiling).
    return SQL(
        """
        SELECT start AS month_start, LEAST(start + 31 - extract(day FROM start + 31)::int, %(today)s) AS month_end,
               LEAST(start + 31 - extract(day FROM start + 31)::int, %(today)s) - start + 1 AS month_days,
               %(back)s - back AS n
          FROM (SELECT (date_trunc('month', %(today)s) - back * interval '1 month')::date AS start, back
                  FROM generate_series(0, %(back)s) AS back) AS series
        """,
        today=today or analytics_today(),
        back=count - 1,
    )


def month_number(date_sql, count):
    """The month of ``date_sql`` numbered as months(count) numbers them: 0 is
    the first month of the trend, count - 1 the current one."""
    return SQL(
        "(%(last)s - ((extract(year FROM %(today)s) * 12 + extract(month FROM %(today)s))"
        " - (extract(year FROM %(d)s) * 12 + extract(month FROM %(d)s))))::int",
        last=count - 1,
        today=analytics_today(),
        d=date_sql,
    )


def document_policy(move_alias="m", partner_alias="partner", default_alias="dflt"):
    """The policy a document falls under: its own, its customer's (company-dependent), the company default."""
    return SQL(
        "COALESCE(%(m)s.collections_policy_id,"
        " (%(p)s.collections_policy_id ->> %(m)s.company_id::text)::int, %(d)s.id)",
        m=SQL.identifier(move_alias),
        p=SQL.identifier(partner_alias),
        d=SQL.identifier(default_alias),
    )


def aging_bucket(days_sql):
    """The bucket key of a number of days overdue (0 or less: current)."""
    cases = [
        SQL("WHEN %s <= %s THEN %s", days_sql, last, key) for key, _label, last in AGING_BUCKETS if last is not None
    ]
    return SQL("(CASE %s ELSE %s END)", SQL(" ").join(cases), AGING_BUCKETS[-1][0])


def receivable_snapshots(count=TREND_MONTHS):
    """One row per customer document (invoice or credit note) open at a month's
    end, for the last ``count`` months: what it left to pay that day.

    What a document left to pay on day D = its total minus what its receivable
    lines were reconciled with on or before D (partial reconciliations dated by
    their ``max_date``). An invoice is overdue on D when it was due before D
    (sql_rules.overdue); a credit note is never overdue."""
    today = analytics_today()
    return SQL(
        """
        WITH mo AS (%(months)s),
        parts AS (
            SELECT line.move_id, part.max_date, part.amount AS paid
              FROM account_partial_reconcile part
              JOIN account_move_line line ON line.id = part.debit_move_id AND line.display_type = 'payment_term'
            UNION ALL
            SELECT line.move_id, part.max_date, -part.amount
              FROM account_partial_reconcile part
              JOIN account_move_line line ON line.id = part.credit_move_id AND line.display_type = 'payment_term'
        ),
        settlements AS (
            SELECT move_id, array_agg(max_date) AS dates, array_agg(paid) AS amounts, max(max_date) AS last_date,
                   min(max_date) AS first_paid
              FROM parts GROUP BY move_id
        ),
        d AS (
            SELECT m.id AS move_id, m.company_id, m.commercial_partner_id AS partner_id, m.currency_id, m.move_type,
                   COALESCE(m.invoice_date, m.date) AS document_date,
                   COALESCE(m.invoice_date_due, m.invoice_date, m.date) AS due_date,
                   m.amount_total_signed AS amount_total, s.dates, s.amounts, s.first_paid,
                   CASE WHEN m.amount_residual_signed = 0 THEN s.last_date END AS settled_on,
                   %(policy)s AS policy_id, partner.collections_user_id AS user_id
              FROM account_move m
              JOIN res_partner partner ON partner.id = m.commercial_partner_id
              LEFT JOIN settlements s ON s.move_id = m.id
              LEFT JOIN collections_policy dflt
                ON dflt.company_id = m.company_id AND dflt.is_company_default AND dflt.active
             WHERE m.state = 'posted' AND m.move_type IN %(types)s AND m.amount_total_signed <> 0
               AND COALESCE(m.invoice_date, m.date) <= %(today)s
        ),
        span AS (
            -- The months a document may be open at the end of: from its own
            -- month (or the trend's first) to the month it was settled in.
            SELECT d.*, GREATEST(0, %(first_n)s) AS first_n,
                   LEAST(%(last_n)s, COALESCE(%(settled_n)s, %(last_n)s)) AS last_n
              FROM d
        ),
        snap AS (
            SELECT mo.month_start, mo.month_end, d.move_id, d.company_id, d.partner_id, d.currency_id, d.move_type,
                   d.document_date, d.due_date, d.policy_id, d.user_id,
                   d.amount_total - CASE WHEN d.dates IS NULL OR d.first_paid > mo.month_end THEN 0 ELSE (
                       SELECT COALESCE(sum(u.paid), 0) FROM unnest(d.dates, d.amounts) AS u(day, paid)
                        WHERE u.day <= mo.month_end) END AS amount_residual,
                   CASE WHEN d.move_type = 'out_invoice' THEN mo.month_end - d.due_date ELSE 0 END AS days_overdue
              FROM span d
              CROSS JOIN LATERAL generate_series(d.first_n, d.last_n) AS k(n)
              JOIN mo ON mo.n = k.n
             WHERE d.document_date <= mo.month_end AND (d.settled_on IS NULL OR d.settled_on > mo.month_end)
        )
        SELECT snap.*, %(bucket)s AS bucket, %(today)s AS as_of FROM snap WHERE snap.amount_residual <> 0
        """,
        months=months(count),
        policy=document_policy(),
        types=RECEIVABLE_TYPES,
        today=today,
        first_n=month_number(SQL("d.document_date"), count),
        settled_n=month_number(SQL("d.settled_on"), count),
        last_n=count - 1,
        bucket=aging_bucket(SQL("snap.days_overdue")),
    )


def monthly_sales(count, today=None):
    """Credit sales per company and month (invoices less credit notes, by
    invoice date) for the last ``count`` months."""
    return SQL(
        """
        SELECT m.company_id, date_trunc('month', m.invoice_date)::date AS month_start,
               sum(m.amount_total_signed) AS sales
          FROM account_move m
         WHERE m.state = 'posted' AND m.move_type IN %(types)s
           AND m.invoice_date <= %(today)s
           AND m.invoice_date >= date_trunc('month', %(today)s) - %(back)s * interval '1 month'
         GROUP BY 1, 2
        """,
        types=RECEIVABLE_TYPES,
        today=today or analytics_today(),
        back=count - 1,
    )


def snapshot_today():
    """The day the stored snapshots were computed as of (see SNAPSHOT_TABLE)."""
    return SQL("COALESCE((SELECT max(as_of) FROM %s), %s)", SQL.identifier(SNAPSHOT_TABLE), analytics_today())


def monthly_receivables():
    """Per company and month of the trend: receivables at the month's end (all,
    and current: not yet overdue), at the previous month's end, and the month's
    credit sales."""
    return SQL(
        """
        WITH snaps AS (%(snapshots)s),
        balances AS (
            SELECT company_id, month_start, min(month_end) AS month_end,
                   sum(amount_residual) AS receivable,
                   COALESCE(sum(amount_residual) FILTER (WHERE days_overdue <= 0), 0) AS receivable_current
              FROM snaps GROUP BY company_id, month_start
        ),
        companies AS (SELECT DISTINCT company_id FROM balances),
        grid AS (
            SELECT c.company_id, mo.month_start, mo.month_end, mo.month_days
              FROM companies c CROSS JOIN (%(months)s) mo
        ),
        filled AS (
            SELECT g.company_id, g.month_start, g.month_end, g.month_days,
                   COALESCE(b.receivable, 0) AS receivable, COALESCE(b.receivable_current, 0) AS receivable_current,
                   COALESCE(s.sales, 0) AS sales
              FROM grid g
              LEFT JOIN balances b ON b.company_id = g.company_id AND b.month_start = g.month_start
              LEFT JOIN (%(sales)s) s ON s.company_id = g.company_id AND s.month_start = g.month_start
        )
        SELECT f.*, lag(f.receivable) OVER (PARTITION BY f.company_id ORDER BY f.month_start) AS receivable_previous
          FROM filled f
        """,
        snapshots=SQL("SELECT * FROM %s", SQL.identifier(SNAPSHOT_TABLE)),
        months=months(TREND_MONTHS + 1, snapshot_today()),
        sales=monthly_sales(TREND_MONTHS + 1, snapshot_today()),
    )


def countback_days(receivable_sql, sales_sql, cumulative_sql, days_sql):
    """One month's share of a countback DSO: walking back from the month of the
    balance, a month whose sales the balance still covers counts whole
    (``cumulative`` = its sales and those of the later months), the month
    where the balance runs out counts for the share it covers, earlier months
    for nothing."""
    return SQL(
        """(CASE WHEN %(r)s <= 0 THEN 0
                 WHEN %(c)s <= %(r)s THEN %(days)s
                 WHEN %(s)s > 0 AND %(c)s - %(s)s < %(r)s THEN (%(r)s - (%(c)s - %(s)s)) / %(s)s * %(days)s
                 ELSE 0 END)""",
        r=receivable_sql,
        s=sales_sql,
        c=cumulative_sql,
        days=days_sql,
    )


def company_month_id(alias):
    """A stable row id of a figure per company and month (columns company_id, month_start of ``alias``)."""
    return SQL(
        "(%(a)s.company_id * 100000 + extract(year FROM %(a)s.month_start)::int * 12"
        " + extract(month FROM %(a)s.month_start)::int)",
        a=SQL.identifier(alias),
    )


def dso_by_month():
    """DSO by the countback method and best possible DSO (the countback of the
    current receivables only), per company and month of the trend."""
    return SQL(
        """
        WITH bal AS (%(balances)s),
        sales AS (%(sales)s),
        back AS (
            SELECT bal.company_id, bal.month_start, k.start AS back_start,
                   LEAST((k.start + interval '1 month')::date, bal.month_end + 1) - k.start AS back_days,
                   COALESCE(sales.sales, 0) AS back_sales
              FROM bal
              CROSS JOIN generate_series(0, %(back)s) AS k_n(n)
              CROSS JOIN LATERAL (SELECT (bal.month_start - k_n.n * interval '1 month')::date AS start) AS k
              LEFT JOIN sales ON sales.company_id = bal.company_id AND sales.month_start = k.start
        ),
        walk AS (
            SELECT back.*, sum(back.back_sales) OVER (
                       PARTITION BY back.company_id, back.month_start ORDER BY back.back_start DESC) AS cumulative
              FROM back
        )
        SELECT bal.company_id, bal.month_start, bal.month_end, bal.receivable, bal.receivable_current, bal.sales,
               round(sum(%(dso)s)::numeric, 2) AS dso,
               round(sum(%(best)s)::numeric, 2) AS best_dso
          FROM bal JOIN walk ON walk.company_id = bal.company_id AND walk.month_start = bal.month_start
         GROUP BY bal.company_id, bal.month_start, bal.month_end, bal.receivable, bal.receivable_current, bal.sales
        """,
        balances=monthly_receivables(),
        sales=monthly_sales(TREND_MONTHS + COUNTBACK_MONTHS, snapshot_today()),
        back=COUNTBACK_MONTHS - 1,
        dso=countback_days(
            SQL("bal.receivable"), SQL("walk.back_sales"), SQL("walk.cumulative"), SQL("walk.back_days")
        ),
        best=countback_days(
            SQL("bal.receivable_current"), SQL("walk.back_sales"), SQL("walk.cumulative"), SQL("walk.back_days")
        ),
    )


def cei_by_month():
    """Collection effectiveness index per company and month:
    100 × (B + S − E) / (B + S − C), B = receivables at the previous month's
    end, S = the month's credit sales, E = receivables at the month's end,
    C = the current (not overdue) part of E; empty when the denominator is 0."""
    return SQL(
        """
        SELECT bal.company_id, bal.month_start, bal.month_end, bal.receivable_previous, bal.sales,
               bal.receivable, bal.receivable_current,
               bal.receivable_previous + bal.sales - bal.receivable AS collected,
               bal.receivable_previous + bal.sales - bal.receivable_current AS collectible,
               round(100 * (bal.receivable_previous + bal.sales - bal.receivable)
                     / NULLIF(bal.receivable_previous + bal.sales - bal.receivable_current, 0), 2) AS cei
          FROM (%(balances)s) bal
         WHERE bal.receivable_previous IS NOT NULL
        """,
        balances=monthly_receivables(),
    )


# --- contacts and what followed them ---------------------------------------------
def outbound_contact(alias="msg"):
    """A contact: an outbound message that went out (sent, delivered or read)."""
    return SQL(
        "(%(a)s.direction = 'outbound' AND %(a)s.state IN %(states)s AND %(a)s.sent_at IS NOT NULL)",
        a=SQL.identifier(alias),
        states=CONTACT_STATES,
    )


def customer_payments():
    """A customer's payment: a posted credit on a receivable account from an
    entry that is neither an invoice nor a credit note (a payment, a bank
    statement line), by its accounting date, in company currency."""
    return SQL(
        """
        SELECT line.id AS line_id, line.move_id, line.company_id,
               COALESCE(rp.commercial_partner_id, line.partner_id) AS partner_id,
               line.date, line.credit AS amount
          FROM account_move_line line
          JOIN account_account account ON account.id = line.account_id AND account.account_type = 'asset_receivable'
          JOIN account_move m ON m.id = line.move_id AND m.move_type = 'entry'
          JOIN res_partner rp ON rp.id = line.partner_id
         WHERE line.parent_state = 'posted' AND line.credit > 0
        """
    )


def last_contact_before(partner_sql, company_sql, moment_sql, days, channel_sql=None):
    """LATERAL subquery: the last contact of a customer by a company at or before
    ``moment`` (a timestamp; a date means the end of that day) and at most
    ``days`` before it, on ``channel`` when given; columns message_id, sent_at."""
    return SQL(
        """LATERAL (
            SELECT msg.id AS message_id, msg.sent_at FROM collections_message msg
             WHERE msg.partner_id = %(partner)s AND msg.company_id = %(company)s AND %(contact)s
               AND msg.sent_at <= %(moment)s AND msg.sent_at > %(moment)s - %(days)s * interval '1 day'
               %(channel)s
             ORDER BY msg.sent_at DESC, msg.id DESC LIMIT 1) last""",
        partner=partner_sql,
        company=company_sql,
        contact=outbound_contact("msg"),
        moment=moment_sql,
        days=days,
        channel=SQL("AND msg.channel = %s", channel_sql) if channel_sql is not None else SQL(),
    )


def attributed_payments():
    """Every customer payment attributed once: to the last contact of that
    customer (by the same company) sent on or before the payment's day and at
    most ATTRIBUTION_DAYS days before it; columns of customer_payments() plus
    message_id and days_after (payment day − contact day)."""
    return SQL(
        """
        SELECT pay.*, last.message_id, pay.date - last.sent_at::date AS days_after
          FROM (%(payments)s) pay
          CROSS JOIN %(last)s
        """,
        payments=customer_payments(),
        last=last_contact_before(
            SQL("pay.partner_id"),
            SQL("pay.company_id"),
            SQL("(pay.date + 1)::timestamp - interval '1 microsecond'"),
            ATTRIBUTION_DAYS,
        ),
    )


def _attributed_reactions(table, alias, id_column, where, moment_sql, channel_sql):
    """Every row of ``table`` (as ``alias``) that ``where`` keeps, attributed once: to the
    customer's last contact on ``channel`` at most REACTION_DAYS days before ``moment``;
    columns ``id_column`` and message_id."""
    return SQL(
        """
        SELECT %(alias)s.id AS %(id_column)s, last.message_id
          FROM %(table)s %(alias)s
          CROSS JOIN %(last)s
         WHERE %(where)s
        """,
        alias=SQL.identifier(alias),
        id_column=SQL.identifier(id_column),
        table=SQL.identifier(table),
        where=where,
        last=last_contact_before(
            SQL("%s.partner_id", SQL.identifier(alias)),
            SQL("%s.company_id", SQL.identifier(alias)),
            moment_sql,
            REACTION_DAYS,
            channel_sql,
        ),
    )


def attributed_replies():
    """Every inbound message attributed once: to the last contact on its channel
    at most REACTION_DAYS days before it."""
    return _attributed_reactions(
        "collections_message",
        "reply",
        "reply_id",
        SQL("reply.direction = 'inbound'"),
        SQL("reply.create_date"),
        SQL("reply.channel"),
    )


def attributed_opt_outs():
    """Every opt-out attributed once: to the last contact (on the opted-out
    channel, or any channel for an opt-out of all) at most REACTION_DAYS days before it."""
    return _attributed_reactions(
        "collections_consent",
        "consent",
        "consent_id",
        SQL("consent.status = 'opt_out'"),
        SQL("consent.date"),
        SQL("COALESCE(consent.channel, msg.channel)"),
    )


def contact_outcomes():
    """What followed each contact (the attributed_* builders), one row per contact that had an outcome."""
    return SQL(
        """
        SELECT message_id,
               count(*) FILTER (WHERE kind = 'payment' AND days_after <= %(short)s) AS paid_7_count,
               COALESCE(sum(amount) FILTER (WHERE kind = 'payment' AND days_after <= %(short)s), 0) AS paid_7_amount,
               count(*) FILTER (WHERE kind = 'payment') AS paid_30_count,
               COALESCE(sum(amount) FILTER (WHERE kind = 'payment'), 0) AS paid_30_amount,
               count(*) FILTER (WHERE kind = 'reply') AS reply_count,
               count(*) FILTER (WHERE kind = 'opt_out') AS opt_out_count
          FROM (SELECT message_id, 'payment' AS kind, days_after, amount FROM (%(payments)s) p
                UNION ALL
                SELECT message_id, 'reply', NULL, NULL FROM (%(replies)s) r
                UNION ALL
                SELECT message_id, 'opt_out', NULL, NULL FROM (%(opt_outs)s) o) outcomes
         GROUP BY message_id
        """,
        short=SHORT_ATTRIBUTION_DAYS,
        payments=attributed_payments(),
        replies=attributed_replies(),
        opt_outs=attributed_opt_outs(),
    )


def contact_effectiveness():
    """One row per contact with what followed it (CONTACT_OUTCOME_TABLE)."""
    return SQL(
        """
        SELECT msg.id, msg.id AS message_id, msg.company_id, msg.partner_id, msg.currency_id, msg.channel,
               msg.policy_id, msg.stage_id, action.mail_template_id AS template_id,
               partner.collections_user_id AS user_id, msg.sent_at::date AS contact_date,
               1 AS contact_count,
               CASE WHEN msg.channel IN %(untracked)s THEN NULL
                    WHEN msg.state IN ('delivered', 'read') OR msg.delivered_at IS NOT NULL
                      OR msg.read_at IS NOT NULL THEN 100.0 ELSE 0.0 END AS delivery_rate,
               CASE WHEN msg.channel IN %(untracked)s THEN NULL
                    WHEN msg.state = 'read' OR msg.read_at IS NOT NULL THEN 100.0 ELSE 0.0 END AS read_rate,
               CASE WHEN outcome.reply_count > 0 THEN 100.0 ELSE 0.0 END AS reply_rate,
               COALESCE(outcome.paid_7_count, 0) AS paid_7_count, COALESCE(outcome.paid_7_amount, 0) AS paid_7_amount,
               COALESCE(outcome.paid_30_count, 0) AS paid_30_count,
               COALESCE(outcome.paid_30_amount, 0) AS paid_30_amount,
               COALESCE(outcome.opt_out_count, 0) AS opt_out_count
          FROM collections_message msg
          JOIN res_partner partner ON partner.id = msg.partner_id
          LEFT JOIN collections_stage_action action ON action.id = msg.action_id
          LEFT JOIN %(outcomes)s outcome ON outcome.message_id = msg.id
         WHERE %(contact)s
        """,
        untracked=UNTRACKED_CHANNELS,
        outcomes=SQL.identifier(CONTACT_OUTCOME_TABLE),
        contact=outbound_contact("msg"),
    )
