from odoo.tests import HttpCase, tagged

from . import role_matrix
from .common import CollectionsCommon


@tagged("post_install", "-at_install", "collections_http")
class TestCollectorDayTour(CollectionsCommon, HttpCase):
    """The collector's day in a browser (issue 19), as a user with exactly the
    Collector role of the matrix: worklist, a call with each outcome, a promise,
    a plan and a dispute."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.collector = cls._staff_user("tour_collector", role_matrix.ROLES["collector"][1], password="tour_collector")
        cls.customer = cls._customer("Cliente Jornada")
        cls.invoices = cls._invoice(cls.customer, 300, 40) | cls._invoice(cls.customer, 200, 25)

    def test_the_collectors_day(self):
        self.start_tour(
            "/odoo/action-collections_omni.collections_worklist_action",
            "collections_collector_day_tour",
            login="tour_collector",
        )
        messages = self._messages(self.customer).filtered(lambda m: m.channel == "call")
        self.assertEqual(len(messages), 6, "a call logged for each outcome")
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertEqual(messages.create_uid, self.collector)
        promises = self.env["collections.promise"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(len(promises), 2, "one promise from the call, one on its own form")
        self.assertIn(120, promises.mapped("amount"))
        plan = self.env["collections.payment.plan"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual((plan.state, len(plan.installment_ids)), ("active", 3))
        dispute = self.env["collections.dispute"].search(
            [("partner_id", "=", self.customer.id), ("reason", "=", "not_received")]
        )
        self.assertEqual((dispute.state, dispute.create_uid), ("open", self.collector))
