# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Collections WhatsApp",
    "summary": "WhatsApp Business Cloud API channel for collections: templates, delivery webhooks and inbound chat",
    "version": "18.0.1.0.1",
    "category": "Accounting/Accounting",
    "website": "https://github.com/collections-omni/collections-omni",
    "author": "Collections Omni contributors",
    "maintainers": ["collections-omni"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "installable": True,
    "depends": ["collections_omni", "mail"],
    "external_dependencies": {"python": ["requests", "phonenumbers"]},
    "data": [
        "security/ir.model.access.csv",
        "security/collections_whatsapp_security.xml",
        "data/ir_cron_data.xml",
        "views/collections_whatsapp_account_views.xml",
        "views/collections_whatsapp_conversation_views.xml",
        "views/res_partner_views.xml",
        "views/collections_whatsapp_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "collections_whatsapp/static/tests/tours/*.js",
        ],
    },
}
