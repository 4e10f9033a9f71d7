import csv
import io

from odoo import _, models
from odoo.tools import format_date, formatLang

from ..tools import management_report_pdf

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
# What the report shows of each A/B test variant (fields of collections.ab.variant).
AB_MEASURES = ["customer_count", "converted_count", "conversion_rate", "ci_low", "ci_high", "p_value", "amount"]


def measure_names():
    return [name for name, _aggregate in CONTACT_MEASURES]


class CollectionsManagementReportFiles(models.AbstractModel):
    """The management report's files in the reader's words (self.env.lang):
    the PDF with its charts and the CSV of the same figures, both made from
    ``_report_data``'s codes and numbers (collections.management.report)."""

    _name = "collections.management.report.files"
    _description = "Collections Management Report Files"

    def _labels(self):
        """Section and measure names in the reader's language (self.env.lang)."""
        env = self.env
        contact_fields = env["collections.analytics.contact"]._fields
        labels = {name: contact_fields[name]._description_string(env) for name in measure_names()}
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
        variant_fields = env["collections.ab.variant"]._fields
        labels.update({name: variant_fields[name]._description_string(env) for name in AB_MEASURES})
        labels["ab_tests"] = _("A/B tests")
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
                for name in measure_names():
                    if measures[name] is not None:
                        rows.append((labels[section], group_label, labels[name], measures[name]))
        for name, value in data["holds"].items():
            rows.append((labels["holds"], data["as_of"].strftime("%Y-%m"), labels[name], value))
        for test, _note, variants in data["ab_tests"]:
            for variant, measures in variants:
                for name in AB_MEASURES:
                    rows.append((labels["ab_tests"], f"{test}: {variant}", labels[name], measures[name]))
        return [(section, group, figure, round(value, 4)) for section, group, figure, value in rows]

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
                    ["", *(labels[name] for name in measure_names())],
                    [
                        [
                            label,
                            *(
                                money(measures[name])
                                if name.endswith("amount")
                                else number(measures[name], 1 if name.endswith("rate") else 0)
                                for name in measure_names()
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
        if data["ab_tests"]:
            blocks.append(("heading", labels["ab_tests"]))
        for test, note, variants in data["ab_tests"]:
            blocks.append(
                (
                    "chart",
                    management_report_pdf.horizontal_bars(
                        _("%(test)s: customers who paid (%%), with the 95 %% interval", test=test),
                        [variant for variant, _measures in variants],
                        [
                            [measures[name] for _variant, measures in variants]
                            for name in ("ci_low", "conversion_rate", "ci_high")
                        ],
                        [labels["ci_low"], labels["conversion_rate"], labels["ci_high"]],
                        lambda value: formatLang(env, value, digits=0),
                    ),
                )
            )
            blocks.append(
                (
                    "table",
                    ["", *(labels[name] for name in AB_MEASURES)],
                    [
                        [
                            variant,
                            *(
                                number(measures[name], 4 if name == "p_value" else 0 if name.endswith("count") else 1)
                                if name != "amount"
                                else money(measures[name])
                                for name in AB_MEASURES
                            ),
                        ]
                        for variant, measures in variants
                    ],
                    "",
                )
            )
            blocks.append(("text", note))
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
