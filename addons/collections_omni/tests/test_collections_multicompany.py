from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import COLLECTOR_GROUPS, CollectionsCommon


@tagged("at_install", "-post_install")
class TestCollectionsMultiCompany(CollectionsCommon):
    """A second company with its own collector: neither sees nor changes the
    other's collections records, by search or by id; consent is per company."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company()["company"]
        cls.collector_a = cls._staff_user("mc_collector_a", COLLECTOR_GROUPS)
        cls.collector_b = cls._staff_user("mc_collector_b", COLLECTOR_GROUPS, company=cls.company_b)
        # A customer both companies deal with (a shared partner).
        cls.invoice = cls._invoice(cls.customer, 500, 10)

    def _consent(self, user, status, channel="email"):
        return (
            self.env["collections.consent"]
            .with_user(user)
            .create({"partner_id": self.customer.id, "channel": channel, "status": status})
        )

    # === CONSENT === #

    def test_consent_belongs_to_the_contacting_company(self):
        opt_out_b = self._consent(self.collector_b, "opt_out")
        self.assertEqual(opt_out_b.company_id, self.company_b)
        Consent = self.env["collections.consent"].with_user(self.collector_a)
        self.assertFalse(Consent.search([("partner_id", "=", self.customer.id)]))
        with self.assertRaises(AccessError):
            opt_out_b.with_user(self.collector_a).read(["status"])
        self.assertEqual(Consent._status_by_partner(self.customer, self.company), {})
        self.assertEqual(
            Consent._status_by_partner(self.customer, self.company_b), {(self.customer.id, "email"): "opt_out"}
        )

    def test_the_customers_own_choices_go_to_every_company_that_duns_it(self):
        Consent = self.env["collections.consent"]
        self.assertEqual(Consent._contacting_companies(self.customer), self.company)
        newcomer = self._customer("Sin Facturas")
        self.assertEqual(Consent.with_company(self.company_b)._contacting_companies(newcomer), self.company_b)
        invoice_b = (
            self.env["account.move"]
            .with_company(self.company_b)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "invoice_date": fields.Date.today(),
                    "invoice_line_ids": [Command.create({"name": "Service", "quantity": 1, "price_unit": 80})],
                }
            )
        )
        self.assertEqual(Consent._contacting_companies(self.customer), self.company, "a draft duns nobody")
        invoice_b.action_post()
        self.assertEqual(Consent._contacting_companies(self.customer), self.company | self.company_b)

    def test_a_collector_records_no_consent_for_another_company(self):
        with self.assertRaises(AccessError):
            self.env["collections.consent"].with_user(self.collector_b).create(
                {"partner_id": self.customer.id, "channel": "email", "status": "opt_out", "company_id": self.company.id}
            )

    def test_an_opt_out_stops_only_its_company_contacts(self):
        self._run()
        planned = self._messages(self.customer).filtered(lambda m: m.state == "planned" and m.channel == "email")
        self.assertTrue(planned)
        self._consent(self.collector_b, "opt_out")
        self.assertEqual(set(planned.mapped("state")), {"planned"}, "company B's opt-out does not bind company A")
        self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(set(planned.mapped("state")), {"queued"})

    def test_an_opt_out_to_its_company_is_honoured(self):
        self._run()
        planned = self._messages(self.customer).filtered(lambda m: m.state == "planned" and m.channel == "email")
        self._consent(self.collector_a, "opt_out")
        self.assertEqual(set(planned.mapped("state")), {"blocked"})

    # === EVERY COLLECTIONS MODEL === #

    def test_a_collector_neither_sees_nor_changes_another_company_records(self):
        self._run()
        promise_date = fields.Date.context_today(self.customer) + timedelta(days=5)
        as_a = {
            "collections.promise": self.env["collections.promise"]
            .with_user(self.collector_a)
            .create(
                {
                    "partner_id": self.customer.id,
                    "currency_id": self.company.currency_id.id,
                    "amount": 50,
                    "promised_date": promise_date,
                }
            ),
            "collections.dispute": self.env["collections.dispute"]
            .with_user(self.collector_a)
            .create({"partner_id": self.customer.id, "move_ids": [Command.set(self.invoice.ids)], "reason": "other"}),
            "collections.payment.plan": self.env["collections.payment.plan"]
            .with_user(self.collector_a)
            .create({"partner_id": self.customer.id, "currency_id": self.company.currency_id.id}),
            "collections.consent": self._consent(self.collector_a, "opt_in", channel="sms"),
        }
        records = dict(as_a)
        records["collections.message"] = self._messages(self.customer)[:1]
        records["collections.run"] = self.env["collections.run"].search([("company_id", "=", self.company.id)])[:1]
        records["collections.policy"] = self.policy
        records["collections.stage"] = self.policy.stage_ids[:1]
        records["collections.worklist"] = self.env["collections.worklist"].search(
            [("company_id", "=", self.company.id)]
        )[:1]
        for model, record in records.items():
            with self.subTest(model=model):
                self.assertTrue(record, f"the fixture has a {model} of company A")
                self.assertTrue(record.with_user(self.collector_a).read(["display_name"]))
                self.assertFalse(self.env[model].with_user(self.collector_b).search([("id", "=", record.id)]))
                with self.assertRaises(AccessError):
                    record.with_user(self.collector_b).read(["display_name"])
        for model, record in as_a.items():
            with self.subTest(model=model, operation="write"), self.assertRaises(AccessError):
                field = "resolution_note" if model == "collections.dispute" else "note"
                record.with_user(self.collector_b).write({field: "Cambiado por otra empresa"})
