import logging
import time

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date

from ..tools.rules import SKIP_REASON_LABELS

__all__ = ["SKIP_REASON_LABELS", "CollectionsRun"]

_logger = logging.getLogger(__name__)

# Advisory-lock namespace of dunning runs (one lock per company).
RUN_LOCK_NAMESPACE = 0x636F6C6C  # "coll"


class CollectionsRun(models.Model):
    """One dunning run over a company's open receivables on a date.

    Planning is set-based SQL (see :meth:`_plan_sql`): it resolves each open
    invoice's policy (invoice > partner > segment > company default), the
    stage it has reached, groups what a customer owes per currency with
    credit notes netted, applies the skip rules, and writes one planned
    ``collections.message`` per customer, currency and stage action. Its
    steps, each a method an addon can override, are in
    ``collections_run_planning.py``.
    """

    _name = "collections.run"
    _description = "Collections Run"
    _inherit = ["collections.run.planning"]
    _order = "id desc"
    _check_company_auto = True

    # Not stored: a run of the cron would keep its name in the cron's language.
    name = fields.Char(compute="_compute_name", search="_search_name")
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    date = fields.Date(required=True, default=fields.Date.context_today)
    trigger = fields.Selection([("cron", "Scheduled"), ("manual", "Manual")], required=True, default="manual")
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], required=True, default="draft")
    duration = fields.Float(string="Duration (s)", digits=(10, 3), readonly=True)
    partners_evaluated = fields.Integer(readonly=True)
    invoices_evaluated = fields.Integer(readonly=True)
    messages_planned = fields.Integer(readonly=True)
    messages_skipped = fields.Integer(readonly=True)
    messages_blocked = fields.Integer(readonly=True)
    skip_reasons = fields.Json(readonly=True, help="Skipped customers by reason.")
    skip_summary = fields.Text(compute="_compute_skip_summary")
    message_ids = fields.One2many("collections.message", "run_id", string="Messages")

    @api.depends("date")
    @api.depends_context("lang")
    def _compute_name(self):
        for run in self:
            run.name = run.date and _("Run of %(date)s", date=format_date(self.env, run.date))

    def _search_name(self, operator, value):
        """The names a reader sees, matched by their runs' dates (a few runs a day per company)."""
        if operator in ("in", "not in") and isinstance(value, (list, tuple, set)):
            # "Name is in" of a custom filter: names, never dates (the database would refuse them).
            names = {name for name in value if isinstance(name, str)}
            runs = self.with_context(active_test=False).search_fetch([], ["date"])
            matching = [run.id for run in runs if run.name in names]
            return [("id", operator, matching)]
        if operator not in ("ilike", "not ilike", "=", "!=") or not isinstance(value, str):
            return [("date", operator, value)]
        needle = value.casefold()
        runs = self.with_context(active_test=False).search_fetch([], ["date"])
        matching = [
            run.id for run in runs if (needle in run.name.casefold() if "ilike" in operator else run.name == value)
        ]
        return [("id", "in" if operator in ("ilike", "=") else "not in", matching)]

    @api.depends("skip_reasons")
    def _compute_skip_summary(self):
        # Translated through the selection that shows the same reasons in the preview.
        reason_field = self.env["collections.run.preview.skip"]._fields["reason"]
        labels = dict(reason_field._description_selection(self.env))
        for run in self:
            run.skip_summary = "\n".join(
                f"{labels.get(reason, reason)}: {count}" for reason, count in (run.skip_reasons or {}).items()
            )

    # === ACTION METHODS === #

    def action_run(self):
        """Plan the messages of this run (button on a draft run)."""
        for run in self.filtered(lambda r: r.state == "draft"):
            run._execute()
        return True

    @api.model
    def action_run_now(self):
        run = self.create({"company_id": self.env.company.id, "trigger": "manual"})
        run._execute()
        return {
            "type": "ir.actions.act_window",
            "res_model": "collections.run",
            "res_id": run.id,
            "view_mode": "form",
        }

    @api.model
    def _cron_run(self):
        """Daily: one run per company that has an active policy."""
        companies = self.env["collections.policy"].search([]).company_id
        for company in companies:
            run = self.with_company(company).create({"company_id": company.id, "trigger": "cron"})
            run._execute()
            run.env["collections.message"].with_company(company)._dispatch_planned(company)

    # === BUSINESS METHODS === #

    def _execute(self):
        self.ensure_one()
        started = time.monotonic()
        self.env.flush_all()
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (RUN_LOCK_NAMESPACE, self.company_id.id))
        if not self.env.cr.fetchone()[0]:
            raise UserError(
                _("A collections run is already in progress for %s; try again later.", self.company_id.name)
            )
        stats = self._plan_sql(self.company_id, self.date, run_id=self.id)
        self.env.invalidate_all()
        self.write(
            {
                "state": "done",
                "duration": time.monotonic() - started,
                "partners_evaluated": stats["partners"],
                "invoices_evaluated": stats["invoices"],
                "messages_planned": stats["planned"],
                "messages_skipped": sum(stats["skipped"].values()),
                "skip_reasons": stats["skipped"],
            }
        )
        _logger.info("Collections run %s: %s", self.id, stats)
        return stats

    @api.model
    def preview(self, company, date):
        """What would be sent on ``date``, to whom, by which channel and why;
        plans inside a savepoint that is rolled back, so nothing is written.

        :return: a list of dicts (partner, channel, stage, currency, amount,
            invoices) and a ``skipped`` list of (partner, reason)
        """
        self.env.flush_all()
        with self.env.cr.savepoint(flush=False) as savepoint:
            stats = self._plan_sql(company, date, run_id=None, collect=True)
            savepoint.rollback()
        self.env.invalidate_all()
        return stats
