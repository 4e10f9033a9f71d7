from odoo.tests import HttpCase, tagged

from odoo.addons.collections_omni.models.collections_message_inbound import MAX_INBOUND_CHARS
from odoo.addons.collections_omni.tools import sms_http_client

from .common import engine_message
from .mock_provider import unreachable_sms_provider

TOKEN = "status-test-token"


@tagged("post_install", "-at_install", "collections_http")
class TestProviderStatusCallback(HttpCase):
    """The delivery-status callback of the Twilio-compatible SMS provider, over HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = unreachable_sms_provider(cls.env, "Status SMS", TOKEN, "AC" + "1" * 32)
        partner = cls.env["res.partner"].create({"name": "Status Customer", "mobile": "+34612345678"})
        cls.message = engine_message(
            cls.env,
            partner,
            "status-test-1",
            channel="sms",
            state="sent",
            provider_id=cls.provider.id,
            provider_ref="SMstatus1",
        )

    def _post(self, params, token=TOKEN, provider=None):
        url = f"{self.base_url()}/collections/status/{(provider or self.provider).id}"
        headers = {"X-Twilio-Signature": sms_http_client.sign(token, url, params)}
        return self.url_open(url, data=params, headers=headers)

    def test_signed_delivery_report_marks_the_message_delivered_once(self):
        params = {"MessageSid": "SMstatus1", "MessageStatus": "delivered", "To": "+34612345678"}
        self.assertEqual(self._post(params).status_code, 204)
        self.message.invalidate_recordset()
        delivered_at = self.message.delivered_at
        self.assertEqual(self.message.state, "delivered")
        self.assertTrue(delivered_at)
        # The provider retries it, then a late 'failed' arrives: nothing changes.
        self.assertEqual(self._post(params).status_code, 204)
        late = {"MessageSid": "SMstatus1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
        self.assertEqual(self._post(late).status_code, 204)
        self.message.invalidate_recordset()
        self.assertEqual((self.message.state, self.message.delivered_at), ("delivered", delivered_at))

    def test_a_report_that_overtakes_the_send_result_waits_for_it(self):
        queued = engine_message(
            self.env,
            self.message.partner_id,
            "status-test-early",
            channel="sms",
            state="queued",
            provider_id=self.provider.id,
        )
        callback = sms_http_client.callback_url_for(
            f"{self.base_url()}/collections/status/{self.provider.id}", queued.idempotency_key
        )
        params = {"MessageSid": "SMearly", "MessageStatus": "delivered"}
        headers = {"X-Twilio-Signature": sms_http_client.sign(TOKEN, callback, params)}
        self.assertEqual(self.url_open(callback, data=params, headers=headers).status_code, 204)
        queued.invalidate_recordset()
        self.assertEqual((queued.state, queued.early_status), ("queued", "delivered"))
        # The worker's own result arrives: sent, then at once delivered.
        self.env["collections.message"]._apply_dispatch_results(
            [{"key": "status-test-early", "status": "sent", "provider_ref": "SMearly"}]
        )
        self.assertEqual((queued.state, queued.provider_ref), ("delivered", "SMearly"))
        self.assertTrue(queued.sent_at and queued.delivered_at)

    def test_undelivered_ends_failed_with_the_code(self):
        params = {"MessageSid": "SMstatus1", "MessageStatus": "undelivered", "ErrorCode": "30006"}
        self.assertEqual(self._post(params).status_code, 204)
        self.message.invalidate_recordset()
        self.assertEqual((self.message.state, self.message.error_code), ("failed", "30006"))

    def test_unsigned_or_forged_reports_are_refused(self):
        params = {"MessageSid": "SMstatus1", "MessageStatus": "undelivered", "ErrorCode": "30006"}
        self.assertEqual(self._post(params, token="forged").status_code, 403)
        url = f"{self.base_url()}/collections/status/{self.provider.id}"
        self.assertEqual(self.url_open(url, data=params).status_code, 403)
        mail_provider = self.env.ref("collections_omni.provider_mail")
        self.assertEqual(self._post(params, provider=mail_provider).status_code, 403)
        self.message.invalidate_recordset()
        self.assertEqual(self.message.state, "sent")


@tagged("post_install", "-at_install", "collections_http")
class TestProviderInboundReplies(HttpCase):
    """Customers' SMS replies through the Twilio-compatible incoming-message webhook."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = unreachable_sms_provider(cls.env, "Inbound SMS", TOKEN, "AC" + "2" * 32)
        cls.customer = cls.env["res.partner"].create({"name": "Respuesta S.L.", "is_company": True})
        contact = cls.env["res.partner"].create({"name": "Ana", "parent_id": cls.customer.id})
        cls.sent = engine_message(
            cls.env,
            cls.customer,
            "inbound-test-sent",
            channel="sms",
            recipient_id=contact.id,
            state="sent",
            provider_id=cls.provider.id,
            recipient_phone="+34611222333",
        )
        cls.pending = engine_message(cls.env, cls.customer, "inbound-p", channel="sms")

    def _post(self, params, token=TOKEN):
        url = f"{self.base_url()}/collections/inbound/{self.provider.id}"
        headers = {"X-Twilio-Signature": sms_http_client.sign(token, url, params)}
        return self.url_open(url, data=params, headers=headers)

    def _ledger(self):
        return self.env["collections.consent"].search([("partner_id", "=", self.customer.id)])

    def _replies(self):
        return self.env["collections.message"].search(
            [("partner_id", "=", self.customer.id), ("direction", "=", "inbound")]
        )

    def test_baja_opts_the_customer_out_once_and_stops_pending_sms(self):
        params = {"MessageSid": "SMin1", "From": "+34611222333", "Body": "BAJA por favor"}
        for _attempt in range(3):  # the provider retries its webhook
            response = self._post(params)
            self.assertEqual(response.status_code, 200)
            self.assertIn("<Response/>", response.text)
        reply = self._replies()
        self.assertEqual((len(reply), reply.body_text, reply.channel), (1, "BAJA por favor", "sms"))
        opt_out = self._ledger()
        self.assertEqual(
            (len(opt_out), opt_out.status, opt_out.source, opt_out.address), (1, "opt_out", "reply", "+34611222333")
        )
        self.assertEqual(self.pending.state, "blocked")

    def test_the_provider_form_shows_the_url_to_configure(self):
        self.assertEqual(
            self.provider.sms_http_inbound_url, f"{self.provider.get_base_url()}/collections/inbound/{self.provider.id}"
        )

    def test_an_ordinary_reply_is_logged_and_changes_no_consent(self):
        self.assertEqual(
            self._post({"MessageSid": "SMin2", "From": "+34611222333", "Body": "Pago el viernes"}).status_code, 200
        )
        self.assertEqual(len(self._replies()), 1)
        self.assertFalse(self._ledger())
        self.assertEqual(self.pending.state, "planned")

    def test_a_huge_reply_is_capped_and_kept_whole_as_a_file(self):
        text = "Pago el viernes. " + "x" * 200_000
        self.assertEqual(self._post({"MessageSid": "SMbig", "From": "+34611222333", "Body": text}).status_code, 200)
        reply = self._replies()
        self.assertEqual(len(reply.body_text), MAX_INBOUND_CHARS)
        self.assertTrue(text.startswith(reply.body_text))
        self.assertEqual(reply.attachment_id.raw.decode(), text, "the original is kept whole as a file")
        note = self.customer.message_ids.filtered(lambda m: "Pago el viernes" in (m.body or ""))
        self.assertEqual(len(note), 1)
        self.assertLess(len(note.body), MAX_INBOUND_CHARS + 500, "the chatter shows the capped text")

    def test_forged_or_unknown_replies_change_nothing(self):
        self.assertEqual(
            self._post({"MessageSid": "SMin3", "From": "+34611222333", "Body": "STOP"}, "x").status_code, 403
        )
        self.assertEqual(self._post({"MessageSid": "SMin4", "From": "+34699999999", "Body": "STOP"}).status_code, 200)
        self.assertFalse(self._replies())
        self.assertFalse(self._ledger())
