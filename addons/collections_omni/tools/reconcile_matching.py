"""Matching bank statement lines and payments to open invoices, in plain Python.

The model (``collections.reconcile.match``) loads the open receivables of a
company with one SQL query and hands them here with the lines to match; this
module decides, line by line, from dictionaries only (no database access):

* ``reference``: an invoice's number or payment reference (Odoo's own
  ``INV/2026/00042``, a Belgian ``+++123/4567/89012+++`` structured
  communication, an ISO 11649 ``RF`` creditor reference) found in the label,
  compared normalised (upper case, letters and digits only), also when the
  bank split it with spaces;
* ``amount``: an open invoice of the line's customer whose residual equals the
  amount (within the tolerance it is only proposed);
* ``combination``: a few of the customer's oldest open invoices that together
  make the amount exactly;
* further sources through ``extra_candidates`` (payment-plan installments).

A *confident* line is reconciled by itself, an *ambiguous* one waits for a
person with its candidates ranked, the rest has no match. The rules keep
precision first: a line whose customer is known is never matched
automatically to another customer's invoice, and an invoice claimed by two
lines of one run goes to review for both. Two more send a line to review
with a reason (``Decision.reason``):

* a line quoting a document that cannot take the money (a paid or cancelled
  invoice, a credit note, another company's document: ``Line.quoted``) is
  never reconciled by itself, whatever else it matches;
* without a reference, an invoice is settled automatically only if it was
  issued on or before the line's date: an advance paid before an invoice
  existed does not settle it by its amount alone.
"""

import functools
import itertools
import re
from dataclasses import dataclass, field

SPLIT_RE = re.compile(r"[\W_]+")  # references are rejoined from runs of words: INV/2026/00042, RF18 5390 ...
NON_ALNUM_RE = re.compile(r"[^0-9A-Z]")
MIN_KEY_LENGTH = 5
MAX_KEY_LENGTH = 34
MAX_WORDS_PER_KEY = 7  # an RF reference printed in groups of four: RF18 5390 0754 7034 ...
COMBINATION_POOL = 12  # the customer's oldest open invoices tried in combinations
COMBINATION_MAX_SIZE = 4
MAX_CANDIDATES = 10

SCORES = {
    "reference": 100,
    "reference_tolerance": 95,
    "reference_partial": 85,
    "reference_overpaid": 60,
    "amount": 70,
    "amount_tolerance": 60,
    "combination": 50,
    "installment": 65,
    "other_partner": 20,
}


def normalize_reference(text):
    """Upper case, letters and digits only: 'inv/2026/00042' -> 'INV202600042'."""
    text = (text or "").upper()
    if text.isascii() and text.isalnum():
        return text  # already clean (most words of a label): no regular expression needed
    return NON_ALNUM_RE.sub("", text)


def label_keys(label):
    """Every normalised run of 1 to 7 consecutive words of a label that could
    be a reference (5 to 34 characters, at least one digit)."""
    words = [normalize_reference(word) for word in SPLIT_RE.split(label or "")]
    words = [(word, any(char.isdigit() for char in word)) for word in words if word]
    keys = set()
    for start in range(len(words)):
        key, has_digit = "", False
        for word, word_has_digit in words[start : start + MAX_WORDS_PER_KEY]:
            key += word
            has_digit = has_digit or word_has_digit
            if len(key) > MAX_KEY_LENGTH:
                break
            if len(key) >= MIN_KEY_LENGTH and has_digit:
                keys.add(key)
    return keys


@dataclass
class OpenInvoice:
    move_id: int
    partner_id: int  # commercial partner
    residual: float  # in the invoice's currency
    currency_id: int
    due: object  # date, for "oldest first"
    name: str = ""
    issued: object = None  # invoice date: amount-only matches need the invoice to exist on the line's date


