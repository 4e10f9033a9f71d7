from odoo import api, models
from odoo.tools import SQL

from ..tools import reconcile_matching as matching
from ..tools import sql_rules

# Open customer invoices a payment can settle (credit notes are netted by the
# dunning run, not paid from the bank).
# 'in_payment' is left out: a payment already registered for it waits in the outstanding account.
OPEN_INVOICE_SQL = SQL("%s AND m.payment_state != 'in_payment'", sql_rules.open_invoice("m"))


class CollectionsReconcileMatchLoading(models.AbstractModel):
    """Reconciliation, loading: what :meth:`_match` starts from, read
    set-based (a query each): the incoming statement lines and customer
    payments not matched yet, the open invoices with their normalised
    references, the documents a label quotes that cannot take the money,
    the running plans' next installments."""

    _name = "collections.reconcile.match.loading"
    _description = "Collections Reconciliation: Loading"

    @api.model
    def _open_invoice_index(self, company):
        """Every open customer invoice of the company with its normalised
        number and payment reference, in one query."""
        self.env.cr.execute(
            SQL(
                """
            SELECT m.id, m.commercial_partner_id, m.amount_residual, m.currency_id,
                   COALESCE(m.invoice_date_due, m.date), m.name, m.payment_reference, COALESCE(m.invoice_date, m.date)
              FROM account_move m
             WHERE m.company_id = %s AND %s
            """,
                company.id,
                OPEN_INVOICE_SQL,
            )
        )
        return matching.OpenInvoiceIndex(
            (
                matching.OpenInvoice(
                    move_id=move_id,
                    partner_id=partner_id,
                    residual=residual,
                    currency_id=currency_id,
                    due=due,
                    name=name,
                    issued=issued,
                ),
                {matching.normalize_reference(name), matching.normalize_reference(reference)},
            )
            for move_id, partner_id, residual, currency_id, due, name, reference, issued in self.env.cr.fetchall()
        )

    @api.model
    def _refresh_open_invoices(self, company, index, move_ids):
        """Update ``index`` (:meth:`_open_invoice_index`) for the invoices
        ``move_ids`` as they are now, in one query."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            SELECT m.id, m.amount_residual
              FROM account_move m
             WHERE m.id = ANY(%s) AND m.company_id = %s AND %s
            """,
                list(move_ids),
                company.id,
                OPEN_INVOICE_SQL,
            )
        )
        index.refresh(move_ids, dict(self.env.cr.fetchall()))

    @api.model
    def _mark_quoted_documents(self, company, lines, index):
        """Set ``quoted`` on the lines whose label quotes, by number or
        payment reference, a customer document that cannot take the money:
        another company's document, or an invoice of the line's customer
        (any, when the line's customer is unknown) no longer open (paid, in
        payment, cancelled: a likely duplicate payment) or a credit note.
        Another customer's closed document is a mistyped number, as often
        as not (numbers are sequential): no evidence against an amount
        match with the line's own customer. A reference an open invoice
        also carries is the open invoice's. One query."""
        keys = {key for line in lines for key in line.keys if key not in index.by_key}
        if not keys:
            return
        self.env.flush_all()
        # The documents that cannot take the money, read once and normalised here: a regular
        # expression per row of account_move in SQL, joined to every key of every label, is slower.
        self.env.cr.execute(
            SQL(
                """
            SELECT m.name, m.payment_reference, m.commercial_partner_id,
                   CASE WHEN m.company_id != %(company)s THEN 'other_company'
                        WHEN m.move_type = 'out_refund' THEN 'credit_note'
                        ELSE 'closed_document' END
              FROM account_move m
             WHERE m.move_type IN ('out_invoice', 'out_refund') AND m.state IN ('posted', 'cancel')
               AND NOT (m.company_id = %(company)s AND %(open)s)
            """,
                company=company.id,
                open=OPEN_INVOICE_SQL,
            )
        )
        reasons = {}
        normalize = matching.normalize_reference
        for name, reference, partner_id, reason in self.env.cr.fetchall():
            for key in (normalize(name), normalize(reference)):
                if key in keys:
                    reasons.setdefault(key, set()).add((reason, partner_id))
        if not reasons:
            return
        for line in lines:
            found = {
                reason
                for key in line.keys
                for reason, partner_id in reasons.get(key, ())
                if reason == "other_company" or line.partner_id in (None, partner_id)
            }
            line.quoted = next((reason for reason in matching.REVIEW_REASONS if reason in found), None)

    def _matched_source_filter(self, column, new_only=False):
        """Lines already handled: reconciled, confirmed, rejected or undone by
        a person stay as they are; only open proposals are looked at again
        (not even those with ``new_only``)."""
        states = "" if new_only else "AND x.state NOT IN ('proposed', 'none')"
        return f"""NOT EXISTS (SELECT 1 FROM collections_reconcile_match x WHERE x.{column} = src.id {states})"""

    @api.model
    def _unmatched_statement_lines(self, company, statement_lines=None, new_only=False):
        """(id, commercial partner, amount, currency, label, date) of the incoming
        statement lines still on the suspense account."""
        self.env.cr.execute(
            f"""
            SELECT src.id, p.commercial_partner_id, -sus.amount_currency, sus.currency_id, src.payment_ref, m.date
              FROM account_bank_statement_line src
              JOIN account_move m ON m.id = src.move_id
              JOIN account_journal j ON j.id = src.journal_id
              JOIN account_move_line sus ON sus.move_id = m.id AND sus.account_id = j.suspense_account_id
              LEFT JOIN res_partner p ON p.id = src.partner_id
             WHERE src.company_id = %(company)s AND m.state = 'posted' AND src.is_reconciled IS NOT TRUE
               AND src.amount > 0 AND (%(all)s OR src.id = ANY(%(ids)s))
               AND {self._matched_source_filter("statement_line_id", new_only)}
             ORDER BY src.id
            """,
            {
                "company": company.id,
                "all": statement_lines is None,
                "ids": statement_lines.ids if statement_lines else [],
            },
        )
        return self.env.cr.fetchall()

    @api.model
    def _unmatched_payments(self, company, payments=None, new_only=False):
        """(id, commercial partner, open amount, currency, memo, date) of the posted
        customer payments whose receivable line is still open."""
        self.env.cr.execute(
            f"""
            SELECT src.id, p.commercial_partner_id, -SUM(aml.amount_residual_currency), aml.currency_id,
                   src.memo, m.date
              FROM account_payment src
              JOIN account_move m ON m.id = src.move_id AND m.state = 'posted'
              JOIN account_move_line aml ON aml.move_id = m.id AND aml.reconciled IS NOT TRUE
              JOIN account_account acc ON acc.id = aml.account_id AND acc.account_type = 'asset_receivable'
              JOIN res_partner p ON p.id = src.partner_id
             WHERE src.company_id = %(company)s AND src.payment_type = 'inbound' AND src.partner_type = 'customer'
               AND (%(all)s OR src.id = ANY(%(ids)s))
               AND {self._matched_source_filter("payment_id", new_only)}
             GROUP BY src.id, p.commercial_partner_id, aml.currency_id, src.memo, m.date
            HAVING SUM(aml.amount_residual_currency) < 0
             ORDER BY src.id
            """,
            {"company": company.id, "all": payments is None, "ids": payments.ids if payments else []},
        )
        return self.env.cr.fetchall()

    @api.model
    def _open_installments(self, company):
        """The next installment still due of every running payment plan of the
        company, in one query: a payment of exactly that amount pays the plan's
        invoices, oldest first."""
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (plan.id) plan.id, partner.commercial_partner_id, plan.currency_id,
                   inst.amount - COALESCE(inst.paid_amount, 0),
                   ARRAY(SELECT rel.move_id FROM collections_payment_plan_account_move_rel rel
                          WHERE rel.plan_id = plan.id)
              FROM collections_payment_plan plan
              JOIN res_partner partner ON partner.id = plan.partner_id
              JOIN collections_payment_plan_installment inst ON inst.plan_id = plan.id
             WHERE plan.company_id = %s AND plan.state = 'active' AND inst.state != 'paid'
               AND inst.amount > COALESCE(inst.paid_amount, 0)
             ORDER BY plan.id, inst.due_date, inst.sequence
            """,
            [company.id],
        )
        return matching.InstallmentIndex(
            matching.Installment(plan_id, partner_id, currency_id, amount, tuple(move_ids))
            for plan_id, partner_id, currency_id, amount, move_ids in self.env.cr.fetchall()
        )
