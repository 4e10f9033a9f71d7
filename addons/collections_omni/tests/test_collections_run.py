from datetime import timedelta

import psycopg2

from odoo import sql_db
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import TODAY, CollectionsCommon


@tagged("at_install", "-post_install")
class TestCollectionsRun(CollectionsCommon):
    # --- stage choice -------------------------------------------------------
    def test_stage_by_offset_after_due(self):
        invoice = self._invoice(self.customer, 100, days_overdue=10)
        run = self._run()
        self.assertEqual(run.messages_planned, 1)
        self.assertEqual(invoice.collections_stage_id.name, "First")
        message = self._messages(self.customer)
        self.assertEqual((message.channel, message.stage_id.name, message.state), ("email", "First", "planned"))
        self.assertEqual(message.move_ids, invoice)
        self.assertEqual(self.customer.collections_stage_id.name, "First")
        self.assertEqual(self.customer.collections_last_date, TODAY)
        self.assertEqual(invoice.collections_last_date, TODAY)
        self.assertEqual(invoice.collections_next_date, invoice.invoice_date_due + timedelta(days=21))

    def test_a_planned_message_reads_its_stage_in_the_customers_language(self):
        first = self.policy.stage_ids.filtered(lambda stage: stage.name == "First")
        first.with_context(lang="es_ES").name = "Primer recordatorio"
        self._invoice(self.customer, 100, days_overdue=10)
        english = self._customer("Customer Two", lang="en_US")
        self._invoice(english, 100, days_overdue=10)
        self._run()
        self.assertEqual(self._messages(self.customer).subject, "Primer recordatorio")
        self.assertEqual(self._messages(english).subject, "First")

    def test_friendly_reminder_before_due(self):
        invoice = self._invoice(self.customer, 100, days_overdue=-2)  # due in two days
        self._run()
        self.assertEqual(invoice.collections_stage_id.name, "Before")
        self.assertEqual(self._messages(self.customer).move_ids, invoice)

    def test_not_yet_in_any_stage(self):
        self._invoice(self.customer, 100, days_overdue=-10)
        run = self._run()
        self.assertEqual(run.messages_planned, 0)
        self.assertFalse(self._messages(self.customer))

    def test_jumps_to_furthest_reached_stage_then_escalates(self):
        invoice = self._invoice(self.customer, 100, days_overdue=25)
        self._run()
        self.assertEqual(invoice.collections_stage_id.name, "Second")
        self.assertEqual(sorted(self._messages(self.customer).mapped("channel")), ["call", "email"])
        # Nothing new until the next stage is reached ...
        self.assertEqual(self._run(TODAY + timedelta(days=5)).messages_planned, 0)
        # ... then the final stage.
        self._run(TODAY + timedelta(days=20))
        self.assertEqual(invoice.collections_stage_id.name, "Final")
        self.assertEqual(invoice.collections_reminder_count, 2)

    def test_reminder_count_escalation(self):
        policy = self._policy(
            "Count based",
            [("Reminder", 1, "email"), ("Escalated", 1, "email", {"min_reminder_count": 2})],
        )
        customer = self._customer("Count Customer", collections_policy_id=policy.id)
        invoice = self._invoice(customer, 100, days_overdue=5)
        self._run()
        self.assertEqual(invoice.collections_stage_id.name, "Reminder")
        # The same stage is not repeated: the second reminder needs the escalated stage.
        self._run(TODAY + timedelta(days=1))
        self.assertEqual(invoice.collections_reminder_count, 1)
        invoice.collections_reminder_count = 2
        self._run(TODAY + timedelta(days=2))
        self.assertEqual(invoice.collections_stage_id.name, "Escalated")

    # --- policy precedence ----------------------------------------------------
    def test_policy_precedence_invoice_partner_segment_company(self):
        tag = self.env["res.partner.category"].create({"name": "Key accounts"})
        segment = self._policy("Segment", [("Segment stage", 1, "email")], partner_category_ids=[(6, 0, tag.ids)])
        partner_policy = self._policy("Partner", [("Partner stage", 1, "email")])
        invoice_policy = self._policy("Invoice", [("Invoice stage", 1, "email")])
        plain = self._customer("Plain")
        tagged_customer = self._customer("Tagged", category_id=[(6, 0, tag.ids)])
        own_policy = self._customer(
            "Own policy", category_id=[(6, 0, tag.ids)], collections_policy_id=partner_policy.id
        )
        inv_plain = self._invoice(plain, 100, 10)
        inv_tagged = self._invoice(tagged_customer, 100, 10)
        inv_partner = self._invoice(own_policy, 100, 10)
        inv_override = self._invoice(own_policy, 100, 10, post=False)
        inv_override.collections_policy_id = invoice_policy
        inv_override.action_post()
        self._run()
        self.assertEqual(inv_plain.collections_stage_id.policy_id, self.policy)
        self.assertEqual(inv_tagged.collections_stage_id.policy_id, segment)
        self.assertEqual(inv_partner.collections_stage_id.policy_id, partner_policy)
        self.assertEqual(inv_override.collections_stage_id.policy_id, invoice_policy)

    def test_segment_by_customer_domain_in_sequence_with_tags(self):
        tag = self.env["res.partner.category"].create({"name": "Public sector"})
        us_policy = self._policy(
            "US customers", [("US stage", 1, "email")], partner_domain="[('country_id.code', '=', 'US')]", sequence=5
        )
        tag_policy = self._policy(
            "Public sector", [("Public stage", 1, "email")], partner_category_ids=[(6, 0, tag.ids)]
        )
        us_customer = self._customer("Acme US", country_id=self.env.ref("base.us").id)
        us_tagged = self._customer("US Agency", country_id=self.env.ref("base.us").id, category_id=[(6, 0, tag.ids)])
        es_tagged = self._customer("Ayuntamiento", country_id=self.env.ref("base.es").id, category_id=[(6, 0, tag.ids)])
        es_plain = self._customer("Tienda", country_id=self.env.ref("base.es").id)
        invoices = {
            partner: self._invoice(partner, 100, 10) for partner in (us_customer, us_tagged, es_tagged, es_plain)
        }
        self._run()
        self.assertEqual(invoices[us_customer].collections_stage_id.policy_id, us_policy)
        self.assertEqual(invoices[us_tagged].collections_stage_id.policy_id, us_policy, "sequence 5 before 10")
        self.assertEqual(invoices[es_tagged].collections_stage_id.policy_id, tag_policy)
        self.assertEqual(invoices[es_plain].collections_stage_id.policy_id, self.policy)
        # Plans and promises find the same policy for a customer as planning does.
        Policy = self.env["collections.policy"]
        self.assertEqual(Policy._for_partner(us_tagged, self.company), us_policy)
        self.assertEqual(Policy._for_partner(es_tagged, self.company), tag_policy)
        self.assertEqual(Policy._for_partner(es_plain, self.company), self.policy)
        # The customer's Collections tab shows the same policy, the company default included.
        self.assertEqual(es_plain.collections_applied_policy_id, self.policy)
        self.assertFalse(es_plain.collections_policy_id)
        self.assertEqual(es_tagged.collections_applied_policy_id, tag_policy)
        self.assertEqual(us_tagged.collections_applied_policy_id, us_policy)

    def test_an_invalid_customer_filter_is_refused_with_the_policy_name(self):
        with self.assertRaisesRegex(ValidationError, "Broken filter"):
            self._policy("Broken filter", [("Stage", 1, "email")], partner_domain="[('no_such_field', '=', 1)]")
        with self.assertRaisesRegex(ValidationError, "Not a domain"):
            self._policy("Not a domain", [("Stage", 1, "email")], partner_domain="[('country_id'")

    # --- grouping and currencies ----------------------------------------------
    def test_one_message_per_customer_and_currency_with_credit_notes_netted(self):
        eur = self.setup_other_currency("EUR")
        inv1 = self._invoice(self.customer, 300, 10)
        inv2 = self._invoice(self.customer, 200, 30)
        refund = self._invoice(self.customer, 50, 0, move_type="out_refund")
        inv_eur = self._invoice(self.customer, 80, 8, currency=eur)
        self._pay(inv2, 120)  # partial payment: 80 left
        self._run()
        messages = self._messages(self.customer).filtered(lambda m: m.channel == "email")
        self.assertEqual(len(messages), 2, "one email per currency")
        main = messages.filtered(lambda m: m.currency_id == self.company.currency_id)
        self.assertEqual(main.move_ids, inv1 | inv2 | refund)
        self.assertAlmostEqual(main.amount_due, 300 + 80 - 50)
        self.assertEqual(main.stage_id.name, "Second", "the furthest stage among the invoices leads")
        in_eur = messages - main
        self.assertEqual((in_eur.move_ids, in_eur.amount_due), (inv_eur, 80))

    def test_credit_notes_covering_everything_skip(self):
        self._invoice(self.customer, 100, 10)
        self._invoice(self.customer, 150, 0, move_type="out_refund")
        run = self._run()
        self.assertEqual(run.messages_planned, 0)
        self.assertEqual(run.skip_reasons, {"netted": 1})

    def test_minimum_amount(self):
        self.policy.stage_ids.filtered(lambda s: s.name == "First").min_amount = 500
        self._invoice(self.customer, 100, 10)
        run = self._run()
        self.assertEqual((run.messages_planned, run.skip_reasons), (0, {"below_minimum": 1}))

    # --- skip rules ---------------------------------------------------------
    def test_partner_skip_rules_are_recorded(self):
        flags = [
            "collections_excluded",
            "collections_do_not_contact",
            "collections_vulnerable",
            "collections_dispute_hold",
        ]
        for flag in flags:
            self._invoice(self._customer(f"Skip {flag}", **{flag: True}), 100, 10)
        self._invoice(self.customer, 100, 10)
        run = self._run()
        self.assertEqual(run.messages_planned, 1)
        self.assertEqual(run.skip_reasons, {"excluded": 1, "do_not_contact": 1, "vulnerable": 1, "disputed": 1})
        self.assertIn("Vulnerable customer: 1", run.skip_summary)

    def test_excluded_and_disputed_invoices_are_left_out(self):
        kept = self._invoice(self.customer, 100, 10)
        excluded = self._invoice(self.customer, 100, 10)
        disputed = self._invoice(self.customer, 100, 10)
        excluded.collections_excluded = True
        disputed.collections_disputed = True
        self._run()
        self.assertEqual(self._messages(self.customer).move_ids, kept)

    def test_paid_invoices_are_not_chased(self):
        invoice = self._invoice(self.customer, 100, 10)
        self._pay(invoice)
        self.assertEqual(self._run().messages_planned, 0)

    # --- idempotency and concurrency ---------------------------------------------
    def test_second_run_same_day_plans_nothing(self):
        self._invoice(self.customer, 100, 10)
        self._invoice(self._customer("Other"), 100, 30)
        first = self._run()
        self.assertEqual(first.messages_planned, 3)
        second = self._run()
        self.assertEqual(second.messages_planned, 0)
        self.assertEqual(len(self._messages()), 3)

    def test_concurrent_run_is_refused_while_one_holds_the_company(self):
        """A second cursor holds the company's run lock, as a concurrent run
        would: this run refuses to start and plans nothing."""
        from ..models.collections_run import RUN_LOCK_NAMESPACE

        self._invoice(self.customer, 100, 10)
        other = sql_db.db_connect(self.env.cr.dbname).cursor()
        try:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", (RUN_LOCK_NAMESPACE, self.company.id))
            run = self.Run.create({"company_id": self.company.id, "date": TODAY})
            with self.assertRaises(UserError):
                run.action_run()
            self.assertFalse(self._messages())
        finally:
            other.rollback()
            other.close()

    def test_idempotency_key_is_unique_in_the_database(self):
        self._invoice(self.customer, 100, 10)
        self._run()
        message = self._messages(self.customer)
        with self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.env.cr.execute(
                """INSERT INTO collections_message (company_id, partner_id, direction, channel, currency_id,
                       state, idempotency_key, planned_date)
                   SELECT company_id, partner_id, direction, channel, currency_id, state, idempotency_key,
                          planned_date FROM collections_message WHERE id = %s""",
                [message.id],
            )

    # --- multi-company --------------------------------------------------------
    def test_runs_stay_in_their_company(self):
        other_company = self.setup_other_company()["company"]
        self._invoice(self.customer, 100, 10)
        run = self.Run.create({"company_id": other_company.id, "date": TODAY})
        run.action_run()
        self.assertEqual(run.invoices_evaluated, 0)
        self.assertFalse(self.env["collections.message"].search([("company_id", "=", other_company.id)]))

    # --- preview --------------------------------------------------------------
    def test_preview_writes_nothing(self):
        invoice = self._invoice(self.customer, 100, 25)
        self._invoice(self._customer("Vulnerable", collections_vulnerable=True), 100, 25)
        preview = self.Run.preview(self.company, TODAY)
        self.assertEqual(
            sorted((line["partner_id"], line["channel"]) for line in preview["lines"]),
            [(self.customer.id, "call"), (self.customer.id, "email")],
        )
        self.assertEqual(len(preview["skipped_partners"]), 1)
        self.assertFalse(self._messages())
        self.assertFalse(invoice.collections_stage_id)
        self.assertEqual(invoice.collections_reminder_count, 0)

    def test_preview_screen_lists_what_would_be_sent_and_skipped(self):
        self._invoice(self.customer, 100, 25)
        vulnerable = self._customer("Fragile", collections_vulnerable=True)
        self._invoice(vulnerable, 100, 25)
        preview = self.env["collections.run.preview"].create({"date": TODAY})
        preview.action_compute()
        self.assertEqual(sorted(preview.line_ids.mapped("channel")), ["call", "email"])
        self.assertEqual(preview.line_ids.partner_id, self.customer)
        self.assertEqual((preview.skipped_ids.partner_id, preview.skipped_ids.reason), (vulnerable, "vulnerable"))
        self.assertFalse(self._messages())
