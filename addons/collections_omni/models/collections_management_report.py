import contextlib
import csv
import datetime as dt
import io

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.tools import SQL, format_date, formatLang

from ..tools import analytics_sql, management_report_pdf

# The contact measures the report shows per channel and per stage: (measure, aggregate).
CONTACT_MEASURES = [
    ("contact_count", "sum"),
    ("delivery_rate", "avg"),
    ("read_rate", "avg"),
    ("reply_rate", "avg"),
    ("paid_7_count", "sum"),
    ("paid_7_amount", "sum"),
    ("paid_30_count", "sum"),
    ("paid_30_amount", "sum"),
    ("opt_out_count", "sum"),
]


class CollectionsManagementReport(models.TransientModel):
    """The monthly management report: the dashboard's figures for one month
    (and the twelve months' trends up to it) as a PDF with charts and as a
    CSV of the same figures. Printed on demand by a manager, and mailed to the
    collections managers each month by a scheduled action, in their language.

    Every number is read from the analytics views (collections.analytics.*),
    as the dashboard reads them: the report defines no figure of its own."""

    _name = "collections.management.report"
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
                (channel, channel_labels.get(channel, channel), dict(zip(_measure_names(), values, strict=True)))
                for channel, *values in Contact._figure([*company, *in_month], ["channel"], aggregates)
            ]
            for channel, _label, measures in channels:
                if channel in analytics_sql.UNTRACKED_CHANNELS:  # no delivery or reading to report: empty, not 0
                    measures.update(delivery_rate=None, read_rate=None)
            stages = [
                (
                    stage.id or 0,
                    stage.display_name or _("No stage"),
                    dict(zip(_measure_names(), values, strict=True)),
                )
                for stage, *values in Contact._figure([*company, *in_month], ["stage_id"], aggregates)
            ]
            holds = self._hold_figures(company, month_start, as_of)
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
        }

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

    # --- the reader's words ------------------------------------------------------------
    def _labels(self):
        """Section and measure names in the reader's language (self.env.lang)."""
        env = self.env
        contact_fields = env["collections.analytics.contact"]._fields
        labels = {name: contact_fields[name]._description_string(env) for name in _measure_names()}
        labels.update(
            {
                "aging": _("Aging"),
                "overdue": _("Overdue"),
                "dso": env["collections.analytics.dso"]._fields["dso"]._description_string(env),
                "best_dso": env["collections.analytics.dso"]._fields["best_dso"]._description_string(env),
                "cei": env["collections.analytics.cei"]._fields["cei"]._description_string(env),
                "channel": _("By channel"),
                "stage": _("By stage"),
                "holds": _("Promises, plans and disputes"),
                "promise_count": _("Promises due"),
                "kept_count": _("Promises kept"),
                "broken_count": _("Promises broken"),
                "plan_plan_count": _("Plans started"),
                "plan_completed_count": _("Plans completed"),
                "plan_broken_count": _("Plans broken"),
                "dispute_count": _("Disputes opened"),
                "resolved_count": _("Disputes resolved"),
                "duration_days": _("Days to resolve"),
            }
        )
        buckets = dict(env["collections.analytics.aging"]._fields["bucket"]._description_selection(env))
        return labels, buckets

    def _month_label(self, month):
        return format_date(self.env, month, lang_code=self.env.lang, date_format="MMM yyyy")

    def _period_label(self, data):
        return self._month_label(data["as_of"])

    def _csv_rows(self, data):
        """(section, group, figure, value): the same figures as the PDF, in the reader's words;
        months as YYYY-MM, numbers unformatted (a dot for decimals) for spreadsheets."""
        labels, buckets = self._labels()
        rows = []
        for month in data["months"]:
            key = month.strftime("%Y-%m")
            for bucket, bucket_label in buckets.items():
                rows.append((labels["aging"], key, bucket_label, data["aging"].get(month, {}).get(bucket, 0.0)))
            rows.append((labels["overdue"], key, labels["overdue"], data["overdue"].get(month, 0.0)))
            for name in ("dso", "best_dso", "cei"):
                if data[name].get(month) is not None:
                    rows.append((labels[name], key, labels[name], data[name][month]))
        for section, groups in (("channel", data["channels"]), ("stage", data["stages"])):
            for _key, group_label, measures in groups:
                for name in _measure_names():
                    if measures[name] is not None:
                        rows.append((labels[section], group_label, labels[name], measures[name]))
        for name, value in data["holds"].items():
            rows.append((labels["holds"], data["as_of"].strftime("%Y-%m"), labels[name], value))
        return [(section, group, figure, round(value, 2)) for section, group, figure, value in rows]

    def _csv(self, data):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([_("Section"), _("Group"), _("Figure"), _("Value")])
        writer.writerows(self._csv_rows(data))
        return buffer.getvalue().encode("utf-8-sig")

    def _pdf(self, data):
        labels, buckets = self._labels()
        env = self.env
        months = data["months"]
        month_names = [format_date(env, month, lang_code=env.lang, date_format="MMM yy") for month in months]
        currency = self.company_id.currency_id

        def money(value):
            return formatLang(env, value or 0.0, digits=0)

        def number(value, digits=1):
            return "" if value is None else formatLang(env, value, digits=digits)

        def amount_axis(value):
            if abs(value) >= 1_000_000:
                return formatLang(env, value / 1_000_000, digits=1) + "M"
            if abs(value) >= 1000:
                return formatLang(env, value / 1000, digits=0) + "k"
            return formatLang(env, value, digits=0)

        blocks = [("heading", _("Aging and overdue"))]
        blocks.append(
            (
                "chart",
                management_report_pdf.stacked_bars(
                    _("Receivables by days overdue (%(currency)s)", currency=currency.name),
                    month_names,
                    [[data["aging"].get(month, {}).get(bucket, 0.0) for month in months] for bucket in buckets],
                    list(buckets.values()),
                    amount_axis,
                ),
            )
        )
        blocks.append(
            (
                "table",
                [_("Month"), *buckets.values(), labels["overdue"]],
                [
                    [
                        name,
                        *(money(data["aging"].get(month, {}).get(bucket)) for bucket in buckets),
                        money(data["overdue"].get(month)),
                    ]
                    for name, month in zip(month_names, months, strict=True)
                ],
                "",
            )
        )
        blocks.append(("heading", _("DSO and CEI")))
        blocks.append(
            (
                "charts",
                [
                    management_report_pdf.lines(
                        _("DSO (days)"),
                        month_names,
                        [[data[name].get(month) for month in months] for name in ("dso", "best_dso")],
                        [labels["dso"], labels["best_dso"]],
                        lambda value: formatLang(env, value, digits=0),
                    ),
                    management_report_pdf.lines(
                        labels["cei"],
                        month_names,
                        [[data["cei"].get(month) for month in months]],
                        [labels["cei"]],
                        lambda value: formatLang(env, value, digits=0),
                    ),
                ],
            )
        )
        blocks.append(
            (
                "table",
                [_("Month"), labels["dso"], labels["best_dso"], labels["cei"]],
                [
                    [
                        name,
                        number(data["dso"].get(month)),
                        number(data["best_dso"].get(month)),
                        number(data["cei"].get(month)),
                    ]
                    for name, month in zip(month_names, months, strict=True)
                ],
                "",
            )
        )
        period = self._period_label(data)
        for section, groups in (("channel", data["channels"]), ("stage", data["stages"])):
            blocks.append(("heading", _("%(section)s, contacts of %(month)s", section=labels[section], month=period)))
            if groups:
                blocks.append(
                    (
                        "chart",
                        management_report_pdf.horizontal_bars(
                            _("Payments after the contacts (%(currency)s)", currency=currency.name),
                            [label for _key, label, _measures in groups],
                            [
                                [measures[name] or 0.0 for _key, _label, measures in groups]
                                for name in ("paid_7_amount", "paid_30_amount")
                            ],
                            [labels["paid_7_amount"], labels["paid_30_amount"]],
                            amount_axis,
                        ),
                    )
                )
            blocks.append(
                (
                    "table",
                    ["", *(labels[name] for name in _measure_names())],
                    [
                        [
                            label,
                            *(
                                money(measures[name])
                                if name.endswith("amount")
                                else number(measures[name], 1 if name.endswith("rate") else 0)
                                for name in _measure_names()
                            ),
                        ]
                        for _key, label, measures in groups
                    ],
                    _("No contact in the month."),
                )
            )
        blocks.append(("heading", _("%(section)s, %(month)s", section=labels["holds"], month=period)))
        blocks.append(
            (
                "table",
                [_("Figure"), _("Value")],
                [
                    [labels[name], number(value, 1 if name == "duration_days" else 0)]
                    for name, value in data["holds"].items()
                ],
                "",
            )
        )
        blocks.append(
            (
                "text",
                _(
                    "Amounts in %(currency)s. Payments are attributed once, to the customer's last contact "
                    "before them (at most 30 days before); a contact late in the month may still bring "
                    "payments after the report.",
                    currency=currency.name,
                ),
            )
        )
        return management_report_pdf.render(
            _("Collections management report"),
            _(
                "%(company)s, %(month)s (figures as of %(as_of)s)",
                company=self.company_id.name,
                month=period,
                as_of=format_date(env, data["as_of"], lang_code=env.lang),
            ),
            blocks,
            footer=_("%(company)s, collections management report", company=self.company_id.name),
        )

    def _file_name(self, data, extension):
        name = _("collections-management-report")
        return f"{name}-{data['as_of'].strftime('%Y-%m')}.{extension}"

    def _attachments(self, data):
        """The PDF and the CSV as attachments (kept with the company)."""
        Attachment = self.env["ir.attachment"]
        return Attachment.create(
            [
                {"name": self._file_name(data, "pdf"), "raw": self._pdf(data), "mimetype": "application/pdf"},
                {"name": self._file_name(data, "csv"), "raw": self._csv(data), "mimetype": "text/csv"},
            ]
        )

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


def _measure_names():
    return [name for name, _aggregate in CONTACT_MEASURES]
