import base64
import csv
import io
from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .test_collections_analytics import AS_OF, AnalyticsLedgerCommon


@tagged("post_install", "-at_install")
class TestCollectionsManagementReport(AnalyticsLedgerCommon):
    """The monthly report on the hand-worked ledger of AnalyticsLedgerCommon."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.env["ir.module.module"]._load_module_terms(["collections_omni"], ["es_ES"], overwrite=True)
        cls.Report = cls.env["collections.management.report"]

    def _csv(self, report):
        action = report.action_csv()
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[-1].split("?")[0]))
        rows = list(csv.reader(io.StringIO(base64.b64decode(attachment.datas).decode("utf-8-sig"))))
        return rows[0], {(section, group, figure): float(value) for section, group, figure, value in rows[1:]}

    def test_csv_figures_equal_the_dashboard(self):
        sms = self._contact("2025-03-01 09:00:00", "sms", state="delivered")
        email = self._contact("2025-03-10 09:00:00", "email")
        self._refresh()
        report = self.Report.create({"month": date(2025, 3, 1), "company_id": self.company.id})
        header, figures = self._csv(report)
        self.assertEqual(header, ["Section", "Group", "Figure", "Value"])
        # Worked out by hand (see AnalyticsLedgerCommon and test_collections_analytics).
        expected = {
            ("Aging", "2025-03", "Over 120"): 500,
            ("Aging", "2025-03", "31-60"): 600,
            ("Aging", "2025-03", "Current"): 2900,
            ("Aging", "2025-03", "1-30"): 0,
            ("Aging", "2025-02", "91-120"): 500,
            ("Aging", "2025-02", "1-30"): 600,
            ("Aging", "2025-02", "Current"): 2000,
            ("Aging", "2025-01", "61-90"): 500,
            ("Overdue", "2025-01", "Overdue"): 500,
            ("Overdue", "2025-02", "Overdue"): 1100,
            ("Overdue", "2025-03", "Overdue"): 1100,
            ("DSO (Countback)", "2025-03", "DSO (Countback)"): 46.4,
            ("Best Possible DSO", "2025-03", "Best Possible DSO"): 31,
            ("DSO (Countback)", "2025-02", "DSO (Countback)"): 96,
            ("CEI (%)", "2025-03", "CEI (%)"): 64.52,
            ("CEI (%)", "2025-02", "CEI (%)"): 26.67,
            # B's 2000 on March 20 counts once, for the last contact before it (the email of March 10).
            ("By channel", "Email", "Contacts"): 1,
            ("By channel", "Email", "Paid in 30 Days"): 2000,
            ("By channel", "Email", "Paid in 7 Days"): 0,
            ("By channel", "SMS", "Contacts"): 1,
            ("By channel", "SMS", "Paid in 30 Days"): 0,
            ("By channel", "SMS", "Delivered (%)"): 100,
        }
        self.assertEqual({key: figures.get(key) for key in expected}, expected)
        # And every figure equals the dashboard's own view, read as the dashboard reads it.
        company = [("company_id", "=", self.company.id)]
        for month, bucket, amount in self.env["collections.analytics.aging"]._figure(
            company, ["month_end:month", "bucket"], ["amount_residual:sum"]
        ):
            label = dict(self.env["collections.analytics.aging"]._fields["bucket"].selection)[bucket]
            self.assertAlmostEqual(figures[("Aging", month.strftime("%Y-%m"), label)], amount, places=2)
        for month, dso, best in self.env["collections.analytics.dso"]._figure(
            company, ["month_end:month"], ["dso:avg", "best_dso:avg"]
        ):
            if month >= date(2024, 4, 1):
                self.assertAlmostEqual(figures[("DSO (Countback)", month.strftime("%Y-%m"), "DSO (Countback)")], dso)
                self.assertAlmostEqual(
                    figures[("Best Possible DSO", month.strftime("%Y-%m"), "Best Possible DSO")], best
                )
        for channel, contacts, paid in self.env["collections.analytics.contact"]._figure(
            company, ["channel"], ["contact_count:sum", "paid_30_amount:sum"]
        ):
            label = {"email": "Email", "sms": "SMS"}[channel]
            self.assertEqual(figures[("By channel", label, "Contacts")], contacts)
            self.assertEqual(figures[("By channel", label, "Paid in 30 Days")], paid)
        self.assertTrue(sms and email)

    def test_a_past_month_leaves_the_dashboard_as_it_was(self):
        report = self.Report.create({"month": date(2025, 2, 14), "company_id": self.company.id})
        _header, figures = self._csv(report)
        self.assertEqual(figures[("Aging", "2025-02", "91-120")], 500)
        self.assertEqual(figures[("Overdue", "2025-02", "Overdue")], 1100)
        self.assertEqual(figures[("DSO (Countback)", "2025-02", "DSO (Countback)")], 96)
        self.assertNotIn(("Aging", "2025-03", "Current"), figures)
        # The dashboard is back as of its own day.
        self.assertTrue(self._rows("collections.analytics.aging", month_end=AS_OF))

    def test_pdf_and_spanish_labels(self):
        report = self.Report.with_context(lang="es_ES").create({"month": date(2025, 3, 1)})
        header, figures = self._csv(report)
        self.assertEqual(header, ["Sección", "Grupo", "Cifra", "Valor"])
        self.assertEqual(figures[("Antigüedad", "2025-03", "Más de 120")], 500)
        action = report.action_pdf()
        attachment = self.env["ir.attachment"].browse(int(action["url"].split("/")[-1].split("?")[0]))
        self.assertTrue(base64.b64decode(attachment.datas).startswith(b"%PDF"))
        self.assertIn("informe", attachment.name)

    def test_the_cron_mails_one_report_per_run_to_the_managers(self):
        managers = self.Report._managers(self.company)
        managers.lang = "es_ES"
        second = new_test_user(
            self.env,
            "report_manager",
            groups="collections_omni.group_collections_manager,account.group_account_invoice",
            email="jefa@example.com",
            lang="es_ES",
        )
        collector = new_test_user(
            self.env,
            "report_collector",
            groups="base.group_user,collections_omni.group_collections_collector",
            email="cobrador@example.com",
        )
        readers = managers | second
        Mail = self.env["mail.mail"]
        ours = [("model", "=", "res.company"), ("res_id", "=", self.company.id)]
        cron = self.env.ref("collections_omni.ir_cron_collections_management_report")
        for run in (1, 2):
            # As the scheduler runs it: as the cron's user.
            cron.with_user(cron.user_id).method_direct_trigger()
            mails = Mail.search(ours)
            self.assertEqual(len(mails), run)
        mail = mails[0]
        self.assertEqual(mail.recipient_ids, readers.partner_id)
        self.assertNotIn(collector.partner_id, mail.recipient_ids)
        # Last month as of the pinned day: February 2025, in the managers' language.
        self.assertIn("Informe de gestión de cobros", mail.subject)
        self.assertIn("feb 2025", mail.subject)
        self.assertEqual(sorted(mail.attachment_ids.mapped("mimetype")), ["application/pdf", "text/csv"])

    def test_only_managers_generate_it(self):
        collector = new_test_user(
            self.env,
            "report_collector_2",
            groups="base.group_user,account.group_account_invoice,collections_omni.group_collections_collector",
        )
        with self.assertRaises(AccessError):
            self.Report.with_user(collector).create({"month": date(2025, 3, 1)})
        report = self.Report.create({"month": date(2025, 3, 1)})
        with self.assertRaises(AccessError):
            report.with_user(collector).action_pdf()
        menu = self.env.ref("collections_omni.menu_collections_management_report")
        self.assertNotIn(menu.id, self.env["ir.ui.menu"].with_user(collector)._visible_menu_ids())
