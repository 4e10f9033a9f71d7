"""Property-based tests of the matcher (tools/reconcile_matching.py) with
hypothesis: customers, invoices and lines generated with deliberate
ambiguities (repeated amounts, sums of invoices, unknown customers, other
customers' numbers, documents that cannot take money, lines dated before
invoices). Whatever is generated, a line is reconciled automatically only
when exactly one reading of it is possible, checked by brute force."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged

from ..tools import reconcile_matching as matching

CURRENCY = 1
AMOUNTS = (100.0, 150.0, 250.0, 400.0)  # few amounts: collisions and sums on purpose
PARTNERS = (1, 2, 3)


@st.composite
def scenarios(draw):
    invoices = []
    for move_id in range(1, draw(st.integers(1, 14)) + 1):
        partner = draw(st.sampled_from(PARTNERS))
        if sum(inv.partner_id == partner for inv in invoices) >= 8:
            continue  # within the combination pool: the brute force and the matcher see the same invoices
        invoices.append(
            matching.OpenInvoice(
                move_id=move_id,
                partner_id=partner,
                residual=draw(st.sampled_from(AMOUNTS)),
                currency_id=CURRENCY,
                due=draw(st.integers(0, 30)),
                name=f"INV/2026/{move_id:05d}",
                issued=draw(st.integers(0, 30)),
            )
        )
    lines = []
    for key in range(1, draw(st.integers(1, 6)) + 1):
        named = draw(st.lists(st.sampled_from(invoices), max_size=2, unique_by=lambda inv: inv.move_id))
        summed = draw(st.lists(st.sampled_from(invoices), min_size=1, max_size=3, unique_by=lambda inv: inv.move_id))
        amount = draw(
            st.one_of(
                st.sampled_from(AMOUNTS),
                st.just(round(sum(inv.residual for inv in summed), 2)),
                st.just(round(sum(inv.residual for inv in named), 2) or 50.0),
            )
        )
        lines.append(
            matching.Line(
                key=key,
                partner_id=draw(st.one_of(st.none(), st.sampled_from(PARTNERS))),
                amount=amount,
                currency_id=CURRENCY,
                label=" ".join(["pago", *(inv.name for inv in named)]),
                date=draw(st.integers(0, 30)),
                quoted=draw(st.one_of(st.none(), st.sampled_from(matching.REVIEW_REASONS[:3]))),
            )
        )
    return invoices, lines


def readings(amount, invoices):
    """Every set of up to four of ``invoices`` whose open amounts make ``amount`` exactly."""
    found = []
    for size in range(1, min(4, len(invoices)) + 1):
        for combination in itertools.combinations(invoices, size):
            if round(sum(inv.residual for inv in combination) - amount, 2) == 0:
                found.append(frozenset(inv.move_id for inv in combination))
    return found


@tagged("at_install", "-post_install")
class TestReconcileProperties(BaseCase):
    @settings(
        max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(scenario=scenarios())
    def test_reconciled_by_itself_only_when_exactly_one_reading_is_possible(self, scenario):
        invoices, lines = scenario
        index = matching.OpenInvoiceIndex((inv, {matching.normalize_reference(inv.name)}) for inv in invoices)
        by_move = {inv.move_id: inv for inv in invoices}
        decisions = matching.decide(lines, index, 0.0)
        confident = [decision for decision in decisions if decision.verdict == "confident"]
        taken = {}
        for decision in confident:
            for move_id in decision.candidates[0].move_ids:
                taken.setdefault(move_id, []).append(decision.line.key)
        # No invoice is settled by two lines of one run.
        self.assertFalse({move: keys for move, keys in taken.items() if len(keys) > 1})
        for decision in confident:
            line, best = decision.line, decision.candidates[0]
            chosen = [by_move[move_id] for move_id in best.move_ids]
            named = {inv.move_id for inv in invoices if inv.name in line.label}
            # A line quoting a document that cannot take the money waits for a person.
            self.assertIsNone(line.quoted, decision)
            # Never another customer's invoice, never several customers'.
            self.assertEqual({inv.partner_id for inv in chosen}, {best.partner_id})
            self.assertTrue(all(by_move[move].partner_id == best.partner_id for move in named), decision)
            if line.partner_id is not None:
                self.assertEqual(best.partner_id, line.partner_id)
            if best.rule in matching.REFERENCE_RULES:
                # The reading the label gives: exactly the invoices it names.
                self.assertEqual(set(best.move_ids), named)
                total = round(sum(inv.residual for inv in chosen), 2)
                if best.rule == "reference_partial":
                    self.assertIsNotNone(line.partner_id)
                    self.assertEqual(len(chosen), 1)
                    self.assertLess(line.amount, total)
                    self.assertFalse(
                        [inv for inv in invoices if inv.partner_id == line.partner_id and inv.residual == line.amount]
                    )
                else:
                    self.assertEqual(line.amount, total)
                continue
            # Without a reference: a known customer, nothing named, one set of their invoices (not
            # taken by another line) making the amount, each issued by the line's date.
            self.assertIsNotNone(line.partner_id)
            self.assertFalse(named)
            others = {move for move, keys in taken.items() if line.key not in keys}
            own = [inv for inv in invoices if inv.partner_id == line.partner_id and inv.move_id not in others]
            self.assertEqual(readings(line.amount, own), [frozenset(best.move_ids)], decision)
            self.assertTrue(all(inv.issued <= line.date for inv in chosen), decision)
