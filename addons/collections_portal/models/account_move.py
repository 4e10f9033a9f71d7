from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.collections_omni.tools import sql_rules

# An open customer invoice as the portal shows it: the engine's open receivable, invoices only.
PORTAL_OPEN_INVOICE_DOMAIN = sql_rules.OPEN_INVOICE_DOMAIN
# The largest id a PostgreSQL integer column holds: anything beyond is no record of ours.
MAX_RECORD_ID = 2**31 - 1


def portal_record_id(value):
    """The record id ``value`` names (a form's or a link's string, or a JSON number), else None:
    ASCII digits only (``str.isdigit()`` also takes "²"), no sign, NaN or exponent, within
    PostgreSQL's integer; the length is checked first (``int()`` refuses 4,300 digits and more)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_RECORD_ID else None
    value = str(value).strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        return None
    return int(value) if 0 < int(value) <= MAX_RECORD_ID else None


def portal_text(env, text, limit, too_long):
    """A customer's words from a form's textarea, trimmed, with its line breaks counted as the
    browser counts them against maxlength (it sends CRLF, counted as one character).

    :param too_long: a lazy label with ``%(count)s`` (the limit) and ``%(length)s``
    :raise UserError: ``too_long`` in the reader's language, when longer than ``limit``
    """
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise UserError(env._(too_long) % {"count": limit, "length": len(text)})
    return text


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
        # Ordered by the database (sql_rules.oldest_first), not by a Python sort reading every invoice's fields.
        query = self.sudo()._search(domain)
        query.order = sql_rules.oldest_first(query.table)
        return self.sudo().browse(query.get_result_ids())

    @api.model
    def _collections_portal_ids(self, values):
        """Record ids as received from a form or a link, checked: positive
        integers that fit a PostgreSQL integer, nothing else (no sign, NaN,
        exponent or other digits than ASCII ones).

        :raise UserError: a value is not such an id
        """
        ids = set()
        for value in values or ():
            record_id = portal_record_id(value)
            if record_id is None:
                raise UserError(_("Choose invoices from the list."))
            ids.add(record_id)
        return ids

    def _collections_portal_ensure_tokens(self):
        """Give these invoices the access token of their portal link
        (``portal.mixin._portal_ensure_token``) in one statement, not one
        write per invoice: a portal page links hundreds of them."""
        missing = self.filtered(lambda move: not move.access_token)
        if missing:
            self.env.cr.execute(
                SQL(
                    "UPDATE account_move SET access_token = gen_random_uuid()::text"
                    " WHERE id = ANY(%s) AND access_token IS NULL",
                    missing.ids,
                )
            )
            missing.invalidate_recordset(["access_token"])

    def _collections_portal_lock(self):
        """Lock these invoices for the rest of the transaction, before what the
        customer asks is checked against them and written (a double tap, two
        tabs). Odoo runs in REPEATABLE READ: a lock alone would let a request
        whose snapshot predates the other's commit decide on stale data, so the
        rows are also touched: such a request then fails with a serialization
        error and Odoo retries it on fresh data. Locking in id order keeps
        requests from deadlocking."""
        if not self:
            return
        self.env.cr.execute(SQL("SELECT id FROM account_move WHERE id = ANY(%s) ORDER BY id FOR UPDATE", self.ids))
        self.env.cr.execute(SQL("UPDATE account_move SET write_date = write_date WHERE id = ANY(%s)", self.ids))
        self.invalidate_recordset(["amount_residual"])

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
    def _collections_portal_selection(self, partner, invoice_ids, refused_holds=None, one_currency=True, lock=False):
        """The invoices a customer chose in the portal for a promise, a plan or
        a dispute, checked: the customer's own open invoices, in one currency
        (unless ``one_currency`` is false) and one company, none held for one
        of ``refused_holds`` (by default any: a plan, a running promise or a
        dispute).

        :param invoice_ids: ids as received from the form (strings or ints)
        :param lock: lock the invoices before the hold check (``_collections_portal_lock``), for a
            request about to hold them
        :return: the invoices, as superuser
        :raise UserError: with what is wrong; nothing is written
        """
        ids = self._collections_portal_ids(invoice_ids)
        if not ids:
            raise UserError(_("Choose at least one invoice."))
        invoices = self._collections_portal_open_invoices(partner, ids)
        if len(invoices) != len(ids):
            # Another customer's invoice, a paid one or no invoice at all: the same answer, revealing nothing.
            raise UserError(
                _("Some of the chosen invoices are not open invoices of your account. Reload the page and try again.")
            )
        if one_currency and len(invoices.currency_id) > 1:
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
            # A request about to hold them (a promise, a plan request): a double tap or two tabs
            # must not both pass the check below.
            invoices._collections_portal_lock()
        held = invoices._collections_hold_reasons(fields.Date.context_today(self))
        if refused_holds is not None:
            held = {move_id: reason for move_id, reason in held.items() if reason in refused_holds}
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
