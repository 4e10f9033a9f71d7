"""The facts of the risk score and the predicted payment dates, as
``odoo.tools.SQL`` builders over every customer of a company at once (never
a query per customer). ``on_date`` may lie in the past: an invoice counts as
paid from the day its last reconciliation reached its total, so a benchmark
can score as of a past day and check against what happened after it.

Amounts are in company currency (amount_total_signed and the partials' amounts).
"""

from odoo.tools import SQL

from . import risk_score

# Invoices paid this many days ago weigh half as much in the predicted delay (habits drift slowly).
DELAY_HALF_LIFE_DAYS = 240
# A customer with few paid invoices leans on everyone's delay: as much weight as this many invoices.
DELAY_PRIOR_WEIGHT = 0.25
# A predicted day never earlier than this many days after on_date: what is still open is not paid
# in the past, and an invoice already past the day its customer's habit gave is, as a rule, paid
# later than tomorrow (tuned on the generator's seed 1, judged on seed 2: README, Benchmarks).
MIN_DAYS_AHEAD = 7
# The payment habits read: invoices due in the last two years.
DELAY_HISTORY_DAYS = 730


def _date(value):
    return value if isinstance(value, SQL) else SQL("%s::date", value)


def invoice_history(company_id, on_date, since_days=risk_score.HISTORY_DAYS):
    """One row per posted customer invoice of the company issued by ``on_date``
    and due in the ``since_days`` before it or later: move_id, partner_id (the
    commercial partner), due, total, paid (reconciled by on_date), paid_date
    (when it was paid in full by on_date, else NULL), delay (paid_date - due,
    signed) and days_late (paid: max(delay, 0); open and due: days overdue so
    far; not due: NULL)."""
    on_date = _date(on_date)
    return SQL(
        """
        SELECT inv.*, inv.paid_date - inv.due AS delay,
               CASE WHEN inv.paid_date IS NOT NULL THEN GREATEST(inv.paid_date - inv.due, 0)
                    WHEN inv.due < %(on)s THEN %(on)s - inv.due END AS days_late
          FROM (
            SELECT m.id AS move_id, m.commercial_partner_id AS partner_id, m.invoice_date_due AS due,
                   m.amount_total_signed AS total, COALESCE(paid.amount, 0) AS paid,
                   CASE WHEN COALESCE(paid.amount, 0) >= m.amount_total_signed - 0.005 THEN paid.last_date END
                       AS paid_date
              FROM account_move m
              LEFT JOIN LATERAL (
                    SELECT sum(apr.amount) AS amount, max(apr.max_date) AS last_date
                      FROM account_move_line line
                      JOIN account_partial_reconcile apr ON apr.debit_move_id = line.id
                     WHERE line.move_id = m.id AND line.display_type = 'payment_term' AND apr.max_date <= %(on)s
              ) paid ON TRUE
             WHERE m.company_id = %(company)s AND m.state = 'posted' AND m.move_type = 'out_invoice'
               AND m.invoice_date <= %(on)s AND m.invoice_date_due >= %(on)s - %(since)s
          ) inv
        """,
        on=on_date,
        company=company_id,
        since=since_days,
    )


def lateness_facts(company_id, on_date):
    """Per customer: due_count, days_late_sum, late_count, recent_count,
    recent_days_late_sum (each invoice at most risk_score.DAYS_LATE_CAP days)
    and open_amount (risk_score.Facts), one query."""
    return SQL(
        """
        SELECT h.partner_id,
               count(h.days_late) AS due_count,
               COALESCE(sum(h.capped), 0) AS days_late_sum,
               count(*) FILTER (WHERE h.days_late > %(grace)s) AS late_count,
               count(h.days_late) FILTER (WHERE h.due >= %(on)s - %(recent)s) AS recent_count,
               COALESCE(sum(h.capped) FILTER (WHERE h.due >= %(on)s - %(recent)s), 0) AS recent_days_late_sum,
               COALESCE(sum(h.total - h.paid) FILTER (WHERE h.paid_date IS NULL), 0) AS open_amount
          FROM (
            -- Not LEAST(): it ignores NULL, and an invoice not due yet (NULL) would count as the cap.
            SELECT hist.*, CASE WHEN hist.days_late > %(cap)s THEN %(cap)s ELSE hist.days_late END AS capped
              FROM (%(history)s) hist
          ) h
      GROUP BY h.partner_id
        """,
        grace=risk_score.LATE_AFTER_DAYS,
        cap=risk_score.DAYS_LATE_CAP,
        on=_date(on_date),
        recent=risk_score.RECENT_DAYS,
        history=invoice_history(company_id, on_date),
    )