@dataclass
class Line:
    key: int  # statement line or payment id
    partner_id: int | None  # commercial partner, None when unknown
    amount: float  # in the line's currency
    currency_id: int
    label: str
    digits: int = 2  # the currency's decimal places: amounts compare in its smallest unit
    date: object = None  # the day the money came in
    quoted: str | None = None  # a REVIEW_REASONS code: the label quotes a document that cannot take the money

    @functools.cached_property
    def keys(self):
        """What in the label could be a reference (:func:`label_keys`), computed once."""
        return label_keys(self.label)


@dataclass
class Candidate:
    move_ids: tuple
    partner_id: int
    rule: str
    score: int
    amount: float  # residual of the candidate invoices together


@dataclass
class Installment:
    plan_id: int
    partner_id: int  # commercial partner
    currency_id: int
    amount: float  # what the plan's next installment still asks
    move_ids: tuple  # the plan's invoices


class InstallmentIndex:
    """The next installment of each running payment plan, by customer."""

    def __init__(self, installments):
        self.by_partner = {}
        for installment in installments:
            self.by_partner.setdefault(installment.partner_id, []).append(installment)

    def candidates(self, line, open_invoices):
        """A payment of exactly a plan's next installment: that plan's open
        invoices, settled oldest first up to the amount paid."""
        open_by_move = {inv.move_id: inv for inv in open_invoices}
        for installment in self.by_partner.get(line.partner_id, ()):
            invoices = [open_by_move[move_id] for move_id in installment.move_ids if move_id in open_by_move]
            if (
                installment.currency_id == line.currency_id
                and invoices
                and round(line.amount - installment.amount, line.digits) == 0
            ):
                yield _candidate(invoices, "installment", line.digits, amount=installment.amount)


# Why a line that could have been reconciled by itself waits for a person (codes; the model labels them).
REVIEW_REASONS = ("closed_document", "credit_note", "other_company", "before_invoice")


@dataclass
class Decision:
    line: Line
    verdict: str  # "confident", "ambiguous" or "none"
    candidates: list = field(default_factory=list)
    reason: str | None = None  # one of REVIEW_REASONS


class OpenInvoiceIndex:
    """The open invoices of a company, indexed by normalised reference and by customer."""

    def __init__(self, invoices):
        self.by_move = {}
        self.by_key = {}
        self.by_partner = {}
        self.keys_of = {}
        for invoice, keys in invoices:
            self.by_move[invoice.move_id] = invoice
            self.keys_of[invoice.move_id] = keys
            for key in keys:
                if len(key) >= MIN_KEY_LENGTH:
                    self.by_key.setdefault(key, set()).add(invoice.move_id)
            self.by_partner.setdefault(invoice.partner_id, []).append(invoice)
        for open_invoices in self.by_partner.values():
            open_invoices.sort(key=lambda inv: (inv.due, inv.move_id))

    def refresh(self, move_ids, residuals):
        """What earlier decisions settled: of the invoices ``move_ids``, those
        in ``residuals`` ({move id: open amount}) are still open with that
        amount, the others are no longer open."""
        for move_id in move_ids:
            invoice = self.by_move.get(move_id)
            if invoice is None:
                continue
            if move_id in residuals:
                invoice.residual = residuals[move_id]
                continue
            del self.by_move[move_id]
            for key in self.keys_of.pop(move_id, ()):
                self.by_key.get(key, set()).discard(move_id)
                if key in self.by_key and not self.by_key[key]:
                    del self.by_key[key]
            self.by_partner[invoice.partner_id].remove(invoice)

    def referenced(self, label, keys=None):
        """(invoices named in the label, customers named in it). A reference
        shared by several invoices (Odoo's customer-based communication)
        names the customer, not an invoice. ``keys``: the label's, if known."""
        found, partners = set(), set()
        for key in label_keys(label) if keys is None else keys:
            move_ids = self.by_key.get(key, ())
            if len(move_ids) == 1:
                found |= move_ids
            elif move_ids:
                partners |= {self.by_move[move_id].partner_id for move_id in move_ids}
        return [self.by_move[move_id] for move_id in sorted(found)], partners


