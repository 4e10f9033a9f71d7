from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tests.common import freeze_time

from ..tools import reconcile_matching as matching
from .common import TODAY, CollectionsCommon, ReconcileCommon


@tagged("post_install", "-at_install")
class TestReconcileMatching(ReconcileCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.collections_reconcile_tolerance = 1.0

    def test_exact_reference_reconciles(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        line = self._line(1000.0, f"Pago {invoice.name} gracias")
        match = self._match(line)
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.rule, "reference")
        self.assertEqual(match.invoice_ids, invoice)
        self.assertTrue(match.partial_ids)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertTrue(line.is_reconciled)
        # The line had no customer: its receivable item takes the invoice's.
        receivable = line.move_id.line_ids.filtered(lambda aml: aml.account_id.account_type == "asset_receivable")
        self.assertEqual(receivable.partner_id, self.customer)
        self.assertEqual(match.partner_id, self.customer)

    def test_structured_reference_split_by_the_bank(self):
        invoice = self._invoice(self.customer, 300.0, 5)
        invoice.payment_reference = "+++020/3430/57642+++"
        line = self._line(300.0, "TRANSFER +++ 020 / 3430 / 57642 +++", self.customer)
        match = self._match(line)
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(invoice.payment_state, "paid")

    def test_partial_payment(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        line = self._line(600.0, invoice.name, self.customer)
        match = self._match(line)
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.rule, "reference_partial")
        self.assertEqual(invoice.payment_state, "partial")
        self.assertAlmostEqual(invoice.amount_residual, 400.0)
        self.assertAlmostEqual(match.reconciled_amount, 600.0)
        self.assertTrue(line.is_reconciled)

    def test_same_amount_twice_waits_for_review(self):
        older = self._invoice(self.customer, 500.0, 20)
        newer = self._invoice(self.customer, 500.0, 5)
        line = self._line(500.0, "transferencia", self.customer)
        match = self._match(line)
        self.assertEqual(match.state, "proposed")
        self.assertEqual(len(match.candidate_ids), 2)
        self.assertEqual(match.candidate_ids.sorted("rank").mapped("move_ids"), older | newer)
        self.assertEqual(older.payment_state, "not_paid")
        self.assertEqual(newer.payment_state, "not_paid")
        self.assertFalse(line.is_reconciled)
        # One click on the second candidate settles that invoice only.
        match.candidate_ids.filtered(lambda c: c.move_ids == newer).action_confirm()
        self.assertEqual(match.state, "confirmed")
        self.assertEqual(newer.payment_state, "paid")
        self.assertEqual(older.payment_state, "not_paid")
        self.assertTrue(line.is_reconciled)

    def test_matching_twice_reconciles_once(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        line = self._line(1000.0, invoice.name, self.customer)
        first = self._match(line)
        partials = first.partial_ids
        self.Match._match(self.company)
        self.assertEqual(self.Match.search([("statement_line_id", "=", line.id)]), first)
        self.assertEqual(first.partial_ids, partials)
        self.assertEqual(len(invoice.line_ids.matched_credit_ids), 1)

    def test_reference_to_another_customers_invoice_never_reconciles(self):
        theirs = self._invoice(self.other, 700.0, 10)
        line = self._line(700.0, f"Pago {theirs.name}", self.customer)
        match = self._match(line)
        self.assertEqual(match.state, "proposed")
        self.assertEqual(match.candidate_ids.rule, "other_partner")
        self.assertEqual(theirs.payment_state, "not_paid")
        with self.assertRaises(UserError):
            match.candidate_ids.action_confirm()
        self.assertEqual(theirs.payment_state, "not_paid")
        self.assertFalse(line.is_reconciled)

    def test_reference_to_another_customer_next_to_own_amount_match(self):
        """The customer's own invoice of that amount is a candidate, but with a
        reference to someone else's invoice nothing is automatic."""
        theirs = self._invoice(self.other, 700.0, 10)
        own = self._invoice(self.customer, 700.0, 10)
        match = self._match(self._line(700.0, theirs.name, self.customer))
        self.assertEqual(match.state, "proposed")
        self.assertEqual(set(match.candidate_ids.mapped("move_ids").ids), {theirs.id, own.id})
        self.assertEqual(own.payment_state, "not_paid")

    def test_several_invoices_in_one_line(self):
        first = self._invoice(self.customer, 100.0, 30)
        second = self._invoice(self.customer, 250.0, 20)
        third = self._invoice(self.customer, 999.0, 10)
        line = self._line(350.0, f"Facturas {first.name}, {second.name}", self.customer)
        match = self._match(line)
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.invoice_ids, first | second)
        self.assertEqual((first | second).mapped("payment_state"), ["paid", "paid"])
        self.assertEqual(len(match.partial_ids), 2)
        self.assertAlmostEqual(match.reconciled_amount, 350.0)
        self.assertEqual(third.payment_state, "not_paid")

    def test_several_invoices_without_reference(self):
        first = self._invoice(self.customer, 100.0, 30)
        second = self._invoice(self.customer, 250.0, 20)
        self._invoice(self.customer, 999.0, 10)
        match = self._match(self._line(350.0, "pago pendiente", self.customer))
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.rule, "combination")
        self.assertEqual(match.invoice_ids, first | second)

    def test_tolerance(self):
        write_off = self.company_data["default_account_expense"]
        self.company.collections_reconcile_writeoff_account_id = write_off
        within = self._invoice(self.customer, 1000.0, 10)
        line = self._line(999.40, f"Pago {within.name}", self.customer)
        match = self._match(line)
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.rule, "reference_tolerance")
        self.assertEqual(within.payment_state, "paid")
        self.assertTrue(line.is_reconciled)
        written_off = line.move_id.line_ids.filtered(lambda aml: aml.account_id == write_off)
        self.assertAlmostEqual(written_off.balance, 0.60)
        # Outside the tolerance it is a partial payment: nothing written off.
        outside = self._invoice(self.customer, 1000.0, 10)
        line = self._line(998.0, f"Pago {outside.name}", self.customer)
        match = self._match(line)
        self.assertEqual(match.rule, "reference_partial")
        self.assertEqual(outside.payment_state, "partial")
        self.assertAlmostEqual(outside.amount_residual, 2.0)
        self.assertFalse(line.move_id.line_ids.filtered(lambda aml: aml.account_id == write_off))

    def test_tolerance_without_reference(self):
        """Without a reference an amount within the tolerance is only proposed,
        and outside it nothing is."""
        near = self._invoice(self.customer, 1000.0, 10)
        match = self._match(self._line(999.40, "pago", self.customer))
        self.assertEqual(match.state, "proposed")
        self.assertEqual(match.candidate_ids.move_ids, near)
        self.assertEqual(near.payment_state, "not_paid")
        far = self._invoice(self.other, 1000.0, 10)
        match = self._match(self._line(998.0, "pago", self.other))
        self.assertEqual(match.state, "none")
        self.assertEqual(far.payment_state, "not_paid")

    def test_tolerance_without_write_off_account_leaves_the_difference_open(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        match = self._match(self._line(999.40, invoice.name, self.customer))
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(invoice.payment_state, "partial")
        self.assertAlmostEqual(invoice.amount_residual, 0.60)

    def test_unknown_customer_partial_payment_waits(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        match = self._match(self._line(600.0, invoice.name))
        self.assertEqual(match.state, "proposed")
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_two_lines_claiming_one_invoice_both_wait(self):
        invoice = self._invoice(self.customer, 400.0, 10)
        matches = self._match(self._line(400.0, invoice.name), self._line(400.0, f"again {invoice.name}"))
        self.assertEqual(matches.mapped("state"), ["proposed", "proposed"])
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_undo_restores_everything(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        line = self._line(600.0, invoice.name)
        match = self._match(line)
        self.assertEqual(match.state, "proposed")  # unknown customer, partial: review
        match.candidate_ids[:1].action_confirm()
        self.assertEqual(invoice.payment_state, "partial")
        partial_ids = match.partial_ids.ids
        match.action_undo()
        self.assertEqual(match.state, "undone")
        self.assertTrue(match.undone_at)
        self.assertEqual(match.undone_by_id, self.env.user)
        self.assertFalse(self.env["account.partial.reconcile"].browse(partial_ids).exists())
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertAlmostEqual(invoice.amount_residual, 1000.0)
        self.assertFalse(line.is_reconciled)
        self.assertFalse(line.partner_id)
        suspense = line.move_id.line_ids.filtered(lambda aml: aml.account_id == self.bank.suspense_account_id)
        self.assertAlmostEqual(suspense.balance, -600.0)
        self.assertIn("undone", match.message_ids[:1].body)
        # An undone line is left to a person: the next run does not reconcile it again.
        self.Match._match(self.company)
        self.assertFalse(line.is_reconciled)
        with self.assertRaises(UserError):
            match.action_undo()

    def test_payment_matched_and_undone(self):
        invoice = self._invoice(self.customer, 800.0, 10)
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": self.customer.id,
                "amount": 800.0,
                "date": TODAY,
                "memo": f"Transfer {invoice.name}",
                "journal_id": self.bank.id,
            }
        )
        payment.action_post()
        self.Match._match(self.company)
        match = self.Match.search([("payment_id", "=", payment.id)])
        self.assertEqual(match.state, "auto_reconciled")
        self.assertIn(invoice.payment_state, ("in_payment", "paid"))
        match.action_undo()
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_settled_invoice_cancels_pending_messages_and_undo_keeps_them_cancelled(self):
        invoice = self._invoice(self.customer, 1000.0, 10)
        self._run()
        pending = self._messages(self.customer).filtered(lambda m: m.state == "planned")
        self.assertTrue(pending)
        match = self._match(self._line(1000.0, invoice.name, self.customer))
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(set(pending.mapped("state")), {"cancelled"})
        match.action_undo()
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(set(pending.mapped("state")), {"cancelled"})

    def test_a_failing_line_does_not_stop_the_others(self):
        good_invoice = self._invoice(self.customer, 110.0, 10)
        bad_invoice = self._invoice(self.other, 120.0, 10)
        good = self._line(110.0, good_invoice.name, self.customer)
        bad = self._line(120.0, bad_invoice.name, self.other)
        match_class = type(self.Match)
        original = match_class._counterparts

        def failing(matches, *args):
            if bad in matches.statement_line_id:
                raise UserError(matches.env._("The entry is locked."))
            return original(matches, *args)

        with patch.object(match_class, "_counterparts", failing):
            matches = self._match(good, bad)
        good_match = matches.filtered(lambda m: m.statement_line_id == good)
        bad_match = matches - good_match
        self.assertEqual(good_match.state, "auto_reconciled")
        self.assertEqual(good_invoice.payment_state, "paid")
        self.assertEqual(bad_match.state, "proposed")
        self.assertIn("The entry is locked.", bad_match.message_ids[:1].body)
        # The reconciled candidate is marked, the one that failed is not.
        self.assertEqual(good_match.candidate_ids.filtered("selected").rank, 1)
        self.assertFalse(bad_match.candidate_ids.filtered("selected"))
        self.assertEqual(bad_invoice.payment_state, "not_paid")
        self.assertFalse(bad.is_reconciled)
        # The log: who reconciled what and when, only for the one that went through.
        self.assertEqual(good_match.reconciled_amount, 110.0)
        self.assertEqual(good_match.reconciled_by_id, self.env.user)
        self.assertTrue(good_match.reconciled_at)
        self.assertEqual(good_match.invoice_ids, good_invoice)
        self.assertFalse(bad_match.reconciled_amount or bad_match.reconciled_by_id or bad_match.reconciled_at)
        self.assertFalse(bad_match.invoice_ids or bad_match.partial_ids)
        self.assertEqual(bad_match.partner_id, self.other)

    def test_cron_works_in_batches_of_new_lines(self):
        first_invoice = self._invoice(self.customer, 301.0, 10)
        second_invoice = self._invoice(self.customer, 302.0, 10)
        first = self._line(301.0, first_invoice.name, self.customer)
        second = self._line(302.0, second_invoice.name, self.customer)
        self.Match._cron_match(batch=1)
        self.assertTrue(first.is_reconciled)
        self.assertFalse(second.is_reconciled)
        self.Match._cron_match(batch=1)
        self.assertTrue(second.is_reconciled)

    def test_match_now_reports_the_outcome(self):
        invoice = self._invoice(self.customer, 210.0, 10)
        line = self._line(210.0, invoice.name, self.customer)
        noise = self._line(12.34, "interest", self.customer)
        action = self.Match.action_match_now()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("1 reconciled automatically", action["params"]["message"])
        self.assertTrue(line.is_reconciled)
        self.assertEqual(self.Match.search([("statement_line_id", "=", noise.id)]).state, "none")

    @freeze_time(TODAY)
    def test_a_plan_installment_paid_without_reference(self):
        """Exactly the next installment of a running plan, no reference: the
        plan's invoices are paid oldest first, and the plan counts it."""
        older = self._invoice(self.customer, 250.0, 40)
        newer = self._invoice(self.customer, 200.0, 10)
        plan = self._running_plan(older | newer)
        match = self._match(self._line(150.0, "cuota plan de pagos", self.customer))
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.rule, "installment")
        self.assertEqual((older.amount_residual, newer.amount_residual), (100.0, 200.0))
        self.assertEqual([i.state for i in plan.installment_ids.sorted("due_date")], ["paid", "pending", "pending"])
        # The same amount from a customer with no plan is no match.
        self._invoice(self.other, 300.0, 10)
        other = self._match(self._line(150.0, "cuota", self.other))
        self.assertEqual(other.state, "none")

    def test_confirming_several_matches_reconciles_them_in_one_batch(self):
        lines, invoices = [], []
        for customer in (self.customer, self.other):
            invoices += [self._invoice(customer, 500.0, 20), self._invoice(customer, 500.0, 5)]
            lines.append(self._line(500.0, "transferencia", customer))
        matches = self._match(*lines)
        self.assertEqual(matches.mapped("state"), ["proposed", "proposed"])
        match_class = type(self.Match)
        original, calls = match_class._reconcile_candidates, []

        def spy(batch, candidates, state, *args):
            calls.append(len(batch))
            return original(batch, candidates, state, *args)

        with patch.object(match_class, "_reconcile_candidates", spy):
            matches.action_confirm()
        self.assertEqual(calls, [2])
        self.assertEqual(matches.mapped("state"), ["confirmed", "confirmed"])
        # The best candidate of each: the older invoice.
        self.assertEqual([inv.payment_state for inv in invoices], ["paid", "not_paid", "paid", "not_paid"])

    def test_reject_keeps_line_out_of_later_runs(self):
        self._invoice(self.customer, 500.0, 20)
        self._invoice(self.customer, 500.0, 5)
        line = self._line(500.0, "transferencia", self.customer)
        match = self._match(line)
        match.action_reject()
        self.Match._match(self.company)
        self.assertEqual(self.Match.search([("statement_line_id", "=", line.id)]), match)
        self.assertEqual(match.state, "rejected")


