"""Situations nobody labelled in advance (issue 18): in each the matcher must
not reconcile by itself, or must log exactly what the ledger holds."""

import base64
from datetime import timedelta
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged
from odoo.tests.common import freeze_time

from .common import TODAY, ReconcileCommon


@tagged("post_install", "-at_install")
class TestReconcileTraps(ReconcileCommon):
    def assertLedgerHoldsWhatTheMatchSays(self, match):
        """The partials of the match join its own entry to exactly its invoices, for its amount."""
        own = match.statement_line_id.move_id or match.payment_id.move_id
        partials = self.env["account.partial.reconcile"].search(
            ["|", ("debit_move_id.move_id", "=", own.id), ("credit_move_id.move_id", "=", own.id)]
        )
        self.assertTrue(partials, f"{match.display_name} claims a reconciliation the ledger does not hold")
        self.assertEqual(match.partial_ids, partials)
        invoices = (partials.debit_move_id | partials.credit_move_id).move_id - own
        self.assertEqual(match.invoice_ids, invoices)
        self.assertAlmostEqual(match.reconciled_amount, sum(partials.mapped("amount")))

    # 1. ------------------------------------------------------------------
    def test_shared_bank_account_identifies_nobody(self):
        account = "ES7921000813610123456789"
        for customer in (self.customer, self.other):
            self.env["res.partner.bank"].create({"partner_id": customer.id, "acc_number": account})
            self._invoice(customer, 500.0, 10)
        wizard = self.env["collections.statement.import"].create(
            {
                "journal_id": self.bank.id,
                "data_file": base64.b64encode(
                    f"date,amount,label,account\n2026-06-15,500.00,transferencia,{account}\n".encode()
                ),
                "filename": "banco.csv",
            }
        )
        action = wizard.action_import()
        match = self.Match.search(action["domain"])
        self.assertEqual(len(match), 1)
        self.assertFalse(match.statement_line_id.partner_id)
        self.assertNotEqual(match.state, "auto_reconciled")
        self.assertFalse(match.statement_line_id.is_reconciled)
        # One customer's own account still names them.
        self.env["res.partner.bank"].create({"partner_id": self.customer.id, "acc_number": "ES1000491500051234567892"})
        self.assertEqual(
            wizard._partners_by_line(
                [
                    {"account_number": "ES10 0049 1500 0512 3456 7892", "partner_name": ""},
                    {"account_number": account, "partner_name": ""},
                    # A shared account and the name of one of its holders: that holder.
                    {"account_number": account, "partner_name": "Otra Empresa"},
                ]
            ),
            [self.customer.id, False, self.other.id],
        )

    # 2. ------------------------------------------------------------------
    def test_reference_to_a_paid_invoice_goes_to_review_with_the_reason(self):
        paid = self._invoice(self.customer, 500.0, 30)
        self._pay(paid)
        self.assertIn(paid.payment_state, ("in_payment", "paid"))
        open_one = self._invoice(self.customer, 500.0, 10)
        match = self._match(self._line(500.0, f"Pago {paid.name}", self.customer))
        self.assertEqual(match.state, "proposed")
        self.assertEqual(match.review_reason, "closed_document")
        self.assertEqual(open_one.payment_state, "not_paid")
        self.assertEqual(match.candidate_ids.move_ids, open_one)  # still offered to the person who decides

    def test_another_customers_paid_invoice_is_a_mistyped_number(self):
        """Numbers are sequential: one digit off lands on someone's paid invoice as often as not. The
        line's own customer owes exactly that amount once: no evidence against that reading."""
        theirs = self._invoice(self.other, 90.0, 30)
        self._pay(theirs)
        own = self._invoice(self.customer, 500.0, 10)
        match = self._match(self._line(500.0, f"Pago {theirs.name}", self.customer))
        self.assertEqual(match.state, "auto_reconciled")
        self.assertFalse(match.review_reason)
        self.assertEqual(match.invoice_ids, own)

    def test_reference_to_a_credit_note_goes_to_review_with_the_reason(self):
        self._invoice(self.customer, 200.0, 10)
        refund = self._invoice(self.customer, 200.0, 5, move_type="out_refund")
        match = self._match(self._line(200.0, f"Abono {refund.name}", self.customer))
        self.assertEqual(match.state, "proposed")
        self.assertEqual(match.review_reason, "credit_note")

    def test_reference_to_another_companys_document_goes_to_review_with_the_reason(self):
        other_company = self.setup_other_company()["company"]
        theirs = (
            self.env["account.move"]
            .with_company(other_company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "invoice_date": TODAY,
                    "invoice_line_ids": [
                        Command.create({"name": "S", "quantity": 1, "price_unit": 300.0, "tax_ids": []})
                    ],
                }
            )
        )
        theirs.action_post()
        # Numbers of both companies may coincide (INV/2026/00001 in each): a reference only the
        # other company's document carries.
        theirs.payment_reference = "RF18 5390 0754 7034"
        self._invoice(self.customer, 300.0, 10)
        match = self._match(self._line(300.0, "Pago RF18 5390 0754 7034", self.customer))
        self.assertEqual(match.state, "proposed")
        self.assertEqual(match.review_reason, "other_company")

    # 3. ------------------------------------------------------------------
    def test_amount_only_never_settles_an_invoice_issued_after_the_line(self):
        later = self._invoice(self.customer, 640.0, 0)
        self.assertEqual(later.invoice_date, TODAY)
        match = self._match(self._line(640.0, "anticipo", self.customer, on=TODAY - timedelta(days=90)))
        self.assertEqual(match.state, "proposed")
        self.assertEqual(match.review_reason, "before_invoice")
        self.assertEqual(later.payment_state, "not_paid")
        # Issued on the line's date or before: the amount alone suffices.
        match = self._match(self._line(640.0, "pago", self.customer, on=TODAY))
        self.assertEqual(match.state, "auto_reconciled")

    # 4. ------------------------------------------------------------------
    def test_payment_and_bank_line_for_the_same_money_in_one_run(self):
        invoice = self._invoice(self.customer, 800.0, 10)
        payment = self._payment(self.customer, 800.0, f"Transfer {invoice.name}")
        line = self._line(800.0, f"Pago {invoice.name}", self.customer)
        self.Match._match(self.company)
        line_match = self.Match.search([("statement_line_id", "=", line.id)])
        payment_match = self.Match.search([("payment_id", "=", payment.id)])
        self.assertEqual(line_match.state, "auto_reconciled")
        self.assertLedgerHoldsWhatTheMatchSays(line_match)
        # The payment's money is not for an open invoice any more: a person looks at it.
        self.assertIn(payment_match.state, ("proposed", "none"))
        self.assertEqual(payment_match.review_reason, "closed_document")
        self.assertFalse(payment_match.partial_ids or payment_match.reconciled_amount)
        self.assertFalse(payment.is_reconciled)

    def test_a_match_never_claims_a_reconciliation_the_ledger_does_not_hold(self):
        invoice = self._invoice(self.customer, 800.0, 10)
        payment = self._payment(self.customer, 800.0, f"Transfer {invoice.name}")
        self.Match._match(self.company, payments=payment)
        match = self.Match.search([("payment_id", "=", payment.id)])
        self.assertEqual(match.state, "auto_reconciled")
        self.assertLedgerHoldsWhatTheMatchSays(match)
        # The invoice is settled by hand behind the matcher's back before a second payment is matched.
        second = self._payment(self.other, 100.0, "pago")
        other_invoice = self._invoice(self.other, 100.0, 10)
        reconcile = type(self.Match)._reconcile_candidates

        def settle_first(batch, candidates, state, *args):
            self._pay(other_invoice)
            return reconcile(batch, candidates, state, *args)

        with patch.object(type(self.Match), "_reconcile_candidates", settle_first):
            self.Match._match(self.company, payments=second)
        matches = self.Match.search([("payment_id", "=", second.id)])
        self.assertEqual(matches.state, "proposed")
        self.assertFalse(matches.partial_ids or matches.reconciled_amount or matches.invoice_ids)

    # 5. ------------------------------------------------------------------
    @freeze_time(TODAY)
    def test_the_log_lists_the_invoices_that_received_money_with_the_amounts(self):
        older = self._invoice(self.customer, 250.0, 40)
        newer = self._invoice(self.customer, 200.0, 10)
        self._running_plan(older | newer)
        match = self._match(self._line(150.0, "cuota plan de pagos", self.customer))
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.invoice_ids, older)
        self.assertEqual(match._amounts_by_invoice(), {older: 150.0})
        self.assertLedgerHoldsWhatTheMatchSays(match)
        # A registered payment of the next installment: its log too.
        payment = self._payment(self.customer, 150.0, "cuota")
        self.Match._match(self.company, payments=payment)
        match = self.Match.search([("payment_id", "=", payment.id)])
        self.assertEqual(match.state, "auto_reconciled")
        self.assertEqual(match.invoice_ids, older | newer)
        self.assertEqual(match._amounts_by_invoice(), {older: 100.0, newer: 50.0})
        self.assertLedgerHoldsWhatTheMatchSays(match)

    # 7. ------------------------------------------------------------------
    def test_consistency_check(self):
        """Every reconciled match records what the ledger holds; tampering shows."""
        invoice = self._invoice(self.customer, 800.0, 10)
        payment = self._payment(self.customer, 800.0, f"Transfer {invoice.name}")
        line = self._line(800.0, f"Pago {invoice.name}", self.customer)
        pair = self._invoice(self.other, 300.0, 10) | self._invoice(self.other, 200.0, 5)
        self._line(500.0, " ".join(pair.mapped("name")), self.other)
        self.Match._match(self.company)
        matches = self.Match.search([("state", "=", "auto_reconciled")])
        self.assertEqual(len(matches), 2)
        self.assertEqual(self.Match._consistency_problems(self.company), [])
        self.assertIn(self.Match.search([("payment_id", "=", payment.id)]).state, ("proposed", "none"))
        line_match = matches.filtered(lambda m: m.statement_line_id == line)
        pair_match = matches - line_match
        # A log that says another amount, or other invoices, than the ledger.
        self.env.cr.execute(
            "UPDATE collections_reconcile_match SET reconciled_amount = 1 WHERE id = %s", [line_match.id]
        )
        self.env.cr.execute(
            "DELETE FROM collections_reconcile_match_invoice_rel WHERE match_id = %s AND move_id = %s",
            [pair_match.id, pair[0].id],
        )
        # A reconciliation removed behind the log's back.
        other_line = self._line(150.0, "pago", self.customer)
        self._invoice(self.customer, 150.0, 3)
        third = self._match(other_line)
        self.assertEqual(third.state, "auto_reconciled")
        third.partial_ids.unlink()
        self.assertEqual(
            sorted((match.id, code) for match, code in self.Match._consistency_problems(self.company)),
            sorted(
                [
                    (line_match.id, "amount_differs"),
                    (pair_match.id, "invoices_differ"),
                    (third.id, "no_reconciliation"),
                    (third.id, "invoices_differ"),
                ]
            ),
        )
