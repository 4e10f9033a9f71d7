from odoo import _, api, fields, models


class CollectionsRun(models.Model):
    """One dunning run over a company's open receivables on a date."""

    _name = "collections.run"
    _description = "Collections Run"
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
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

    @api.depends("date", "company_id")
    def _compute_name(self):
        for run in self:
            run.name = _("Run of %(date)s", date=run.date)

    @api.depends("skip_reasons")
    def _compute_skip_summary(self):
        for run in self:
            run.skip_summary = "\n".join(f"{reason}: {count}" for reason, count in (run.skip_reasons or {}).items())
