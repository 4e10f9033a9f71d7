import time

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from ..tools import emulator as emulator_module


@tagged("post_install", "-at_install", "collections_http")
class TestWhatsappInboxUi(HttpCase):
    """The collector inbox in a browser, as a user with exactly the collector role."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = emulator_module.GraphApiEmulator(phone_number_id="1300000001").start()
        cls.addClassCleanup(cls.emulator.stop)
        company = cls.env.company
        account = cls.env["collections.whatsapp.account"].create(
            {
                "name": "Inbox tour",
                "company_id": company.id,
                "phone_number_id": cls.emulator.phone_number_id,
                "waba_id": cls.emulator.waba_id,
                "graph_url": cls.emulator.url,
                "access_token": cls.emulator.access_token,
                "app_secret": cls.emulator.app_secret,
            }
        )
        cls.collector = cls.env["res.users"].create(
            {
                "name": "Carla Cobros",
                "login": "wa_tour_collector",
                "email": "carla.cobros@example.com",
                "password": "wa_tour_collector",
                "company_id": company.id,
                "company_ids": [Command.set(company.ids)],
                "groups_id": [
                    Command.set(
                        [
                            cls.env.ref("base.group_user").id,
                            cls.env.ref("collections_omni.group_collections_collector").id,
                        ]
                    )
                ],
            }
        )
        customer = cls.env["res.partner"].create({"name": "Cliente Tour SL", "is_company": True})
        cls.conversation = cls.env["collections.whatsapp.conversation"].create(
            {
                "account_id": account.id,
                "wa_id": "34600777888",
                "phone": "+34600777888",
                "partner_id": customer.id,
                "last_inbound_at": fields.Datetime.subtract(fields.Datetime.now(), hours=1),
                "unread_count": 1,
            }
        )
        cls.emulator.last_inbound["34600777888"] = time.time() - 3600

    def test_collector_answers_from_the_inbox(self):
        self.start_tour(
            "/odoo/action-collections_whatsapp.collections_whatsapp_conversation_action",
            "collections_whatsapp_inbox_tour",
            login="wa_tour_collector",
        )
        (sent,) = [m for m in self.emulator.sent if m["to"] == "34600777888"]
        self.assertEqual((sent["type"], sent["text"]["body"]), ("text", "¿Le viene bien pagar el viernes?"))
        self.conversation.invalidate_recordset()
        self.assertFalse(self.conversation.reply_text, "sent, the box is empty again")
