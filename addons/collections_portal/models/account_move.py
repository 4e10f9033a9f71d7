from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.collections_omni.tools import sql_rules

# An open customer invoice as the portal shows it: the engine's open receivable, invoices only.
PORTAL_OPEN_INVOICE_DOMAIN = sql_rules.OPEN_INVOICE_DOMAIN


class AccountMove(models.Model):
    _inherit = "account.move"

    @api.model
    def _collections_portal_open_invoices(self, partner, invoice_ids=None):
        """A customer's open invoices, oldest due first, as superuser but only
        the commercial partner's: the portal shows the whole account's
        balance, whichever of its contacts an invoice was sent to (Odoo's
        invoice rule only lets a contact read the invoices it follows)."""
        domain = [("commercial_partner_id", "=", partner.commercial_partner_id.id), *PORTAL_OPEN_INVOICE_DOMAIN]
        if invoice_ids is not None:
            domain.append(("id", "in", list(invoice_ids)))
        return self.sudo().search(domain).sorted(sql_rules.oldest_first_key)

    def _collections_hold_reasons(self, on_date):
        """{invoice id: reason} of these invoices held out of dunning on the
        date (payment_plan, promise, dispute), as the engine's planning sees
        them: the one definition of a hold."""
        if not self:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            SELECT DISTINCT ON (h.move_id) h.move_id, h.reason
              FROM (%s) h
             WHERE h.move_id = ANY(%s)
          ORDER BY h.move_id, h.reason
            """,
                sql_rules.held_invoices(on_date),
                self.ids,
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _collections_hold_labels(self):
        """Words for the customer, by hold reason."""
        return {
            "payment_plan": _("In a payment plan"),
            "promise": _("Payment promised"),
            "dispute": _("Under review"),
        }

    @api.model
    def _collections_portal_selection(self, partner, invoice_ids, lock=False):
        """The invoices a customer chose in the portal for a promise or a plan,
        checked: the customer's own open invoices, in one currency and one
        company, none already in a plan, a running promise or a dispute.

        :param invoice_ids: ids as received from the form (strings or ints)
        :param lock: for a request about to hold the invoices (promise, plan request): see below
        :return: the invoices, as superuser
        :raise UserError: with what is wrong; nothing is written
        """
        try:
            ids = {int(invoice_id) for invoice_id in invoice_ids or ()}
        except (TypeError, ValueError) as error:
            raise UserError(_("Choose invoices from the list.")) from error
        if not ids:
            raise UserError(_("Choose at least one invoice."))
        invoices = self._collections_portal_open_invoices(partner, ids)
        if len(invoices) != len(ids):
            # Another customer's invoice, a paid one or no invoice at all: the same answer, revealing nothing.
            raise UserError(
                _("Some of the chosen invoices are not open invoices of your account. Reload the page and try again.")
            )
        if len(invoices.currency_id) > 1:
            raise UserError(
                _(
                    "The chosen invoices are in different currencies (%(currencies)s): choose invoices in one "
                    "currency at a time.",
                    currencies=", ".join(invoices.currency_id.mapped("name")),
                )
            )
        if len(invoices.company_id) > 1:
            raise UserError(
                _(
                    "The chosen invoices were issued by different companies (%(companies)s): choose the invoices "
                    "of one company at a time.",
                    companies=", ".join(invoices.company_id.mapped("name")),
                )
            )
        if lock:
            # Concurrent requests for the same invoices (a double tap, two tabs) must not both pass
            # the check below. Odoo runs in REPEATABLE READ: a lock alone would let a request whose
            # snapshot predates the other's commit miss its promise. Bumping the invoices' rows makes
            # such a request fail with a serialization error, and Odoo retries it on fresh data;
            # locking in id order keeps requests from deadlocking.
            self.env.cr.execute(
                SQL("SELECT id FROM account_move WHERE id = ANY(%s) ORDER BY id FOR UPDATE", invoices.ids)
            )
            self.env.cr.execute(SQL("UPDATE account_move SET write_date = write_date WHERE id = ANY(%s)", invoices.ids))
        held = invoices._collections_hold_reasons(fields.Date.context_today(self))
        if held:
            names = {
                reason: ", ".join(invoices.filtered(lambda m, reason=reason: held.get(m.id) == reason).mapped("name"))
                for reason in set(held.values())
            }
            problems = []
            if "payment_plan" in names:
                problems.append(_("%(invoices)s: already in a payment plan.", invoices=names["payment_plan"]))
            if "promise" in names:
                problems.append(_("%(invoices)s: already covered by a promise to pay.", invoices=names["promise"]))
            if "dispute" in names:
                problems.append(
                    _(
                        "%(invoices)s: under review after your claim; we will contact you about it.",
                        invoices=names["dispute"],
                    )
                )
            raise UserError(" ".join(problems))
        return invoices
