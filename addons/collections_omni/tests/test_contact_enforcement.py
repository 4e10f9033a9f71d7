"""Contact rules enforced by the dispatcher, with the shipped presets."""

import datetime as dt
from zoneinfo import ZoneInfo

from odoo.exceptions import UserError, ValidationError
from odoo.tests import freeze_time, tagged

from ..tools import contact_rules
from .common import TODAY, CollectionsCommon

UTC = dt.timezone.utc


@tagged("at_install", "-post_install")
class TestContactEnforcement(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.RuleSet = cls.env["collections.contact.rule.set"].with_context(active_test=False)
        cls.reg_f = cls.env.ref("collections_omni.contact_rules_us_reg_f")
        cls.ley_2300 = cls.env.ref("collections_omni.contact_rules_co_ley_2300")
        (cls.reg_f | cls.ley_2300).active = True

    def _authorise(self, customer, *channels):
        for channel in channels:
            self.env["collections.consent"]._record(customer, channel, "opt_in", "contract")

    def _dispatch(self):
        self.env["collections.message"]._dispatch_planned(self.company)

    def test_us_customer_is_not_contacted_at_night_and_waits_until_eight(self):
        customer = self._customer("Night Owl Inc", country_id=self.env.ref("base.us").id, tz="America/New_York")
        self._invoice(customer, 500, 10)
        self._run()
        message = self._messages(customer)
        with freeze_time("2026-06-16 07:00:00"):  # 03:00 in New York (EDT)
            self._dispatch()
        self.assertEqual(message.state, "planned")
        self.assertEqual(message.scheduled_at, dt.datetime(2026, 6, 16, 12, 0))  # 08:00 EDT
        self.assertIn("Regulation F", message.blocked_reason)
        with freeze_time("2026-06-16 12:00:30"):
            self._dispatch()
        self.assertEqual(message.state, "queued")
        self.assertFalse(message.blocked_reason)
        self.assertEqual(message.attempted_at, dt.datetime(2026, 6, 16, 12, 0, 30))

    def test_colombia_once_a_day_and_never_on_sunday_or_holidays(self):
        customer = self._customer("Café del Valle S.A.S.", country_id=self.env.ref("base.co").id)
        self._authorise(customer, "email", "call")  # Ley 2300: only channels the consumer authorised
        self._invoice(customer, 800, 25)  # stage Second: an email and a call
        self._run()
        email, call = self._messages(customer).sorted(lambda m: m.channel != "email")
        with freeze_time("2026-06-13 15:00:00"):  # Saturday 10:00 in Bogotá
            self._dispatch()
        self.assertEqual((email.state, call.state), ("queued", "planned"))
        # One channel a week: the call waits until a week after the email, still in Saturday hours.
        self.assertEqual(call.scheduled_at, dt.datetime(2026, 6, 20, 15, 0, 1))

    def test_colombia_sunday_and_holidays_are_closed(self):
        customer = self._customer("Textiles Andinos S.A.S.", country_id=self.env.ref("base.co").id)
        self._authorise(customer, "email")
        self._invoice(customer, 800, 10)  # stage First: one email
        self._run()
        email = self._messages(customer)
        with freeze_time("2026-06-13 21:00:00"):  # Saturday 16:00 in Bogotá, after 15:00
            self._dispatch()
        # Sunday 14 June is closed and Monday 15 June is a public holiday (Sagrado Corazón):
        # Tuesday 07:00 in Bogotá is 12:00 UTC.
        self.assertEqual((email.state, email.scheduled_at), ("planned", dt.datetime(2026, 6, 16, 12, 0)))

    def test_shipped_reg_f_preset_worked_example(self):
        """Seven calls in seven days are allowed, the eighth is not; nor a call
        within seven days after a conversation."""
        rules = self.reg_f._to_rules()
        monday = dt.datetime(2026, 6, 15, 14, 0, tzinfo=UTC)  # 10:00 in New York
        calls = [contact_rules.Contact(monday + dt.timedelta(hours=h), "call", effective=False) for h in range(7)]
        eighth = monday + dt.timedelta(days=6)
        self.assertEqual(contact_rules.check(rules, calls, eighth, "call", "America/New_York").reason, "frequency")
        self.assertTrue(contact_rules.check(rules, calls, eighth, "email", "America/New_York").allowed)
        talk = [contact_rules.Contact(monday, "call", conversation=True)]
        later = monday + dt.timedelta(days=6, hours=1)
        self.assertEqual(
            contact_rules.check(rules, talk, later, "call", "America/New_York").reason, "after_conversation"
        )
        self.assertTrue(
            contact_rules.check(rules, talk, monday + dt.timedelta(days=7), "call", "America/New_York").allowed
        )

    def test_shipped_presets_cite_their_source(self):
        presets = self.RuleSet.search([])
        self.assertGreaterEqual(len(presets), 6)
        for preset in presets:
            self.assertTrue(preset.source, preset.name)
        self.assertEqual(self.ley_2300._to_rules().max_channels, ((1, 7),))

    def test_customer_rule_set_overrides_country(self):
        own = self.RuleSet.create({"name": "Own rules", "min_gap_hours": 48})
        customer = self._customer("Overridden", country_id=self.env.ref("base.us").id, collections_rule_set_id=own.id)
        self.assertEqual(self.RuleSet._for_partners(customer)[customer], own)
        plain = self._customer("Plain US", country_id=self.env.ref("base.us").id)
        self.assertEqual(self.RuleSet._for_partners(plain)[plain], self.reg_f)

    def test_time_zone_from_the_state_when_the_country_spans_several(self):
        states = self.env["res.country.state"]
        cases = [
            ("base.us", "CA", "America/Los_Angeles"),
            ("base.us", "TX", "America/Chicago"),
            ("base.mx", "BCN", "America/Tijuana"),
            ("base.es", "TF", "Atlantic/Canary"),
            ("base.es", "M", "Europe/Madrid"),
            ("base.ca", False, "America/Toronto"),
        ]
        for country_xmlid, state_code, zone in cases:
            country = self.env.ref(country_xmlid)
            state = state_code and states.search([("country_id", "=", country.id), ("code", "=", state_code)])
            customer = self._customer(f"Zone {state_code}", country_id=country.id, state_id=state and state.id)
            self.assertEqual(self.RuleSet._partner_timezone(customer), zone, (country_xmlid, state_code))
        # Regulation F's 08:00-21:00 are judged in Los Angeles, not in New York.
        la = self._customer(
            "Pacific Debtor", country_id=self.env.ref("base.us").id, state_id=self.env.ref("base.state_us_5").id
        )
        self._invoice(la, 500, 10)
        self._run()
        with freeze_time("2026-06-16 14:30:00"):  # 07:30 in Los Angeles, 10:30 in New York
            self._dispatch()
        self.assertEqual(self._messages(la).scheduled_at, dt.datetime(2026, 6, 16, 15, 0))  # 08:00 PDT

    def test_time_zone_from_country_when_the_customer_has_none(self):
        customer = self._customer("No tz", country_id=self.env.ref("base.mx").id, tz=False)
        self.assertEqual(self.RuleSet._partner_timezone(customer), "America/Mexico_City")
        self.assertEqual(TODAY.year, 2026)

    def test_opt_out_text_in_every_email(self):
        customer = self._customer("Opt Out Corp", country_id=self.env.ref("base.us").id, tz="America/New_York")
        self._invoice(customer, 500, 10)
        self._run()
        message = self._messages(customer)
        with freeze_time("2026-06-16 15:00:00"):  # 11:00 in New York
            self._dispatch()
        self.assertEqual(message.state, "queued")
        # Only opt-outs that work by email: a "reply STOP" would reach nobody who reads it.
        self.assertNotIn("reply STOP", message.mail_id.body_html)
        self.assertIn(message._unsubscribe_url(), message.mail_id.body_html, "and a working unsubscribe link")
        self.assertIn(message._unsubscribe_url(), message.mail_id.headers, "List-Unsubscribe for mail clients")

    def test_customer_shows_when_the_next_contact_is_allowed(self):
        customer = self._customer("Night Call Inc", country_id=self.env.ref("base.us").id, tz="America/New_York")
        with freeze_time("2026-06-16 07:00:00"):  # 03:00 in New York
            customer.invalidate_recordset(["collections_next_contact", "collections_next_contact_reason"])
            self.assertEqual(customer.collections_next_contact, dt.datetime(2026, 6, 16, 12, 0))
            self.assertIn("Outside the allowed hours", customer.collections_next_contact_reason)

    def test_opt_out_blocks_the_channel_and_the_newest_entry_wins(self):
        Consent = self.env["collections.consent"]
        self._invoice(self.customer, 500, 25)  # an email and a call
        self._run()
        Consent._record(self.customer, "email", "opt_in", "contract")
        Consent.create(
            {
                "partner_id": self.customer.id,
                "channel": "email",
                "status": "opt_out",
                "source": "reply",
                "date": "2030-01-01 00:00:00",
            }
        )
        self._dispatch()
        by_channel = {m.channel: m for m in self._messages(self.customer)}
        self.assertEqual(by_channel["email"].state, "blocked")
        self.assertIn("opted out", by_channel["email"].blocked_reason)
        self.assertEqual(by_channel["call"].state, "sent", "other channels are not affected")

    def test_opt_out_stops_pending_messages_at_once(self):
        self._invoice(self.customer, 500, 25)  # an email and a call
        self._run()
        by_channel = {m.channel: m for m in self._messages(self.customer)}
        with freeze_time("2026-06-15 10:00:00"):
            entry = self.env["collections.consent"]._record(self.customer, "email", "opt_out", "unsubscribe")
        self.assertEqual(by_channel["email"].state, "blocked", "blocked before any dispatch")
        self.assertIn("opted out", by_channel["email"].blocked_reason)
        self.assertEqual(by_channel["call"].state, "planned")
        self.assertEqual((entry.stopped_message_count, entry.honoured_at), (1, dt.datetime(2026, 6, 15, 10, 0)))

    def test_opt_out_cancels_an_email_still_in_the_mail_queue(self):
        self._invoice(self.customer, 500, 10)
        self._run()
        self._dispatch()
        message = self._messages(self.customer)
        self.assertEqual((message.state, message.mail_id.state), ("queued", "outgoing"))
        self.env["collections.consent"]._record(self.customer, "email", "opt_out", "reply")
        self.assertEqual((message.state, message.mail_id.state), ("blocked", "cancel"))

    def test_policy_rules_come_after_the_customers_own_and_before_the_country(self):
        customer = self._customer("Policy Rules Inc", country_id=self.env.ref("base.us").id, tz="America/New_York")
        own = self._customer("Own Rules Inc", country_id=self.env.ref("base.us").id, tz="America/New_York")
        own.collections_rule_set_id = self.RuleSet.create({"name": "Own rules"})
        strict = self.RuleSet.create(
            {"name": "Policy rules", "limit_ids": [(0, 0, {"count": 1, "days": 30, "channel": "any"})]}
        )
        self.policy.contact_rule_set_id = strict
        for partner in customer | own:
            self._invoice(partner, 500, 10)
        self._run()
        rule_sets = self.RuleSet._for_messages(self._messages(customer) | self._messages(own))
        self.assertEqual(rule_sets[self._messages(customer)], strict)
        self.assertEqual(rule_sets[self._messages(own)], own.collections_rule_set_id)
        with freeze_time("2026-06-16 07:00:00"):  # 03:00 in New York: Regulation F would wait until 08:00
            self._dispatch()
        self.assertEqual(self._messages(customer).state, "queued", "the policy's rules have no quiet hours")

    def test_preferred_hours_postpone_within_what_the_rules_allow(self):
        customer = self._customer("Horario Preferido S.L.", country_id=self.env.ref("base.es").id, tz="Europe/Madrid")
        self.env["collections.consent"]._record(customer, "email", "preference", "portal", hour_from=18, hour_to=20)
        self.assertEqual(
            (customer.collections_preferred_channel, customer.collections_preferred_hours), ("email", "18:00-20:00")
        )
        self._invoice(customer, 500, 10)
        self._run()
        message = self._messages(customer)
        with freeze_time("2026-06-16 08:00:00"):  # 10:00 in Madrid
            self._dispatch()
        self.assertEqual((message.state, message.scheduled_at), ("planned", dt.datetime(2026, 6, 16, 16, 0)))
        self.assertIn("preferred hours", message.blocked_reason)
        refusal = self.env["collections.contact.refusal"].search([("message_id", "=", message.id)])
        self.assertEqual(refusal.reason, "preferred_hours")
        with freeze_time("2026-06-16 16:00:30"):
            self._dispatch()
        self.assertEqual(message.state, "queued")

    def test_preferred_hours_never_make_a_contact_impossible(self):
        customer = self._customer("Night Preference Inc", country_id=self.env.ref("base.us").id, tz="America/New_York")
        # Regulation F allows 08:00-21:00 only: a 22:00-23:00 preference cannot be honoured.
        self.env["collections.consent"]._record(customer, "email", "preference", "portal", hour_from=22, hour_to=23)
        self._invoice(customer, 500, 10)
        self._run()
        with freeze_time("2026-06-16 15:00:00"):  # 11:00 in New York
            self._dispatch()
        self.assertEqual(self._messages(customer).state, "queued")

    def test_preferred_channel_replaces_the_action_channel_when_asked(self):
        first_email = self.policy.stage_ids.filtered(lambda s: s.name == "First").action_ids
        first_email.use_preferred_channel = True
        prefers_letters = self._customer("Prefers Letters Ltd")
        Consent = self.env["collections.consent"]
        Consent._record(prefers_letters, "letter", "preference", "collector")
        no_preference = self._customer("No Preference Ltd")
        for customer in prefers_letters | no_preference:
            self._invoice(customer, 400, 10)
        self._run()
        self.assertEqual(self._messages(prefers_letters).channel, "letter")
        self.assertEqual(self._messages(no_preference).channel, "email")

    def test_a_preference_is_not_a_consent(self):
        Consent = self.env["collections.consent"]
        Consent._record(self.customer, "email", "opt_out", "reply")
        Consent._record(self.customer, "email", "preference", "portal", hour_from=9, hour_to=12)
        self.assertEqual(Consent._status_by_partner(self.customer)[(self.customer.id, "email")], "opt_out")
        with self.assertRaises(ValidationError):
            Consent._record(self.customer, "sms", "preference", "portal", hour_from=12, hour_to=9)
        with self.assertRaises(ValidationError):
            Consent._record(self.customer, "sms", "opt_in", "portal", hour_from=9, hour_to=12)

    def test_rule_set_requiring_consent(self):
        rules = self.RuleSet.create({"name": "Authorised channels only", "consent_channel_ids": "email, sms"})
        without = self._customer("No consent", collections_rule_set_id=rules.id)
        with_consent = self._customer("Consented", collections_rule_set_id=rules.id)
        self.env["collections.consent"]._record(with_consent, "email", "opt_in", "portal")
        for customer in without | with_consent:
            self._invoice(customer, 300, 10)
        self._run()
        self._dispatch()
        self.assertEqual(self._messages(without).state, "blocked")
        self.assertIn("no consent", self._messages(without).blocked_reason)
        self.assertEqual(self._messages(with_consent).state, "queued")

    def test_manual_call_against_the_rules_needs_a_reason_and_is_logged(self):
        customer = self._customer("Late Night LLC", country_id=self.env.ref("base.us").id, tz="America/New_York")
        with freeze_time("2026-06-16 07:00:00"):  # 03:00 in New York
            wizard = self.env["collections.call.outcome"].create({"partner_id": customer.id, "outcome": "no_answer"})
            self.assertIn("Outside the allowed hours", wizard.rule_warning)
            with self.assertRaises(UserError):
                wizard.action_confirm()
            wizard.exception_reason = "The customer asked to be called at this hour"
            wizard.action_confirm()
        logged = self._messages(customer)
        self.assertEqual(logged.rule_exception, "The customer asked to be called at this hour")

    def test_manual_call_within_the_rules_needs_no_reason(self):
        customer = self._customer("Day Time LLC", country_id=self.env.ref("base.us").id, tz="America/New_York")
        with freeze_time("2026-06-16 15:00:00"):  # 11:00 in New York
            wizard = self.env["collections.call.outcome"].create({"partner_id": customer.id, "outcome": "no_answer"})
            self.assertFalse(wizard.rule_warning)
            wizard.action_confirm()
        self.assertFalse(self._messages(customer).rule_exception)

    def test_every_refusal_is_kept(self):
        customer = self._customer("Refused Inc", country_id=self.env.ref("base.us").id, tz="America/New_York")
        self._invoice(customer, 500, 10)
        self._run()
        with freeze_time("2026-06-16 07:00:00"):  # 03:00 in New York
            self._dispatch()
        refusal = self.env["collections.contact.refusal"].search([("partner_id", "=", customer.id)])
        self.assertEqual((refusal.reason, refusal.rule_set_id), ("outside_hours", self.reg_f))
        self.assertEqual(refusal.retry_at, dt.datetime(2026, 6, 16, 12, 0))

    def test_compliance_report_for_an_auditor(self):
        customer = self._customer("Audited Inc", country_id=self.env.ref("base.us").id, tz="America/New_York")
        self._invoice(customer, 500, 25)  # an email and a call
        self._run()
        with freeze_time("2026-06-16 07:00:00"):  # 03:00 in New York: both refused, moved to 08:00
            self._dispatch()
        with freeze_time("2026-06-16 12:30:00"):
            self._dispatch()
        self._messages(customer).mail_id.state = "sent"  # Odoo's mail queue sent the email
        with freeze_time("2026-06-17 12:00:00"):
            self.env["collections.consent"]._record(customer, "email", "opt_out", "reply")
        report = self.env["collections.compliance.report"].create(
            {"date_from": "2026-06-01", "date_to": "2026-06-30", "company_id": self.company.id}
        )
        data = report._report_data()
        self.assertEqual(
            sorted(row for row in data["contacts"] if row[0] == "Audited Inc"),
            [("Audited Inc", "Email", 1), ("Audited Inc", "Phone Call Task", 1)],
        )
        self.assertIn(
            ("United States: Regulation F (12 CFR 1006)", "Outside the allowed hours", "Email", 1), data["refusals"]
        )
        self.assertEqual(data["opt_outs"][0][:2], ("Audited Inc", "Email"))
        self.assertEqual(
            data["opt_outs"][0][4:], (0, "0.0 s", 0), "nothing pending, honoured at once, no contact after"
        )
        csv_action = report.action_csv()
        csv_file = self.env["ir.attachment"].browse(int(csv_action["url"].split("/")[3].split("?")[0]))
        self.assertIn(b"Audited Inc", csv_file.raw)
        pdf_action = report.action_pdf()
        pdf_file = self.env["ir.attachment"].browse(int(pdf_action["url"].split("/")[3].split("?")[0]))
        self.assertTrue(pdf_file.raw.startswith(b"%PDF"))

    def test_segment_rules_come_before_the_country(self):
        tag = self.env["res.partner.category"].create({"name": "Consumers"})
        segment = self.RuleSet.create({"name": "Consumer rules", "partner_category_ids": [(6, 0, tag.ids)]})
        customer = self._customer("Tagged US", country_id=self.env.ref("base.us").id, category_id=[(6, 0, tag.ids)])
        self.assertEqual(self.RuleSet._for_partners(customer)[customer], segment)

    def _preset_check(self, xmlid, local_time, tz, channel="email", history=()):
        rules = self.env.ref(xmlid)._to_rules()
        at = dt.datetime.fromisoformat(local_time).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
        holidays = self.RuleSet._holidays(self.env.ref(xmlid).country_ids[:1], {at.year})
        return contact_rules.check(rules, list(history), at, channel, tz, holidays)

    def test_mexico_preset_07_to_22_in_the_debtor_time_zone(self):
        xmlid = "collections_omni.contact_rules_mx_condusef"
        self.assertTrue(self._preset_check(xmlid, "2026-06-14 21:59", "America/Mexico_City").allowed)  # a Sunday
        self.assertEqual(self._preset_check(xmlid, "2026-06-14 22:00", "America/Mexico_City").reason, "outside_hours")
        self.assertEqual(self._preset_check(xmlid, "2026-06-15 06:59", "America/Tijuana").reason, "outside_hours")

    def test_peru_preset_weekdays_07_to_20_no_holidays(self):
        xmlid = "collections_omni.contact_rules_pe_ley_29571"
        # Art. 62(b) names calls (and visits): the hours are the calls'.
        lima = ("America/Lima", "call")
        self.assertTrue(self._preset_check(xmlid, "2026-06-16 19:59", *lima).allowed)
        self.assertEqual(self._preset_check(xmlid, "2026-06-16 20:00", *lima).reason, "outside_hours")
        self.assertEqual(self._preset_check(xmlid, "2026-06-13 10:00", *lima).reason, "outside_hours")  # Sat
        self.assertEqual(self._preset_check(xmlid, "2026-06-29 10:00", *lima).reason, "holiday")  # San Pedro

    def test_ecuador_preset_once_a_day_weekdays_07_to_20(self):
        xmlid = "collections_omni.contact_rules_ec_lodc"
        morning = dt.datetime(2026, 6, 16, 9, 0, tzinfo=ZoneInfo("America/Guayaquil"))
        earlier = [contact_rules.Contact(morning.astimezone(UTC), "sms")]
        self.assertEqual(
            self._preset_check(xmlid, "2026-06-16 15:00", "America/Guayaquil", "email", earlier).reason, "frequency"
        )
        self.assertTrue(self._preset_check(xmlid, "2026-06-17 09:00", "America/Guayaquil", "email", earlier).allowed)
        self.assertEqual(self._preset_check(xmlid, "2026-06-20 10:00", "America/Guayaquil").reason, "outside_hours")
