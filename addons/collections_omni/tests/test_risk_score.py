"""The risk score: its properties (hypothesis, on tools/risk_score.py), its
SQL facts against the Python twin on a ledger, the stored scores and their
explanation in the reader's language, and the confirmation step that a
collector cannot skip (users with exactly their role's groups)."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import BaseCase, tagged
from odoo.tools import SQL

from ..tools import risk_score, risk_sql
from ..tools.risk_score import Facts, Invoice
from .common import COLLECTOR_GROUPS, MANAGER_GROUPS, TODAY, CollectionsCommon

paid = st.builds(lambda age, delay: Invoice(age, min(delay, age)), st.integers(-30, 400), st.integers(-10, 120)).filter(
    lambda inv: inv.delay is None or inv.delay <= max(inv.due_age, 0) or inv.due_age < 0
)
open_ = st.builds(lambda age: Invoice(age, None), st.integers(-30, 400))
histories = st.lists(st.one_of(paid, open_), max_size=12)
on_time = st.lists(
    st.builds(lambda age, delay: Invoice(age, delay), st.integers(0, 400), st.integers(-10, 0)), max_size=6
)
extras = st.fixed_dictionaries({"broken": st.integers(0, 5), "credit_limit": st.one_of(st.none(), st.floats(50, 5000))})


def _score(invoices, **extra):
    return risk_score.score(risk_score.facts_from_history(invoices, **extra))[0]


@tagged("at_install", "-post_install")
class TestRiskScoreProperties(BaseCase):
    @settings(max_examples=300, deadline=None)
    @given(histories, extras, st.data())
    def test_more_lateness_never_lowers_the_risk(self, invoices, extra, data):
        if not invoices:
            return
        index = data.draw(st.integers(0, len(invoices) - 1))
        invoice = invoices[index]
        more = data.draw(st.integers(1, 90))
        # Due dates and the scoring day stay put: an open invoice cannot be later than it is.
        if invoice.delay is None:
            return
        if invoice.delay + more <= invoice.due_age:
            later = Invoice(invoice.due_age, invoice.delay + more, invoice.amount)  # paid later
        else:
            later = Invoice(invoice.due_age, None, invoice.amount)  # not paid at all yet
        worse = [*invoices[:index], later, *invoices[index + 1 :]]
        self.assertGreaterEqual(_score(worse, **extra), _score(invoices, **extra))

    @settings(max_examples=300, deadline=None)
    @given(histories, on_time, extras)
    def test_invoices_paid_on_time_never_raise_the_risk(self, invoices, paid_on_time, extra):
        self.assertLessEqual(_score(invoices + paid_on_time, **extra), _score(invoices, **extra))

    @settings(max_examples=100, deadline=None)
    @given(on_time)
    def test_an_all_on_time_history_scores_nothing_for_lateness(self, paid_on_time):
        total, band, rows = risk_score.score(risk_score.facts_from_history(paid_on_time))
        self.assertEqual((total, band), (0, "low"))
        self.assertTrue(all(points == 0 for _factor, _value, points, _reason in rows))

    def test_weights_sum_to_100_and_each_factor_is_explained(self):
        self.assertEqual(sum(risk_score.WEIGHTS.values()), 100)
        worst = Facts(10, 1000, 10, 5, 500, broken=5, open_amount=5000, credit_limit=1000)
        total, band, rows = risk_score.score(worst)
        self.assertEqual((total, band), (100, "critical"))
        self.assertEqual([row[0] for row in rows], [code for code, _label in risk_score.FACTORS])
        reasons = dict(risk_score.REASONS)
        self.assertTrue(all(row[3] in reasons for row in rows))

    def test_one_invoice_counts_at_most_the_cap_in_the_averages(self):
        """An invoice left open for months weighs like one 30 days late in the
        averages (it still counts as late in the share)."""
        forgotten = risk_score.facts_from_history([Invoice(200, None), Invoice(100, 0)])
        month_late = risk_score.facts_from_history([Invoice(200, 30), Invoice(100, 0)])
        self.assertEqual(forgotten.days_late_sum, risk_score.DAYS_LATE_CAP)
        self.assertEqual(risk_score.factors(forgotten)[:2], risk_score.factors(month_late)[:2])
        self.assertEqual(risk_score.factors(forgotten)[1][1], 50.0)  # half the invoices late

    def test_a_known_customer(self):
        """Three invoices due 100, 60 and 20 days ago: paid 40 days late, paid
        2 days early, open (20 days so far); no broken promise, no credit limit."""
        facts = risk_score.facts_from_history([Invoice(100, 40), Invoice(60, -2), Invoice(20, None)])
        # The 40 days late count as 30 (DAYS_LATE_CAP) in the sum; late (more than 3 days): 2.
        self.assertEqual(facts, Facts(3, 50, 2, 2, 20, 0, 100.0, None))
        total, band, rows = risk_score.score(facts)
        # days late: 20 * (50/3)/30 = 11.11; late share: 40 * 2/3 = 26.67; trend: 10 * 10/30 = 3.33
        self.assertEqual([row[2] for row in rows], [11.11, 26.67, 0.0, 0.0, 3.33])
        self.assertEqual((total, band), (41, "medium"))
        self.assertEqual(rows[4][3], "improving")  # the last 90 days: 10 days late on average, the year: 16.7


@tagged("at_install", "-post_install")
class TestRiskScore(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = cls._staff_user("risk_collector", COLLECTOR_GROUPS)
        cls.manager = cls._staff_user("risk_manager", MANAGER_GROUPS)
        cls.Score = cls.env["collections.risk.score"]
        cls.high_policy = cls._policy("High risk", [("Early call", 1, "call")], risk_band="high", sequence=1)

    def _paid_invoice(self, partner, due_age, delay, amount=100):
        """An invoice due ``due_age`` days before TODAY, paid ``delay`` days after its due date (None: open)."""
        invoice = self._invoice(partner, amount, due_age)
        if delay is not None:
            wizard = (
                self.env["account.payment.register"]
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create({"payment_date": invoice.invoice_date_due + timedelta(days=delay)})
            )
            wizard._create_payments()
        return invoice

    def _late_payer(self, name="Late payer"):
        partner = self._customer(name, lang="es_ES")
        for due_age in (200, 150, 100, 70, 40):
            self._paid_invoice(partner, due_age, 35)
        self._paid_invoice(partner, 80, None)
        return partner

    def test_sql_facts_equal_the_python_twin(self):
        history = [(300, 12), (200, -3), (120, 0), (80, 30), (45, None), (10, 8), (-5, None)]
        partner = self._customer("Ledger")
        for due_age, delay in history:
            self._paid_invoice(partner, due_age, delay)
        facts = self.Score._facts_by_partner(self.company, TODAY)[partner.id]
        twin = risk_score.facts_from_history([Invoice(age, delay) for age, delay in history])
        self.assertEqual(facts, twin)

    def test_scores_are_stored_once_a_day_with_their_factors(self):
        partner = self._late_payer()
        on_time = self._customer("On time")
        for due_age in (100, 50):
            self._paid_invoice(on_time, due_age, -1)
        self.Score._compute_scores(self.company, TODAY)
        self.Score._compute_scores(self.company, TODAY)  # the day's rows are replaced, not doubled
        scores = self.Score.search([("partner_id", "in", (partner | on_time).ids)])
        self.assertEqual(len(scores), 2)
        late = scores.filtered(lambda s: s.partner_id == partner)
        self.assertEqual(late.band, "high")
        self.assertGreater(late.score, scores.filtered(lambda s: s.partner_id == on_time).score)
        self.assertEqual([factor[0] for factor in late.factors], list(risk_score.WEIGHTS))

    def test_explanation_in_the_readers_language(self):
        self.env["ir.module.module"]._load_module_terms(["collections_omni"], ["es_ES"], overwrite=True)
        partner = self._late_payer()
        self.Score._compute_scores(self.company, TODAY)
        as_collector = partner.with_user(self.collector)
        self.assertIn("Average days late", as_collector.collections_risk_explanation)
        spanish = as_collector.with_context(lang="es_ES")
        self.env.invalidate_all()  # a new request: nothing computed in English is kept
        self.assertIn("Media de días de retraso", spanish.collections_risk_explanation)
        self.assertIn("Paga tarde", spanish.collections_risk_explanation)

    # --- a person confirms ---------------------------------------------------------
    def test_collector_cannot_move_a_customer_without_the_confirmation(self):
        partner = self._late_payer()
        self.Score._compute_scores(self.company, TODAY)
        as_collector = partner.with_user(self.collector)
        self.assertTrue(as_collector.collections_risk_suggestion)
        with self.assertRaises(AccessError):
            as_collector.write({"collections_risk_band": "high"})
        with self.assertRaises(AccessError):
            self.env["collections.risk.decision"].with_user(self.collector).create(
                {"partner_id": partner.id, "company_id": self.company.id, "kind": "confirmed", "to_band": "high"}
            )
        score = as_collector.collections_risk_score_id
        with self.assertRaises(AccessError):  # no rule approved: nothing applies by itself
            self.env["collections.risk.decision"].with_user(self.collector)._decide(
                partner, self.company, score, "automatic", rule=self.high_policy
            )
        self.assertFalse(partner.collections_risk_band)
        self.assertEqual(self.env["collections.policy"]._for_partner(partner, self.company), self.policy)

    def test_collector_confirms_through_the_wizard_and_the_policy_follows(self):
        partner = self._late_payer()
        self.Score._compute_scores(self.company, TODAY)
        wizard = (
            self.env["collections.risk.confirm"]
            .with_user(self.collector)
            .create({"partner_id": partner.id, "note": "Checked the ledger"})
        )
        self.assertEqual((wizard.suggested_band, wizard.current_policy_id), ("high", self.policy))
        wizard.action_confirm()
        self.assertEqual(partner.collections_risk_band, "high")
        self.assertEqual(self.env["collections.policy"]._for_partner(partner, self.company), self.high_policy)
        decision = self.env["collections.risk.decision"].search([("partner_id", "=", partner.id)])
        self.assertEqual(
            (decision.kind, decision.user_id, decision.from_policy_id, decision.to_policy_id, decision.to_band),
            ("confirmed", self.collector, self.policy, self.high_policy, "high"),
        )
        with self.assertRaises(UserError):  # the log is append-only
            decision.with_user(self.manager).write({"kind": "rejected"})
        # Planning follows the confirmed band: the high-risk policy's call on day 1.
        self._invoice(partner, 100, 2)
        self._run()
        self.assertIn("call", self._messages(partner).mapped("channel"))

    def test_rejection_is_logged_and_moves_nothing(self):
        partner = self._late_payer()
        self.Score._compute_scores(self.company, TODAY)
        self.env["collections.risk.confirm"].with_user(self.collector).create(
            {"partner_id": partner.id}
        ).action_reject()
        self.assertFalse(partner.collections_risk_band)
        decision = self.env["collections.risk.decision"].search([("partner_id", "=", partner.id)])
        self.assertEqual((decision.kind, decision.to_policy_id), ("rejected", self.policy))

    # --- unless a rule a manager approved applies it -----------------------------------
    def test_approved_rule_applies_and_logs_automatically(self):
        partner = self._late_payer()
        with self.assertRaises(AccessError):
            self.high_policy.with_user(self.collector).action_approve_risk_auto_apply()
        self.high_policy.with_user(self.manager).action_approve_risk_auto_apply()
        self.assertEqual(self.high_policy.risk_auto_approved_by, self.manager)
        self.Score.with_company(self.company)._cron_compute(TODAY)
        self.assertEqual(partner.collections_risk_band, "high")
        decision = self.env["collections.risk.decision"].search([("partner_id", "=", partner.id)])
        self.assertEqual(
            (decision.kind, decision.rule_policy_id, decision.rule_approved_by, decision.user_id),
            ("automatic", self.high_policy, self.manager, self.env["res.users"]),
        )
        # The next day: nothing more to move, nothing more logged.
        self.env["collections.risk.decision"]._apply_approved_rules(self.company)
        self.assertEqual(self.env["collections.risk.decision"].search_count([("partner_id", "=", partner.id)]), 1)

    # --- predicted payment dates -------------------------------------------------------
    def test_predicted_payment_date_weighs_recent_delays(self):
        partner = self._customer("Habit")
        self._paid_invoice(partner, 200, 30)  # paid 170 days before TODAY
        self._paid_invoice(partner, 100, 10)  # paid 90 days before TODAY
        soon = self._paid_invoice(partner, 5, None)
        long_overdue = self._paid_invoice(partner, 60, None)
        self.Score._compute_scores(self.company, TODAY)
        # Each delay weighs half as much every 240 days since it was paid; everyone's average delay
        # (this company has only this payer: 20 days) counts as a quarter of an invoice more.
        self.assertEqual((risk_sql.DELAY_HALF_LIFE_DAYS, risk_sql.DELAY_PRIOR_WEIGHT), (240, 0.25))
        weights = (0.5 ** (170 / 240), 0.5 ** (90 / 240), 0.25)
        delay = round((weights[0] * 30 + weights[1] * 10 + weights[2] * 20) / sum(weights))
        self.assertEqual(delay, 19)
        moves = SQL("m.id = ANY(%s)", [soon.id, long_overdue.id])
        self.env.cr.execute(risk_sql.predicted_payment_dates(self.company.id, TODAY, moves))
        rows = {row[0]: row[3:] for row in self.env.cr.fetchall()}
        due_soon, due_long = soon.invoice_date_due, long_overdue.invoice_date_due
        self.assertEqual(rows[soon.id], (due_soon + timedelta(days=19), due_soon + timedelta(days=20)))
        # Still open 60 days after its due date: not paid in the past, nor tomorrow, whatever the habit says.
        self.assertEqual(rows[long_overdue.id], (TODAY + timedelta(days=7), due_long + timedelta(days=20)))

    def test_predicted_payment_date_on_the_invoice(self):
        partner = self._customer("Habit")
        self._paid_invoice(partner, 100, 10)
        invoice = self._paid_invoice(partner, 5, None)
        self.Score._compute_scores(self.company, TODAY)
        as_collector = invoice.with_user(self.collector)
        self.assertGreater(as_collector.collections_predicted_date, fields.Date.context_today(invoice))
        self.assertEqual(as_collector.collections_naive_date, invoice.invoice_date_due + timedelta(days=10))
        self._pay(invoice)
        invoice.invalidate_recordset()
        self.assertFalse(invoice.collections_predicted_date)  # paid: nothing to predict
