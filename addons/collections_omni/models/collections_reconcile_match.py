import logging
import time
from collections import namedtuple

from odoo import Command, _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id

from ..tools import reconcile_matching as matching
from ..tools import sql_rules
from ..tools.reconcile_writer import ITEM_COLUMNS, write_statement_reconciliations
from ..tools.rules import GROUP_MANAGER
from ..tools.table_statistics import analyze_outgrown

_logger = logging.getLogger(__name__)

# A statement line's suspense item (company-currency balance, amount in the line's currency).
Suspense = namedtuple("Suspense", "id move_id name currency_id amount_currency balance")
# An open receivable item of a candidate invoice.
Target = namedtuple("Target", "id account_id currency_id residual matching_number")
# What reconciling a statement-line match starts from (see _statement_sources).
StatementSource = namedtuple(
    "StatementSource", "partner_id currency_id foreign_currency_id suspense journal_id date targets"
)

# Open customer invoices a payment can settle (credit notes are netted by the
# dunning run, not paid from the bank).
# 'in_payment' is left out: a payment already registered for it waits in the outstanding account.
OPEN_INVOICE_SQL = SQL("%s AND m.payment_state != 'in_payment'", sql_rules.open_invoice("m"))
LIVE_STATES = ("auto_reconciled", "confirmed")
CRON_BATCH = 1000  # lines per cron transaction: the cron framework commits and runs the job again for the rest
RULES = [
    ("reference", "Reference"),
    ("reference_tolerance", "Reference, amount within tolerance"),
    ("reference_partial", "Reference, partial payment"),
    ("reference_overpaid", "Reference, amount differs"),
    ("amount", "Customer and amount"),
    ("amount_tolerance", "Customer and amount within tolerance"),
    ("combination", "Customer and several invoices"),
    ("installment", "Payment plan installment"),
    ("other_partner", "Another customer's invoice"),
]


