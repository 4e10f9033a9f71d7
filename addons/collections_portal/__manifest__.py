# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Collections Customer Portal",
    "summary": "Customers see their balance, promise to pay, request payment plans and pay online from the Odoo portal",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/collections-omni/collections-omni",
    "author": "Collections Omni contributors",
    "maintainers": ["collections-omni"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "installable": True,
    "depends": ["collections_omni", "portal", "account_payment"],
    "data": [
        "security/ir.model.access.csv",
        "views/collections_policy_views.xml",
        "views/res_partner_views.xml",
        "views/collections_portal_templates.xml",
        "views/collections_portal_link_templates.xml",
    ],
    "assets": {
        "web.assets_frontend": [
            "collections_portal/static/src/js/*.js",
        ],
        "web.assets_tests": [
            "collections_portal/static/tests/tours/*.js",
        ],
    },
}
