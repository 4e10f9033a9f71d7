"""The risk score's and the predicted payment date's quality on held-out
behaviour, for ``scripts/bench analytics`` (bench.py merges what
:func:`evaluate` returns into its JSON line).

The generator (generate_history.py) gives each customer a hidden payment
habit and pays every invoice by it. Here the scores are computed as of a
cutoff day CUTOFF_DAYS before the bench date, from what was known then (an
invoice counts as paid from its reconciliation's date), and judged on what
happened after it:

- risk_auc: among customers with an invoice falling due in the WINDOW_DAYS
  after the cutoff, how often one that paid such an invoice late (more than
  OUTCOME_LATE_DAYS after its due date, or not yet) scores above one that did
  not (ties count half): the area under the ROC curve. The outcome's threshold
  is fixed here, apart from the score's own (risk_score.LATE_AFTER_DAYS), so
  tuning the score never moves the target;
- payment_date_mae_days / payment_date_median_ae_days: the predicted payment
  day of every invoice open at the cutoff and paid by the bench date against
  the day it was paid, next to the naive baseline (due date plus the
  customer's average delay): naive_payment_date_mae_days, ..._median_ae_days.

Everything written (the cutoff's scores) is rolled back by bench.py.
"""

import statistics
import sys
import time

CUTOFF_DAYS = 60
WINDOW_DAYS = 30
OUTCOME_LATE_DAYS = 5


def _auc(positives, negatives):
    """Mann-Whitney: P(score of a positive > score of a negative), ties half."""
    if not positives or not negatives:
        return None
    ranked = sorted([(score, 1) for score in positives] + [(score, 0) for score in negatives])
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        average_rank = (index + 1 + end) / 2  # ranks index+1 .. end share their average
        rank_sum += average_rank * sum(label for _score, label in ranked[index:end])
        index = end
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def evaluate(env, customers, invoices):
    from odoo.tools import SQL  # noqa: PLC0415 -- Odoo is configured by bench.py first

    from odoo.addons.collections_omni.tools import risk_sql  # noqa: PLC0415

    cr = env.cr
    cr.execute("SELECT COALESCE(NULLIF(current_setting('collections.analytics_today', true), '')::date, CURRENT_DATE)")
    today = cr.fetchone()[0]
    cr.execute(
        """SELECT company_id FROM account_move WHERE move_type = 'out_invoice'
            GROUP BY company_id ORDER BY count(*) DESC LIMIT 1"""
    )
    company = env["res.company"].browse(cr.fetchone()[0])
    cutoff = today.fromordinal(today.toordinal() - CUTOFF_DAYS)
    Score = env["collections.risk.score"].with_company(company)

    started = time.perf_counter()
    results = Score._compute_scores(company, cutoff)
    score_seconds = time.perf_counter() - started

    # What happened after the cutoff: invoices due in the window, late or not, as of the bench date.
    cr.execute(
        SQL(
            """SELECT h.partner_id, bool_or(h.days_late > %(grace)s)
                 FROM (%(history)s) h
                WHERE h.due > %(cutoff)s AND h.due <= %(cutoff)s::date + %(window)s
             GROUP BY h.partner_id""",
            grace=OUTCOME_LATE_DAYS,
            history=risk_sql.invoice_history(company.id, today),
            cutoff=cutoff,
            window=WINDOW_DAYS,
        )
    )
    outcome = dict(cr.fetchall())
    positives = [results[p][0] if p in results else 0 for p, late in outcome.items() if late]
    negatives = [results[p][0] if p in results else 0 for p, late in outcome.items() if not late]
    auc = _auc(positives, negatives)

    # Predicted payment days of the invoices open at the cutoff, against the day they were paid.
    started = time.perf_counter()
    cr.execute(
        SQL(
            """WITH predicted AS (%(predicted)s),
                    at_cutoff AS (%(at_cutoff)s),
                    at_today AS (%(at_today)s)
               SELECT p.predicted - at_today.paid_date, p.naive - at_today.paid_date
                 FROM predicted p
                 JOIN at_cutoff ON at_cutoff.move_id = p.move_id AND at_cutoff.paid_date IS NULL
                 JOIN at_today ON at_today.move_id = p.move_id AND at_today.paid_date IS NOT NULL
                WHERE p.predicted IS NOT NULL""",
            predicted=risk_sql.predicted_payment_dates(company.id, cutoff),
            at_cutoff=risk_sql.invoice_history(company.id, cutoff, since_days=100000),
            at_today=risk_sql.invoice_history(company.id, today, since_days=100000),
        )
    )
    errors = cr.fetchall()
    predict_seconds = time.perf_counter() - started
    model_errors = [abs(model) for model, _naive in errors]
    naive_errors = [abs(naive) for _model, naive in errors]
    bands = {}
    for _score, band, _factors in results.values():
        bands[band] = bands.get(band, 0) + 1
    figures = {
        "risk_auc": round(auc, 4) if auc is not None else None,
        "risk_customers_scored": len(results),
        "risk_bands": bands,
        "risk_held_out": {
            "cutoff": cutoff.isoformat(),
            "window_days": WINDOW_DAYS,
            "late_after_days": OUTCOME_LATE_DAYS,
            "late_customers": len(positives),
            "on_time_customers": len(negatives),
        },
        "risk_score_seconds": round(score_seconds, 3),
        "payment_date_invoices": len(errors),
        "payment_date_mae_days": round(statistics.fmean(model_errors), 2) if errors else None,
        "naive_payment_date_mae_days": round(statistics.fmean(naive_errors), 2) if errors else None,
        "payment_date_median_ae_days": statistics.median(model_errors) if errors else None,
        "naive_payment_date_median_ae_days": statistics.median(naive_errors) if errors else None,
        "payment_date_seconds": round(predict_seconds, 3),
    }
    print(f"bench_risk: {figures}", file=sys.stderr)
    return figures
