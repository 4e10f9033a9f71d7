from odoo import fields
from odoo.tests import Form, tagged

from .common import TODAY, CollectionsCommon


@tagged("at_install", "-post_install")
class TestCollectionsWorklist(CollectionsCommon):
    def test_most_urgent_first_with_credits_netted(self):
        # The worklist is about the real today, where the company is.
        zone = self.env["collections.contact.rule.set"]._partner_timezone(self.company.partner_id)
        shift = (fields.Date.context_today(self.env.user.with_context(tz=zone)) - TODAY).days
        old_small = self._customer("Old small")
        recent_big = self._customer("Recent big")
        self._invoice(old_small, 100, 90 - shift)
        self._invoice(recent_big, 1000, 5 - shift)
        self._invoice(recent_big, 200, -shift, move_type="out_refund")
        self._invoice(recent_big, 500, -10 - shift)  # not yet due
        self.env.flush_all()
        lines = self.env["collections.worklist"].search([("partner_id", "in", (old_small | recent_big).ids)])
        by_partner = {line.partner_id: line for line in lines}
        big = by_partner[recent_big]
        self.assertEqual((big.amount_overdue, big.amount_due, big.invoice_count), (1000, 1300, 2))
        self.assertEqual(by_partner[old_small].days_overdue, 90)
        # 100 * (1 + 90/30) = 400 < 1000 * (1 + 5/30) = 1167
        self.assertEqual(lines.mapped("partner_id"), recent_big | old_small)
        self.assertEqual(lines[0].partner_id, recent_big)

    def test_next_action_is_the_collectors_follow_up_else_the_next_stage(self):
        invoice = self._invoice(self.customer, 300, 12)
        self._run()
        self.env.flush_all()
        state = self.env["collections.move.state"].search([("move_id", "=", invoice.id)])
        self.assertTrue(state.next_date, "the run knows when the next stage is reached")
        row = self.env["collections.worklist"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(row.next_date, state.next_date)
        self.customer.collections_next_date = "2030-01-15"
        self.env.flush_all()
        self.env.invalidate_all()
        row = self.env["collections.worklist"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(str(row.next_date), "2030-01-15", "the collector's own follow-up comes first")

    def test_call_outcome_is_logged_and_acts(self):
        self._invoice(self.customer, 300, 25)
        self._run()
        self.env["collections.message"]._dispatch_planned(self.company)
        activity = self._messages(self.customer).filtered(lambda m: m.channel == "call").activity_id
        self.assertTrue(activity)
        wizard = Form(self.env["collections.call.outcome"].with_context(default_partner_id=self.customer.id))
        wizard.outcome = "disputed"
        wizard.note = "Invoice 12 was never delivered"
        wizard.save().action_confirm()
        dispute = self.env["collections.dispute"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(
            (dispute.state, dispute.move_ids, dispute.description),
            ("open", self._messages(self.customer).move_ids, "Invoice 12 was never delivered"),
        )
        self.assertFalse(self.customer.collections_dispute_hold, "the dispute holds the invoices, not the customer")
        self.assertFalse(activity.exists(), "the call task is done")
        logged = self._messages(self.customer).filtered(lambda m: m.subject and m.subject.startswith("Call"))
        self.assertEqual((logged.state, logged.channel), ("sent", "call"))
        self.assertIn("never delivered", logged.body)

    def test_a_dispute_without_open_invoices_holds_the_customer(self):
        wizard = self.env["collections.call.outcome"].create({"partner_id": self.customer.id, "outcome": "disputed"})
        wizard.action_confirm()
        self.assertFalse(self.env["collections.dispute"].search([("partner_id", "=", self.customer.id)]))
        self.assertTrue(self.customer.collections_dispute_hold)

    def test_promise_needs_a_date_and_sets_next_action(self):
        wizard = self.env["collections.call.outcome"].create(
            {"partner_id": self.customer.id, "outcome": "promised", "next_date": "2026-07-01"}
        )
        wizard.action_confirm()
        self.assertEqual(str(self.customer.collections_next_date), "2026-07-01")
