from datetime import date, timedelta
from pathlib import Path

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from . import role_matrix
from .common import TODAY, ReconcileCommon

README = Path(__file__).resolve().parents[3] / "README.md"
# A refusal is an access error or a user error; a ValidationError of bad test data is not one.
REFUSALS = (AccessError, UserError)


@tagged("post_install", "-at_install")
class TestRoleMatrix(ReconcileCommon):
    """Every cell of the role matrix (``role_matrix.ACTIONS``), acted by a user
    with exactly that role's groups through the entry point people use: what
    is allowed works and has its effect, what is refused raises. No sudo, no
    administrator standing in for a role; each cell is rolled back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            role: cls._staff_user(f"matrix_{role}", groups) for role, (_title, groups) in role_matrix.ROLES.items()
        }
        cls.invoice = cls._invoice(cls.customer, 300, 25)  # the "Second" stage: an email and a call task
        cls.today = fields.Date.context_today(cls.customer)
        cls.sms_provider = cls.env["collections.provider"].create(
            {
                "name": "Roles SMS",
                "company_id": cls.company.id,
                "channel": "sms",
                "provider_type": "sms_http",
                "sms_http_base_url": "https://sms.example.com",
                "sms_http_account_sid": "AC-roles",
                "sms_http_auth_token": "secret-token",
                "sms_http_from_number": "+34600000000",
            }
        )

    def _each_role(self, action, act):
        """``act(user)`` for every role: it must work where the matrix allows
        it and raise where it refuses it. Each role starts from the same data."""
        for role, user in self.users.items():
            with self.subTest(action=action, role=role):
                savepoint = self.env.cr.savepoint()
                try:
                    if role_matrix.allowed(action, role):
                        act(user)
                    else:
                        # Nothing the administrator read may stand in for the user's own reads.
                        self.env.invalidate_all()
                        with self.assertRaises(UserError) as refusal:
                            act(user)
                            self.env.flush_all()
                        self.assertIn(type(refusal.exception), REFUSALS, refusal.exception)
                finally:
                    savepoint.close(rollback=True)
                    self.env.invalidate_all(flush=False)

    def _planned(self):
        self._run()
        planned = self._messages(self.customer).filtered(lambda m: m.state == "planned")
        self.assertTrue(planned)
        return planned

    def _call(self, user=None, outcome="no_answer", **values):
        wizard = (
            self.env["collections.call.outcome"]
            .with_user(user or self.users["collector"])
            .with_context(active_model="res.partner", active_id=self.customer.id)
            .create({"outcome": outcome, **values})
        )
        return self.env["collections.message"].browse(wizard.action_confirm()["infos"]["message_id"])

    # === THE MATRIX ITSELF === #

    def test_every_action_of_the_matrix_is_tested(self):
        keys = [key for key, *_rest in role_matrix.ACTIONS]
        for key in keys:
            if key.startswith("log_call_"):
                key = "log_call"
            self.assertTrue(hasattr(self, f"test_{key}"), f"no test acts the matrix row {key}")
        self.assertEqual(len(keys), len(set(keys)))

    def test_readme_shows_the_matrix(self):
        readme = README.read_text(encoding="utf-8")
        table = role_matrix.markdown_table()
        start = readme.find(table.splitlines()[0])
        self.assertNotEqual(start, -1, "the README has no role matrix table")
        end = readme.find("\n\n", start)
        self.assertEqual(readme[start : end + 1], table)

    # === EACH ROW === #

    def test_worklist(self):
        self._run()

        def act(user):
            rows = self.env["collections.worklist"].with_user(user).search([("partner_id", "=", self.customer.id)])
            self.assertEqual(len(rows), 1)
            self.assertEqual(rows.action_log_call()["res_model"], "collections.call.outcome")

        self._each_role("worklist", act)

    def test_log_call(self):
        follow_up = self.today + timedelta(days=5)
        values = {
            "paid": {"note": "Pagado ayer"},
            "callback": {"next_date": follow_up},
            "promised": {"next_date": follow_up, "promise_amount": 100},
            "disputed": {"note": "No reconoce la factura"},
        }
        for outcome in role_matrix.CALL_OUTCOMES:

            def act(user, outcome=outcome):
                message = self._call(user, outcome, **values.get(outcome, {}))
                self.assertEqual((message.channel, message.state, message.create_uid), ("call", "sent", user))
                self.assertEqual(self.customer.collections_last_date, self.today)
                if outcome in ("callback", "promised"):
                    self.assertEqual(self.customer.collections_next_date, follow_up)
                if outcome == "promised":
                    self.assertTrue(self.customer.collections_promise_ids)
                if outcome == "disputed":
                    self.assertTrue(self.customer.collections_dispute_ids)

            self._each_role(f"log_call_{outcome}", act)

    def test_send_now(self):
        def act(user):
            planned = self._planned()
            planned.with_user(user).action_send_now()
            self.assertNotIn("planned", planned.mapped("state"))

        self._each_role("send_now", act)

    def test_cancel_message(self):
        def act(user):
            planned = self._planned()
            planned.with_user(user).action_cancel()
            self.assertEqual(set(planned.mapped("state")), {"cancelled"})

        self._each_role("cancel_message", act)

    def test_correct_message(self):
        call = self._call(self.env.user)

        def act(user):
            action = call.with_user(user).action_record_correction()
            correction = (
                self.env["collections.message"]
                .with_user(user)
                .with_context(**action["context"])
                .create({"body": "<p>Contestó: pagará el viernes</p>"})
            )
            self.assertEqual(correction.correction_of_id, call)

        self._each_role("correct_message", act)

    def test_rewrite_message(self):
        call = self._call(self.env.user)

        def act(user):
            call.with_user(user).write({"body": "<p>Otra cosa</p>"})

        self._each_role("rewrite_message", act)
        self.assertNotIn("Otra cosa", str(call.body))

    def test_promise(self):
        def act(user):
            promise = (
                self.env["collections.promise"]
                .with_user(user)
                .create(
                    {
                        "partner_id": self.customer.id,
                        "currency_id": self.company.currency_id.id,
                        "amount": 100,
                        "promised_date": self.today + timedelta(days=3),
                    }
                )
            )
            promise.action_cancel()
            self.assertEqual(promise.state, "cancelled")

        self._each_role("promise", act)

    def test_plan(self):
        def act(user):
            plan = (
                self.env["collections.payment.plan"]
                .with_user(user)
                .create(
                    {
                        "partner_id": self.customer.id,
                        "currency_id": self.company.currency_id.id,
                        "move_ids": [Command.set(self.invoice.ids)],
                        "installment_count": 3,
                        "start_date": self.today,
                    }
                )
            )
            plan.action_generate_schedule()
            plan.action_activate()
            self.assertEqual(plan.state, "active")

        self._each_role("plan", act)

    def test_dispute(self):
        def act(user):
            dispute = self._open_and_resolve_dispute(user, self.invoice)
            self.assertEqual(dispute.state, "resolved")

        self._each_role("dispute", act)

    def test_run_preview(self):
        def act(user):
            preview = self.env["collections.run.preview"].with_user(user).create({"date": self.today})
            preview.action_compute()
            self.assertIn(self.customer, preview.line_ids.partner_id)

        self._each_role("run_preview", act)

    def test_run_confirm(self):
        def act(user):
            draft = self.Run.create({"company_id": self.company.id, "date": self.today})
            draft.with_user(user).action_run()
            self.assertEqual(draft.state, "done")
            self.assertTrue(draft.message_ids)

        self._each_role("run_confirm", act)

        def run_now(user):
            action = self.Run.with_user(user).action_run_now()
            self.assertEqual(self.Run.browse(action["res_id"]).state, "done")

        self._each_role("run_confirm", run_now)

    def test_policy(self):
        def act(user):
            policy = self.env["collections.policy"].with_user(user).create({"name": "Otra política"})
            policy.write({"stage_ids": [Command.create({"name": "Primera", "offset_days": 5})]})
            self.policy.with_user(user).write({"name": "Renamed"})

        self._each_role("policy", act)

    def test_rule_set(self):
        def act(user):
            rule_set = self.env["collections.contact.rule.set"].with_user(user).create({"name": "Reglas"})
            rule_set.write({"max_channels": 2})

        self._each_role("rule_set", act)

    def test_provider(self):
        def act(user):
            self.sms_provider.with_user(user).write({"name": "Renamed SMS"})
            self.assertEqual(self.sms_provider.name, "Renamed SMS")

        self._each_role("provider", act)

    def test_provider_secret(self):
        def act(user):
            provider = self.sms_provider.with_user(user)
            self.assertEqual(provider.read(["sms_http_auth_token"])[0]["sms_http_auth_token"], "secret-token")

        self._each_role("provider_secret", act)

    def test_consent(self):
        def act(user):
            entry = (
                self.env["collections.consent"]
                .with_user(user)
                .create({"partner_id": self.customer.id, "channel": "email", "status": "opt_out"})
            )
            self.assertEqual((entry.company_id, entry.user_id), (self.company, user))

        self._each_role("consent", act)

    def _proposed_match(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        match = self._match(self._line(600.0, invoice.name))
        self.assertEqual(match.state, "proposed")  # unknown customer, partial: review
        return match, invoice

    def test_review_confirm(self):
        def act(user):
            match, invoice = self._proposed_match()
            match.candidate_ids[:1].with_user(user).action_confirm()
            self.assertEqual((match.state, invoice.payment_state), ("confirmed", "partial"))

        self._each_role("review_confirm", act)

    def test_review_undo(self):
        def act(user):
            match, invoice = self._proposed_match()
            match.candidate_ids[:1].action_confirm()
            match.with_user(user).action_undo()
            self.assertEqual((match.state, match.undone_by_id), ("undone", user))
            self.assertEqual(invoice.payment_state, "not_paid")
            self.assertFalse(match.statement_line_id.is_reconciled)

        self._each_role("review_undo", act)

    def test_compliance_report(self):
        self._call(self.env.user)

        def act(user):
            report = self.env["collections.compliance.report"].with_user(user).create({"date_from": self.today})
            action = report.action_csv()
            self.assertIn("/web/content/", action["url"])

        self._each_role("compliance_report", act)

    def test_analytics(self):
        menu = self.env.ref("collections_omni.menu_collections_analytics")

        def act(user):
            self.env["collections.analytics.aging"].with_user(user).search([], limit=1)
            self.assertIn(menu.id, self.env["ir.ui.menu"].with_user(user)._visible_menu_ids())

        self._each_role("analytics", act)
        for role, user in self.users.items():
            if role == "portal":
                continue  # a portal user reads no back-office menu at all (an access error above)
            with self.subTest(menu_of=role):
                visible = menu.id in self.env["ir.ui.menu"].with_user(user)._visible_menu_ids()
                self.assertEqual(visible, role_matrix.allowed("analytics", role))

    def test_vulnerable(self):
        def act(user):
            wizard = (
                self.env["collections.vulnerable.wizard"]
                .with_user(user)
                .create({"partner_id": self.customer.id, "reason": "illness"})
            )
            wizard.action_apply()
            self.assertTrue(self.customer.collections_vulnerable)

        self._each_role("vulnerable", act)

    def test_risk_confirm(self):
        late = self._customer("Paga Tarde")
        for due_age in (200, 150, 100, 70, 40):
            invoice = self._invoice(late, 100, due_age)
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({"payment_date": invoice.invoice_date_due + timedelta(days=35)})._create_payments()
        self._invoice(late, 100, 80)
        self.env["collections.risk.score"]._compute_scores(self.company, TODAY)

        def act(user):
            wizard = (
                self.env["collections.risk.confirm"]
                .with_user(user)
                .create({"partner_id": late.id, "note": "Revisado el historial"})
            )
            wizard.action_confirm()
            self.assertEqual(late.collections_risk_band, "high")

        self._each_role("risk_confirm", act)

    def test_management_report(self):
        def act(user):
            report = self.env["collections.management.report"].with_user(user).create({"month": date(2026, 5, 1)})
            self.assertIn("/web/content/", report.action_csv()["url"])

        self._each_role("management_report", act)
