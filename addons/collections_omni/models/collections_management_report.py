import contextlib
import datetime as dt

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.tools import SQL, formatLang

from ..tools import analytics_sql
from .collections_management_report_files import AB_MEASURES, CONTACT_MEASURES, measure_names


class CollectionsManagementReport(models.TransientModel):
    """The monthly management report: the dashboard's figures for one month
    (and the twelve months' trends up to it) as a PDF with charts and as a
    CSV of the same figures. Printed on demand by a manager, and mailed to the
    collections managers each month by a scheduled action, in their language.

    Every number is read from the analytics views (collections.analytics.*),
    as the dashboard reads them: the report defines no figure of its own."""

    _name = "collections.management.report"
    _inherit = ["collections.management.report.files"]
    _description = "Collections Management Report"

    month = fields.Date(
        required=True,
        default=lambda self: self._default_month(),
        help="Any day of the month reported on; its figures are as of the month's last day (or today).",
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)

    @api.model
    def _analytics_today(self):
        self.env.cr.execute(SQL("SELECT %s", analytics_sql.analytics_today()))
        return self.env.cr.fetchone()[0]

    @api.model
    def _default_month(self):
        """The last whole month."""
        return self._analytics_today().replace(day=1) - relativedelta(months=1)

    def _as_of(self):
        month_end = self.month.replace(day=1) + relativedelta(months=1, days=-1)
        return min(month_end, self._analytics_today())

    @contextlib.contextmanager
    def _figures_as_of(self, as_of):
        """The analytics views as of ``as_of``: the stored snapshots are recomputed
        for that day if they are of another, and put back afterwards, so the
        dashboard is left as of its own day."""
        cr = self.env.cr
        self.env.flush_all()
        cr.execute("SELECT current_setting('collections.analytics_today', true)")
        previous = cr.fetchone()[0] or ""
        cr.execute(SQL("SELECT %s", analytics_sql.snapshot_today()))
        stored = cr.fetchone()[0]
        Figures = self.env["collections.analytics.aging"]
        cr.execute("SELECT set_config('collections.analytics_today', %s, true)", [as_of.isoformat()])
        if stored != as_of:
            Figures.action_refresh_figures()
        try:
            yield
        finally:
            cr.execute("SELECT set_config('collections.analytics_today', %s, true)", [previous])
            if stored != as_of:
                Figures.action_refresh_figures()

    # --- the figures -------------------------------------------------------------------
    def _report_data(self):
        """The figures, as codes and numbers (labels come with the rendering):
        {"as_of", "months": [month start], "aging": {month: {bucket: amount}},
        "overdue", "dso", "best_dso", "cei": {month: value}, "channels" and
        "stages": [(key, label, {measure: value})], "holds": {measure: value}}"""
        self.ensure_one()
        as_of = self._as_of()
        month_start = as_of.replace(day=1)
        first_month = month_start - relativedelta(months=analytics_sql.TREND_MONTHS - 1)
        company = [("company_id", "=", self.company_id.id)]
        trend = [*company, ("month_end", ">=", first_month), ("month_end", "<=", as_of)]
        in_month = [("contact_date", ">=", month_start), ("contact_date", "<=", as_of)]

        def by_month(rows):
            return {_month(row[0]): row[1:] for row in rows}

        with self._figures_as_of(as_of):
            env = self.env
            aging = {}
            for month, bucket, amount in env["collections.analytics.aging"]._figure(
                trend, ["month_end:month", "bucket"], ["amount_residual:sum"]
            ):
                aging.setdefault(_month(month), {})[bucket] = amount or 0.0
            overdue = by_month(
                env["collections.analytics.aging"]._figure(trend, ["month_end:month"], ["amount_overdue:sum"])
            )
            dso = by_month(
                env["collections.analytics.dso"]._figure(trend, ["month_end:month"], ["dso:avg", "best_dso:avg"])
            )
            cei = by_month(env["collections.analytics.cei"]._figure(trend, ["month_end:month"], ["cei:avg"]))
            Contact = env["collections.analytics.contact"]
            aggregates = [f"{name}:{aggregate}" for name, aggregate in CONTACT_MEASURES]
            channel_labels = dict(Contact._fields["channel"]._description_selection(env))
            channels = [
                (channel, channel_labels.get(channel, channel), dict(zip(measure_names(), values, strict=True)))
                for channel, *values in Contact._figure([*company, *in_month], ["channel"], aggregates)
            ]
            for channel, _label, measures in channels:
                if channel in analytics_sql.UNTRACKED_CHANNELS:  # no delivery or reading to report: empty, not 0
                    measures.update(delivery_rate=None, read_rate=None)
            stages = [
                (
                    stage.id or 0,
                    stage.display_name or _("No stage"),
                    dict(zip(measure_names(), values, strict=True)),
                )
                for stage, *values in Contact._figure([*company, *in_month], ["stage_id"], aggregates)
            ]
            holds = self._hold_figures(company, month_start, as_of)
        ab_tests = self._ab_figures()
        months = [first_month + relativedelta(months=index) for index in range(analytics_sql.TREND_MONTHS)]
        return {
            "as_of": as_of,
            "months": months,
            "aging": aging,
            "overdue": {month: values[0] or 0.0 for month, values in overdue.items()},
            "dso": {month: values[0] for month, values in dso.items()},
            "best_dso": {month: values[1] for month, values in dso.items()},
            "cei": {month: values[0] for month, values in cei.items() if values[0] is not None},
            "channels": channels,
            "stages": stages,
            "holds": holds,
            "ab_tests": ab_tests,
        }

    def _ab_figures(self):
        """The company's running and finished A/B tests (the last five) with each variant's outcome
        (collections.ab.variant, as of the report's making): [(test, note, [(variant, {measure: value})])]."""
        tests = self.env["collections.ab.test"].search(
            [("company_id", "=", self.company_id.id), ("state", "!=", "draft")], limit=5
        )
        return [
            (
                test.name,
                test.result_note,
                [(variant.name, {name: variant[name] for name in AB_MEASURES}) for variant in test.variant_ids],
            )
            for test in tests
        ]

    def _hold_figures(self, company, month_start, as_of):
        """Promises falling due, plans started, disputes opened and resolved in the month."""
        env = self.env

        def one(model, domain, aggregates):
            rows = env[model]._figure([*company, *domain], [], aggregates)
            return dict(zip([spec.split(":")[0] for spec in aggregates], rows[0] if rows else [], strict=False))

        figures = {}
        figures.update(
            one(
                "collections.analytics.promise",
                [("promised_date", ">=", month_start), ("promised_date", "<=", as_of)],
                ["promise_count:sum", "kept_count:sum", "broken_count:sum"],
            )
        )
        figures.update(
            {
                f"plan_{key}": value
                for key, value in one(
                    "collections.analytics.plan",
                    [("start_date", ">=", month_start), ("start_date", "<=", as_of)],
                    ["plan_count:sum", "completed_count:sum", "broken_count:sum"],
                ).items()
            }
        )
        figures.update(
            one(
                "collections.analytics.dispute",
                [("opened_date", ">=", month_start), ("opened_date", "<=", as_of)],
                ["dispute_count:sum"],
            )
        )
        figures.update(
            one(
                "collections.analytics.dispute",
                [("resolved_date", ">=", month_start), ("resolved_date", "<=", as_of)],
                ["resolved_count:sum", "duration_days:avg"],
            )
        )
        return {key: value or 0 for key, value in figures.items()}

    def _download(self, attachment):
        return {"type": "ir.actions.act_url", "url": f"/web/content/{attachment.id}?download=true", "target": "self"}

    def action_pdf(self):
        data = self._report_data()
        attachment = self.env["ir.attachment"].create(
            {"name": self._file_name(data, "pdf"), "raw": self._pdf(data), "mimetype": "application/pdf"}
        )
        return self._download(attachment)

    def action_csv(self):
        data = self._report_data()
        attachment = self.env["ir.attachment"].create(
            {"name": self._file_name(data, "csv"), "raw": self._csv(data), "mimetype": "text/csv"}
        )
        return self._download(attachment)

    # --- the monthly mail --------------------------------------------------------------
    @api.model
    def _managers(self, company):
        group = self.env.ref("collections_omni.group_collections_manager")
        return group.users.filtered(
            lambda user: user.active and not user.share and user.email and company in user.company_ids
        )

    @api.model
    def _cron_send_monthly(self):
        """Mail last month's report to each company's collections managers: one
        mail per company and language, to the managers who read that language,
        with the PDF and the CSV in it."""
        month = self._default_month()
        mails = self.env["mail.mail"]
        for company in self.env["res.company"].search([]):
            managers = self._managers(company)
            for lang in sorted(set(managers.mapped(lambda user: user.lang or "en_US"))):
                readers = managers.filtered(lambda user, lang=lang: (user.lang or "en_US") == lang)
                report = (
                    self.with_context(lang=lang)
                    .with_company(company)
                    .create({"month": month, "company_id": company.id})
                )
                mails |= report._mail(readers)
        return mails

    def _mail(self, readers):
        data = self._report_data()
        attachments = self._attachments(data)
        attachments.write({"res_model": "res.company", "res_id": self.company_id.id})
        period = self._period_label(data)
        last = data["months"][-1]
        body = _(
            "<p>The collections management report of %(company)s for %(month)s is attached (PDF, and the same "
            "figures as CSV).</p><ul><li>DSO: %(dso)s days (best possible: %(best)s)</li>"
            "<li>CEI: %(cei)s %%</li><li>Overdue: %(overdue)s</li></ul>",
            company=self.company_id.name,
            month=period,
            dso=formatLang(self.env, data["dso"].get(last) or 0.0, digits=1),
            best=formatLang(self.env, data["best_dso"].get(last) or 0.0, digits=1),
            cei=formatLang(self.env, data["cei"].get(last) or 0.0, digits=1),
            overdue=formatLang(self.env, data["overdue"].get(last) or 0.0, currency_obj=self.company_id.currency_id),
        )
        return self.env["mail.mail"].create(
            {
                "subject": _(
                    "Collections management report, %(month)s, %(company)s", month=period, company=self.company_id.name
                ),
                "body_html": body,
                "email_from": self.company_id.email_formatted or self.env.user.email_formatted,
                "recipient_ids": [(6, 0, readers.partner_id.ids)],
                "attachment_ids": [(6, 0, attachments.ids)],
                "model": "res.company",
                "res_id": self.company_id.id,
                "auto_delete": False,
            }
        )


def _month(value):
    """A read_group month (a date or a datetime) as the month's first day."""
    if isinstance(value, dt.datetime):
        value = value.date()
    return value.replace(day=1)
