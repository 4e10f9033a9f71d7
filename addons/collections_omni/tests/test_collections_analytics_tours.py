"""Browser tours of the analytics (issue 17), as users with exactly their
role's groups (tests/role_matrix.py), never an administrator: a manager runs
an A/B test from creation to promoting its winner, and confirms a risk move
through the review wizard; over JSON-RPC, a collector finds no way around the
confirmation."""

from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, JsonRpcException, tagged

from . import role_matrix
from .common import TODAY, CollectionsCommon, engine_message


class _RoleUsers(CollectionsCommon, HttpCase):
    @classmethod
    def _user(cls, role, login):
        return cls._staff_user(login, role_matrix.ROLES[role][1], password=login)


@tagged("post_install", "-at_install", "collections_http")
class TestAbTestTour(_RoleUsers):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._user(role_matrix.MANAGER, "tour_ab_manager")
        cls.action = cls.policy.stage_ids.filtered(lambda s: s.name == "First").action_ids

    def _message(self, partner, variant, sent_at):
        # Planted history: what planning and sending would have written (tests/test_collections_ab.py).
        return engine_message(
            self.env,
            partner,
            f"tour-ab-{partner.id}",
            channel=variant.channel or "email",
            state="sent",
            sent_at=sent_at,
            ab_variant_id=variant.id,
        )

    def test_a_manager_tests_two_variants_and_promotes_the_winner(self):
        self.start_tour(
            "/odoo/action-collections_omni.collections_ab_test_action",
            "collections_ab_test_create_tour",
            login="tour_ab_manager",
        )
        test = self.env["collections.ab.test"].search([("action_id", "=", self.action.id)])
        self.assertEqual((test.state, test.min_sample, test.create_uid), ("running", 3, self.manager))
        control, sms = test.variant_ids.sorted(lambda v: (v.sequence, v.id))
        self.assertEqual(
            [(v.name, v.share, v.channel) for v in (control, sms)], [("Control", 60, False), ("SMS", 40, "sms")]
        )
        # Three customers of each variant; those of the SMS variant pay the day after it.
        sent = fields.Datetime.now() - timedelta(days=10)
        for index in range(3):
            for variant in (control, sms):
                customer = self._customer(f"Cliente AB {variant.name} {index}")
                invoice = self._invoice(customer, 100, 30)
                self._message(customer, variant, sent)
                if variant == sms:
                    self.env["account.payment.register"].with_context(
                        active_model="account.move", active_ids=invoice.ids
                    ).create({"payment_date": sent.date() + timedelta(days=1)})._create_payments()
        self.assertEqual(test.suggested_winner_id, sms)
        self.start_tour(
            f"/odoo/action-collections_omni.collections_ab_test_action/{test.id}",
            "collections_ab_test_promote_tour",
            login="tour_ab_manager",
        )
        test.invalidate_recordset()
        self.assertEqual((test.state, test.winner_id), ("done", sms))
        self.assertEqual(self.action.channel, "sms")


@tagged("post_install", "-at_install", "collections_http")
class TestRiskReviewTour(_RoleUsers):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._user(role_matrix.MANAGER, "tour_risk_manager")
        cls.collector = cls._user(role_matrix.COLLECTOR, "tour_risk_collector")
        cls.high_policy = cls._policy("Riesgo alto", [("Llamada", 1, "call")], risk_band="high", sequence=1)
        cls.late = cls._customer("Cliente Moroso")
        for due_age in (200, 150, 100, 70, 40):
            cls._paid(cls.late, due_age, 35)
        cls._invoice(cls.late, 100, 80)
        cls.env["collections.risk.score"]._compute_scores(cls.company, TODAY)

    @classmethod
    def _paid(cls, partner, due_age, delay):
        invoice = cls._invoice(partner, 100, due_age)
        cls.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {"payment_date": invoice.invoice_date_due + timedelta(days=delay)}
        )._create_payments()

    def _decisions(self):
        return self.env["collections.risk.decision"].search([("partner_id", "=", self.late.id)])

    def test_a_manager_reads_the_factors_and_confirms_the_move(self):
        self.assertEqual(self.late.collections_risk_suggested_band, "high")
        self.start_tour(f"/odoo/res.partner/{self.late.id}", "collections_risk_review_tour", login="tour_risk_manager")
        decision = self._decisions()
        self.assertEqual(
            (decision.kind, decision.user_id, decision.to_band, decision.to_policy_id, decision.note),
            ("confirmed", self.manager, "high", self.high_policy, "Revisado el mayor"),
        )
        self.assertEqual(self.late.collections_risk_band, "high")
        self.assertEqual(self.env["collections.policy"]._for_partner(self.late, self.company), self.high_policy)

    def _rpc(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def test_a_collector_cannot_skip_the_confirmation_over_rpc(self):
        self.authenticate("tour_risk_collector", "tour_risk_collector")
        score = self.late.collections_risk_score_id
        attempts = [
            ("res.partner", "write", [self.late.id], {"collections_risk_band": "high"}),
            (
                "collections.risk.decision",
                "create",
                {"partner_id": self.late.id, "company_id": self.company.id, "kind": "confirmed", "to_band": "high"},
            ),
            # Private: not callable over RPC at all (the engine's way in for approved rules).
            ("collections.risk.decision", "_decide", [], self.late.id, self.company.id, score.id, "automatic"),
            ("collections.risk.decision", "_apply_approved_rules", [], self.company.id),
            ("collections.policy", "action_approve_risk_auto_apply", [self.high_policy.id]),
        ]
        for model, method, *args in attempts:
            with self.subTest(method=method), self.assertRaises(JsonRpcException) as caught:
                self._rpc(model, method, *args)
            self.assertIn("AccessError", str(caught.exception))
        self.env.invalidate_all()
        self.assertFalse(self.late.collections_risk_band)
        self.assertFalse(self._decisions())
        # The one way: the review wizard, which logs the collector's decision.
        wizard_id = self._rpc("collections.risk.confirm", "create", {"partner_id": self.late.id})
        self._rpc("collections.risk.confirm", "action_confirm", [wizard_id])
        self.env.invalidate_all()
        self.assertEqual(self.late.collections_risk_band, "high")
        self.assertEqual((self._decisions().kind, self._decisions().user_id), ("confirmed", self.collector))
