from datetime import date, datetime

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CollectionsLedgerCommon

# The figures are computed as of this day (see analytics_sql.analytics_today).
AS_OF = date(2025, 3, 31)


class AnalyticsLedgerCommon(CollectionsLedgerCommon):
    """A small ledger worked out by hand, in company currency, without taxes:

    ===  ======  ==========  ==========  ======================================
    doc  amount  date        due         settled
    ===  ======  ==========  ==========  ======================================
    D       500  2024-11-01  2024-11-15  never
    A      1000  2025-01-10  2025-01-31  400 on 2025-02-20, the rest never
    B      2000  2025-02-05  2025-02-28  in full on 2025-03-20
    E      -100  2025-03-10  2025-03-10  a credit note, never applied
    C      3000  2025-03-15  2025-04-14  never
    ===  ======  ==========  ==========  ======================================

    Credit sales: Nov 500, Dec 0, Jan 1000, Feb 2000, Mar 2900.
    Receivables at the month's end (not yet due in brackets):
    Jan 1500 (1000), Feb 3100 (2000), Mar 4000 (2900).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Cliente Analítica", "is_company": True})
        cls.doc_d = cls._document(500, "2024-11-01", "2024-11-15")
        cls.doc_a = cls._document(1000, "2025-01-10", "2025-01-31")
        cls.doc_b = cls._document(2000, "2025-02-05", "2025-02-28")
        cls.doc_e = cls._document(100, "2025-03-10", "2025-03-10", move_type="out_refund")
        cls.doc_c = cls._document(3000, "2025-03-15", "2025-04-14")
        cls.payment_a = cls._pay(cls.doc_a, 400, "2025-02-20")
        cls.payment_b = cls._pay(cls.doc_b, 2000, "2025-03-20")

    @classmethod
    def _document(cls, amount, on, due, move_type="out_invoice"):
        move = cls.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": cls.customer.id,
                "invoice_date": on,
                "date": on,
                "invoice_date_due": due,
                "invoice_line_ids": [
                    Command.create({"name": "Service", "quantity": 1, "price_unit": amount, "tax_ids": []})
                ],
            }
        )
        move.action_post()
        return move

    @classmethod
    def _pay(cls, invoice, amount, on):
        payments = (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"amount": amount, "payment_date": on})
            ._create_payments()
        )
        return payments.move_id

    def setUp(self):
        super().setUp()
        self.env.cr.execute("SELECT set_config('collections.analytics_today', %s, true)", [AS_OF.isoformat()])
        self._refresh()

    def _refresh(self):
        self.env.flush_all()
        self.env["collections.analytics.aging"].action_refresh_figures()

    def _rows(self, model, **domain):
        return self.env[model].search(
            [("company_id", "=", self.company.id)] + [(key, "=", value) for key, value in domain.items()]
        )

    def _contact(self, sent_at, channel="email", state="sent", **values):
        return (
            self.env["collections.message"]
            .sudo()
            .create(
                {
                    "company_id": self.company.id,
                    "partner_id": self.customer.id,
                    "channel": channel,
                    "currency_id": self.company.currency_id.id,
                    "state": state,
                    "sent_at": sent_at,
                    "idempotency_key": f"analytics-{channel}-{sent_at}",
                    **values,
                }
            )
        )


@tagged("post_install", "-at_install")
class TestCollectionsAnalytics(AnalyticsLedgerCommon):
    """The figures on the hand-worked ledger of AnalyticsLedgerCommon."""

    def test_aging_buckets_at_each_month_end(self):
        Aging = self.env["collections.analytics.aging"]
        march = Aging._figure(
            [("company_id", "=", self.company.id), ("month_end", "=", AS_OF)], ["bucket"], ["amount_residual:sum"]
        )
        self.assertEqual(dict(march), {"over_120": 500, "31_60": 600, "current": 2900})
        february = self._rows("collections.analytics.aging", month_end=date(2025, 2, 28))
        self.assertEqual(
            {(row.move_id, row.bucket, row.days_overdue, row.amount_residual) for row in february},
            {
                (self.doc_d, "91_120", 105, 500),
                (self.doc_a, "1_30", 28, 600),
                (self.doc_b, "current", 0, 2000),
            },
        )
        january = Aging._figure(
            [("company_id", "=", self.company.id), ("month_end", "=", date(2025, 1, 31))],
            ["bucket"],
            ["amount_residual:sum"],
        )
        self.assertEqual(dict(january), {"61_90": 500, "current": 1000})
        # The overdue trend: what is past due at each month's end.
        overdue = Aging._figure([("company_id", "=", self.company.id)], ["month_end:month"], ["amount_overdue:sum"])
        by_month = {month.date() if isinstance(month, datetime) else month: amount for month, amount in overdue}
        self.assertEqual(by_month[date(2025, 1, 1)], 500)
        self.assertEqual(by_month[date(2025, 2, 1)], 1100)
        self.assertEqual(by_month[date(2025, 3, 1)], 1100)
        # Twelve months of trend, the current one included: nothing earlier than April 2024.
        self.assertEqual(
            min(Aging.search([("company_id", "=", self.company.id)]).mapped("month_end")), date(2024, 11, 30)
        )
        self.assertFalse(Aging.search([("month_end", "<", date(2024, 4, 1))]))

    def test_aging_buckets_in_chronological_order(self):
        """The chart, pivot and list show the buckets as time runs (not due, 1-30, ..., over 120),
        not in the keys' alphabetical order ("1_30" before "current"), also under a month."""
        Aging = self.env["collections.analytics.aging"]
        domain = [("company_id", "=", self.company.id)]
        order = [key for key, _label in Aging._fields["bucket"].selection]
        self.assertEqual(order[0], "current")
        for groups in (Aging._read_group(domain, ["bucket"]), Aging._read_group(domain, ["bucket"], order="bucket")):
            buckets = [bucket for (bucket,) in groups]
            self.assertEqual(buckets, sorted(buckets, key=order.index))
            self.assertEqual(buckets[0], "current")
        self.assertEqual(
            [bucket for (bucket,) in Aging._read_group(domain, ["bucket"], order="bucket desc")][-1], "current"
        )
        # What the graph and the pivot ask for: the month, then the bucket (not lazy).
        rows = Aging.read_group(domain, ["amount_residual:sum"], ["month_end:month", "bucket"], lazy=False)
        by_month = {}
        for row in rows:
            by_month.setdefault(row["month_end:month"], []).append(row["bucket"])
        self.assertEqual(by_month["February 2025"], ["current", "1_30", "91_120"])
        for buckets in by_month.values():
            self.assertEqual(buckets, sorted(buckets, key=order.index))
        # The list grouped by bucket (lazy, as the web client reads it).
        lazy = [row["bucket"] for row in Aging.read_group(domain, ["amount_residual:sum"], ["bucket"])]
        self.assertEqual(lazy, sorted(lazy, key=order.index))

    def test_dso_countback_and_best_possible(self):
        march = self._rows("collections.analytics.dso", month_end=AS_OF)
        # R = 4000: March's 2900 of sales are covered whole (31 days), the last
        # 1100 cover 1100/2000 of February's 28 days = 15.4.
        self.assertEqual((march.receivable, march.receivable_current, march.sales), (4000, 2900, 2900))
        self.assertAlmostEqual(march.dso, 31 + 15.4, places=2)
        # Best possible: the 2900 not yet due are exactly March's sales.
        self.assertAlmostEqual(march.best_dso, 31, places=2)
        february = self._rows("collections.analytics.dso", month_end=date(2025, 2, 28))
        # R = 3100: February 2000 (28 days) + January 1000 (31) + December 0 (31) + 100/500 of November (30).
        self.assertAlmostEqual(february.dso, 28 + 31 + 31 + 6, places=2)
        # 2000 not yet due = February's sales exactly.
        self.assertAlmostEqual(february.best_dso, 28, places=2)

    def test_cei_by_month(self):
        march = self._rows("collections.analytics.cei", month_end=AS_OF)
        # (3100 + 2900 - 4000) / (3100 + 2900 - 2900): the 2000 of B collected out of 3100 collectible.
        self.assertEqual(
            (march.receivable_previous, march.sales, march.collected, march.collectible), (3100, 2900, 2000, 3100)
        )
        self.assertAlmostEqual(march.cei, 64.52, places=2)
        february = self._rows("collections.analytics.cei", month_end=date(2025, 2, 28))
        # (1500 + 2000 - 3100) / (1500 + 2000 - 2000): A's 400 out of 1500.
        self.assertAlmostEqual(february.cei, 26.67, places=2)

    def test_a_payment_is_attributed_once_to_the_last_contact(self):
        before_a = self._contact("2025-02-18 09:00:00", "sms", state="delivered")
        first = self._contact("2025-03-01 09:00:00", "email")
        second = self._contact("2025-03-05 09:00:00", "whatsapp", state="read")
        last = self._contact("2025-03-10 09:00:00", "email")
        after = self._contact("2025-03-25 09:00:00", "email")
        self._refresh()
        rows = {row.message_id: row for row in self._rows("collections.analytics.contact")}
        self.assertEqual(len(rows), 5)
        # A's 400 on Feb 20, two days after the SMS: within 7 and within 30 days.
        self.assertEqual(
            (rows[before_a].paid_7_count, rows[before_a].paid_7_amount, rows[before_a].paid_30_amount), (1, 400, 400)
        )
        # B's 2000 on Mar 20 goes to the last contact before it (Mar 10, 10 days before): within 30 days only.
        self.assertEqual((rows[last].paid_7_count, rows[last].paid_30_count, rows[last].paid_30_amount), (0, 1, 2000))
        for earlier in (first, second, after):
            self.assertEqual((rows[earlier].paid_30_count, rows[earlier].paid_30_amount), (0, 0))
        totals = self.env["collections.analytics.contact"]._figure(
            [("company_id", "=", self.company.id)], [], ["paid_30_amount:sum", "paid_30_count:sum", "contact_count:sum"]
        )
        self.assertEqual(totals, [(2400, 2, 5)])
        # Delivery and read rates: the SMS was delivered, the WhatsApp message read, the emails neither.
        by_channel = dict(
            self.env["collections.analytics.contact"]._figure(
                [("company_id", "=", self.company.id)], ["channel"], ["delivery_rate:avg"]
            )
        )
        self.assertEqual(by_channel, {"email": 0, "sms": 100, "whatsapp": 100})
        # The drill-down opens the payment entry behind the figure.
        action = rows[last].action_open_payments()
        self.assertEqual(self.env["account.move"].search(action["domain"]), self.payment_b)

    def test_replies_and_opt_outs_go_to_the_last_contact_on_their_channel(self):
        sms = self._contact("2025-03-01 09:00:00", "sms")
        email = self._contact("2025-03-02 09:00:00", "email")
        reply = (
            self.env["collections.message"]
            .sudo()
            .create(
                {
                    "company_id": self.company.id,
                    "partner_id": self.customer.id,
                    "channel": "sms",
                    "direction": "inbound",
                    "currency_id": self.company.currency_id.id,
                    "state": "delivered",
                    "idempotency_key": "analytics-reply",
                }
            )
        )
        self.env["collections.consent"].sudo().create(
            {
                "company_id": self.company.id,
                "partner_id": self.customer.id,
                "channel": "sms",
                "status": "opt_out",
                "date": "2025-03-03 10:00:00",
            }
        )
        self.env.flush_all()
        # A reply by SMS after the email: it answers the SMS (its channel), not the later email.
        self.env.cr.execute(
            "UPDATE collections_message SET create_date = '2025-03-02 12:00:00' WHERE id = %s", [reply.id]
        )
        self._refresh()
        rows = {row.message_id: row for row in self._rows("collections.analytics.contact")}
        self.assertEqual((rows[sms].reply_rate, rows[email].reply_rate), (100, 0))
        self.assertEqual((rows[sms].opt_out_count, rows[email].opt_out_count), (1, 0))
        # Eight days later the same reply answers nothing.
        self.env.cr.execute(
            "UPDATE collections_message SET create_date = '2025-03-10 12:00:00' WHERE id = %s", [reply.id]
        )
        self._refresh()
        self.env.invalidate_all()
        rows = {row.message_id: row for row in self._rows("collections.analytics.contact")}
        self.assertEqual((rows[sms].reply_rate, rows[email].reply_rate), (0, 0))

    def test_only_managers_read_the_figures(self):
        manager = new_test_user(
            self.env,
            "analytics_manager",
            groups="collections_omni.group_collections_manager,account.group_account_invoice",
        )
        collector = new_test_user(
            self.env,
            "analytics_collector",
            groups="base.group_user,account.group_account_invoice,collections_omni.group_collections_collector",
        )
        for model in ("collections.analytics.aging", "collections.analytics.contact", "collections.analytics.dso"):
            self.env[model].with_user(manager).search([])
            with self.assertRaises(AccessError):
                self.env[model].with_user(collector).search([])
        menu = self.env.ref("collections_omni.menu_collections_analytics")
        self.assertIn(menu.id, self.env["ir.ui.menu"].with_user(manager)._visible_menu_ids())
        self.assertNotIn(menu.id, self.env["ir.ui.menu"].with_user(collector)._visible_menu_ids())
