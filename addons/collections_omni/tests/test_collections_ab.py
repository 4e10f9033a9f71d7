from collections import Counter

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL

from ..tools import ab_testing
from .common import CollectionsCommon, engine_message


@tagged("post_install", "-at_install")
class TestAbStatistics(TransactionCase):
    """tools/ab_testing.py against published values."""

    def test_wilson_interval_known_values(self):
        # 10 of 100: [0.0552, 0.1744]; 0 of 10: [0, 0.2775]; 81 of 263: [0.2553, 0.3662] (Wilson 1927, 95 %).
        for (successes, trials), (low, high) in {
            (10, 100): (0.0552, 0.1744),
            (0, 10): (0.0, 0.2775),
            (81, 263): (0.2553, 0.3662),
        }.items():
            interval = ab_testing.wilson_interval(successes, trials)
            self.assertAlmostEqual(interval[0], low, places=4)
            self.assertAlmostEqual(interval[1], high, places=4)
        self.assertEqual(ab_testing.wilson_interval(0, 0), (0.0, 0.0))

    def test_normal_interval_known_values(self):
        # 0.1 ± 1.96 × 0.03
        low, high = ab_testing.normal_interval(10, 100)
        self.assertAlmostEqual(low, 0.0412, places=4)
        self.assertAlmostEqual(high, 0.1588, places=4)

    def test_two_proportion_z_test_known_values(self):
        # 30/100 against 45/100: pooled 0.375, z = 2.19, two-sided p = 0.0285.
        z, p_value = ab_testing.two_proportion_z_test(30, 100, 45, 100)
        self.assertAlmostEqual(z, 2.1909, places=4)
        self.assertAlmostEqual(p_value, 0.0285, places=4)
        # 200/1000 against 250/1000: z = 2.68, p = 0.0074.
        z, p_value = ab_testing.two_proportion_z_test(200, 1000, 250, 1000)
        self.assertAlmostEqual(z, 2.6774, places=4)
        self.assertAlmostEqual(p_value, 0.0074, places=4)
        # Symmetric, and no variation at all gives p = 1.
        self.assertAlmostEqual(ab_testing.two_proportion_z_test(45, 100, 30, 100)[0], -2.1909, places=4)
        self.assertEqual(ab_testing.two_proportion_z_test(0, 50, 0, 50), (0.0, 1.0))

    def test_no_winner_before_the_minimum_sample_or_without_significance(self):
        results = [("A", 30, 100), ("B", 45, 100)]
        self.assertEqual(ab_testing.winner(results, min_sample=100), "B")
        self.assertIsNone(ab_testing.winner(results, min_sample=101))
        self.assertIsNone(ab_testing.winner([("A", 40, 100), ("B", 45, 100)], min_sample=100))
        # With three variants the best must beat each of the others.
        self.assertIsNone(ab_testing.winner([*results, ("C", 44, 100)], min_sample=100))

    def test_assignment_is_stable_and_follows_the_split(self):
        variants = [("A", 50), ("B", 30), ("C", 20)]
        partners = range(1, 10001)
        first = {partner: ab_testing.assign(7, partner, variants) for partner in partners}
        self.assertEqual(first, {partner: ab_testing.assign(7, partner, variants) for partner in partners})
        counts = Counter(first.values())
        # 10,000 customers: each share within 1.5 points (three standard deviations at 50 %).
        for variant, share in variants:
            self.assertAlmostEqual(100 * counts[variant] / 10000, share, delta=1.5)
        # Another test splits the same customers independently.
        other = Counter((first[p], ab_testing.assign(8, p, [("A", 50), ("B", 50)])) for p in partners)
        self.assertAlmostEqual(other[("A", "A")] / 10000, 0.25, delta=0.02)
        # PostgreSQL computes the same place for every customer (planning is set-based).
        self.env.cr.execute(
            SQL(
                "SELECT n, %s FROM generate_series(1, 10000) AS n",
                ab_testing.bucket_sql(SQL("7"), SQL("n")),
            )
        )
        self.assertEqual(dict(self.env.cr.fetchall()), {p: ab_testing.bucket(7, p) for p in partners})


