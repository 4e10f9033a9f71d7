import csv
import datetime as dt
import io

from odoo import _, fields, models

from ..tools import compliance_pdf
from ..tools.rules import CLOSED_STATES


class CollectionsComplianceReport(models.TransientModel):
    """For an auditor: over a period, the contacts per customer and channel,
    the attempts the rules refused, and the opt-outs and whether any contact
    followed them."""

    _name = "collections.compliance.report"
    _description = "Collections Compliance Report"

    date_from = fields.Date(required=True, default=lambda self: fields.Date.context_today(self).replace(day=1))
    date_to = fields.Date(required=True, default=fields.Date.context_today)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)

    def _period(self):
        start = dt.datetime.combine(self.date_from, dt.time.min)
        return start, dt.datetime.combine(self.date_to, dt.time.min) + dt.timedelta(days=1)

    def _report_data(self):
        """Plain rows, the same for CSV and PDF."""
        self.ensure_one()
        self.env.flush_all()
        start, end = self._period()
        cr = self.env.cr
        cr.execute(
            """
            SELECT p.name, m.channel, count(*) FROM collections_message m JOIN res_partner p ON p.id = m.partner_id
             WHERE m.company_id = %s AND m.attempted_at >= %s AND m.attempted_at < %s
               AND m.state != ALL(%s)
          GROUP BY p.name, m.channel ORDER BY p.name, m.channel
            """,
            [self.company_id.id, start, end, list(CLOSED_STATES)],
        )
        contacts = cr.fetchall()
        cr.execute(
            """
            SELECT COALESCE(rs.name ->> %s, rs.name ->> 'en_US', ''), r.reason, r.channel, count(*)
              FROM collections_contact_refusal r LEFT JOIN collections_contact_rule_set rs ON rs.id = r.rule_set_id
             WHERE r.company_id = %s AND r.refused_at >= %s AND r.refused_at < %s
          GROUP BY 1, r.reason, r.channel ORDER BY 1, r.reason, r.channel
            """,
            [self.env.lang or "en_US", self.company_id.id, start, end],
        )
        refusals = cr.fetchall()
        # An opt-out is honoured when no contact on that channel followed it; how fast is the
        # time until the engine stopped the customer's pending messages.
        cr.execute(
            """
            SELECT p.name, c.channel, c.date, c.source, COALESCE(c.stopped_message_count, 0),
                   EXTRACT(EPOCH FROM c.honoured_at - c.date),
                   (SELECT count(*) FROM collections_message m
                     WHERE m.partner_id = c.partner_id AND m.channel = c.channel AND m.attempted_at > c.date
                       AND m.state != ALL(%s) AND m.rule_exception IS NULL)
              FROM collections_consent c JOIN res_partner p ON p.id = c.partner_id
             WHERE c.status = 'opt_out' AND c.date >= %s AND c.date < %s
               AND (p.company_id IS NULL OR p.company_id = %s)
          ORDER BY c.date
            """,
            [list(CLOSED_STATES), start, end, self.company_id.id],
        )
        opt_outs = cr.fetchall()
        labels = {
            "channel": dict(self.env["collections.message"]._fields["channel"]._description_selection(self.env)),
            "reason": dict(self.env["collections.contact.refusal"]._fields["reason"]._description_selection(self.env)),
            "source": dict(self.env["collections.consent"]._fields["source"]._description_selection(self.env)),
        }
        return {
            "contacts": [(name, labels["channel"][channel], count) for name, channel, count in contacts],
            "refusals": [
                (rules, labels["reason"][reason], labels["channel"][channel], count)
                for rules, reason, channel, count in refusals
            ],
            "opt_outs": [
                (
                    name,
                    labels["channel"][channel],
                    fields.Datetime.to_string(date),
                    labels["source"][source],
                    stopped,
                    self._duration_text(seconds),
                    after,
                )
                for name, channel, date, source, stopped, seconds, after in opt_outs
            ],
        }

    def _duration_text(self, seconds):
        if seconds is None:
            return _("not recorded")
        seconds = max(float(seconds), 0.0)
        if seconds < 60:
            return _("%(seconds)s s", seconds=round(seconds, 1))
        if seconds < 3600:
            return _("%(minutes)s min", minutes=round(seconds / 60, 1))
        return _("%(hours)s h", hours=round(seconds / 3600, 1))

    def _download(self, name, content, mimetype):
        attachment = self.env["ir.attachment"].create({"name": name, "raw": content, "mimetype": mimetype})
        return {"type": "ir.actions.act_url", "url": f"/web/content/{attachment.id}?download=true", "target": "self"}

    def _file_name(self, extension):
        return f"{_('collections-compliance')}-{self.date_from}-{self.date_to}.{extension}"

    def action_csv(self):
        data = self._report_data()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                _("Section"),
                _("Customer or rules"),
                _("Channel or reason"),
                _("Detail"),
                _("Count"),
                _("Pending messages stopped"),
                _("Honoured within"),
            ]
        )
        for name, channel, count in data["contacts"]:
            writer.writerow([_("Contacts"), name, channel, "", count])
        for rules, reason, channel, count in data["refusals"]:
            writer.writerow([_("Refused attempts"), rules, reason, channel, count])
        for name, channel, date, source, stopped, honoured_within, after in data["opt_outs"]:
            writer.writerow([_("Opt-outs"), name, channel, f"{date} ({source})", after, stopped, honoured_within])
        return self._download(self._file_name("csv"), buffer.getvalue().encode(), "text/csv")

    def action_pdf(self):
        data = self._report_data()
        honoured = _("honoured")
        pdf = compliance_pdf.render(
            _("Collections compliance report"),
            _(
                "%(company)s, from %(start)s to %(end)s",
                company=self.company_id.name,
                start=self.date_from,
                end=self.date_to,
            ),
            [
                (
                    _("Contacts per customer and channel"),
                    [_("Customer"), _("Channel"), _("Contacts")],
                    [list(map(str, row)) for row in data["contacts"]],
                    _("No contact in the period."),
                ),
                (
                    _("Attempts refused by the contact rules"),
                    [_("Rules"), _("Reason"), _("Channel"), _("Count")],
                    [list(map(str, row)) for row in data["refusals"]],
                    _("No attempt was refused."),
                ),
                (
                    _("Opt-outs"),
                    [
                        _("Customer"),
                        _("Channel"),
                        _("Date"),
                        _("Source"),
                        _("Pending stopped"),
                        _("Honoured within"),
                        _("Contacts after it"),
                    ],
                    [[*map(str, row[:6]), str(row[6]) if row[6] else honoured] for row in data["opt_outs"]],
                    _("No opt-out in the period."),
                ),
            ],
        )
        return self._download(self._file_name("pdf"), pdf, "application/pdf")