def _candidate(invoices, rule, digits, amount=None):
    return Candidate(
        move_ids=tuple(inv.move_id for inv in sorted(invoices, key=lambda inv: (inv.due, inv.move_id))),
        partner_id=invoices[0].partner_id,
        rule=rule,
        score=SCORES[rule],
        amount=round(sum(inv.residual for inv in invoices) if amount is None else amount, digits),
    )


def _by_reference(line, referenced, tolerance, index):
    """Candidates from the invoices named in the label, and whether they are confident."""
    if not referenced:
        return [], False
    own = [inv for inv in referenced if line.partner_id is None or inv.partner_id == line.partner_id]
    others = [inv for inv in referenced if inv not in own]
    digits = line.digits
    candidates = [_candidate([inv], "other_partner", digits) for inv in others]
    if not own:
        return candidates, False
    partners = {inv.partner_id for inv in own}
    if len(partners) > 1:  # the label names invoices of several customers: a person decides
        return candidates + [_candidate([inv], "reference_overpaid", digits) for inv in own], False
    total = round(sum(inv.residual for inv in own), digits)
    difference = round(line.amount - total, digits)
    if difference == 0:
        rule = "reference"
    elif abs(difference) <= tolerance:
        rule = "reference_tolerance"
    elif difference < 0:
        rule = "reference_partial"
    else:
        rule = "reference_overpaid"
    candidates.insert(0, _candidate(own, rule, digits))
    confident = not others and (
        rule in ("reference", "reference_tolerance")
        # A partial payment is taken as such only when the customer is known, names one invoice,
        # and no other open invoice of theirs is of that very amount (a mistyped number).
        or (
            rule == "reference_partial"
            and line.partner_id is not None
            and len(own) == 1
            and not any(
                abs(round(line.amount - inv.residual, digits)) <= tolerance
                for inv in index.by_partner.get(line.partner_id, [])
                if inv.currency_id == line.currency_id
            )
        )
    )
    return candidates, confident


def _by_amount(line, open_invoices, tolerance):
    """The customer's open invoices, alone or a few together, that make the amount."""
    candidates = []
    digits = line.digits
    for inv in open_invoices:
        difference = round(line.amount - inv.residual, digits)
        if difference == 0:
            candidates.append(_candidate([inv], "amount", digits))
        elif abs(difference) <= tolerance:
            candidates.append(_candidate([inv], "amount_tolerance", digits))

    def units(amount):  # in the currency's smallest unit: cents, yen, fils
        return round(amount * 10**digits)

    wanted = units(line.amount)
    # Pairs among all the customer's open invoices, by looking up the complement.
    by_units = {}
    for inv in open_invoices:
        by_units.setdefault(units(inv.residual), []).append(inv)
    for first in open_invoices:
        for second in by_units.get(wanted - units(first.residual), ()):
            if (second.due, second.move_id) > (first.due, first.move_id):
                candidates.append(_candidate([first, second], "combination", digits))
                if len(candidates) > MAX_CANDIDATES:
                    return candidates
    pool = open_invoices[:COMBINATION_POOL]
    pool_units = [units(inv.residual) for inv in pool]
    for size in range(3, min(COMBINATION_MAX_SIZE, len(pool)) + 1):
        # Exact only: with a tolerance, chance sums of a customer's invoices come too close.
        for positions, amounts in zip(
            itertools.combinations(range(len(pool)), size), itertools.combinations(pool_units, size), strict=True
        ):
            if sum(amounts) == wanted:
                candidates.append(_candidate([pool[i] for i in positions], "combination", digits))
                if len(candidates) > MAX_CANDIDATES:
                    return candidates
    return candidates


REFERENCE_RULES = ("reference", "reference_tolerance", "reference_partial", "reference_overpaid")


