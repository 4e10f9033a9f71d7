from odoo import Command

from odoo.addons.collections_omni.tests.common import CollectionsCommon

from ..tools import emulator as emulator_module


class WhatsappCommon(CollectionsCommon):
    """A WhatsApp account on a local Graph API emulator (real HTTP), its
    templates synced, and users with exactly one collections role each."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = emulator_module.GraphApiEmulator().start()
        cls.addClassCleanup(cls.emulator.stop)
        cls.account = cls.env["collections.whatsapp.account"].create(
            {
                "name": "Cobros España",
                "company_id": cls.company.id,
                "phone_number_id": cls.emulator.phone_number_id,
                "waba_id": cls.emulator.waba_id,
                "graph_url": cls.emulator.url,
                "access_token": cls.emulator.access_token,
                "app_secret": cls.emulator.app_secret,
                "verify_token": "verify-me",
            }
        )
        cls.manager = cls._user("wa_manager", "collections_omni.group_collections_manager")
        cls.collector = cls._user("wa_collector", "collections_omni.group_collections_collector")

    @classmethod
    def _whatsapp_provider(cls):
        """The company's WhatsApp provider, sending through the account on the emulator."""
        return cls.env["collections.provider"].create(
            {
                "name": "WhatsApp",
                "channel": "whatsapp",
                "provider_type": "whatsapp_cloud",
                "whatsapp_account_id": cls.account.id,
                "company_id": cls.company.id,
            }
        )

    @classmethod
    def _user(cls, login, group):
        return cls.env["res.users"].create(
            {
                "name": login,
                "login": login,
                "company_id": cls.company.id,
                "company_ids": [Command.set(cls.company.ids)],
                "groups_id": [Command.set([cls.env.ref("base.group_user").id, cls.env.ref(group).id])],
            }
        )
