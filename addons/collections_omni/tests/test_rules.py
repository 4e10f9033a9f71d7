"""Each rule defined once: the constants, the SQL builders against their ORM
or Python twins, and the drifts a review found between copies of a rule."""

from datetime import UTC, date, datetime, time, timedelta
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytz

from odoo import Command, fields
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tests.common import freeze_time
from odoo.tools import SQL

from ..models.collections_payment_plan import HOLDING_DOMAIN, HOLDING_STATES
from ..tools import contact_rules, rules, sql_rules
from ..tools import reconcile_matching as matching
from .common import TODAY, CollectionsCommon


@tagged("at_install", "-post_install")
class TestRuleConstants(CollectionsCommon):
    def test_states_and_transitions_agree(self):
        states = [code for code, _label in rules.MESSAGE_STATES]
        self.assertEqual(set(rules.ALLOWED_TRANSITIONS), set(states))
        for state, targets in rules.ALLOWED_TRANSITIONS.items():
            self.assertLessEqual(set(targets), set(states), state)
            if state in rules.FINAL_STATES:
                # A final state only moves up the delivery ranks (delivered -> read).
                self.assertTrue(all(rules.STATUS_RANK.get(t, 0) > rules.STATUS_RANK.get(state, 0) for t in targets))
        self.assertFalse(any(rules.ALLOWED_TRANSITIONS[state] for state in rules.CLOSED_STATES))
        self.assertTrue(rules.may_move("sent", "delivered"))
        self.assertFalse(rules.may_move("read", "sent"))
        message_states = self.env["collections.message"]._fields["state"].selection
        self.assertEqual([code for code, _label in message_states], states)

    def test_fields_use_the_shared_lists(self):
        self.assertEqual(self.env["collections.stage.action"]._fields["channel"].selection[:5], rules.CHANNELS)
        reasons = self.env["collections.run.preview.skip"]._fields["reason"].selection
        self.assertEqual([code for code, _label in reasons], list(rules.SKIP_REASON_LABELS))
        self.assertLessEqual(set(rules.HOLD_REASONS), set(rules.SKIP_REASON_LABELS))
        for xmlid in (rules.GROUP_VIEWER, rules.GROUP_COLLECTOR, rules.GROUP_MANAGER):
            self.assertTrue(self.env.ref(xmlid))