def _issued_after(line, candidate, index):
    """Whether an invoice of the candidate did not exist yet on the line's date."""
    if line.date is None:
        return False
    return any(
        index.by_move[move_id].issued is not None and index.by_move[move_id].issued > line.date
        for move_id in candidate.move_ids
    )


def decide(lines, index, tolerance, extra_candidates=None):
    """One :class:`Decision` per line.

    Two passes: lines with a confident reference first, then the others by
    amount among the invoices nobody claimed yet, so that a customer paying
    one invoice by reference and another by amount alone gets both matched.
    ``extra_candidates(line, open_invoices)`` may add candidates (payment-plan
    installments); one is confident when it is the line's only candidate.
    """
    decisions = {}
    claimed = {}
    later = []
    for line in lines:
        referenced, named_partners = index.referenced(line.label, line.keys)
        referenced = [inv for inv in referenced if inv.currency_id == line.currency_id]
        if line.partner_id is None and len(named_partners) == 1:
            line.partner_id = next(iter(named_partners))
        candidates, confident = _by_reference(line, referenced, tolerance, index)
        if confident and not line.quoted:
            decisions[line.key] = Decision(line, "confident", candidates)
            for move_id in candidates[0].move_ids:
                claimed.setdefault(move_id, []).append(line.key)
        else:
            later.append((line, candidates))
    for line, candidates in later:
        if line.partner_id is not None:
            open_invoices = [
                inv
                for inv in index.by_partner.get(line.partner_id, [])
                if inv.currency_id == line.currency_id and inv.move_id not in claimed
            ]
            known = {cand.move_ids for cand in candidates}
            by_amount = [cand for cand in _by_amount(line, open_invoices, tolerance) if cand.move_ids not in known]
            extra = list(extra_candidates(line, open_invoices)) if extra_candidates else []
            # Without a reference only an exact amount is sure enough: one invoice, or one plan's installment.
            found = by_amount + extra
            confident = not candidates and len(found) == 1 and found[0].rule != "amount_tolerance"
            candidates = candidates + found
        else:
            confident = False
        reason = line.quoted
        if confident and reason:
            confident = False
        elif confident and candidates[0].rule not in REFERENCE_RULES and _issued_after(line, candidates[0], index):
            confident, reason = False, "before_invoice"
        verdict = "confident" if confident else ("ambiguous" if candidates else "none")
        decisions[line.key] = Decision(line, verdict, candidates, reason)
        if confident:
            for move_id in candidates[0].move_ids:
                claimed.setdefault(move_id, []).append(line.key)
    # An invoice two confident lines claim: neither is sure any more.
    for keys in claimed.values():
        if len(keys) > 1:
            for key in keys:
                decisions[key].verdict = "ambiguous"
    result = []
    for line in lines:
        decision = decisions[line.key]
        decision.candidates = sorted(decision.candidates, key=lambda cand: -cand.score)[:MAX_CANDIDATES]
        result.append(decision)
    return result


def allocate(amount, residuals, tolerance, digits=2):
    """How a received amount settles invoices, oldest first.

    ``residuals``: the invoices' residuals in settling order. Returns
    ``(allocations, write_off)``: the amount applied to each invoice and the
    difference within the tolerance to write off (positive: received less
    than owed), or ``None`` when no write-off applies; what is left over beyond
    the invoices stays as an open credit of the customer. ``digits``: the
    currency's decimal places.
    """
    remaining = round(amount, digits)
    allocations = []
    for residual in residuals:
        applied = round(min(residual, max(remaining, 0.0)), digits)
        allocations.append(applied)
        remaining = round(remaining - applied, digits)
    shortfall = round(sum(residuals) - amount, digits)
    write_off = shortfall if shortfall and abs(shortfall) <= tolerance else None
    if write_off is not None and write_off > 0:
        allocations = list(residuals)  # settle in full, the write-off covers the gap
    return allocations, write_off