def broken_facts(company_id, on_date):
    """Per customer: promises to pay and payment plans broken in the last year, one query."""
    on_date = _date(on_date)
    return SQL(
        """
        SELECT partner_id, count(*) AS broken FROM (
            SELECT pr.partner_id FROM collections_promise pr
             WHERE pr.company_id = %(company)s AND pr.state = 'broken'
               AND pr.promised_date BETWEEN %(on)s - %(since)s AND %(on)s
            UNION ALL
            SELECT plan.partner_id FROM collections_payment_plan plan
             WHERE plan.company_id = %(company)s AND plan.state = 'broken'
               AND COALESCE(plan.end_date, plan.start_date) BETWEEN %(on)s - %(since)s AND %(on)s
        ) broken GROUP BY partner_id
        """,
        company=company_id,
        on=on_date,
        since=risk_score.HISTORY_DAYS,
    )


def credit_limits(company_id):
    """Per customer with one: its credit limit in the company (company-dependent), one query."""
    return SQL(
        """
        SELECT p.id AS partner_id, (p.credit_limit ->> %(company)s)::numeric AS credit_limit
          FROM res_partner p
         WHERE p.id = p.commercial_partner_id AND (p.credit_limit ->> %(company)s)::numeric > 0
        """,
        company=str(company_id),
    )


def partner_delays(company_id, on_date):
    """Per customer with invoices in the last DELAY_HISTORY_DAYS, two ways of
    saying how many days after the due date it pays, one query:

    - predicted_delay: its paid invoices' delays, each weighing half as much
      every DELAY_HALF_LIFE_DAYS since it was paid, with everyone's average
      delay counted as DELAY_PRIOR_WEIGHT more invoices (customers with little
      history lean on everyone);
    - average_delay: the plain average of its delays (the naive baseline;
      everyone's for a customer without a paid invoice).
    """
    on_date = _date(on_date)
    return SQL(
        """
        WITH history AS (%(history)s),
        paid AS (
            SELECT partner_id, delay, power(0.5, (%(on)s - paid_date)::float / %(half_life)s) AS weight
              FROM history WHERE paid_date IS NOT NULL
        ),
        everyone AS (SELECT COALESCE(avg(delay), 0)::float AS delay FROM paid),
        habit AS (
            SELECT partner_id, avg(delay)::float AS average,
                   sum(weight * delay) AS weighted_sum, sum(weight) AS weight_sum
              FROM paid GROUP BY partner_id
        )
        SELECT customers.partner_id,
               (COALESCE(habit.weighted_sum, 0) + %(prior)s * everyone.delay)
                   / (COALESCE(habit.weight_sum, 0) + %(prior)s) AS predicted_delay,
               COALESCE(habit.average, everyone.delay) AS average_delay
          FROM (SELECT DISTINCT partner_id FROM history) customers
          CROSS JOIN everyone
          LEFT JOIN habit ON habit.partner_id = customers.partner_id
        """,
        history=invoice_history(company_id, on_date, since_days=DELAY_HISTORY_DAYS),
        on=on_date,
        half_life=DELAY_HALF_LIFE_DAYS,
        prior=DELAY_PRIOR_WEIGHT,
    )


def predicted_payment_dates(company_id, on_date, move_filter=None):
    """The predicted payment day of each open invoice of the company (or of
    those ``move_filter`` keeps, an SQL condition on ``m``), from the newest
    risk score of its customer on or before ``on_date`` (its stored delays):

    - predicted: the due date plus the customer's weighted delay, and never
      before the day after on_date (what is still open is not paid in the past);
    - naive: the due date plus the customer's average delay.

    Rows: move_id, partner_id, due, predicted, naive (NULL without a score).
    """
    on_date = _date(on_date)
    return SQL(
        """
        SELECT m.id AS move_id, m.commercial_partner_id AS partner_id, m.invoice_date_due AS due,
               GREATEST(m.invoice_date_due + round(s.delay_predicted)::int, %(on)s + %(ahead)s) AS predicted,
               m.invoice_date_due + round(s.delay_average)::int AS naive
          FROM account_move m
          LEFT JOIN LATERAL (
                SELECT delay_predicted, delay_average FROM collections_risk_score s
                 WHERE s.partner_id = m.commercial_partner_id AND s.company_id = m.company_id AND s.date <= %(on)s
              ORDER BY s.date DESC, s.id DESC LIMIT 1) s ON TRUE
         WHERE m.company_id = %(company)s AND m.move_type = 'out_invoice' AND m.state = 'posted'
           AND %(filter)s
        """,
        company=company_id,
        on=on_date,
        ahead=MIN_DAYS_AHEAD,
        filter=move_filter or SQL("TRUE"),
    )