@tagged("at_install", "-post_install")
class TestRulesAgree(CollectionsCommon):
    """Where a rule exists twice (SQL and a domain or Python), both give the same records."""

    def _sql_ids(self, condition, table="account_move", alias="m"):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT %s.id FROM %s %s WHERE %s",
                SQL.identifier(alias),
                SQL.identifier(table),
                SQL.identifier(alias),
                condition,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def test_open_receivable_and_overdue_sql_equal_their_domains(self):
        customer = self._customer("Cliente Reglas")
        open_invoice = self._invoice(customer, 100, 10)
        due_today = self._invoice(customer, 100, 0)
        paid = self._invoice(customer, 50, 20)
        self._pay(paid)
        partial = self._invoice(customer, 80, 5)
        self._pay(partial, 30)
        draft = self._invoice(customer, 70, 5, post=False)
        refund = self._invoice(customer, 40, 3, move_type="out_refund")
        mine = open_invoice | due_today | paid | partial | draft | refund
        Move = self.env["account.move"]
        mine_sql = SQL("m.id = ANY(%s)", mine.ids)
        self.assertEqual(
            self._sql_ids(SQL("%s AND %s", mine_sql, sql_rules.open_receivable("m"))),
            set(Move.search([("id", "in", mine.ids), *sql_rules.OPEN_RECEIVABLE_DOMAIN]).ids),
        )
        self.assertEqual(
            set(Move.search([("id", "in", mine.ids), *sql_rules.OPEN_RECEIVABLE_DOMAIN]).ids),
            set((open_invoice | due_today | partial | refund).ids),
        )
        self.assertEqual(
            self._sql_ids(SQL("%s AND %s", mine_sql, sql_rules.open_invoice("m"))),
            set((open_invoice | due_today | partial).ids),
        )
        self.assertEqual(
            self._sql_ids(SQL("%s AND %s", mine_sql, sql_rules.overdue("m", TODAY))),
            set(Move.search([("id", "in", mine.ids), *sql_rules.overdue_domain(TODAY)]).ids),
        )
        self.assertNotIn(due_today.id, self._sql_ids(SQL("%s AND %s", mine_sql, sql_rules.overdue("m", TODAY))))

    def test_plan_holds_sql_equals_the_holding_domain(self):
        Plan = self.env["collections.payment.plan"]
        self.assertEqual(
            self._sql_ids(sql_rules.plan_holds("plan"), "collections_payment_plan", "plan"),
            set(Plan.search(HOLDING_DOMAIN).ids),
        )
        self.assertEqual(HOLDING_STATES, sql_rules.PLAN_HOLDING_STATES)

    def test_partner_zone_sql_equals_the_contact_rules_zone(self):
        RuleSet = self.env["collections.contact.rule.set"]
        country = self.env["res.country"].search
        us, co, br, es = (country([("code", "=", code)], limit=1) for code in ("US", "CO", "BR", "ES"))
        california = self.env["res.country.state"].search([("country_id", "=", us.id), ("code", "=", "CA")])
        canary = self.env["res.country.state"].search([("country_id", "=", es.id), ("code", "=", "GC")], limit=1)
        partners = self.env["res.partner"]
        for values in (
            {"tz": "Asia/Tokyo", "country_id": co.id},
            {"country_id": co.id},
            {"country_id": us.id, "state_id": california.id},
            {"country_id": us.id},
            {"country_id": br.id},
            {"country_id": es.id, "state_id": canary.id},
            {},
        ):
            partners |= self._customer(f"Zona {len(partners)}", **values)
        zone = sql_rules.partner_zone("p")
        self.env.flush_all()
        self.env.cr.execute(
            SQL("SELECT p.id, %s FROM res_partner p %s WHERE p.id = ANY(%s)", zone.name, zone.joins, partners.ids)
        )
        in_sql = dict(self.env.cr.fetchall())
        in_python = {partner.id: RuleSet._partner_timezone(partner) for partner in partners}
        self.assertEqual(in_sql, in_python)
        self.assertEqual(in_python[partners[1].id], "America/Bogota")

    def test_every_zone_is_known_to_postgresql(self):
        self.env.cr.execute(
            "SELECT name FROM pg_timezone_names WHERE name = ANY(%s)", [[r[2] for r in sql_rules.ZONE_ROWS]]
        )
        known = {row[0] for row in self.env.cr.fetchall()}
        self.assertEqual({row[2] for row in sql_rules.ZONE_ROWS} - known, set())

    def test_policy_precedence_sql_equals_for_partner(self):
        Policy = self.env["collections.policy"]
        tag = self.env["res.partner.category"].create({"name": "VIP reglas"})
        by_tag = self._policy(
            "Segmento etiqueta", [("First", 7, "email")], partner_category_ids=[Command.set(tag.ids)], sequence=5
        )
        by_domain = self._policy(
            "Segmento dominio", [("First", 7, "email")], partner_domain="[('city', '=', 'Cali')]", sequence=6
        )
        own = self._policy("Propia", [("First", 7, "email")])
        customers = {
            "own": self._customer("Con política", city="Cali"),
            "tag": self._customer("Con etiqueta", category_id=[Command.set(tag.ids)], city="Cali"),
            "domain": self._customer("De Cali", city="Cali"),
            "default": self._customer("Sin segmento"),
        }
        customers["own"].with_company(self.company).collections_policy_id = own
        for customer in customers.values():
            self._invoice(customer, 100, 10)
        self._run()
        expected = {"own": own, "tag": by_tag, "domain": by_domain, "default": self.policy}
        for key, customer in customers.items():
            python = Policy._for_partner(customer, self.company)
            planned = self._messages(customer).policy_id
            self.assertEqual((python, planned), (expected[key], expected[key]), key)


