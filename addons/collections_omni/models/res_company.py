from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    collections_user_id = fields.Many2one(
        "res.users",
        string="Default Collector",
        help="Told about broken payment plans and promises, and about what customers ask for themselves (such as "
        "requests in the customer portal), when neither the record, its customer nor its policy names a collector.",
    )
    collections_reconcile_tolerance = fields.Monetary(
        string="Reconciliation Tolerance",
        currency_field="currency_id",
        default=1.0,
        help="A payment that differs from what the invoices owe by at most this much still settles them "
        "automatically (bank charges, rounded amounts).",
    )
    collections_reconcile_writeoff_account_id = fields.Many2one(
        "account.account",
        string="Reconciliation Write-off Account",
        check_company=True,
        help="Where a difference within the tolerance is written off, so the invoice ends fully paid. "
        "Without it the difference stays open on the customer's account.",
    )
    collections_reconcile_set_based = fields.Boolean(
        string="Fast Automatic Reconciliation",
        default=True,
        help="Reconcile bank statement lines in the company currency with a few set-based SQL statements "
        "instead of Odoo's accounting ORM, record by record (minutes for thousands of lines). It writes the "
        "same journal items, partials and chatter, and calls Odoo's paid-invoice hook. Turn it off when "
        "another installed module changes how reconciliation itself works.",
    )
