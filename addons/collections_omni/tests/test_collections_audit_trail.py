from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import ACCOUNTANT_GROUPS, COLLECTOR_GROUPS, MANAGER_GROUPS, VIEWER_GROUPS, CollectionsCommon

# An administrator who set up the team: every collections and accounting right, and Settings.
ADMIN_GROUPS = MANAGER_GROUPS + ",account.group_account_manager,base.group_system"
# Columns the ORM keeps itself, not facts of the contact.
ORM_COLUMNS = {"id", "display_name", "create_uid", "create_date", "write_uid", "write_date"}


@tagged("at_install", "-post_install")
class TestCollectionsAuditTrail(CollectionsCommon):
    """The probe's second finding: a collector rewrote a logged call's body and state."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        common = {"company_id": cls.company.id, "company_ids": [Command.set(cls.company.ids)]}
        cls.users = {
            login: new_test_user(cls.env, login, groups=groups, **common)
            for login, groups in (
                ("audit_viewer", VIEWER_GROUPS),
                ("audit_collector", COLLECTOR_GROUPS),
                ("audit_manager", MANAGER_GROUPS),
                ("audit_accountant", ACCOUNTANT_GROUPS),
                ("audit_admin", ADMIN_GROUPS),
            )
        }
        cls._invoice(cls.customer, 300, 10)
        wizard = (
            cls.env["collections.call.outcome"]
            .with_user(cls.users["audit_collector"])
            .create({"partner_id": cls.customer.id, "outcome": "no_answer", "note": "Nadie contesta"})
        )
        cls.call = cls.env["collections.message"].browse(wizard.action_confirm()["infos"]["message_id"])

    def test_a_logged_call_cannot_be_rewritten(self):
        call = self.call.with_user(self.users["audit_collector"])
        with self.assertRaisesRegex(AccessError, "audit trail"):
            call.write({"body": "<p>Prometió pagar</p>"})
        with self.assertRaisesRegex(AccessError, "audit trail"):
            call.write({"state": "failed"})
        self.assertEqual((self.call.state, str(self.call.body)), ("sent", "<p>Nadie contesta</p>"))

    def test_every_field_is_refused_to_every_group(self):
        """Each field that records what happened, by each role, even the administrator."""
        Message = self.env["collections.message"]
        recorded = [name for name, field in Message._fields.items() if field.store and name not in ORM_COLUMNS]
        self.assertIn("body", recorded)
        self.assertIn("sent_at", recorded)
        for login, user in self.users.items():
            call = self.call.with_user(user)
            for name in recorded:
                value = Message._fields[name].convert_to_write(self.call[name], self.call)
                with self.subTest(user=login, field=name), self.assertRaises(AccessError):
                    call.write({name: value})

    def test_a_crafted_context_is_no_engine_transition(self):
        """Over RPC the context is JSON: the engine's mark cannot be forged with it."""
        call = self.call.with_user(self.users["audit_manager"]).with_context(collections_engine_transition=True)
        with self.assertRaisesRegex(AccessError, "audit trail"):
            call.write({"body": "<p>Otra cosa</p>"})

    def test_engine_transitions_still_work_for_a_collector(self):
        self._run()
        planned = self._messages(self.customer).filtered(lambda m: m.state == "planned")
        self.assertTrue(planned)
        planned.with_user(self.users["audit_collector"]).action_cancel()
        self.assertEqual(set(planned.mapped("state")), {"cancelled"})

    def test_a_correction_is_a_new_entry_pointing_to_the_old_one(self):
        collector = self.users["audit_collector"]
        action = self.call.with_user(collector).action_record_correction()
        correction = (
            self.env["collections.message"]
            .with_user(collector)
            .with_context(**action["context"])
            .create(
                {
                    "body": "<p>Contestó: pagará el viernes</p>",
                    # Facts are the original's, whatever is sent:
                    "channel": "email",
                    "partner_id": self.partner_a.id,
                    "state": "planned",
                }
            )
        )
        self.assertEqual(correction.correction_of_id, self.call)
        self.assertEqual((correction.partner_id, correction.channel, correction.state), (self.customer, "call", "sent"))
        self.assertFalse(correction.attempted_at, "a correction is no new contact for the contact rules")
        self.assertEqual(self.call.correction_ids, correction)
        self.assertEqual(str(self.call.body), "<p>Nadie contesta</p>")

    def test_an_unsent_message_is_cancelled_not_corrected(self):
        self._run()
        planned = self._messages(self.customer).filtered(lambda m: m.state == "planned")[:1]
        with self.assertRaises(UserError):
            planned.with_user(self.users["audit_collector"]).action_record_correction()
        with self.assertRaises(UserError):
            self.env["collections.message"].with_user(self.users["audit_collector"]).create(
                {"correction_of_id": planned.id, "body": "x"}
            )

    def test_viewer_records_no_correction(self):
        with self.assertRaises(AccessError):
            self.env["collections.message"].with_user(self.users["audit_viewer"]).create(
                {"correction_of_id": self.call.id, "body": "<p>x</p>"}
            )

    def test_no_group_creates_a_message_directly(self):
        """History is made by the engine: a crafted 'sent' call is refused to every role, even the administrator."""
        values = {
            "partner_id": self.customer.id,
            "channel": "call",
            "currency_id": self.company.currency_id.id,
            "state": "sent",
            "body": "<p>Pagó todo</p>",
            "idempotency_key": "crafted-call",
        }
        for login, user in self.users.items():
            Message = self.env["collections.message"].with_user(user)
            with self.subTest(user=login), self.assertRaises(AccessError):
                Message.create(dict(values))
            with self.subTest(user=login, copy=True), self.assertRaises(AccessError):
                self.call.with_user(user).copy({"idempotency_key": f"copy-{login}"})
            with self.subTest(user=login, context=True), self.assertRaises(AccessError):
                Message.with_context(collections_engine_transition=True).create(dict(values))
        self.assertFalse(self.env["collections.message"].search([("idempotency_key", "like", "crafted-call")]))

    def test_the_engine_creates_for_a_collector(self):
        """The logged call of setUpClass went in through the engine, as its collector."""
        self.assertEqual((self.call.create_uid, self.call.state), (self.users["audit_collector"], "sent"))