@tagged("at_install", "-post_install")
class TestRuleDrifts(CollectionsCommon):
    """Copies of a rule that had drifted apart, each now using the one rule."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.default_collector = cls._staff_user(
            "default_collector_rules", "base.group_user,collections_omni.group_collections_collector"
        )
        cls.company.collections_user_id = cls.default_collector

    def test_call_outcome_disputes_only_open_overdue_invoices(self):
        paid = self._invoice(self.customer, 100, 20)
        self._pay(paid)
        # Paid by a payment not yet matched with the bank: 'in_payment' with nothing left to pay.
        self.env.flush_all()
        self.env.cr.execute("UPDATE account_move SET payment_state = 'in_payment' WHERE id = %s", [paid.id])
        paid.invalidate_recordset(["payment_state"])
        self.assertEqual((paid.payment_state, paid.amount_residual), ("in_payment", 0))
        not_yet_late = self._invoice(self.customer, 60, 0)
        not_yet_late.invoice_date_due = fields.Date.context_today(self.env.user)
        late = self._invoice(self.customer, 90, 10)
        late.invoice_date_due = fields.Date.context_today(self.env.user) - timedelta(days=10)
        wizard = self.env["collections.call.outcome"].create({"partner_id": self.customer.id, "outcome": "disputed"})
        wizard.action_confirm()
        dispute = self.env["collections.dispute"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual(dispute.move_ids, late, "only what is open and overdue today")
        promise = self.env["collections.call.outcome"].create({"partner_id": self.customer.id, "outcome": "promised"})
        self.assertEqual(promise.promise_amount, 90)

    def test_worklist_overdue_is_judged_on_the_companys_date(self):
        self.env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        utc_now = self.env.cr.fetchone()[0]
        # A zone whose date differs from UTC's right now (one of them always does).
        for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
            local_today = pytz.utc.localize(utc_now).astimezone(pytz.timezone(zone)).date()
            if local_today != utc_now.date():
                break
        self.company.partner_id.tz = zone
        invoice = self._invoice(self.customer, 100, 0)
        # Due on UTC's today (a day late where the company is ahead) or on the company's today (not late).
        invoice.invoice_date_due = min(local_today, utc_now.date())
        self.env.flush_all()
        line = self.env["collections.worklist"].search([("partner_id", "=", self.customer.id)])
        expected = 100 if invoice.invoice_date_due < local_today else 0
        self.assertEqual((zone, line.amount_overdue or 0), (zone, expected))
        self.assertEqual(line.days_overdue, (local_today - invoice.invoice_date_due).days if expected else 0)

    def test_scheduled_call_tasks_go_to_the_default_collector(self):
        self.assertFalse(self.customer.collections_user_id)
        self._invoice(self.customer, 300, 25)
        self._run()
        self.env["collections.message"]._dispatch_planned(self.company)
        activity = self._messages(self.customer).filtered(lambda m: m.channel == "call").activity_id
        self.assertEqual(activity.user_id, self.default_collector)

    def test_call_back_and_plan_go_to_the_default_collector(self):
        wizard = self.env["collections.call.outcome"].create(
            {"partner_id": self.customer.id, "outcome": "callback", "next_date": "2026-07-01"}
        )
        wizard.action_confirm()
        activity = self.env["mail.activity"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", self.customer.id)]
        )
        self.assertEqual(activity.user_id, self.default_collector)
        invoice = self._invoice(self.customer, 300, 25)
        plan = self.env["collections.payment.plan"].create(
            {
                "partner_id": self.customer.id,
                "currency_id": invoice.currency_id.id,
                "move_ids": [Command.set(invoice.ids)],
                "installment_count": 2,
                "start_date": TODAY,
            }
        )
        self.assertEqual(plan.user_id, self.default_collector)
        own = new_test_user(self.env, "own_collector_rules", groups="base.group_user")
        self.customer.collections_user_id = own
        self.assertEqual(
            self.env["collections.hold.mixin"]._find_collector(self.customer, self.company), own, "customer first"
        )

    def test_send_at_hour_is_in_the_customers_zone_without_its_own_tz(self):
        colombia = self.env["res.country"].search([("code", "=", "CO")], limit=1)
        customer = self._customer("Cliente Bogotá", country_id=colombia.id, tz=False)
        self.policy.stage_ids.action_ids.time_of_day = 9
        self._invoice(customer, 100, 10)
        self._run()
        message = self._messages(customer)[:1]
        # 09:00 in Bogotá (UTC-5, no daylight saving) is 14:00 UTC.
        self.assertEqual(message.scheduled_at, datetime.combine(TODAY, time(14, 0)))

    def test_oldest_first_with_an_empty_due_date(self):
        newer = self._invoice(self.customer, 100, 5)
        older = self._invoice(self.customer, 100, 30)
        self.env.cr.execute("UPDATE account_move SET invoice_date_due = NULL WHERE id = %s", [older.id])
        older.invalidate_recordset(["invoice_date_due"])
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT m.id FROM account_move m WHERE m.id = ANY(%s) ORDER BY %s",
                (newer | older).ids,
                sql_rules.oldest_first("m"),
            )
        )
        in_sql = [row[0] for row in self.env.cr.fetchall()]
        in_python = (newer | older).sorted(sql_rules.oldest_first_key).ids
        self.assertEqual(in_sql, [older.id, newer.id])
        self.assertEqual(in_python, in_sql)


@tagged("at_install", "-post_install")
class TestPresetCorrectness(CollectionsCommon):
    """Contact-rule presets as the laws they cite say (see /work/shared/reference/regulations.md)."""

    def test_colombia_contacts_only_on_channels_the_consumer_authorised(self):
        ley_2300 = self.env.ref("collections_omni.contact_rules_co_ley_2300")
        for code, _label in rules.CHANNELS:
            self.assertTrue(ley_2300._needs_consent(code), code)
        ley_2300.active = True
        colombia = self.env.ref("base.co")
        without = self._customer("Sin autorización", country_id=colombia.id)
        authorised = self._customer("Con autorización", country_id=colombia.id)
        self.env["collections.consent"]._record(authorised, "email", "opt_in", "contract")
        for customer in without | authorised:
            self._invoice(customer, 300, 10)  # stage First: one email
        self._run()
        with freeze_time("2026-06-16 15:00:00"):  # Tuesday 10:00 in Bogotá
            self.env["collections.message"]._dispatch_planned(self.company)
        self.assertEqual(self._messages(without).state, "blocked")
        self.assertIn("no consent", self._messages(without).blocked_reason)
        self.assertEqual(self._messages(authorised).state, "queued")

    def test_peru_hours_apply_to_calls_not_to_written_messages(self):
        peru = self.env.ref("collections_omni.contact_rules_pe_ley_29571")
        rules_pe = peru._to_rules()
        lima = ZoneInfo("America/Lima")
        at_night = datetime(2026, 6, 16, 21, 0, tzinfo=lima).astimezone(UTC)
        saturday = datetime(2026, 6, 13, 10, 0, tzinfo=lima).astimezone(UTC)
        for moment in (at_night, saturday):
            self.assertEqual(contact_rules.check(rules_pe, [], moment, "call", "America/Lima").reason, "outside_hours")
            for channel in ("email", "sms", "whatsapp", "letter"):
                self.assertTrue(contact_rules.check(rules_pe, [], moment, channel, "America/Lima").allowed, channel)
        self.assertIn("calls", peru.source)

    def test_holidays_are_loaded_for_the_debtors_local_year(self):
        RuleSet = self.env["collections.contact.rule.set"]
        customer = self._customer("Cliente Fin de Año", country_id=self.env.ref("base.co").id)
        seen = []
        original = type(RuleSet)._holidays

        def spy(model, country, years):
            seen.append(set(years))
            return original(model, country, years)

        # 22:00 on 31 December in Bogotá is already 1 January in UTC.
        new_year_utc = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
        rule_set = self.env.ref("collections_omni.contact_rules_co_ley_2300")
        with patch.object(type(RuleSet), "_holidays", spy):
            self.env["collections.message"]._decide_contact(rule_set, customer, [], new_year_utc, "email")
        self.assertTrue(seen)
        self.assertIn(2026, seen[0])


@tagged("at_install", "-post_install")
class TestReconcileCurrencyDigits(TransactionCase):
    """Reconciliation amounts in each currency's own decimals (JPY 0, KWD 3), as the
    matcher receives them (collections.reconcile.match passes each line's currency digits)."""

    def test_allocations_round_to_the_currencys_decimals(self):
        self.assertEqual(self.env.ref("base.JPY").decimal_places, 0)
        self.assertEqual(self.env.ref("base.KWD").decimal_places, 3)
        # KWD: fils count; two decimals would lose 0.005 on each invoice.
        self.assertEqual(matching.allocate(15.625, [10.125, 5.5], 0.0, digits=3), ([10.125, 5.5], None))
        self.assertEqual(matching.allocate(10.124, [10.125], 0.001, digits=3), ([10.125], 0.001))
        # JPY: whole yen; a fraction received is no amount at all.
        self.assertEqual(matching.allocate(1000.4, [600.0, 400.0], 0.0, digits=0), ([600.0, 400.0], None))
        self.assertEqual(matching.allocate(999, [600.0, 400.0], 1.0, digits=0), ([600.0, 400.0], 1.0))

    def test_amount_matches_compare_in_the_smallest_unit(self):
        kwd_invoice = matching.OpenInvoice(1, 7, 10.125, 3, date(2026, 6, 1), "INV/KWD/1", date(2026, 6, 1))
        jpy_invoice = matching.OpenInvoice(2, 7, 1200.0, 4, date(2026, 6, 1), "INV/JPY/1", date(2026, 6, 1))
        other_kwd = matching.OpenInvoice(3, 8, 10.125, 3, date(2026, 6, 1), "INV/KWD/2", date(2026, 6, 1))
        index = matching.OpenInvoiceIndex([(kwd_invoice, ()), (jpy_invoice, ()), (other_kwd, ())])
        lines = [
            matching.Line(10, 7, 10.125, 3, "transfer", digits=3, date=date(2026, 6, 10)),
            matching.Line(11, 8, 10.12, 3, "transfer", digits=3, date=date(2026, 6, 10)),
            matching.Line(12, 7, 1200.0, 4, "transfer", digits=0, date=date(2026, 6, 10)),
        ]
        decisions = {decision.line.key: decision for decision in matching.decide(lines, index, 0.0)}
        self.assertEqual(decisions[10].verdict, "confident")
        self.assertEqual(decisions[10].candidates[0].amount, 10.125)
        self.assertNotEqual(decisions[11].verdict, "confident", "5 fils short is not the amount in KWD")
        self.assertEqual((decisions[12].verdict, decisions[12].candidates[0].amount), ("confident", 1200))
