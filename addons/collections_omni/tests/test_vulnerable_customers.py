from datetime import timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import COLLECTOR_GROUPS, MANAGER_GROUPS, TODAY, CollectionsCommon

TRAINED_GROUPS = "base.group_user,account.group_account_invoice,collections_omni.group_collections_vulnerable"


@tagged("at_install", "-post_install")
class TestVulnerableCustomers(CollectionsCommon):
    """A vulnerable customer: never contacted automatically (planning and the
    send-time re-check share one skip rule), routed to a trained collector,
    counted on the dashboard; why is only for trained collectors and managers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = cls._staff_user("vuln_collector", COLLECTOR_GROUPS)
        cls.trained = cls._staff_user("vuln_trained", TRAINED_GROUPS)
        cls.manager = cls._staff_user("vuln_manager", MANAGER_GROUPS)
        cls.fragile = cls._customer("Fragile", collections_user_id=cls.collector.id)

    def _protect(self, user, partner=None, **values):
        wizard = (
            self.env["collections.vulnerable.wizard"]
            .with_user(user)
            .create(
                {
                    "partner_id": (partner or self.fragile).id,
                    "reason": "bereavement",
                    "note": "Lost a family member in May.",
                    "review_date": TODAY + timedelta(days=30),
                    **values,
                }
            )
        )
        return wizard.action_apply()

    # --- never contacted ---------------------------------------------------------
    def test_planning_skips_a_protected_customer(self):
        self._invoice(self.fragile, 100, 10)
        self._invoice(self.customer, 100, 10)
        self._protect(self.trained)
        run = self._run()
        self.assertEqual(run.skip_reasons, {"vulnerable": 1})
        self.assertFalse(self._messages(self.fragile))
        self.assertTrue(self._messages(self.customer))

    def test_send_time_recheck_cancels_a_message_planned_before_the_flag(self):
        """Flagged after planning by any path (here a plain write, which re-checks
        nothing): the send re-checks the skip rule and ends the message cancelled."""
        self._invoice(self.fragile, 100, 10)
        self._run()
        message = self._messages(self.fragile).filtered(lambda m: m.channel == "email")
        self.assertEqual(message.state, "planned")
        self.fragile.write({"collections_vulnerable": True, "collections_user_id": False})
        message.action_send_now()
        self.assertEqual((message.state, message.blocked_reason), ("cancelled", "Vulnerable customer"))
        self.assertFalse(message.mail_id)

    def test_protecting_stops_pending_messages_at_once(self):
        self._invoice(self.fragile, 100, 10)
        self._run()
        messages = self._messages(self.fragile)
        self.assertEqual(set(messages.mapped("state")), {"planned"})
        self._protect(self.trained)
        self.assertEqual(set(messages.mapped("state")), {"cancelled"})

    def test_do_not_contact_is_rechecked_at_send_time_too(self):
        """The same rule, not a copy: every skip reason of planning also stops a send."""
        self._invoice(self.fragile, 100, 10)
        self._run()
        message = self._messages(self.fragile).filtered(lambda m: m.channel == "email")
        self.fragile.collections_do_not_contact = True
        message.action_send_now()
        self.assertEqual((message.state, message.blocked_reason), ("cancelled", "Do not contact"))

    # --- routed to a trained collector -------------------------------------------
    def test_protection_routes_to_a_trained_collector(self):
        self._protect(self.trained)
        self.assertEqual(self.fragile.collections_user_id, self.trained)
        self.assertEqual(self.env["collections.hold.mixin"]._find_collector(self.fragile, self.company), self.trained)
        activity = self.fragile.activity_ids
        self.assertEqual((activity.user_id, activity.date_deadline), (self.trained, TODAY + timedelta(days=30)))

    def test_an_untrained_collector_cannot_be_assigned(self):
        self._protect(self.manager)
        with self.assertRaises(ValidationError):
            self.fragile.collections_user_id = self.collector
        self.fragile.collections_user_id = self.manager  # managers may hold one

    def test_a_call_task_goes_to_the_trained_collector_not_the_company_default(self):
        self.company.collections_user_id = self.collector
        self._protect(self.trained)
        self.fragile.collections_user_id = False
        self.assertEqual(self.env["collections.hold.mixin"]._find_collector(self.fragile, self.company), self.trained)

    # --- who sees what -----------------------------------------------------------
    def test_collector_sees_only_that_the_customer_is_protected(self):
        self._protect(self.trained)
        as_collector = self.fragile.with_user(self.collector)
        self.assertTrue(as_collector.collections_vulnerable)
        hidden = ("collections_vulnerable_reason", "collections_vulnerable_note", "collections_vulnerable_review_date")
        for field in hidden:
            with self.subTest(field=field), self.assertRaises(AccessError):
                as_collector.read([field])
        self.assertNotIn("collections_vulnerable_note", as_collector.fields_get())
        with self.assertRaises(AccessError):
            self._protect(self.collector)
        # Nor does the chatter say why.
        self.assertNotIn("family", " ".join(self.fragile.message_ids.mapped("body")))

    def test_trained_collector_and_manager_see_why(self):
        self._protect(self.trained)
        for user in (self.trained, self.manager):
            with self.subTest(user=user.login):
                partner = self.fragile.with_user(user)
                self.assertEqual(partner.collections_vulnerable_reason, "bereavement")
                self.assertEqual(partner.collections_vulnerable_note, "Lost a family member in May.")

    def test_trained_collector_lifts_the_protection(self):
        self._protect(self.trained)
        self._protect(self.trained, protect=False)
        self.assertFalse(self.fragile.collections_vulnerable)
        self._invoice(self.fragile, 100, 10)
        self.assertTrue(self._run().messages_planned)

    # --- the dashboard's figure ----------------------------------------------------
    def test_dashboard_counts_protected_customers(self):
        other = self._customer("Other fragile")
        self._invoice(self.fragile, 100, 10)
        self._invoice(self.fragile, 50, 5)
        self._protect(self.trained)
        self._protect(self.manager, partner=other, review_date=TODAY - timedelta(days=1))
        self.env.flush_all()  # the figure is an SQL view: what the wizards wrote must be in the tables
        Figure = self.env["collections.analytics.vulnerable"].with_user(self.manager)
        self.env.cr.execute("SELECT set_config('collections.analytics_today', %s, true)", [TODAY.isoformat()])
        measures = ["customer_count:sum", "review_due_count:sum", "open_amount:sum"]
        rows = Figure._figure([("company_id", "=", self.company.id)], [], measures)
        self.assertEqual(rows, [(2, 1, 150.0)])
        with self.assertRaises(AccessError):
            self.env["collections.analytics.vulnerable"].with_user(self.collector).search([])
