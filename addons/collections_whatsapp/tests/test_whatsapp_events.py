import json
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.collections_omni.tests.common import engine_message

from ..models import collections_whatsapp_event as event_module
from ..tools import webhook
from .common import WhatsappCommon

NUMBER = "+34600111222"


@tagged("post_install", "-at_install")
class TestWhatsappEvents(WhatsappCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.mobile = "600 11 12 22"
        cls.customer.country_id = cls.env.ref("base.es")
        cls.provider = cls._whatsapp_provider()
        cls.Event = cls.env["collections.whatsapp.event"]
        cls.Conversation = cls.env["collections.whatsapp.conversation"]

    def _deliver(self, body):
        """As the webhook route does: parse, store once, apply what is new."""
        events = webhook.parse(body)
        for event in events:  # Meta opens the window when the customer writes: so does the emulator
            if isinstance(event, webhook.InboundEvent):
                self.emulator.last_inbound[event.from_wa_id] = event.timestamp
        return self.Event.sudo()._store(self.account, events)._process()  # as the public route does

    def _conversation(self, number=NUMBER):
        return self.Conversation.search([("account_id", "=", self.account.id), ("wa_id", "=", number[1:])])

    def test_events_left_pending_are_applied_once_by_the_scheduled_action(self):
        """The webhook answers after storing; a process killed before applying leaves them pending."""
        body = self.emulator.inbound_body(NUMBER, text="Hola", name="Lucía")
        stored = self.Event.sudo()._store(self.account, webhook.parse(body))
        self.assertEqual(stored.state, "pending")
        self.Event.sudo()._cron_process_pending()  # as the scheduled action runs
        self.assertEqual(stored.state, "pending", "a minute's grace: the webhook's processor may be on it")
        self.env.cr.execute(
            "UPDATE collections_whatsapp_event SET create_date = now() - interval '2 minutes' WHERE id = %s",
            [stored.id],
        )
        stored.invalidate_recordset()
        self.Event.sudo()._cron_process_pending()  # as the scheduled action runs
        self.assertEqual(stored.state, "done")
        self.assertEqual(self._conversation().unread_count, 1)
        self.assertFalse(stored._claim(), "applied: nothing left to claim")
        self.Event.sudo()._cron_process_pending()  # as the scheduled action runs
        self.assertEqual(self._conversation().unread_count, 1, "applied once")

    def test_customer_message_lands_on_conversation_and_chatter_once(self):
        body = self.emulator.inbound_body(NUMBER, text="Hola, ¿cuánto debo?", name="Lucía")
        for _replay in range(5):
            self._deliver(body)
        conversation = self._conversation()
        self.assertEqual(conversation.partner_id, self.customer)
        self.assertEqual((conversation.unread_count, conversation.profile_name), (1, "Lucía"))
        self.assertTrue(conversation.window_open)
        self.assertEqual(self.Event.search_count([("account_id", "=", self.account.id)]), 1)
        inbound = self.env["collections.message"].search([("direction", "=", "inbound"), ("channel", "=", "whatsapp")])
        self.assertEqual(len(inbound), 1)
        self.assertEqual((inbound.partner_id, inbound.body_text), (self.customer, "Hola, ¿cuánto debo?"))
        self.assertEqual(len(conversation.message_ids.filtered(lambda m: "cuánto debo" in (m.body or ""))), 1)
        self.assertTrue(any("cuánto debo" in (m.body or "") for m in self.customer.message_ids))

    def test_contact_of_a_customer_is_matched_to_the_customer(self):
        contact = self.env["res.partner"].create(
            {"name": "Contable", "parent_id": self.customer.id, "mobile": "+34 611 22 33 44"}
        )
        self._deliver(self.emulator.inbound_body("+34611223344", text="hola"))
        self.assertEqual(self._conversation("+34611223344").partner_id, contact.commercial_partner_id)

    def test_unknown_number_is_kept_for_triage(self):
        self._deliver(self.emulator.inbound_body("+34699000000", text="¿Quién es?"))
        conversation = self._conversation("+34699000000")
        self.assertTrue(conversation)
        self.assertFalse(conversation.partner_id)
        self.assertEqual(conversation.unread_count, 1)
        self.assertIn("+34699000000", conversation.display_label)

    def test_stop_opts_out_in_the_consent_ledger(self):
        self._deliver(self.emulator.inbound_body(NUMBER, text="BAJA"))
        status = self.env["collections.consent"]._status_by_partner(self.customer)
        self.assertEqual(status.get((self.customer.id, "whatsapp")), "opt_out")

    def _sent_message(self, wamid):
        return engine_message(
            self.env,
            self.customer,
            f"test-{wamid}",
            channel="whatsapp",
            state="sent",
            provider_id=self.provider.id,
            provider_ref=wamid,
            recipient_phone=NUMBER,
        )

    def test_statuses_out_of_order_never_go_backwards_and_replays_add_nothing(self):
        message = self._sent_message("wamid.OUT1")
        read = self.emulator.status_body("wamid.OUT1", "read", NUMBER[1:])
        delivered = self.emulator.status_body("wamid.OUT1", "delivered", NUMBER[1:])
        for body in (read, delivered, read, delivered):
            self._deliver(body)
        self.assertEqual(message.state, "read")
        self.assertTrue(message.delivered_at and message.read_at)
        self.assertEqual(self.Event.search_count([("wamid", "=", "wamid.OUT1")]), 2)

    def test_status_before_its_send_is_committed_waits_and_is_applied_then(self):
        """Meta (the emulator) posts a status as soon as it accepts the send, before the transaction
        that sends it commits: closed then as a status of no message of ours, it would be lost."""
        message = self._sent_message("wamid.EARLY")
        # As another transaction sees it while the send is in flight: still planned, no provider yet.
        message.write({"state": "planned", "provider_id": False, "provider_ref": False})
        status = self.emulator.status_body("wamid.EARLY", "read", NUMBER[1:], callback_data=message.idempotency_key)
        event = self.Event.sudo()._store(self.account, webhook.parse(status))
        self.assertEqual(event._process(), event, "it waits")
        self.assertEqual(event.state, "pending")
        self.assertTrue(event.retry_at)
        self.assertFalse(event._claim(), "not before its retry")
        message.write({"state": "sent", "provider_id": self.provider.id, "provider_ref": "wamid.EARLY"})  # committed
        self.env.cr.execute("UPDATE collections_whatsapp_event SET retry_at = now() - interval '1 second'")
        event.invalidate_recordset()
        self.assertFalse(event._claim()._process())
        self.assertEqual((event.state, message.state), ("done", "read"))

    def test_failed_131026_marks_the_number_undeliverable(self):
        message = self._sent_message("wamid.OUT2")
        self._deliver(self.emulator.status_body("wamid.OUT2", "failed", NUMBER[1:], error_code=131026))
        self.assertEqual((message.state, message.error_code), ("failed", "131026"))
        self.assertTrue(self._conversation().undeliverable)
        # The customer writes again: the number works after all.
        self._deliver(self.emulator.inbound_body(NUMBER, text="hola"))
        self.assertFalse(self._conversation().undeliverable)

    def test_one_bad_event_does_not_stop_the_others(self):
        body = self.emulator.inbound_body(NUMBER, text="hola")
        events = webhook.parse(body)
        broken = events[0]._replace(wamid="wamid.BROKEN", timestamp=10**12)  # year 33658: cannot be stored
        stored = self.Event.sudo()._store(self.account, [broken, *events])
        stored._process()
        self.assertEqual(sorted(stored.mapped("state")), ["done", "error"])

    def _apply_cron_triggers(self):
        cron = self.env.ref("collections_whatsapp.ir_cron_whatsapp_apply_events")
        return self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])

    def test_new_events_trigger_the_scheduled_action_duplicates_do_not(self):
        """The webhook's one statement stores the event and triggers the cron that applies it."""
        body = self.emulator.inbound_body(NUMBER, text="Hola", name="Lucía")
        before = self._apply_cron_triggers()
        stored = self.Event.sudo()._store(self.account, webhook.parse(body))
        self.assertEqual((len(stored), stored.state), (1, "pending"))
        self.assertEqual(self._apply_cron_triggers(), before + 1, "the apply cron is triggered")
        self.assertFalse(self.Event.sudo()._store(self.account, webhook.parse(body)), "a duplicate stores nothing")
        self.assertEqual(self._apply_cron_triggers(), before + 1, "and triggers nothing")

    def test_the_triggered_action_applies_pending_events_in_batches(self):
        self._sent_message("wamid.CRON1")
        bodies = [
            self.emulator.inbound_body(NUMBER, text="Hola"),
            self.emulator.status_body("wamid.CRON1", "delivered", NUMBER[1:]),
            self.emulator.status_body("wamid.NOT.OURS", "read", NUMBER[1:]),  # another tool's message
        ]
        stored = self.Event.sudo().browse()
        for body in bodies:
            stored |= self.Event.sudo()._store(self.account, webhook.parse(body))
        cron = self.env.ref("collections_whatsapp.ir_cron_whatsapp_apply_events")
        progress = self.env["ir.cron.progress"].sudo().create({"cron_id": cron.id})
        triggers = self._apply_cron_triggers()
        with patch.object(event_module, "APPLY_BATCH", 2):
            self.Event.with_context(ir_cron_progress_id=progress.id).sudo()._cron_apply_events()
        self.assertEqual(stored.mapped("state").count("done"), 2, "one batch")
        self.assertEqual((progress.done, progress.remaining), (2, 1), "the scheduler is told one remains")
        self.assertEqual(self._apply_cron_triggers(), triggers + 1, "and the cron worker is woken again")
        with patch.object(event_module, "APPLY_BATCH", 2):
            self.Event.sudo()._cron_apply_events()
        self.assertEqual(set(stored.mapped("state")), {"done"})
        self.assertEqual(self._apply_cron_triggers(), triggers + 1, "nothing left: no new wake-up")
        self.assertEqual(self._conversation().unread_count, 1)
        message = self.env["collections.message"].search([("provider_ref", "=", "wamid.CRON1")])
        self.assertEqual(message.state, "delivered")
        self.Event.sudo()._cron_apply_events()  # nothing pending: nothing happens twice
        self.assertEqual(self._conversation().unread_count, 1)

    def test_statuses_of_messages_not_ours_are_closed_without_applying(self):
        self._sent_message("wamid.MINE")
        events = self.Event.sudo().browse()
        for wamid in ("wamid.MINE", "wamid.OTHER"):
            events |= self.Event.sudo()._store(
                self.account, webhook.parse(self.emulator.status_body(wamid, "delivered", NUMBER[1:]))
            )
        payloads = {event.id: json.loads(event.data) for event in events}
        idle = events._statuses_without_effect(payloads)
        self.assertEqual(idle, set(events.filtered(lambda e: e.wamid == "wamid.OTHER").ids))
        failed = self.Event.sudo()._store(
            self.account,
            webhook.parse(self.emulator.status_body("wamid.GONE", "failed", NUMBER[1:], error_code=131026)),
        )
        payloads[failed.id] = json.loads(failed.data)
        self.assertFalse(failed._statuses_without_effect(payloads), "131026 still marks the number")
        (events | failed)._process()
        self.assertEqual(set((events | failed).mapped("state")), {"done"})
        self.assertTrue(self._conversation().undeliverable)
