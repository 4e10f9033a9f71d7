import time
from collections import namedtuple

from odoo import _, models
from odoo.exceptions import UserError

from ..tools import reconcile_matching as matching
from ..tools.reconcile_writer import write_statement_reconciliations

# A statement line's suspense item (company-currency balance, amount in the line's currency).
Suspense = namedtuple("Suspense", "id move_id name currency_id amount_currency balance")
# An open receivable item of a candidate invoice.
Target = namedtuple("Target", "id account_id currency_id residual matching_number")
# What reconciling a statement-line match starts from (see _statement_sources).
StatementSource = namedtuple(
    "StatementSource", "partner_id currency_id foreign_currency_id suspense journal_id date targets"
)


class CollectionsReconcileMatchWriting(models.AbstractModel):
    """Reconciliation, writing: a batch of matches reconciled with their
    chosen candidates. Statement lines in the company currency go through
    the set-based writer (``tools/reconcile_writer.py``; what the ORM would
    have triggered is in ``collections_reconcile_match_effects.py``), the
    others and payments through the accounting ORM; then the log
    (:meth:`_record_reconciliation`)."""

    _name = "collections.reconcile.match.writing"
    _description = "Collections Reconciliation: Writing"

    def _reconcile_candidates(self, candidates, state, timings=None):
        """Reconcile each match of ``self`` with its candidate in ``candidates``
        (one per match), in one batch per kind of source. ``timings``
        collects the seconds spent per step (for the benchmark)."""
        timings = {} if timings is None else timings
        started = time.perf_counter()

        def lap(step):
            nonlocal started
            self.env.flush_all()
            now = time.perf_counter()
            timings[step] = timings.get(step, 0.0) + now - started
            started = now

        # Which match each candidate belongs to, read alone (the ORM would load every field of thousands).
        self.env.cr.execute(
            "SELECT match_id, id FROM collections_reconcile_candidate WHERE id = ANY(%s)", [candidates.ids]
        )
        by_match = {
            match_id: candidates.browse(candidate_id).with_prefetch(candidates._prefetch_ids)
            for match_id, candidate_id in self.env.cr.fetchall()
        }
        company = self._company()
        self.env.flush_all()
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM account_partial_reconcile")
        last_partial = self.env.cr.fetchone()[0]
        sources = self._statement_sources(by_match)
        items = self._counterparts(sources, company)
        set_based = self._set_based_reconcilable(sources, company)
        known = set_based._reconcile_set_based(sources, items, company, lap) if set_based else {}
        st_matches = self.browse(sources) - set_based
        pay_matches = self - st_matches - set_based
        # A statement line of an unknown customer keeps its (empty) customer: the receivable items
        # carry the invoices' customer, and the match records it. Writing it on the line would
        # resynchronise its whole journal entry, one ORM write per customer.
        new_line_vals, new_line_targets = [], []
        for match in st_matches:
            source = sources[match.id]
            for account_id, amount_currency, balance, target in items[match.id]:
                new_line_vals.append(
                    {
                        "move_id": source.suspense.move_id,
                        "partner_id": source.partner_id,
                        "name": source.suspense.name,
                        "currency_id": source.suspense.currency_id,
                        "account_id": account_id,
                        "amount_currency": amount_currency,
                        "balance": balance,
                    }
                )
                new_line_targets.append(target.id if target else None)
        lap("prepare_items")
        plan = []
        if st_matches:
            moves = st_matches.statement_line_id.move_id
            container = {"records": moves, "self": moves}
            ctx = {
                "skip_account_move_synchronization": True,
                "skip_invoice_sync": True,
                "force_delete": True,
                "tracking_disable": True,
            }
            Line = self.env["account.move.line"].with_context(**ctx)
            # The balance of the statement lines' entries is checked once, when all items are replaced.
            with moves.with_context(**ctx)._check_balanced(container):
                Line.browse(sources[match.id].suspense.id for match in st_matches).unlink()
                new_lines = Line.create(new_line_vals)
            plan += [
                line | Line.browse(target) for line, target in zip(new_lines, new_line_targets, strict=True) if target
            ]
        lap("replace_suspense")
        Line = self.env["account.move.line"]
        targets = pay_matches._candidate_targets(by_match) if pay_matches else {}
        for match in pay_matches:
            pay_lines = match.payment_id.move_id.line_ids.filtered(
                lambda aml: aml.account_type == "asset_receivable" and not aml.reconciled
            )
            plan.append(pay_lines | Line.browse(target.id for target in targets.get(match.id, [])))
        if plan:
            self.env["account.move.line"]._reconcile_plan(plan)
        lap("reconcile")
        self._record_reconciliation(by_match, last_partial, state, known)
        lap("log")
        # The chatter of the settled invoices (payment status, "invoice paid" notifications) is written
        # at commit; counted here so that the benchmark sees the whole cost.
        self.env.cr.flush()
        lap("chatter")

    def _company(self):
        """The one company of ``self``, read alone: the ORM would load every
        field of thousands of matches for it."""
        self.flush_model(["company_id"])
        self.env.cr.execute(
            "SELECT DISTINCT company_id FROM collections_reconcile_match WHERE id = ANY(%s)", [self.ids]
        )
        company = self.env["res.company"].browse(company_id for (company_id,) in self.env.cr.fetchall())
        company.ensure_one()
        return company

    def _statement_sources(self, by_match):
        """What reconciling each statement-line match of ``self`` with its
        candidate in ``by_match`` starts from, in two queries: {match id:
        StatementSource}. The suspense item is the one ``_seek_for_lines``
        finds; the targets are the candidate invoices' open receivable items,
        oldest due invoice first, then by maturity."""
        if not self:
            return {}
        params = {"matches": self.ids, "candidates": [by_match[match_id].id for match_id in self.ids]}
        cr = self.env.cr
        cr.execute(
            """
            SELECT src.match_id, c.partner_id, st.currency_id, st.foreign_currency_id,
                   array_agg(sus.id), MIN(sus.move_id), MIN(sus.name), MIN(sus.currency_id),
                   SUM(sus.amount_currency), SUM(sus.balance), MIN(m.journal_id), MIN(m.date)
              FROM unnest(%(matches)s::int[], %(candidates)s::int[]) AS src(match_id, candidate_id)
              JOIN collections_reconcile_match x ON x.id = src.match_id
              JOIN collections_reconcile_candidate c ON c.id = src.candidate_id
              JOIN account_bank_statement_line st ON st.id = x.statement_line_id
              JOIN account_move m ON m.id = st.move_id
              JOIN account_journal j ON j.id = st.journal_id
              LEFT JOIN account_move_line sus ON sus.move_id = st.move_id AND sus.account_id = j.suspense_account_id
             GROUP BY src.match_id, c.partner_id, st.currency_id, st.foreign_currency_id
            """,
            params,
        )
        sources = {
            row[0]: StatementSource(
                partner_id=row[1],
                currency_id=row[2],
                foreign_currency_id=row[3],
                suspense=Suspense(row[4][0], *row[5:10]) if row[4] != [None] and len(row[4]) == 1 else None,
                journal_id=row[10],
                date=row[11],
                targets=[],
            )
            for row in cr.fetchall()
        }
        for match_id, targets in self.browse(sources)._candidate_targets(by_match).items():
            sources[match_id].targets.extend(targets)
        return sources

    def _candidate_targets(self, by_match):
        """{match id: the open receivable items of its candidate's invoices
        in ``by_match``, in settling order (oldest due invoice first, then by
        maturity)}, in one query."""
        self.env.cr.execute(
            """
            SELECT src.match_id, t.id, t.account_id, t.currency_id, t.amount_residual_currency, t.matching_number
              FROM unnest(%s::int[], %s::int[]) AS src(match_id, candidate_id)
              JOIN collections_reconcile_candidate_move_rel cm ON cm.candidate_id = src.candidate_id
              JOIN account_move m ON m.id = cm.move_id
              JOIN account_move_line t ON t.move_id = m.id AND t.reconciled IS NOT TRUE
              JOIN account_account a ON a.id = t.account_id AND a.account_type = 'asset_receivable'
             ORDER BY src.match_id, COALESCE(m.invoice_date_due, m.date), m.id, t.date_maturity, t.id
            """,
            [self.ids, [by_match[match_id].id for match_id in self.ids]],
        )
        targets = {}
        for match_id, *target in self.env.cr.fetchall():
            targets.setdefault(match_id, []).append(Target(*target))
        return targets

    def _counterparts(self, sources, company):
        """The journal items replacing the suspense item of each statement
        line of ``self`` (``sources``: :meth:`_statement_sources`): one
        receivable item per invoice item settled, a write-off within the
        tolerance, and what is paid beyond the invoices as an open credit of
        the customer. Returns {match id: [(account id, amount in the line's
        currency, balance, the Target it settles or None)]}."""
        tolerance = company.collections_reconcile_tolerance or 0.0
        company_currency = company.currency_id
        write_off_account = company.collections_reconcile_writeoff_account_id
        currencies = self.env["res.currency"].browse(
            {source.suspense.currency_id for source in sources.values() if source.suspense}
        )
        partners = (
            self.env["res.partner"].with_company(company).browse({source.partner_id for source in sources.values()})
        )
        result = {}
        for match in self.browse(sources):
            source = sources[match.id]
            suspense = source.suspense
            if not suspense:
                raise UserError(
                    _("The statement line of %(match)s has no single suspense item.", match=match.display_name)
                )
            currency = currencies.browse(suspense.currency_id)
            targets = [target for target in source.targets if target.currency_id == suspense.currency_id]
            if not targets:
                raise UserError(_("The invoices of %(match)s are no longer open.", match=match.display_name))
            amount = -suspense.amount_currency
            allocations, write_off = matching.allocate(
                amount,
                [target.residual for target in targets],
                tolerance if write_off_account else 0.0,
                currency.decimal_places,
            )
            items = [
                [target.account_id, -applied, target]
                for target, applied in zip(targets, allocations, strict=True)
                if applied
            ]
            left = round(amount - sum(allocations) + (write_off or 0.0), currency.decimal_places)
            if write_off:
                items.append([write_off_account.id, write_off, None])
            if not currency.is_zero(left):
                partner = partners.browse(source.partner_id).with_prefetch(partners._prefetch_ids)
                items.append([partner.property_account_receivable_id.id, -left, None])
            # Company-currency balances in the statement line's own rate; the last item takes the rounding.
            remaining = suspense.balance
            for item in items[:-1]:
                balance = company_currency.round(suspense.balance * item[1] / suspense.amount_currency)
                item.insert(2, balance)
                remaining -= balance
            items[-1].insert(2, company_currency.round(remaining))
            result[match.id] = [tuple(item) for item in items]
        return result

    def _set_based_reconcilable(self, sources, company):
        """The statement-line matches of ``self`` that the set-based writer
        may reconcile: company currency throughout, no cash-basis taxes or
        storno, invoice items claimed by one match only and reconciled before
        (if at all) only with company-currency items. The others go through
        the accounting ORM."""
        if (
            not company.collections_reconcile_set_based
            or company.tax_exigibility
            or company.account_storno
            # An accountant module's "in payment" state depends on each payment's bank match.
            or self.env["account.move"]._get_invoice_in_payment_state() != "paid"
        ):
            return self.browse()
        currency_id = company.currency_id.id
        claimed, eligible = {}, []
        for match_id, source in sources.items():
            if source.foreign_currency_id or source.currency_id != currency_id:
                continue
            if not source.targets or any(
                t.currency_id != currency_id or (t.matching_number and not t.matching_number.startswith("P"))
                for t in source.targets
            ):
                continue
            for target in source.targets:
                claimed[target.id] = claimed.get(target.id, 0) + 1
            eligible.append((match_id, source.targets))
        numbers = list({t.matching_number for _match, targets in eligible for t in targets if t.matching_number})
        excluded = set()
        if numbers:
            self.env.cr.execute(
                """
                SELECT DISTINCT o.matching_number
                  FROM account_move_line o
                 WHERE o.matching_number = ANY(%s) AND o.currency_id != %s
                """,
                [numbers, currency_id],
            )
            excluded = {number for (number,) in self.env.cr.fetchall()}
        return self.browse(
            match_id
            for match_id, targets in eligible
            if all(claimed[t.id] == 1 and t.matching_number not in excluded for t in targets)
        )

    def _reconcile_set_based(self, sources, counterparts, company, lap):
        """Reconcile ``self`` (see :meth:`_set_based_reconcilable`) with the
        journal items of :meth:`_counterparts`, the same the ORM path
        creates, written by ``tools/reconcile_writer.py``; then what the ORM
        would have triggered: the invoices' chatter, Odoo's paid hook, the
        collections payment hooks and other stored fields depending on what
        was written. Returns {match id: (ids of the partials it wrote, the
        amount it applied to the invoices)}."""
        items = []
        for match_id in self.ids:
            suspense_id = sources[match_id].suspense.id
            for position, (account_id, _amount, balance, target) in enumerate(counterparts[match_id], start=1):
                items.append(
                    (
                        match_id,
                        suspense_id,
                        position,
                        account_id,
                        sources[match_id].partner_id,
                        balance,
                        target.id if target else None,
                    )
                )
        # As the ORM does when the items of a posted entry change: nothing before a lock date. The
        # check depends on the company, the journal and the date only: one entry of each suffices.
        representatives = {
            (source.journal_id, source.date): source.suspense.move_id for source in map(sources.get, self.ids)
        }
        self.env["account.move"].browse(representatives.values())._check_fiscal_lock_dates()
        statement_moves = self.env["account.move"].browse(sources[match_id].suspense.move_id for match_id in self.ids)
        lap("prepare_items")
        result = write_statement_reconciliations(self.env.cr, self.env.uid, items)
        self.env.invalidate_all()
        lap("write_reconciliation")
        invoices = self.env["account.move"].browse(result["invoices"])
        self._track_payment_states(result["changed_payment_state"])
        lap("chatter_set_based")
        changed = invoices.browse([move_id for move_id, _old, _new in result["changed_payment_state"]])
        self._trigger_dependents(invoices, statement_moves, result["lines"], result["group_lines"], changed)
        lap("dependent_fields")
        invoices.browse(result["paid"])._invoice_paid_hook()
        lap("paid_hook")
        self.env["account.partial.reconcile"]._collections_on_payments(invoices)
        lap("collections_hooks")
        # What each match applied to its invoices (in the company currency, the invoices' too).
        digits = company.currency_id.decimal_places
        applied = {
            match_id: round(
                sum(-amount for _account, amount, _balance, target in counterparts[match_id] if target), digits
            )
            for match_id in self.ids
        }
        known = {match_id: ([], amount) for match_id, amount in applied.items()}
        for match_id, partial_id in result["partials"]:
            known[match_id][0].append(partial_id)
        return known