class CollectionsReconcileMatch(models.Model):
    """One bank statement line or customer payment matched (or not yet) to open invoices.

    The log of every automatic reconciliation and the review queue of the
    ambiguous ones: what came in, the ranked candidates, what was reconciled
    (the partials this match created, so that undo reverts exactly them), who
    confirmed or undid it and when. The matcher itself is :meth:`_match`:
    set-based SQL to load the lines and the open invoices, the decision in
    ``tools/reconcile_matching.py``, one batched reconciliation of the
    confident lines.
    """

    _name = "collections.reconcile.match"
    _description = "Collections Reconciliation Match"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "label"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    statement_line_id = fields.Many2one(
        "account.bank.statement.line",
        readonly=True,
        index="btree_not_null",
        ondelete="cascade",
    )
    payment_id = fields.Many2one("account.payment", readonly=True, index="btree_not_null", ondelete="cascade")
    date = fields.Date(readonly=True)
    label = fields.Char(readonly=True)
    amount = fields.Monetary(readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True, index=True)
    original_partner_id = fields.Many2one(
        "res.partner", readonly=True, help="The statement line's customer before the match set it."
    )
    state = fields.Selection(
        [
            ("proposed", "To Review"),
            ("auto_reconciled", "Reconciled Automatically"),
            ("confirmed", "Confirmed"),
            ("rejected", "Rejected"),
            ("undone", "Undone"),
            ("none", "No Match"),
        ],
        required=True,
        default="proposed",
        readonly=True,
        index=True,
        tracking=True,
    )
    review_reason = fields.Selection(
        [
            ("closed_document", "Quotes an invoice already paid or cancelled"),
            ("credit_note", "Quotes a credit note"),
            ("other_company", "Quotes another company's document"),
            ("before_invoice", "Dated before the invoice was issued"),
        ],
        readonly=True,
        help="Why a line that matches an open invoice was not reconciled automatically.",
    )
    rule = fields.Selection(
        RULES,
        readonly=True,
        help="The rule of the reconciled candidate, or of the best one while in review.",
    )
    candidate_ids = fields.One2many("collections.reconcile.candidate", "match_id", readonly=True)
    candidate_count = fields.Integer(compute="_compute_candidate_count")
    invoice_ids = fields.Many2many(
        "account.move",
        "collections_reconcile_match_invoice_rel",
        "match_id",
        "move_id",
        string="Reconciled Invoices",
        readonly=True,
    )
    partial_ids = fields.Many2many(
        "account.partial.reconcile",
        "collections_reconcile_match_partial_rel",
        "match_id",
        "partial_id",
        readonly=True,
        help="The reconciliations this match created: undo removes exactly these.",
    )
    reconciled_amount = fields.Monetary(readonly=True)
    reconciled_at = fields.Datetime(readonly=True)
    reconciled_by_id = fields.Many2one("res.users", readonly=True)
    undone_at = fields.Datetime(readonly=True)
    undone_by_id = fields.Many2one("res.users", readonly=True)

    _sql_constraints = [
        (
            "one_source",
            "CHECK ((statement_line_id IS NULL) <> (payment_id IS NULL))",
            "A match is for one statement line or one payment.",
        ),
    ]

    @api.depends("candidate_ids")
    def _compute_candidate_count(self):
        for match in self:
            match.candidate_count = len(match.candidate_ids)

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    @api.model
    def _cron_match(self, batch=CRON_BATCH):
        """Match the statement lines and payments never looked at yet, a
        batch at a time (the rest is reported to the cron, which runs again).
        Proposals of earlier runs are looked at again by *Match Now*."""
        done = remaining = 0
        for company in self.env["res.company"].search([]):
            line_ids = [row[0] for row in self._unmatched_statement_lines(company, new_only=True)]
            payment_ids = [row[0] for row in self._unmatched_payments(company, new_only=True)]
            lines = self.env["account.bank.statement.line"].browse(line_ids[:batch])
            payments = self.env["account.payment"].browse(payment_ids[:batch])
            if lines or payments:
                self.with_company(company)._match(company, statement_lines=lines, payments=payments)
            done += len(lines) + len(payments)
            remaining += max(len(line_ids) - batch, 0) + max(len(payment_ids) - batch, 0)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.model
    def action_match_now(self):
        self._check_reviewer()
        stats = self._match(self.env.company)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Reconciliation"),
                "message": _(
                    "%(auto)s reconciled automatically, %(proposed)s waiting for review, %(none)s without a match.",
                    auto=stats["auto_reconciled"],
                    proposed=stats["proposed"],
                    none=stats["none"],
                ),
                "next": {"type": "ir.actions.act_window_close"},
                "sticky": False,
            },
        }

    @api.model
    def _match(self, company, statement_lines=None, payments=None):
        """Match the company's unreconciled incoming statement lines and customer
        payments (or only the given ones, when any are given); reconcile the
        confident matches and queue the ambiguous ones. Returns counters by
        outcome."""
        self.env.flush_all()
        started = time.perf_counter()
        if statement_lines is not None or payments is not None:
            statement_lines = statement_lines or self.env["account.bank.statement.line"]
            payments = payments or self.env["account.payment"]
        index = self._open_invoice_index(company)
        installments = self._open_installments(company)
        digits = dict(
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([])
            .mapped(lambda c: (c.id, c.decimal_places))
        )
        tolerance = company.collections_reconcile_tolerance or 0.0
        stats = {"lines": 0, "auto_reconciled": 0, "proposed": 0, "none": 0}
        timings = stats["seconds"] = {"load": time.perf_counter() - started}
        settled = set()  # invoices the lines of an earlier kind were reconciled with
        for kind, rows in (
            ("statement_line", self._unmatched_statement_lines(company, statement_lines)),
            ("payment", self._unmatched_payments(company, payments)),
        ):
            lines = [
                matching.Line(
                    key=row[0],
                    partner_id=row[1],
                    amount=row[2],
                    currency_id=row[3],
                    label=row[4] or "",
                    digits=digits.get(row[3], 2),
                    date=row[5],
                )
                for row in rows
            ]
            if not lines:
                continue
            if settled:
                # The open items reflect what the earlier decisions of this run settled.
                self._refresh_open_invoices(company, index, settled)
                installments = self._open_installments(company)
                settled = set()
            started = time.perf_counter()
            self._mark_quoted_documents(company, lines, index)
            timings["quoted"] = timings.get("quoted", 0.0) + time.perf_counter() - started
            original_partners = {line.key: line.partner_id for line in lines}
            started = time.perf_counter()
            decisions = matching.decide(lines, index, tolerance, installments.candidates)
            timings["decide"] = timings.get("decide", 0.0) + time.perf_counter() - started
            stats["lines"] += len(lines)
            self._record_decisions(company, kind, decisions, original_partners, stats)
            settled |= {
                move_id
                for decision in decisions
                if decision.verdict == "confident"
                for move_id in decision.candidates[0].move_ids
            }
        stats["seconds"] = {phase: round(seconds, 3) for phase, seconds in timings.items()}
        return stats

    # ------------------------------------------------------------------
    # Loading (set-based)
    # ------------------------------------------------------------------

    @api.model
    def _open_invoice_index(self, company):
        """Every open customer invoice of the company with its normalised
        number and payment reference, in one query."""
        self.env.cr.execute(
            SQL(
                """
            SELECT m.id, m.commercial_partner_id, m.amount_residual, m.currency_id,
                   COALESCE(m.invoice_date_due, m.date), m.name, m.payment_reference, COALESCE(m.invoice_date, m.date)
              FROM account_move m
             WHERE m.company_id = %s AND %s
            """,
                company.id,
                OPEN_INVOICE_SQL,
            )
        )
        return matching.OpenInvoiceIndex(
            (
                matching.OpenInvoice(
                    move_id=move_id,
                    partner_id=partner_id,
                    residual=residual,
                    currency_id=currency_id,
                    due=due,
                    name=name,
                    issued=issued,
                ),
                {matching.normalize_reference(name), matching.normalize_reference(reference)},
            )
            for move_id, partner_id, residual, currency_id, due, name, reference, issued in self.env.cr.fetchall()
        )

    @api.model
    def _refresh_open_invoices(self, company, index, move_ids):
        """Update ``index`` (:meth:`_open_invoice_index`) for the invoices
        ``move_ids`` as they are now, in one query."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            SELECT m.id, m.amount_residual
              FROM account_move m
             WHERE m.id = ANY(%s) AND m.company_id = %s AND %s
            """,
                list(move_ids),
                company.id,
                OPEN_INVOICE_SQL,
            )
        )
        index.refresh(move_ids, dict(self.env.cr.fetchall()))

    @api.model
    def _mark_quoted_documents(self, company, lines, index):
        """Set ``quoted`` on the lines whose label quotes, by number or
        payment reference, a customer document that cannot take the money:
        another company's document, or an invoice of the line's customer
        (any, when the line's customer is unknown) no longer open (paid, in
        payment, cancelled: a likely duplicate payment) or a credit note.
        Another customer's closed document is a mistyped number, as often
        as not (numbers are sequential): no evidence against an amount
        match with the line's own customer. A reference an open invoice
        also carries is the open invoice's. One query."""
        keys = {key for line in lines for key in line.keys if key not in index.by_key}
        if not keys:
            return
        self.env.flush_all()
        # The documents that cannot take the money, read once and normalised here: a regular
        # expression per row of account_move in SQL, joined to every key of every label, is slower.
        self.env.cr.execute(
            SQL(
                """
            SELECT m.name, m.payment_reference, m.commercial_partner_id,
                   CASE WHEN m.company_id != %(company)s THEN 'other_company'
                        WHEN m.move_type = 'out_refund' THEN 'credit_note'
                        ELSE 'closed_document' END
              FROM account_move m
             WHERE m.move_type IN ('out_invoice', 'out_refund') AND m.state IN ('posted', 'cancel')
               AND NOT (m.company_id = %(company)s AND %(open)s)
            """,
                company=company.id,
                open=OPEN_INVOICE_SQL,
            )
        )
        reasons = {}
        normalize = matching.normalize_reference
        for name, reference, partner_id, reason in self.env.cr.fetchall():
            for key in (normalize(name), normalize(reference)):
                if key in keys:
                    reasons.setdefault(key, set()).add((reason, partner_id))
        if not reasons:
            return
        for line in lines:
            found = {
                reason
                for key in line.keys
                for reason, partner_id in reasons.get(key, ())
                if reason == "other_company" or line.partner_id in (None, partner_id)
            }
            line.quoted = next((reason for reason in matching.REVIEW_REASONS if reason in found), None)

    def _matched_source_filter(self, column, new_only=False):
        """Lines already handled: reconciled, confirmed, rejected or undone by
        a person stay as they are; only open proposals are looked at again
        (not even those with ``new_only``)."""
        states = "" if new_only else "AND x.state NOT IN ('proposed', 'none')"
        return f"""NOT EXISTS (SELECT 1 FROM collections_reconcile_match x WHERE x.{column} = src.id {states})"""

    @api.model
    def _unmatched_statement_lines(self, company, statement_lines=None, new_only=False):
        """(id, commercial partner, amount, currency, label, date) of the incoming
        statement lines still on the suspense account."""
        self.env.cr.execute(
            f"""
            SELECT src.id, p.commercial_partner_id, -sus.amount_currency, sus.currency_id, src.payment_ref, m.date
              FROM account_bank_statement_line src
              JOIN account_move m ON m.id = src.move_id
              JOIN account_journal j ON j.id = src.journal_id
              JOIN account_move_line sus ON sus.move_id = m.id AND sus.account_id = j.suspense_account_id
              LEFT JOIN res_partner p ON p.id = src.partner_id
             WHERE src.company_id = %(company)s AND m.state = 'posted' AND src.is_reconciled IS NOT TRUE
               AND src.amount > 0 AND (%(all)s OR src.id = ANY(%(ids)s))
               AND {self._matched_source_filter("statement_line_id", new_only)}
             ORDER BY src.id
            """,
            {
                "company": company.id,
                "all": statement_lines is None,
                "ids": statement_lines.ids if statement_lines else [],
            },
        )
        return self.env.cr.fetchall()

    @api.model
    def _unmatched_payments(self, company, payments=None, new_only=False):
        """(id, commercial partner, open amount, currency, memo, date) of the posted
        customer payments whose receivable line is still open."""
        self.env.cr.execute(
            f"""
            SELECT src.id, p.commercial_partner_id, -SUM(aml.amount_residual_currency), aml.currency_id,
                   src.memo, m.date
              FROM account_payment src
              JOIN account_move m ON m.id = src.move_id AND m.state = 'posted'
              JOIN account_move_line aml ON aml.move_id = m.id AND aml.reconciled IS NOT TRUE
              JOIN account_account acc ON acc.id = aml.account_id AND acc.account_type = 'asset_receivable'
              JOIN res_partner p ON p.id = src.partner_id
             WHERE src.company_id = %(company)s AND src.payment_type = 'inbound' AND src.partner_type = 'customer'
               AND (%(all)s OR src.id = ANY(%(ids)s))
               AND {self._matched_source_filter("payment_id", new_only)}
             GROUP BY src.id, p.commercial_partner_id, aml.currency_id, src.memo, m.date
            HAVING SUM(aml.amount_residual_currency) < 0
             ORDER BY src.id
            """,
            {"company": company.id, "all": payments is None, "ids": payments.ids if payments else []},
        )
        return self.env.cr.fetchall()

    @api.model
    def _open_installments(self, company):
        """The next installment still due of every running payment plan of the
        company, in one query: a payment of exactly that amount pays the plan's
        invoices, oldest first."""
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (plan.id) plan.id, partner.commercial_partner_id, plan.currency_id,
                   inst.amount - COALESCE(inst.paid_amount, 0),
                   ARRAY(SELECT rel.move_id FROM collections_payment_plan_account_move_rel rel
                          WHERE rel.plan_id = plan.id)
              FROM collections_payment_plan plan
              JOIN res_partner partner ON partner.id = plan.partner_id
              JOIN collections_payment_plan_installment inst ON inst.plan_id = plan.id
             WHERE plan.company_id = %s AND plan.state = 'active' AND inst.state != 'paid'
               AND inst.amount > COALESCE(inst.paid_amount, 0)
             ORDER BY plan.id, inst.due_date, inst.sequence
            """,
            [company.id],
        )
        return matching.InstallmentIndex(
            matching.Installment(plan_id, partner_id, currency_id, amount, tuple(move_ids))
            for plan_id, partner_id, currency_id, amount, move_ids in self.env.cr.fetchall()
        )

    # ------------------------------------------------------------------
    # Recording and reconciling
    # ------------------------------------------------------------------

    def _record_decisions(self, company, kind, decisions, original_partners, stats):
        column = f"{kind}_id"
        keys = [decision.line.key for decision in decisions]
        started = time.perf_counter()
        timings = stats["seconds"]
        # Open proposals of these lines are replaced by the new decision.
        self.search([(column, "in", keys), ("state", "in", ("proposed", "none"))]).unlink()
        matches = self._insert_decisions(company, column, decisions, original_partners)
        auto_keys = {decision.line.key for decision in decisions if decision.verdict == "confident"}
        confident = self.browse(match_id for key, match_id in matches.items() if key in auto_keys)
        self.env.flush_all()
        timings["record"] = timings.get("record", 0.0) + time.perf_counter() - started
        failed = self.browse()
        if confident:
            failed = confident._reconcile_automatically(timings)
        stats["auto_reconciled"] += len(confident) - len(failed)
        stats["proposed"] += sum(1 for d in decisions if d.verdict == "ambiguous") + len(failed)
        stats["none"] += sum(1 for d in decisions if d.verdict == "none")

    def _reconcile_automatically(self, timings):
        """Reconcile the confident matches with their best candidate, all in
        one batch; if the batch fails (a lock date, an entry changed meanwhile),
        one by one, and those that still fail stay in the review queue with
        the reason. Returns the failed matches."""
        self.env.cr.execute(
            "SELECT id FROM collections_reconcile_candidate WHERE match_id = ANY(%s) AND rank = 1", [self.ids]
        )
        best = self.env["collections.reconcile.candidate"].browse(
            candidate_id for (candidate_id,) in self.env.cr.fetchall()
        )
        try:
            with self.env.cr.savepoint():
                self._reconcile_candidates(best, "auto_reconciled", timings)
            return self.browse()
        except (UserError, ValidationError) as error:
            _logger.info("Batch reconciliation failed (%s); reconciling one by one", error)
            self.env.invalidate_all()
        failed = self.browse()
        for match in self:
            try:
                with self.env.cr.savepoint():
                    match._reconcile_candidates(best.filtered(lambda c, m=match: c.match_id == m), "auto_reconciled")
            except (UserError, ValidationError) as error:
                self.env.invalidate_all()
                failed |= match
                match.message_post(body=_("Not reconciled automatically: %(error)s", error=str(error)))
        if failed:
            # Back to the review queue, as the match was before its best candidate was taken.
            self.env.cr.execute(
                """
                UPDATE collections_reconcile_candidate SET selected = FALSE WHERE match_id = ANY(%(failed)s);
                UPDATE collections_reconcile_match x
                   SET state = 'proposed', partner_id = COALESCE(x.original_partner_id, c.partner_id),
                       reconciled_at = NULL, reconciled_by_id = NULL, reconciled_amount = NULL
                  FROM collections_reconcile_candidate c
                 WHERE x.id = ANY(%(failed)s) AND c.match_id = x.id AND c.rank = 1;
                """,
                {"failed": failed.ids},
            )
            self.env["collections.reconcile.candidate"].invalidate_model(["selected"])
            self.invalidate_model()
        return failed

    def _insert_decisions(self, company, column, decisions, original_partners):
        """Write the matches and their ranked candidates with three INSERTs
        (the ORM would take seconds for ten thousand lines); returns {line
        key: match id}. Confident matches are written as reconciled with
        their best candidate, selected, and the amount it should settle: an
        update of rows inserted in the same transaction re-checks every
        foreign key, so the log (:meth:`_record_reconciliation`) rewrites
        only what came out otherwise, and a failed reconciliation puts the
        match back in the review queue (:meth:`_reconcile_automatically`)."""
        states = {"confident": "auto_reconciled", "ambiguous": "proposed", "none": "none"}
        tolerance = company.collections_reconcile_tolerance or 0.0
        if not company.collections_reconcile_writeoff_account_id:
            tolerance = 0.0
        match_rows = {
            "keys": [],
            "labels": [],
            "amounts": [],
            "currencies": [],
            "partners": [],
            "originals": [],
            "states": [],
            "rules": [],
            "reasons": [],
            "reconciled": [],
            "reconciled_amounts": [],
        }
        candidate_rows = {
            "keys": [],
            "ranks": [],
            "scores": [],
            "rules": [],
            "partners": [],
            "amounts": [],
            "selected": [],
        }
        move_rows = {"keys": [], "ranks": [], "moves": []}
        for decision in decisions:
            line = decision.line
            best = decision.candidates[0] if decision.candidates else None
            match_rows["keys"].append(line.key)
            match_rows["labels"].append(line.label)
            match_rows["amounts"].append(line.amount)
            match_rows["currencies"].append(line.currency_id)
            confident = decision.verdict == "confident"
            match_rows["partners"].append(
                best.partner_id if confident else line.partner_id or (best.partner_id if best else None)
            )
            match_rows["originals"].append(original_partners[line.key])
            match_rows["states"].append(states[decision.verdict])
            match_rows["rules"].append(best.rule if best else None)
            match_rows["reasons"].append(decision.reason)
            match_rows["reconciled"].append(confident)
            # What allocating the line to the candidate's open amount settles (the invoices' part).
            match_rows["reconciled_amounts"].append(
                round(sum(matching.allocate(line.amount, [best.amount], tolerance, line.digits)[0]), line.digits)
                if confident
                else None
            )
            for rank, cand in enumerate(decision.candidates, start=1):
                candidate_rows["keys"].append(line.key)
                candidate_rows["ranks"].append(rank)
                candidate_rows["selected"].append(rank == 1 and decision.verdict == "confident")
                candidate_rows["scores"].append(cand.score)
                candidate_rows["rules"].append(cand.rule)
                candidate_rows["partners"].append(cand.partner_id)
                candidate_rows["amounts"].append(cand.amount)
                for move_id in cand.move_ids:
                    move_rows["keys"].append(line.key)
                    move_rows["ranks"].append(rank)
                    move_rows["moves"].append(move_id)
        source = "account_bank_statement_line" if column == "statement_line_id" else "account_payment"
        cr = self.env.cr
        cr.execute(
            f"""
            INSERT INTO collections_reconcile_match
                   (company_id, {column}, date, label, amount, currency_id, partner_id, original_partner_id,
                    state, rule, review_reason, reconciled_at, reconciled_by_id, reconciled_amount,
                    create_uid, create_date, write_uid, write_date)
            SELECT %(company)s, src.key, m.date, src.label, src.amount, src.currency, src.partner, src.original,
                   src.state, src.rule, src.reason, CASE WHEN src.reconciled THEN now() at time zone 'UTC' END,
                   CASE WHEN src.reconciled THEN %(uid)s END, src.reconciled_amount,
                   %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
              FROM unnest(%(keys)s::int[], %(labels)s::varchar[], %(amounts)s::numeric[], %(currencies)s::int[],
                          %(partners)s::int[], %(originals)s::int[], %(states)s::varchar[], %(rules)s::varchar[],
                          %(reasons)s::varchar[], %(reconciled)s::bool[], %(reconciled_amounts)s::numeric[])
                   AS src(key, label, amount, currency, partner, original, state, rule, reason, reconciled,
                          reconciled_amount)
              JOIN {source} s ON s.id = src.key
              JOIN account_move m ON m.id = s.move_id
            RETURNING {column}, id
            """,
            {"company": company.id, "uid": self.env.uid, **match_rows},
        )
        matches = dict(cr.fetchall())
        if candidate_rows["keys"]:
            cr.execute(
                """
                CREATE TEMP TABLE collections_new_candidate ON COMMIT DROP AS
                SELECT x.id AS match_id, src.rank, src.score, src.rule, src.partner, src.amount, src.selected
                  FROM unnest(%(keys)s::int[], %(ranks)s::int[], %(scores)s::int[], %(rules)s::varchar[],
                              %(partners)s::int[], %(amounts)s::numeric[], %(selected)s::bool[])
                       AS src(key, rank, score, rule, partner, amount, selected)
                  JOIN unnest(%(match_keys)s::int[], %(match_ids)s::int[]) AS x(key, id) ON x.key = src.key;
                INSERT INTO collections_reconcile_candidate
                       (match_id, company_id, rank, score, rule, partner_id, amount, selected,
                        create_uid, create_date, write_uid, write_date)
                SELECT match_id, %(company)s, rank, score, rule, partner, amount, selected,
                       %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
                  FROM collections_new_candidate;
                DROP TABLE collections_new_candidate;
                """,
                {
                    "company": company.id,
                    "uid": self.env.uid,
                    "match_keys": list(matches),
                    "match_ids": list(matches.values()),
                    **candidate_rows,
                },
            )
            cr.execute(
                """
                INSERT INTO collections_reconcile_candidate_move_rel (candidate_id, move_id)
                SELECT c.id, src.move
                  FROM unnest(%(keys)s::int[], %(ranks)s::int[], %(moves)s::int[]) AS src(key, rank, move)
                  JOIN unnest(%(match_keys)s::int[], %(match_ids)s::int[]) AS x(key, id) ON x.key = src.key
                  JOIN collections_reconcile_candidate c ON c.match_id = x.id AND c.rank = src.rank
                ON CONFLICT DO NOTHING
                """,
                {"match_keys": list(matches), "match_ids": list(matches.values()), **move_rows},
            )
        analyze_outgrown(
            cr,
            {
                "collections_reconcile_match": len(matches),
                "collections_reconcile_candidate": len(candidate_rows["keys"]),
                "collections_reconcile_candidate_move_rel": len(move_rows["keys"]),
            },
        )
        self.invalidate_model()
        self.env["collections.reconcile.candidate"].invalidate_model()
        return matches

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

    def _track_payment_states(self, changes):
        """The chatter line "Payment Status: Not Paid → Paid" that tracking
        writes on each invoice whose payment state changed, as mail.thread
        does it: a paid invoice gets a posted message of subtype "Paid", any
        other change a logged note. Invoices with followers of "Paid" need
        Odoo's notification: posted through it; the others inserted set-based."""
        # Invoices created in this very transaction are not tracked (mail.thread's _track_discard).
        discarded = self.env.cr.precommit.data.get("mail.tracking.account.move", {})
        changes = [change for change in changes if not (change[0] in discarded and discarded[change[0]] is None)]
        if not changes:
            return
        Move = self.env["account.move"]
        field = self.env["ir.model.fields"]._get("account.move", "payment_state")
        col_info = Move.fields_get(["payment_state"], attributes=("string", "type", "selection"))["payment_state"]
        labels = dict(col_info["selection"])
        paid_subtype = self.env.ref("account.mt_invoice_paid")
        note_subtype = self.env.ref("mail.mt_note")
        paid = Move.browse([move_id for move_id, _old, new in changes if new == "paid"])
        self.env.cr.execute(
            """
            SELECT DISTINCT f.res_id
              FROM mail_followers f
              JOIN mail_followers_mail_message_subtype_rel rel ON rel.mail_followers_id = f.id
             WHERE f.res_model = 'account.move' AND f.res_id = ANY(%s) AND rel.mail_message_subtype_id = %s
            """,
            [paid.ids, paid_subtype.id],
        )
        notified = {res_id for (res_id,) in self.env.cr.fetchall()}
        author, email_from = self.env.user.partner_id, self.env.user.email_formatted
        reply_to, alias_domains, companies = self._paid_message_headers(paid, email_from)
        log_reply_to = self.env["mail.thread"]._notify_get_reply_to(default=email_from)[False]
        rows = {
            key: []
            for key in ("ids", "old", "new", "subtypes", "posted", "message_ids", "reply_to", "domains", "companies")
        }
        for move_id, old, new in changes:
            if move_id in notified:
                invoice = Move.browse(move_id)
                tracking = self.env["mail.tracking.value"]._create_tracking_values(
                    old, new, "payment_state", col_info, invoice
                )
                invoice.message_post(subtype_id=paid_subtype.id, tracking_value_ids=[Command.create(tracking)])
                continue
            posted = new == "paid"
            rows["ids"].append(move_id)
            rows["old"].append(labels.get(old))
            rows["new"].append(labels.get(new))
            rows["posted"].append(posted)
            rows["subtypes"].append((paid_subtype if posted else note_subtype).id)
            rows["message_ids"].append(
                generate_tracking_message_id(f"{move_id}-account.move" if posted else "message-notify")
            )
            rows["reply_to"].append(reply_to[move_id] if posted else log_reply_to)
            rows["domains"].append(alias_domains[move_id].id or None if posted else None)
            rows["companies"].append(companies[move_id].id or None if posted else None)
        if not rows["ids"]:
            return
        self.env.cr.execute(
            """
            WITH change AS (
                SELECT * FROM unnest(%(ids)s::int[], %(old)s::varchar[], %(new)s::varchar[], %(subtypes)s::int[],
                                     %(posted)s::bool[], %(message_ids)s::varchar[], %(reply_to)s::varchar[],
                                     %(domains)s::int[], %(companies)s::int[])
                       AS c(move_id, old, new, subtype_id, posted, message_id, reply_to, domain_id, company_id)
            ), message AS (
                INSERT INTO mail_message
                       (model, res_id, record_name, record_alias_domain_id, record_company_id, message_type,
                        subtype_id, is_internal, author_id, email_from, reply_to, message_id, email_add_signature,
                        date, body, create_uid, create_date, write_uid, write_date)
                SELECT 'account.move', change.move_id, CASE WHEN change.posted THEN m.name END, change.domain_id,
                       change.company_id, 'notification', change.subtype_id, CASE WHEN NOT change.posted THEN TRUE END,
                       %(author)s, %(email_from)s, change.reply_to, change.message_id, change.posted,
                       now() at time zone 'UTC', '',
                       %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
                  FROM change JOIN account_move m ON m.id = change.move_id
                RETURNING id, res_id
            )
            INSERT INTO mail_tracking_value
                   (field_id, old_value_char, new_value_char, mail_message_id,
                    create_uid, create_date, write_uid, write_date)
            SELECT %(field)s, change.old, change.new, message.id,
                   %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
              FROM message JOIN change ON change.move_id = message.res_id
            """,
            {**rows, "field": field.id, "author": author.id, "email_from": email_from, "uid": self.env.uid},
        )

    @api.model
    def _paid_message_headers(self, invoices, email_from):
        """The reply-to, alias domain and company of the "Paid" message of
        each of ``invoices``, as mail's generic ``_notify_get_reply_to``,
        ``_mail_get_alias_domains`` and ``_mail_get_companies`` give them:
        ({id: reply-to}, {id: mail.alias.domain}, {id: res.company}). Those
        depend on the invoice's company alone unless a company has a
        catchall address or an invoice has its own alias (the reply-to then
        names the document): per company here, as the generic calls would
        otherwise read every invoice one by one."""
        generic = all(
            getattr(type(invoices), method).__module__ == "odoo.addons.mail.models.models"
            for method in ("_notify_get_reply_to", "_mail_get_companies", "_mail_get_alias_domains")
        )
        own_aliases = (
            self.env["mail.alias"]
            .sudo()
            .search_count(
                [("alias_parent_model_id.model", "=", invoices._name), ("alias_parent_thread_id", "in", invoices.ids)],
                limit=1,
            )
        )
        if generic and not own_aliases:
            self.env.cr.execute("SELECT id, company_id FROM account_move WHERE id = ANY(%s)", [invoices.ids])
            company_of = dict(self.env.cr.fetchall())
            # One invoice per company answers for all of that company's.
            representatives = invoices.browse({company: move for move, company in company_of.items()}.values())
            representatives.fetch(["company_id"])
            rep_companies = representatives._mail_get_companies(default=self.env.company)
            if not any(company.catchall_email for company in rep_companies.values()):
                rep_domains = representatives.sudo()._mail_get_alias_domains(default_company=self.env.company)
                by_company = {company_of[rep]: (rep_companies[rep], rep_domains[rep]) for rep in representatives.ids}
                return (
                    dict.fromkeys(invoices.ids, email_from),
                    {move: by_company[company][1] for move, company in company_of.items()},
                    {move: by_company[company][0] for move, company in company_of.items()},
                )
        # What the reply-to reads, alone: after the writer's invalidation the first access would load
        # every column of thousands of invoices.
        invoices.fetch(["state", "move_type", "name", "ref", "company_id"])
        return (
            invoices._notify_get_reply_to(default=email_from),
            invoices.sudo()._mail_get_alias_domains(default_company=self.env.company),
            invoices._mail_get_companies(default=self.env.company),
        )

    # What the set-based writer sets (besides the rows it inserts).
    _WRITTEN_FIELDS = {
        "account.move.line": (*ITEM_COLUMNS, "matched_debit_ids", "matched_credit_ids"),
        "account.move": (
            "amount_residual",
            "amount_residual_signed",
            "payment_state",
            "is_manually_modified",
            "amount_total",
            "amount_total_signed",
            "amount_total_in_currency_signed",
        ),
        "account.bank.statement.line": ("is_reconciled", "amount_residual"),
    }

    @api.model
    @tools.ormcache()
    def _proven_modules(self):
        """collections_omni's dependencies (account, analytic, mail...): the
        stored fields they define on the rows the set-based writer writes are
        the ones the twin-scenario test proves written alike or unchanged."""
        module = self.env["ir.module.module"].sudo().search([("name", "=", "collections_omni")])
        return frozenset(module.upstream_dependencies(exclude_states=("uninstallable",)).mapped("name"))

    # The stored fields of other models that depend on what the writer writes, with the SQL selecting
    # the records where they do: {model: {field: query}}. Parameters: %(lines)s the journal items
    # written in full, %(moves)s the entries written, %(invoices)s the invoices whose payment state
    # changed. The other items of a group settled now only change their matching number and full
    # reconcile: what depends on those (the payments' entries' totals and payment state) is proven
    # unchanged by the twin-scenario test.
    # Registered payments of the invoices whose payment state changed: those with an entry and an
    # outstanding account are settled set-based (_settle_registered_payments), the others (no
    # entry: their state also feeds the invoice's payment state) are recomputed by Odoo.
    _PAYMENTS_OF_WRITTEN_LINES = (
        "SELECT payment_id FROM account_move_line WHERE id = ANY(%(lines)s) AND payment_id IS NOT NULL"
    )
    _SETTLED_SET_BASED = "p.move_id IS NOT NULL AND p.outstanding_account_id IS NOT NULL"
    _PAYMENTS_OF_WRITTEN_ROWS = f"""
        {_PAYMENTS_OF_WRITTEN_LINES}
        UNION SELECT r.payment_id
                FROM account_move__account_payment r
                JOIN account_payment p ON p.id = r.payment_id
               WHERE r.invoice_id = ANY(%(invoices)s) AND NOT ({_SETTLED_SET_BASED})
    """
    _DEPENDENT_RECORDS_SQL = {
        "account.payment": {
            # invoice_ids.payment_state, move_id.line_ids.amount_residual; and what follows the state
            "state": _PAYMENTS_OF_WRITTEN_ROWS,
            "is_reconciled": _PAYMENTS_OF_WRITTEN_ROWS,
            "is_matched": _PAYMENTS_OF_WRITTEN_ROWS,
            "name": _PAYMENTS_OF_WRITTEN_ROWS,
            # move_id.amount_total_signed
            "amount_company_currency_signed": "SELECT id FROM account_payment WHERE move_id = ANY(%(moves)s)",
        },
        # move_line_id.partner_id
        "account.analytic.line": {
            "partner_id": "SELECT id FROM account_analytic_line WHERE move_line_id = ANY(%(lines)s)",
        },
    }

    @api.model
    @tools.ormcache()
    def _reconcile_dependents(self):
        """The stored computed fields that depend on what the set-based writer
        sets, as (fields of other models it recomputes for the records of
        ``_DEPENDENT_RECORDS_SQL``, fields left to Odoo's generic
        recomputation). Proven fields of the written rows are neither: the
        twin-scenario test shows the writer sets them alike."""
        proven = self._proven_modules()
        written = [self.env[model]._fields[name] for model, names in self._WRITTEN_FIELDS.items() for name in names]
        tree = self.env.registry.get_trigger_tree(written, select=lambda field: field.store and field.compute)
        explicit, generic = [], []
        for field in {field for node in tree.depth_first() for field in node.root}:
            if field.model_name in self._WRITTEN_FIELDS and set(field._modules) <= proven:
                continue
            if field.name in self._DEPENDENT_RECORDS_SQL.get(field.model_name, {}) and set(field._modules) <= proven:
                explicit.append((field.model_name, field.name))
            else:
                generic.append(str(field))
        return tuple(sorted(explicit)), tuple(sorted(generic))

    def _settle_registered_payments(self, params):
        """Registered payments (with an entry and an outstanding account) of
        the invoices whose payment state changed become paid when all their
        invoices are, as their state's computation decides: their own items
        are untouched, so the part of it that reads them gives what it gave
        before (in process), and only the invoices' part can change it. What
        follows their state (number, matching flags) does not change between
        in process and paid when there is an outstanding account. Odoo's
        computation would read every payment's entry one by one."""
        self.env["account.payment"].flush_model(["state"])
        self.env.cr.execute(
            f"""
            UPDATE account_payment p
               SET state = 'paid', write_uid = %(uid)s, write_date = now() at time zone 'UTC'
             WHERE p.id IN (SELECT payment_id FROM account_move__account_payment WHERE invoice_id = ANY(%(invoices)s))
               AND p.state = 'in_process' AND {self._SETTLED_SET_BASED}
               AND p.id NOT IN ({self._PAYMENTS_OF_WRITTEN_LINES})
               AND NOT EXISTS (SELECT 1
                                 FROM account_move__account_payment r
                                 JOIN account_move i ON i.id = r.invoice_id
                                WHERE r.payment_id = p.id AND i.payment_state != 'paid')
            RETURNING p.id
            """,
            {**params, "uid": self.env.uid},
        )
        settled = self.env["account.payment"].browse(payment_id for (payment_id,) in self.env.cr.fetchall())
        settled.invalidate_recordset(["state", "write_uid", "write_date"])

    def _trigger_dependents(self, invoices, statement_moves, line_ids, group_line_ids, changed_invoices):
        """Recompute what depends on the written rows, as an ORM write would:
        registered payments and analytic items directly, fields of other
        modules through Odoo's generic triggers (slower; only when such
        fields exist). The written rows' proven fields are not computed a
        second time."""
        explicit, generic = self._reconcile_dependents()
        params = {
            "lines": list(line_ids),
            "moves": (invoices | statement_moves).ids,
            "invoices": changed_invoices.ids,
        }
        if ("account.payment", "state") in explicit:
            self._settle_registered_payments(params)
        records_of = {}  # the same query runs once
        for model, name in explicit:
            query = self._DEPENDENT_RECORDS_SQL[model][name]
            if query not in records_of:
                self.env.cr.execute(query, params)
                records_of[query] = self.env[model].browse(
                    {record_id for (record_id,) in self.env.cr.fetchall() if record_id}
                )
            self.env.add_to_compute(self.env[model]._fields[name], records_of[query])
        if not generic:
            return
        _logger.info("Recomputing after set-based reconciliation: %s", ", ".join(generic))
        proven = self._proven_modules()
        records = {
            "account.move.line": self.env["account.move.line"].browse(line_ids),
            "account.move": invoices | statement_moves,
            "account.bank.statement.line": statement_moves.statement_line_id,
        }
        protected = [
            (
                [field for field in self.env[model]._fields.values() if field.store and set(field._modules) <= proven],
                recs,
            )
            for model, recs in records.items()
        ]
        with self.env.protecting(protected):
            for model, recs in records.items():
                recs.modified(self._WRITTEN_FIELDS[model])
            self.env["account.move.line"].browse(group_line_ids).modified(["full_reconcile_id", "matching_number"])

    def _record_reconciliation(self, by_match, last_partial, state, known=None):
        """Log what each match reconciled, set-based: its candidate, the
        invoices, the partials and the amount reconciled. ``known``: {match
        id: (partial ids, amount)} of the set-based writer; the partials of
        the other matches are found among those created since
        ``last_partial`` between the match's own entry and its invoices
        (exactly what undo removes)."""
        self.env.flush_all()
        known = known or {}
        found = self.filtered(lambda match: match.id not in known)
        found_partials = 0
        cr = self.env.cr
        if found:
            found_params = {
                "matches": found.ids,
                "own_moves": [(match.statement_line_id.move_id or match.payment_id.move_id).id for match in found],
                "candidates": [by_match[match.id].id for match in found],
                "last_partial": last_partial,
            }
            cr.execute(
                """
                WITH src AS (
                    SELECT * FROM unnest(%(matches)s::int[], %(own_moves)s::int[], %(candidates)s::int[])
                           AS src(match_id, own_move_id, candidate_id)
                )
                INSERT INTO collections_reconcile_match_partial_rel (match_id, partial_id)
                SELECT DISTINCT src.match_id, apr.id
                  FROM src
                  JOIN account_move_line own ON own.move_id = src.own_move_id
                  JOIN account_partial_reconcile apr
                       ON apr.id > %(last_partial)s AND own.id IN (apr.debit_move_id, apr.credit_move_id)
                  -- The other side of the partial: an item of one of the candidate's invoices.
                  JOIN account_move_line inv
                       ON inv.id = CASE WHEN own.id = apr.debit_move_id THEN apr.credit_move_id
                                        ELSE apr.debit_move_id END
                  JOIN collections_reconcile_candidate_move_rel cm
                       ON cm.candidate_id = src.candidate_id AND cm.move_id = inv.move_id
                ON CONFLICT DO NOTHING
                """,
                found_params,
            )
            found_partials = cr.rowcount
        params = {
            "matches": self.ids,
            "candidates": [by_match[match.id].id for match in self],
            "amounts": [known[match.id][1] if match.id in known else None for match in self],
            "known_matches": [match_id for match_id, (partials, _amount) in known.items() for _partial in partials],
            "known_partials": [partial_id for partials, _amount in known.values() for partial_id in partials],
            "state": state,
            "uid": self.env.uid,
        }
        cr.execute(
            """
            INSERT INTO collections_reconcile_match_partial_rel (match_id, partial_id)
            SELECT * FROM unnest(%(known_matches)s::int[], %(known_partials)s::int[])
            ON CONFLICT DO NOTHING;
            -- The invoices that received money: the other side of each partial of the match (what the
            -- ledger holds), not every invoice of the candidate (a plan's installment pays the oldest).
            INSERT INTO collections_reconcile_match_invoice_rel (match_id, move_id)
            SELECT DISTINCT x.id, CASE WHEN debit.move_id = COALESCE(st.move_id, pay.move_id)
                                       THEN credit.move_id ELSE debit.move_id END
              FROM collections_reconcile_match x
              JOIN collections_reconcile_match_partial_rel r ON r.match_id = x.id
              JOIN account_partial_reconcile apr ON apr.id = r.partial_id
              JOIN account_move_line debit ON debit.id = apr.debit_move_id
              JOIN account_move_line credit ON credit.id = apr.credit_move_id
              LEFT JOIN account_bank_statement_line st ON st.id = x.statement_line_id
              LEFT JOIN account_payment pay ON pay.id = x.payment_id
             WHERE x.id = ANY(%(matches)s)
            ON CONFLICT DO NOTHING;
            """,
            params,
        )
        # A match never claims a reconciliation the ledger does not hold (its invoices were settled
        # meanwhile): the batch fails, and the automatic path puts such a match back in review.
        cr.execute(
            """
            SELECT x.id FROM collections_reconcile_match x
             WHERE x.id = ANY(%s)
               AND NOT EXISTS (SELECT 1 FROM collections_reconcile_match_partial_rel r WHERE r.match_id = x.id)
            """,
            [self.ids],
        )
        empty = self.browse(match_id for (match_id,) in cr.fetchall())
        if empty:
            raise UserError(
                _(
                    "Nothing was reconciled for %(matches)s: its invoices are no longer open.",
                    matches=", ".join(empty.mapped("display_name")),
                )
            )
        analyze_outgrown(
            cr, {"collections_reconcile_match_partial_rel": len(params["known_partials"]) + found_partials}
        )
        cr.execute(
            """
            UPDATE collections_reconcile_candidate SET selected = TRUE
             WHERE id = ANY(%(candidates)s) AND selected IS NOT TRUE;
            UPDATE collections_reconcile_match x
               SET state = %(state)s, rule = n.rule, partner_id = n.partner_id,
                   reconciled_at = now() at time zone 'UTC', reconciled_by_id = %(uid)s,
                   write_date = now() at time zone 'UTC', write_uid = %(uid)s, reconciled_amount = n.amount
              FROM (SELECT src.match_id, c.rule, c.partner_id,
                           -- In the invoices' currency: what the set-based writer applied, else the side of
                           -- each partial that is not the match's own entry (COALESCE evaluates it only then).
                           COALESCE(src.amount, (
                               SELECT SUM(CASE WHEN debit.move_id = COALESCE(st.move_id, pay.move_id)
                                               THEN apr.credit_amount_currency ELSE apr.debit_amount_currency END)
                                 FROM collections_reconcile_match_partial_rel r
                                 JOIN account_partial_reconcile apr ON apr.id = r.partial_id
                                 JOIN account_move_line debit ON debit.id = apr.debit_move_id
                                 LEFT JOIN account_bank_statement_line st ON st.id = own.statement_line_id
                                 LEFT JOIN account_payment pay ON pay.id = own.payment_id
                                WHERE r.match_id = own.id), 0) AS amount
                      FROM unnest(%(matches)s::int[], %(candidates)s::int[], %(amounts)s::numeric[])
                           AS src(match_id, candidate_id, amount)
                      JOIN collections_reconcile_match own ON own.id = src.match_id
                      JOIN collections_reconcile_candidate c ON c.id = src.candidate_id) n
             WHERE x.id = n.match_id
               -- Confident matches were inserted as reconciled (_insert_decisions): rows that came
               -- out as inserted are left alone.
               AND (x.state, x.rule, x.partner_id, x.reconciled_at, x.reconciled_by_id, x.reconciled_amount)
                   IS DISTINCT FROM (%(state)s, n.rule, n.partner_id, now() at time zone 'UTC', %(uid)s, n.amount);
            """,
            params,
        )
        self.invalidate_model()
        self.env["collections.reconcile.candidate"].invalidate_model(["selected"])

    @api.model
    # ------------------------------------------------------------------
    # Review queue actions
    # ------------------------------------------------------------------

    def _check_reviewer(self):
        """The review queue is the managers': a confirmation or an undo moves
        money on the ledger. Checked here rather than left to the record
        reads, which Odoo does not check on a button's own records."""
        if self.env.su:
            return
        if not self.env.user.has_group(GROUP_MANAGER):
            raise AccessError(_("Only collections managers review reconciliations."))
        self.check_access("write")

    def _check_reviewable(self):
        for match in self:
            if match.state not in ("proposed", "none"):
                raise UserError(
                    _(
                        "%(match)s is %(state)s: only matches waiting for review can be confirmed or rejected.",
                        match=match.display_name,
                        state=dict(self._fields["state"]._description_selection(self.env))[match.state],
                    )
                )
            source = match.statement_line_id
            if source and source.is_reconciled:
                raise UserError(_("%(line)s is already reconciled.", line=source.display_name))

    def action_confirm(self):
        """Confirm each match's best candidate, all in one batch."""
        self._check_reviewer()
        best = self.env["collections.reconcile.candidate"]
        for match in self:
            if not match.candidate_ids:
                raise UserError(_("%(match)s has no candidate to confirm.", match=match.display_name))
            best |= match.candidate_ids.sorted("rank")[:1]
        best._confirm()
        return True

    def action_reject(self):
        self._check_reviewer()
        self._check_reviewable()
        self.write({"state": "rejected"})
        return True

    def action_undo(self):
        """Revert exactly what the match reconciled and put a statement line
        back on the suspense account. Messages cancelled by the payment stay
        cancelled: the next dunning run plans anew for what is open again."""
        self._check_reviewer()
        for match in self:
            if match.state not in LIVE_STATES:
                raise UserError(_("Only a reconciled match can be undone (%(match)s).", match=match.display_name))
        for match in self:
            # A narrow door, after the checks above: the engine reverts exactly what it
            # reconciled, so a collections manager needs no right to edit bank statement lines.
            ledger = match.sudo()
            ledger.partial_ids.exists().unlink()
            if ledger.statement_line_id:
                ledger.statement_line_id.action_undo_reconciliation()
            match.write({"state": "undone", "undone_at": fields.Datetime.now(), "undone_by_id": self.env.uid})
            match.message_post(body=_("Reconciliation undone."))
        return True

    # The consistency check (:meth:`_consistency_problems`): what each live match records against
    # what the ledger holds. Columns: match id, problem code.
    _CONSISTENCY_SQL = """
        WITH live AS (
            SELECT x.id, x.reconciled_amount, COALESCE(st.move_id, pay.move_id) AS own_move_id, cur.rounding
              FROM collections_reconcile_match x
              LEFT JOIN account_bank_statement_line st ON st.id = x.statement_line_id
              LEFT JOIN account_payment pay ON pay.id = x.payment_id
              JOIN res_company co ON co.id = x.company_id
              JOIN res_currency cur ON cur.id = co.currency_id
             WHERE x.state IN ('auto_reconciled', 'confirmed') AND (%(company)s IS NULL OR x.company_id = %(company)s)
        ), sides AS (
            -- Each partial of a match: whether it touches the match's own entry, the other side's
            -- entry and what that side received (in its currency).
            SELECT live.id AS match_id, apr.id AS partial_id,
                   own_move_id IN (debit.move_id, credit.move_id) AS own,
                   CASE WHEN debit.move_id = own_move_id THEN credit.move_id ELSE debit.move_id END AS move_id,
                   CASE WHEN debit.move_id = own_move_id THEN apr.credit_amount_currency
                        ELSE apr.debit_amount_currency END AS amount
              FROM live
              JOIN collections_reconcile_match_partial_rel r ON r.match_id = live.id
              JOIN account_partial_reconcile apr ON apr.id = r.partial_id
              JOIN account_move_line debit ON debit.id = apr.debit_move_id
              JOIN account_move_line credit ON credit.id = apr.credit_move_id
        )
        SELECT live.id, 'no_reconciliation' FROM live
         WHERE NOT EXISTS (SELECT 1 FROM sides WHERE sides.match_id = live.id)
        UNION ALL
        SELECT DISTINCT match_id, 'partial_of_another_entry' FROM sides WHERE NOT own
        UNION ALL
        SELECT live.id, 'invoices_differ' FROM live
         WHERE EXISTS (SELECT move_id FROM collections_reconcile_match_invoice_rel WHERE match_id = live.id
                       EXCEPT SELECT move_id FROM sides WHERE match_id = live.id)
            OR EXISTS (SELECT move_id FROM sides WHERE match_id = live.id
                       EXCEPT SELECT move_id FROM collections_reconcile_match_invoice_rel WHERE match_id = live.id)
        UNION ALL
        SELECT live.id, 'amount_differs' FROM live
          JOIN (SELECT match_id, SUM(amount) AS amount FROM sides GROUP BY match_id) held ON held.match_id = live.id
         WHERE ABS(COALESCE(live.reconciled_amount, 0) - held.amount) > live.rounding / 2
        UNION ALL
        -- The same money twice: the matches of an invoice gave it more than it asked.
        SELECT DISTINCT sides.match_id, 'settled_twice'
          FROM sides
          JOIN (SELECT s.move_id FROM sides s JOIN account_move m ON m.id = s.move_id
                 GROUP BY s.move_id, m.amount_total
                HAVING COUNT(DISTINCT s.match_id) > 1 AND SUM(s.amount) > m.amount_total) twice
            ON twice.move_id = sides.move_id
    """

    @api.model
    def _consistency_problems(self, company=None):
        """[(match, problem code)] for every reconciled match whose record
        differs from what the ledger holds: no reconciliation at all, a
        partial that does not touch its own entry, other invoices than the
        partials', another amount; and invoices settled by several matches
        beyond their total (the same money twice). Empty when consistent.
        One query, on any database (``scripts/reconcile-check``)."""
        self.env.flush_all()
        self.env.cr.execute(self._CONSISTENCY_SQL, {"company": company.id if company else None})
        return [(self.browse(match_id), code) for match_id, code in self.env.cr.fetchall()]

    def _amounts_by_invoice(self):
        """{invoice: amount it received from this match, in its currency}, from the ledger's partials."""
        self.ensure_one()
        own = self.statement_line_id.move_id or self.payment_id.move_id
        amounts = {}
        for partial in self.partial_ids:
            if partial.debit_move_id.move_id == own:
                invoice, amount = partial.credit_move_id.move_id, partial.credit_amount_currency
            else:
                invoice, amount = partial.debit_move_id.move_id, partial.debit_amount_currency
            amounts[invoice] = amounts.get(invoice, 0.0) + amount
        return amounts

    def action_open_source(self):
        self.ensure_one()
        record = self.statement_line_id.move_id or self.payment_id
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
        }
