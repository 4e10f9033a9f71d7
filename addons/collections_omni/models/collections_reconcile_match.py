import time

from odoo import _, api, fields, models

from ..tools import reconcile_matching as matching

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

    This file holds the record and the flow; each job is an abstract model
    of its own file that this one inherits (so every method is still called
    on ``collections.reconcile.match``): ``_loading`` (what a run reads),
    ``_decisions`` (decisions recorded, the confident ones reconciled),
    ``_writing`` (reconciling a batch: ORM or set-based writer), ``_effects``
    (what the set-based writer does in the ORM's stead), ``_log`` (what a
    match reconciled, the consistency check), ``_review`` (a person's
    confirm, reject, undo).
    """

    _name = "collections.reconcile.match"
    _description = "Collections Reconciliation Match"
    _inherit = [
        "mail.thread",
        "collections.reconcile.match.loading",
        "collections.reconcile.match.decisions",
        "collections.reconcile.match.writing",
        "collections.reconcile.match.effects",
        "collections.reconcile.match.log",
        "collections.reconcile.match.review",
    ]
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