@tagged("post_install", "-at_install")
class TestAbTests(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.first_stage = cls.policy.stage_ids.filtered(lambda s: s.name == "First")
        cls.action = cls.first_stage.action_ids
        cls.firm = cls.template.copy({"name": "Firm reminder"})
        cls.test = cls.env["collections.ab.test"].create(
            {
                "name": "Email or SMS at ten",
                "action_id": cls.action.id,
                "min_sample": 1,
                "alpha": 0.1,
                "variant_ids": [
                    (0, 0, {"name": "Control", "share": 50, "sequence": 1}),
                    (
                        0,
                        0,
                        {
                            "name": "SMS at ten",
                            "share": 50,
                            "sequence": 2,
                            "channel": "sms",
                            "time_of_day": 10,
                            "tone": "second",
                            "mail_template_id": cls.firm.id,
                        },
                    ),
                ],
            }
        )
        cls.control, cls.sms = cls.test.variant_ids.sorted("sequence")

    def test_planning_records_each_customers_variant(self):
        self.test.action_start()
        customers = self.env["res.partner"]
        for index in range(30):
            customer = self._customer(f"Cliente AB {index}", phone=f"+3460000{index:04d}")
            self._invoice(customer, 100 + index, 10)
            customers |= customer
        self._run()
        variants = [(self.control, 50), (self.sms, 50)]
        for customer in customers:
            message = self._messages(customer)
            self.assertEqual(len(message), 1)
            expected = ab_testing.assign(self.test.id, customer.id, variants)
            self.assertEqual(message.ab_variant_id, expected)
            self.assertEqual(message.channel, "sms" if expected == self.sms else "email")
            # The variant's template and tone replace the action's when the message is written.
            if expected == self.sms:
                self.assertEqual((message._template(), message._reminder_tone()), (self.firm, "second"))
            else:
                self.assertEqual((message._template(), message._reminder_tone()), (self.template, "first"))
        self.assertEqual(set(self._messages().ab_variant_id), {self.control, self.sms})
        # A stopped test assigns nobody.
        self.test.action_stop()
        late = self._customer("Cliente AB tarde")
        self._invoice(late, 100, 10)
        self._run()
        self.assertFalse(self._messages(late).ab_variant_id)

    def _message(self, partner, sent_at, variant=None, channel="email"):
        return engine_message(
            self.env,
            partner,
            f"ab-{partner.id}-{sent_at}",
            channel=channel,
            state="sent",
            sent_at=sent_at,
            ab_variant_id=variant.id if variant else False,
        )

    def _paid_on(self, invoice, on):
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {"amount": invoice.amount_residual, "payment_date": on}
        )._create_payments()

    def test_a_payment_counts_once_for_the_last_message_before_it(self):
        self.test.action_start()
        one, two, three = (self._customer(f"Cliente Resultado {n}") for n in (1, 2, 3))
        # One: two messages of the control, then one payment: one customer converted, 1,000 once.
        invoice = self._invoice(one, 1000, 30)
        self._message(one, "2026-06-01 09:00:00", self.control)
        self._message(one, "2026-06-03 09:00:00", self.control)
        self._paid_on(invoice, "2026-06-05")
        # Two: the SMS variant, then a message outside the test: the payment is the later message's.
        invoice = self._invoice(two, 500, 30)
        self._message(two, "2026-06-01 09:00:00", self.sms, "sms")
        self._message(two, "2026-06-04 09:00:00")
        self._paid_on(invoice, "2026-06-06")
        # Three: the SMS variant, paid 24 days later: attributed, but outside the 14 days of the test.
        invoice = self._invoice(three, 700, 30)
        self._message(three, "2026-05-20 09:00:00", self.sms, "sms")
        self._paid_on(invoice, "2026-06-13")
        results = self.test._results()
        self.assertEqual(
            {key: results[self.control.id][key] for key in ("customers", "converted", "amount")},
            {"customers": 1, "converted": 1, "amount": 1000},
        )
        self.assertEqual(
            {key: results[self.sms.id][key] for key in ("customers", "converted", "amount")},
            {"customers": 2, "converted": 0, "amount": 0},
        )
        self.assertEqual((self.control.conversion_rate, self.sms.conversion_rate), (100, 0))
        low, high = ab_testing.wilson_interval(0, 2)
        self.assertAlmostEqual(self.sms.ci_high, 100 * high, places=1)
        self.assertEqual(low, 0)
        # 1/1 against 0/2: z = 1.73, p = 0.083 < 0.1, with the minimum sample of 1 reached.
        self.assertAlmostEqual(self.sms.p_value, 0.0833, places=3)
        self.assertEqual(self.test.suggested_winner_id, self.control)
        # The monthly report carries the same results.
        report = self.env["collections.management.report"].create({"company_id": self.company.id})
        rows = report._csv_rows(report._report_data())
        ab_rows = {(group, figure): value for section, group, figure, value in rows if section == "A/B tests"}
        self.assertEqual(ab_rows[("Email or SMS at ten: Control", "Customers")], 1)
        self.assertEqual(ab_rows[("Email or SMS at ten: SMS at ten", "Customers")], 2)
        self.assertEqual(ab_rows[("Email or SMS at ten: Control", "Amount Recovered")], 1000)
        self.assertAlmostEqual(ab_rows[("Email or SMS at ten: SMS at ten", "p-value")], 0.0833, places=4)
        self.assertTrue(report._pdf(report._report_data()).startswith(b"%PDF"))

    def test_promote_the_winner_in_one_click_managers_only(self):
        self.test.action_start()
        customer = self._customer("Cliente Ganador")
        invoice = self._invoice(customer, 300, 30)
        self._message(customer, "2026-06-01 09:00:00", self.sms, "sms")
        self._paid_on(invoice, "2026-06-02")
        for index in range(2):
            other = self._customer(f"Cliente Control {index}")
            self._message(other, "2026-06-01 09:00:00", self.control)
        self.assertEqual(self.test.suggested_winner_id, self.sms)
        collector = new_test_user(
            self.env,
            "ab_collector",
            groups="base.group_user,account.group_account_invoice,collections_omni.group_collections_collector",
        )
        with self.assertRaises(AccessError):
            self.test.with_user(collector).action_promote_winner()
        self.assertEqual(self.test.state, "running")
        # A collector still sees which variant a customer saw (the audit trail).
        self.assertEqual(self.test.with_user(collector).variant_ids.mapped("name"), ["Control", "SMS at ten"])
        self.test.action_promote_winner()
        self.assertEqual((self.test.state, self.test.winner_id), ("done", self.sms))
        self.assertEqual(
            (self.action.channel, self.action.mail_template_id, self.action.time_of_day, self.first_stage.tone),
            ("sms", self.firm, 10, "second"),
        )
        with self.assertRaises(UserError):
            self.test.action_promote_winner()

    def test_a_running_split_must_add_up(self):
        self.sms.share = 40
        with self.assertRaises(ValidationError):
            self.test.action_start()
