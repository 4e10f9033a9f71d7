# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Collections Omnichannel",
    "summary": "Dunning policies, stages and multichannel reminder sequences "
    "with contact-rate limits, payment plans and reconciliation",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/collections-omni/collections-omni",
    "author": "Collections Omni contributors",
    "maintainers": ["collections-omni"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "application": True,
    "installable": True,
    "depends": ["account", "mail", "phone_validation"],
    "external_dependencies": {"python": ["phonenumbers", "reportlab", "holidays"]},
    "data": [
        "security/collections_security.xml",
        "security/ir.model.access.csv",
        "data/mail_template_data.xml",
        "data/collections_policy_data.xml",
        "data/ir_cron_data.xml",
        "data/collections_contact_rule_set_data.xml",
        "views/collections_policy_views.xml",
        "views/collections_message_views.xml",
        "views/collections_run_views.xml",
        "views/collections_worklist_views.xml",
        "views/collections_run_preview_views.xml",
        "views/collections_contact_rule_set_views.xml",
        "views/res_partner_views.xml",
        "views/account_move_views.xml",
        "views/collections_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "collections_omni/static/tests/tours/*.js",
        ],
    },
}