@tagged("post_install", "-at_install")
class TestReconcileMatchingTools(CollectionsCommon):
    def test_label_keys(self):
        keys = matching.label_keys("Pago fra. INV/2026/00042, RF18 5390 0754 7034")
        self.assertIn("INV202600042", keys)
        self.assertIn("RF18539007547034", keys)
        self.assertNotIn("PAGO", keys)  # no digit: never a reference

    def test_normalize_reference(self):
        self.assertEqual(matching.normalize_reference("inv/2026/00042"), "INV202600042")
        self.assertEqual(matching.normalize_reference("abc123"), "ABC123")
        # Letters beyond ASCII and other symbols are dropped, as from any reference.
        self.assertEqual(matching.normalize_reference("Año-2026 ²"), "AO2026")
        self.assertEqual(matching.normalize_reference(None), "")

    def test_allocate(self):
        self.assertEqual(matching.allocate(600.0, [1000.0], 0.0), ([600.0], None))
        self.assertEqual(matching.allocate(350.0, [100.0, 250.0], 0.0), ([100.0, 250.0], None))
        self.assertEqual(matching.allocate(999.4, [1000.0], 1.0), ([1000.0], 0.6))
        self.assertEqual(matching.allocate(1000.3, [1000.0], 1.0), ([1000.0], -0.3))
        self.assertEqual(matching.allocate(1200.0, [1000.0], 1.0), ([1000.0], None))
        # The currency's decimal places: yen have none, Kuwaiti dinars three.
        self.assertEqual(matching.allocate(1000.0, [600.0, 500.0], 0.0, 0), ([600.0, 400.0], None))
        self.assertEqual(matching.allocate(10.124, [10.125], 0.001, 3), ([10.125], 0.001))
        self.assertEqual(matching.allocate(10.124, [10.125], 0.0, 3), ([10.124], None))

    def test_amounts_compare_in_the_currencys_smallest_unit(self):
        def decide(amount, residuals, digits, tolerance=0.0):
            invoices = [
                (matching.OpenInvoice(move_id=n, partner_id=7, residual=r, currency_id=3, due=n), set())
                for n, r in enumerate(residuals, start=1)
            ]
            line = matching.Line(key=1, partner_id=7, amount=amount, currency_id=3, label="pago", digits=digits)
            decision = matching.decide([line], matching.OpenInvoiceIndex(invoices), tolerance)[0]
            return decision.verdict, [(c.rule, c.move_ids) for c in decision.candidates]

        # A fils apart is not the same amount in Kuwaiti dinars.
        self.assertEqual(decide(10.125, [10.124], 3), ("none", []))
        self.assertEqual(decide(10.125, [10.125], 3), ("confident", [("amount", (1,))]))
        self.assertEqual(decide(10.125, [10.124, 0.001], 3), ("confident", [("combination", (1, 2))]))
        # Yen: whole units.
        self.assertEqual(decide(1500.0, [1000.0, 500.0], 0), ("confident", [("combination", (1, 2))]))
