import json

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools import SQL, formatLang

from ..tools import risk_score, risk_sql


class CollectionsRiskScore(models.Model):
    """A customer's risk score in a company on a date, with its factors: each
    as (factor, value, points, reason code), the codes rendered in the
    reader's language. Computed set-based for every customer by the daily
    cron (:meth:`_compute_scores`); one row per customer, company and date."""

    _name = "collections.risk.score"
    _description = "Collections Risk Score"
    _order = "date desc, id desc"
    _rec_name = "partner_id"
    _check_company_auto = True

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    date = fields.Date(required=True, index=True)
    score = fields.Integer(required=True, aggregator="avg", help="0 (no risk) to 100.")
    band = fields.Selection(risk_score.BAND_LABELS, required=True, index=True)
    factors = fields.Json(help="[(factor, value, points, reason code)], as tools/risk_score.py computed them.")
    explanation = fields.Html(compute="_compute_explanation", sanitize=False)
    delay_predicted = fields.Float(
        string="Predicted Delay (days)", help="Days after the due date the customer is expected to pay (recent first)."
    )
    delay_average = fields.Float(string="Average Delay (days)", help="The plain average of the customer's delays.")
    # Technical: the labels of the stored codes, translated like any selection.
    factor_code = fields.Selection(risk_score.FACTORS, compute="_compute_codes")
    reason_code = fields.Selection(risk_score.REASONS, compute="_compute_codes")

    _sql_constraints = [
        ("partner_company_date_uniq", "unique(partner_id, company_id, date)", "One risk score per customer and day."),
    ]

    def _compute_codes(self):
        self.factor_code = False
        self.reason_code = False

    @api.depends("factors")
    def _compute_explanation(self):
        factor_labels = dict(self._fields["factor_code"]._description_selection(self.env))
        reason_labels = dict(self._fields["reason_code"]._description_selection(self.env))
        units = {"days_late": _("days"), "late_share": "%", "exposure": "%", "trend": _("days"), "broken": ""}
        for record in self:
            rows = Markup("").join(
                Markup(
                    "<tr><td>%s</td><td class='text-end'>%s %s</td><td class='text-end'>%s / %s</td><td>%s</td></tr>"
                )
                % (
                    factor_labels.get(factor, factor),
                    # In the reader's number format (30,0 días for a Spanish reader).
                    formatLang(self.env, value, digits=1) if isinstance(value, float) else value,
                    units.get(factor, ""),
                    formatLang(self.env, points, digits=1),
                    risk_score.WEIGHTS.get(factor, ""),
                    reason_labels.get(reason, reason),
                )
                for factor, value, points, reason in record.factors or []
            )
            record.explanation = Markup(
                "<table class='table table-sm o_collections_risk'><thead><tr><th>%s</th><th class='text-end'>%s</th>"
                "<th class='text-end'>%s</th><th>%s</th></tr></thead><tbody>%s</tbody></table>"
            ) % (_("Factor"), _("Value"), _("Points"), _("Why"), rows)

    # === COMPUTATION === #

    @api.model
    def _facts_by_partner(self, company, on_date):
        """risk_score.Facts per customer of the company, three set-based queries."""
        cr = self.env.cr
        self.env.flush_all()
        facts = {}
        cr.execute(risk_sql.lateness_facts(company.id, on_date))
        for partner_id, due, late_sum, late, recent, recent_sum, open_amount in cr.fetchall():
            facts[partner_id] = {
                "due_count": due,
                "days_late_sum": float(late_sum),
                "late_count": late,
                "recent_count": recent,
                "recent_days_late_sum": float(recent_sum),
                "open_amount": float(open_amount),
            }
        cr.execute(risk_sql.broken_facts(company.id, on_date))
        for partner_id, broken in cr.fetchall():
            facts.setdefault(partner_id, {})["broken"] = broken
        cr.execute(risk_sql.credit_limits(company.id))
        for partner_id, limit in cr.fetchall():
            if partner_id in facts:
                facts[partner_id]["credit_limit"] = float(limit)
        return {partner_id: risk_score.Facts(**values) for partner_id, values in facts.items()}

    @api.model
    def _compute_scores(self, company, on_date=None):
        """Score every customer of the company with invoices in the last year
        (or a broken promise or plan) on ``on_date``: facts by SQL, scores in
        Python, written in one statement (a second run of the day replaces
        the day's rows). Returns {partner_id: (score, band, factors)}."""
        on_date = on_date or fields.Date.context_today(self)
        results = {
            partner_id: risk_score.score(facts)
            for partner_id, facts in self._facts_by_partner(company, on_date).items()
        }
        self.env.cr.execute(risk_sql.partner_delays(company.id, on_date))
        delays = {partner_id: (predicted, average) for partner_id, predicted, average in self.env.cr.fetchall()}
        if results:
            partner_ids = list(results)
            self.env.cr.execute(
                SQL(
                    """
                INSERT INTO collections_risk_score AS s
                       (partner_id, company_id, date, score, band, factors, delay_predicted, delay_average,
                        create_uid, write_uid, create_date, write_date)
                SELECT unnest(%(partners)s::int[]), %(company)s, %(date)s, unnest(%(scores)s::int[]),
                       unnest(%(bands)s::varchar[]), unnest(%(factors)s::jsonb[]),
                       unnest(%(predicted)s::float[]), unnest(%(average)s::float[]),
                       %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
                ON CONFLICT (partner_id, company_id, date) DO UPDATE
                   SET score = EXCLUDED.score, band = EXCLUDED.band, factors = EXCLUDED.factors,
                       delay_predicted = EXCLUDED.delay_predicted, delay_average = EXCLUDED.delay_average,
                       write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
                    """,
                    partners=partner_ids,
                    company=company.id,
                    date=on_date,
                    scores=[results[p][0] for p in partner_ids],
                    bands=[results[p][1] for p in partner_ids],
                    factors=[json.dumps(results[p][2]) for p in partner_ids],
                    predicted=[delays.get(p, (None, None))[0] for p in partner_ids],
                    average=[delays.get(p, (None, None))[1] for p in partner_ids],
                    uid=self.env.uid,
                )
            )
            self.invalidate_model()
        return results

    @api.model
    def _cron_compute(self, on_date=None):
        """Daily: every company's scores, then the moves that a manager-approved rule applies by itself."""
        # The scheduled action runs as the superuser (every company); a user, in theirs.
        companies = self.env["res.company"].search([]) if self.env.su else self.env.user.company_ids
        for company in companies:
            self.with_company(company)._compute_scores(company, on_date)
            self.env["collections.risk.decision"].with_company(company)._apply_approved_rules(company)

    @api.model
    def _latest(self, partners, company):
        """The newest score of each customer in the company: {partner_id: score}."""
        if not partners:
            return {}
        self.env.cr.execute(
            """SELECT DISTINCT ON (partner_id) partner_id, id FROM collections_risk_score
                WHERE partner_id = ANY(%s) AND company_id = %s ORDER BY partner_id, date DESC, id DESC""",
            [partners.ids, company.id],
        )
        rows = dict(self.env.cr.fetchall())
        return {partner_id: self.browse(score_id) for partner_id, score_id in rows.items()}
