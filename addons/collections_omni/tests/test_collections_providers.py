import contextlib
import datetime as dt
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from odoo.addons.collections_omni.models import collections_provider

from ..tools.fake_sms import FakeSmsServer
from .common import CollectionsCommon, engine_message
from .mock_provider import MockProviderClient


class FakeCelery:
    """Stands in for the Celery client: records what would be published."""

    def __init__(self):
        self.sent = []

    def producer_or_acquire(self):
        return contextlib.nullcontext()

    def send_task(self, name, args=None, producer=None):
        self.sent.append((name, args))


class ProviderCommon(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The fake posts delivery statuses to Odoo's URL: nowhere, in these tests.
        cls.env["ir.config_parameter"].set_param("web.base.url", "http://127.0.0.1:9")
        cls.fake = FakeSmsServer(port=0)
        cls.fake.start()
        cls.addClassCleanup(cls.fake.stop)
        cls.sms_policy = cls._policy("SMS only", [("Text", 1, "sms")])
        cls.spain = cls.env.ref("base.es")
        cls.sms_provider = cls.env["collections.provider"].create(
            {
                "name": "Fake SMS",
                "channel": "sms",
                "provider_type": "sms_http",
                "company_id": cls.company.id,
                "sms_http_base_url": cls.fake.url,
                "sms_http_account_sid": cls.fake.account_sid,
                "sms_http_auth_token": cls.fake.auth_token,
                "sms_http_from_number": "+15005550006",
            }
        )

    def setUp(self):
        super().setUp()
        self.fake.reset()
        self.env.cr.postcommit.clear()

    def _sms_customer(self, name, mobile="612 345 678", country=None, **values):
        return self._customer(
            name,
            mobile=mobile,
            country_id=(country or self.spain).id,
            collections_policy_id=self.sms_policy.id,
            **values,
        )

    def _planned_sms(self, *customers):
        for customer in customers:
            self._invoice(customer, 120, 5)
        self._run()
        messages = self.env["collections.message"].search(
            [("partner_id", "in", [c.id for c in customers]), ("channel", "=", "sms")], order="id"
        )
        self.assertEqual(set(messages.mapped("state")), {"planned"})
        return messages

    def _dispatch(self):
        self.env["collections.message"]._dispatch_planned(self.company)


@tagged("post_install", "-at_install")
class TestProviderChoice(ProviderCommon):
    def test_channel_without_provider_is_blocked_with_the_reason(self):
        self.sms_provider.active = False
        message = self._planned_sms(self._sms_customer("Sin proveedor"))
        self._dispatch()
        self.assertEqual(message.state, "blocked")
        self.assertIn("SMS", message.blocked_reason)
        self.assertIn(self.company.name, message.blocked_reason)

    def test_company_provider_comes_before_a_shared_one(self):
        shared = self.sms_provider.copy({"name": "Shared", "company_id": False, "sequence": 1})
        message = self._planned_sms(self._sms_customer("Elige"))
        self._dispatch()
        self.assertEqual(message.provider_id, self.sms_provider)
        self.assertNotEqual(message.provider_id, shared)

    def test_shared_provider_serves_companies_without_their_own(self):
        self.sms_provider.company_id = False
        message = self._planned_sms(self._sms_customer("Compartido"))
        self._dispatch()
        self.assertEqual((message.state, message.provider_id), ("sent", self.sms_provider))

    def test_email_letter_and_call_go_through_the_shipped_providers(self):
        self._invoice(self.customer, 250, 25)  # stage "Second": email + call
        self._run()
        self._dispatch()
        messages = self._messages(self.customer)
        self.assertEqual(
            {m.channel: m.provider_id for m in messages},
            {
                "email": self.env.ref("collections_omni.provider_mail"),
                "call": self.env.ref("collections_omni.provider_call"),
            },
        )

    def test_a_provider_type_without_a_client_cannot_run_on_workers(self):
        with self.assertRaises(ValidationError):
            self.env.ref("collections_omni.provider_mail").dispatch_mode = "celery"

    def test_provider_settings_are_validated(self):
        with self.assertRaises(ValidationError):
            self.sms_provider.sms_http_base_url = "ftp://example.com"
        with self.assertRaises(ValidationError):
            self.sms_provider.sms_http_from_number = "600 000 000"
        with self.assertRaises(ValidationError):
            self.sms_provider.rate_per_second = 0

    def test_credentials_are_for_managers_only(self):
        collector = new_test_user(
            self.env, "sms.collector", groups="base.group_user,collections_omni.group_collections_collector"
        )
        provider = self.sms_provider.with_user(collector)
        self.assertEqual(provider.name, "Fake SMS")
        with self.assertRaises(AccessError):
            provider.read(["sms_http_auth_token"])
        with self.assertRaises(UserError):
            provider.dispatch_settings()

    def test_secrets_are_hidden_from_collectors_and_not_copied(self):
        collector = new_test_user(
            self.env, "sms.collector2", groups="base.group_user,collections_omni.group_collections_collector"
        )
        for secret in ("sms_http_account_sid", "sms_http_auth_token"):
            with self.assertRaises(AccessError):
                self.sms_provider.with_user(collector).read([secret])
        manager = new_test_user(
            self.env, "sms.manager", groups="base.group_user,collections_omni.group_collections_manager"
        )
        original = self.sms_provider.with_user(manager)
        self.assertTrue(original.sms_http_auth_token)
        duplicate = original.copy({"dispatch_mode": "embedded"})
        self.assertFalse(duplicate.sms_http_account_sid)
        self.assertFalse(duplicate.sms_http_auth_token)
        self.assertEqual(duplicate.sms_http_base_url, original.sms_http_base_url, "settings other than secrets copy")


@tagged("post_install", "-at_install")
class TestSmsNumbers(ProviderCommon):
    def test_numbers_are_normalised_to_e164_with_the_customers_country(self):
        spanish = self._sms_customer("Movil local", mobile="612 34 56 78")
        mexican = self._sms_customer("Movil MX", mobile="55 1234 5678", country=self.env.ref("base.mx"))
        phone_only = self._sms_customer("Fijo", mobile=False, phone="+44 20 7946 0958")
        messages = self._planned_sms(spanish, mexican, phone_only)
        self._dispatch()
        self.assertEqual(messages.mapped("recipient_phone"), ["+34612345678", "+525512345678", "+442079460958"])
        self.assertEqual(
            sorted(m["to"] for m in self.fake.messages()), ["+34612345678", "+442079460958", "+525512345678"]
        )

    def test_invalid_or_missing_numbers_are_blocked_with_the_reason(self):
        short = self._sms_customer("Corto", mobile="12")
        missing = self._sms_customer("Sin numero", mobile=False, phone=False)
        messages = self._planned_sms(short, missing)
        self._dispatch()
        self.assertEqual(messages.mapped("state"), ["blocked", "blocked"])
        self.assertIn("12", messages[0].blocked_reason)
        self.assertEqual(messages[1].blocked_reason, "No mobile or phone number")
        self.assertEqual(self.fake.stats()["requests"], 0, "nothing went to the provider")

    def test_the_stage_action_text_is_rendered_for_each_message(self):
        self.sms_policy.stage_ids.action_ids.sms_text = "Hola {{ object.partner_id.name }}: {{ object._amount_text() }}"
        message = self._planned_sms(self._sms_customer("Texto"))
        self._dispatch()
        self.assertEqual(message.body_text, f"Hola Texto: {message._amount_text()}")
        self.assertEqual(self.fake.messages()[0]["body"], message.body_text)

    def test_standard_text_says_the_amount(self):
        message = self._planned_sms(self._sms_customer("Estandar"))
        self._dispatch()
        # The no-break space of Odoo's amounts is not GSM-7: a plain space keeps the SMS short.
        self.assertIn(message._amount_text().replace("\xa0", " "), message.body_text)
        self.assertIn(self.company.name, message.body_text)
        self.assertIn(message.partner_id._collections_portal_url("sms"), message.body_text, "and the link")


@tagged("post_install", "-at_install")
class TestEmbeddedSms(ProviderCommon):
    def test_messages_are_sent_once_with_their_idempotency_key(self):
        customers = [self._sms_customer(f"Cliente SMS {i}", mobile=f"61234560{i}") for i in range(3)]
        messages = self._planned_sms(*customers)
        self._dispatch()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        self.assertTrue(all(messages.mapped("provider_ref")))
        self.assertTrue(all(messages.mapped("sent_at")))
        stats = self.fake.stats()
        self.assertEqual((stats["delivered"], stats["duplicates"]), (3, 0))
        # A crash after the provider accepted them but before the result was
        # saved: the sweeper sends them again with the same keys, no second copy.
        messages._engine().write({"state": "sending", "lease_until": fields.Datetime.now() - dt.timedelta(minutes=1)})
        self.env["collections.message"]._sweep_stalled()
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        stats = self.fake.stats()
        self.assertEqual((stats["delivered"], stats["replays"], stats["duplicates"]), (3, 3, 0))

    def test_sent_sms_shows_on_the_customer_timeline(self):
        customer = self._sms_customer("Cronologia")
        self._planned_sms(customer)
        self._dispatch()
        self.assertTrue(customer.message_ids.filtered(lambda m: "SMS" in (m.body or "")))

    def test_temporary_errors_are_retried_later_then_sent(self):
        self.fake.configure(rate_5xx=1.0)
        message = self._planned_sms(self._sms_customer("Reintento"))
        self._dispatch()
        self.assertEqual((message.state, message.attempt_count), ("sending", 1))
        self.assertIn(message.error_code, ("500", "503"))
        self.assertGreater(message.lease_until, fields.Datetime.now(), "retried later, not at once")
        self.env["collections.message"]._sweep_stalled()
        self.assertEqual(message.attempt_count, 1, "not before its retry time")
        self.fake.configure(rate_5xx=0.0)
        message._engine().lease_until = fields.Datetime.now() - dt.timedelta(seconds=1)
        self.env["collections.message"]._sweep_stalled()
        self.assertEqual(message.state, "sent")
        self.assertEqual(self.fake.stats()["delivered"], 1)

    def test_temporary_errors_end_failed_after_the_last_attempt(self):
        self.sms_provider.max_attempts = 2
        self.fake.configure(rate_429=1.0)
        message = self._planned_sms(self._sms_customer("Saturado"))
        self._dispatch()
        message._engine().lease_until = fields.Datetime.now() - dt.timedelta(seconds=1)
        self.env["collections.message"]._sweep_stalled()
        self.assertEqual((message.state, message.error_code), ("failed", "429"))
        self.assertEqual(self.fake.stats()["delivered"], 0)

    def test_permanent_errors_end_failed_with_the_providers_code(self):
        self.sms_provider.sms_http_auth_token = "wrong"
        message = self._planned_sms(self._sms_customer("Credenciales"))
        self._dispatch()
        self.assertEqual((message.state, message.error_code), ("failed", "20003"))
        self.assertTrue(message.error)

    def test_operators_see_throughput_and_errors_per_provider(self):
        good = self._sms_customer("Bueno")
        messages = self._planned_sms(good, self._sms_customer("Malo", mobile="612000111"))
        self.fake.configure(rate_5xx=0.0)
        self._dispatch()
        # The second one is reported undelivered afterwards.
        self.env["collections.message"]._apply_provider_status(
            self.sms_provider, messages[1].provider_ref, "failed", "30003"
        )
        self.sms_provider.invalidate_recordset()
        self.assertEqual(self.sms_provider.sent_last_minute, 2, "both went out")
        self.assertEqual(self.sms_provider.sent_last_hour, 2)
        self.assertEqual(self.sms_provider.failed_last_day, 1)
        self.assertIn("30003", self.sms_provider.error_summary)
        self.assertEqual(self.sms_provider.queue_count, 0)


@tagged("post_install", "-at_install")
class TestScaledDispatch(ProviderCommon):
    def setUp(self):
        super().setUp()
        self.sms_provider.write({"dispatch_mode": "celery", "batch_size": 2})
        self.celery = FakeCelery()
        patcher = patch.object(collections_provider, "celery_client", return_value=self.celery)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_messages_are_published_only_after_commit_in_batches(self):
        customers = [self._sms_customer(f"Escala {i}", mobile=f"61234561{i}") for i in range(3)]
        messages = self._planned_sms(*customers)
        self._dispatch()
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        self.assertEqual(self.celery.sent, [], "nothing leaves before the transaction commits")
        self.env.cr.postcommit.run()
        self.assertEqual([len(args[1]) for _name, args in self.celery.sent], [2, 1])
        name, (provider_id, payloads) = self.celery.sent[0]
        self.assertEqual((name, provider_id), ("collections.send_messages", self.sms_provider.id))
        first = messages[0]
        self.assertEqual(
            payloads[0],
            {"id": first.id, "key": first.idempotency_key, "to": "+34612345610", "body": first.body_text, "attempt": 0},
        )
        self.assertEqual(self.fake.stats()["requests"], 0, "Odoo itself sends nothing in scaled mode")

    def test_nothing_is_published_when_the_transaction_rolls_back(self):
        message = self._planned_sms(self._sms_customer("Deshecho"))
        self.env.cr.execute("SAVEPOINT before_dispatch")
        self._dispatch()
        self.assertEqual(message.state, "queued")
        # What Cursor.rollback() does to the hooks; then the data goes too.
        self.env.cr.postcommit.clear()
        self.env.cr.execute("ROLLBACK TO SAVEPOINT before_dispatch")
        self.env.invalidate_all()
        self.env.cr.postcommit.run()
        self.assertEqual(self.celery.sent, [])
        self.assertEqual(message.state, "planned")

    def test_the_sweeper_publishes_stalled_messages_again(self):
        message = self._planned_sms(self._sms_customer("Perdido"))
        self._dispatch()
        self.env.cr.postcommit.clear()  # the broker was down: the hook never ran
        message._engine().lease_until = fields.Datetime.now() - dt.timedelta(minutes=1)
        self.env["collections.message"]._sweep_stalled()
        self.env.cr.postcommit.run()
        self.assertEqual(self.celery.sent[0][1][1][0]["key"], message.idempotency_key)
        self.assertGreater(message.lease_until, fields.Datetime.now())

    def test_reported_results_are_applied_once(self):
        messages = self._planned_sms(
            self._sms_customer("Informe A"), self._sms_customer("Informe B", mobile="612000222")
        )
        self._dispatch()
        Message = self.env["collections.message"]
        results = [
            {"key": messages[0].idempotency_key, "status": "sent", "provider_ref": "SM1"},
            {"key": messages[1].idempotency_key, "status": "failed", "code": "21610", "message": "Unsubscribed"},
            {"key": "unknown-key", "status": "sent", "provider_ref": "SM9"},
        ]
        self.assertEqual(Message.report_dispatch_results(results), 2)
        self.assertEqual((messages[0].state, messages[0].provider_ref), ("sent", "SM1"))
        self.assertEqual((messages[1].state, messages[1].error_code), ("failed", "21610"))
        sent_at = messages[0].sent_at
        notes = len(messages[0].partner_id.message_ids)
        # The same report again, and a late contradicting one: nothing changes.
        self.assertEqual(Message.report_dispatch_results(results), 0)
        self.assertEqual(
            Message.report_dispatch_results([{"key": messages[0].idempotency_key, "status": "failed", "code": "x"}]), 0
        )
        self.assertEqual((messages[0].state, messages[0].sent_at), ("sent", sent_at))
        self.assertEqual(len(messages[0].partner_id.message_ids), notes, "one timeline note, not two")

    def test_reporting_results_is_for_managers_and_checks_its_input(self):
        message = self._planned_sms(self._sms_customer("Acceso"))
        self._dispatch()
        collector = new_test_user(
            self.env, "dispatch.collector", groups="base.group_user,collections_omni.group_collections_collector"
        )
        result = [{"key": message.idempotency_key, "status": "sent", "provider_ref": "SM1"}]
        with self.assertRaises(AccessError):
            self.env["collections.message"].with_user(collector).report_dispatch_results(result)
        self.assertEqual(message.state, "queued")
        with self.assertRaises(UserError):
            self.env["collections.message"].report_dispatch_results([{"key": message.idempotency_key, "status": "x"}])

    def test_reports_reach_only_the_reporters_companies(self):
        other = self.env["res.company"].create({"name": "Other Collections Co"})
        message = engine_message(
            self.env,
            self._sms_customer("Otra empresa"),
            "other-company-1",
            channel="sms",
            company_id=other.id,
            currency_id=other.currency_id.id,
            state="queued",
        )
        reporter = new_test_user(
            self.env,
            "dispatch.reporter",
            groups="base.group_user,collections_omni.group_collections_manager",
            company_id=self.company.id,
            company_ids=[(6, 0, self.company.ids)],
        )
        result = [{"key": "other-company-1", "status": "sent", "provider_ref": "SM2"}]
        self.assertEqual(self.env["collections.message"].with_user(reporter).report_dispatch_results(result), 0)
        self.assertEqual(message.state, "queued")

    def test_workers_get_the_provider_settings(self):
        settings = self.sms_provider.dispatch_settings()[str(self.sms_provider.id)]
        self.assertEqual(settings["type"], "sms_http")
        self.assertEqual(settings["client"]["base_url"], self.fake.url)
        self.assertEqual(settings["client"]["auth_token"], self.fake.auth_token)
        self.assertTrue(settings["status_callback"].endswith(f"/collections/status/{self.sms_provider.id}"))

    def test_queued_messages_in_flight_cannot_be_cancelled(self):
        message = self._planned_sms(self._sms_customer("En vuelo"))
        self._dispatch()
        message.action_cancel()
        self.assertEqual(message.state, "queued")
        self.assertEqual(self.sms_provider.queue_count, 1)


@tagged("post_install", "-at_install")
class TestDeliveryStatus(ProviderCommon):
    def test_status_moves_forward_only_and_replays_are_harmless(self):
        message = self._planned_sms(self._sms_customer("Entregado"))
        self._dispatch()
        Message = self.env["collections.message"]
        ref = message.provider_ref
        Message._apply_provider_status(self.sms_provider, ref, "delivered")
        delivered_at = message.delivered_at
        self.assertEqual(message.state, "delivered")
        Message._apply_provider_status(self.sms_provider, ref, "delivered")
        Message._apply_provider_status(self.sms_provider, ref, "failed", code="30003")
        self.assertEqual((message.state, message.delivered_at), ("delivered", delivered_at))

    def test_undelivered_ends_failed_with_the_code(self):
        message = self._planned_sms(self._sms_customer("No entregado"))
        self._dispatch()
        self.env["collections.message"]._apply_provider_status(
            self.sms_provider, message.provider_ref, "failed", "30006"
        )
        self.assertEqual((message.state, message.error_code), ("failed", "30006"))


@tagged("post_install", "-at_install")
class TestIapSms(ProviderCommon):
    def setUp(self):
        super().setUp()
        self.sms_provider.active = False
        self.iap = self.env["collections.provider"].create(
            {"name": "Odoo SMS", "channel": "sms", "provider_type": "sms_iap", "company_id": self.company.id}
        )
        self.iap_calls = []
        self.iap_state = "success"

        def send_sms_batch(api, messages, delivery_reports_url=False):
            self.iap_calls.append(messages)
            return [{"uuid": n["uuid"], "state": self.iap_state} for m in messages for n in m["numbers"]]

        patcher = patch("odoo.addons.sms.tools.sms_api.SmsApi._send_sms_batch", send_sms_batch)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_sms_go_through_odoo_iap_with_their_uuid_as_reference(self):
        message = self._planned_sms(self._sms_customer("Por IAP"))
        self._dispatch()
        self.assertEqual((message.state, message.provider_id), ("sent", self.iap))
        sms = self.env["sms.sms"].search([("uuid", "=", message.provider_ref)])
        self.assertEqual((sms.number, sms.body), ("+34612345678", message.body_text))
        self.assertEqual(len(self.iap_calls), 1)

    def test_iap_delivery_reports_update_the_messages(self):
        delivered = self._planned_sms(self._sms_customer("Entregado"))
        bounced = self._planned_sms(self._sms_customer("Rebotado", mobile="612000444"))
        self._dispatch()
        Tracker = self.env["sms.tracker"].sudo()
        Tracker.search([("sms_uuid", "=", delivered.provider_ref)])._action_update_from_sms_state("sent")
        Tracker.search([("sms_uuid", "=", bounced.provider_ref)])._action_update_from_provider_error(
            "invalid_destination"
        )
        self.assertEqual(delivered.state, "delivered")
        self.assertTrue(delivered.delivered_at)
        self.assertEqual((bounced.state, bounced.error_code), ("failed", "sms_invalid_destination"))
        # A late report for the delivered one changes nothing.
        Tracker.search([("sms_uuid", "=", delivered.provider_ref)])._action_update_from_provider_error("expired")
        self.assertEqual(delivered.state, "delivered")

    def test_iap_errors_fail_or_wait_for_a_retry(self):
        self.iap_state = "insufficient_credit"
        no_credit = self._planned_sms(self._sms_customer("Sin credito"))
        self._dispatch()
        self.assertEqual((no_credit.state, no_credit.error_code), ("failed", "sms_credit"))
        self.iap_state = "server_error"
        later = self._planned_sms(self._sms_customer("Servidor caido", mobile="612000333"))
        self._dispatch()
        self.assertEqual((later.state, later.error_code), ("sending", "sms_server"))
        self.iap_state = "success"
        later._engine().lease_until = fields.Datetime.now() - dt.timedelta(seconds=1)
        self.env["collections.message"]._sweep_stalled()
        self.assertEqual(later.state, "sent")
        self.assertEqual(self.env["sms.sms"].search_count([("uuid", "=", later.provider_ref)]), 1, "the same SMS again")


@tagged("post_install", "-at_install")
class TestTransportMock(ProviderCommon, MockProviderClient):
    def test_the_mock_receives_what_the_provider_prepared(self):
        message = self._planned_sms(self._sms_customer("Simulado", mobile="612 00 11 22"))
        with self.mock_provider_client() as sent:
            self._dispatch()
        self.assertEqual([(s["provider"], s["to"], s["key"]) for s in sent], [
            (self.sms_provider, "+34612001122", message.idempotency_key)
        ])  # fmt: skip
        self.assertEqual(sent[0]["body"], message.body_text)
        self.assertEqual((message.state, message.provider_ref), ("sent", f"mock-{message.idempotency_key}"))
        self.assertFalse(self.fake.messages(), "nothing reached the network")

    def test_the_mock_answers_decide_the_outcome(self):
        retried, refused = self._planned_sms(self._sms_customer("Reintento"), self._sms_customer("Rechazo"))
        answers = {retried.idempotency_key: self.temporary_error(), refused.idempotency_key: self.permanent_error()}
        with self.mock_provider_client(lambda to, body, key: answers[key]):
            self._dispatch()
        self.assertEqual((retried.state, retried.attempt_count, retried.error_code), ("sending", 1, "503"))
        self.assertEqual((refused.state, refused.error_code), ("failed", "21211"))
