import ast
import base64
import hmac as hmac_lib
import time
from datetime import timedelta

import babel.dates
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.misc import babel_locale_parse, get_lang, hmac, posix_to_ldml

from odoo.addons.base.models.res_lang import intersperse
from odoo.addons.collections_omni.tools.rules import GROUP_COLLECTOR

from ..tools import statement_pdf

# How long a reminder's link opens the portal, unless the setting says otherwise.
DEFAULT_LINK_DAYS = 30
LINK_DAYS_PARAM = "collections_portal.link_days"
LINK_SCOPE = "collections_portal.link"
# The signature is the HMAC-SHA256's first 128 bits: short enough for a text message.
SIGNATURE_LENGTH = 32
# Aging buckets by days late: not due, 1-30, 31-60, 61-90, more than 90.
AGING_LIMITS = (0, 30, 60, 90, None)
# A statement shows the payments of the last 90 days unless the reader chooses a period of at most two years.
STATEMENT_DEFAULT_DAYS = 90
STATEMENT_MAX_DAYS = 731


class ResPartner(models.Model):
    _inherit = "res.partner"

    collections_link_version = fields.Integer(
        string="Portal Link Version",
        default=0,
        copy=False,
        groups="account.group_account_invoice",
        help="Every reminder's link carries this number: raising it revokes all links sent so far.",
    )

    def action_collections_revoke_links(self):
        """Revoke every portal link sent so far to these customers (the next reminders carry new ones)."""
        # A public method: any logged-in user (a portal customer too) could call it over RPC.
        if not self.env.user.has_group(GROUP_COLLECTOR):
            raise AccessError(_("Only collectors can revoke a customer's portal links."))
        for partner in self.commercial_partner_id.sudo():
            partner.collections_link_version += 1
        return True

    def _collections_link_signature(self, version, expires):
        return hmac(self.env(su=True), LINK_SCOPE, (self.id, version, expires))[:SIGNATURE_LENGTH]

    def _collections_portal_url(self, channel=False):
        """A signed link that opens the commercial partner's collections page
        without a password until it expires (``collections_portal.link_days``)
        or is revoked (``action_collections_revoke_links``)."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        days = int(self.env["ir.config_parameter"].sudo().get_param(LINK_DAYS_PARAM, DEFAULT_LINK_DAYS))
        expires = int(time.time()) + days * 86400
        version = partner.collections_link_version
        token = f"{partner.id}-{version}-{expires}-{partner._collections_link_signature(version, expires)}"
        return f"{self.get_base_url().rstrip('/')}/my/collections/access/{token}"

    def _collections_check_link(self, token):
        """(customer, result) for a link's token: result is ``ok``, ``expired``,
        ``revoked`` or ``invalid`` (altered or made up; the customer is then empty).

        Only a genuine signature names a customer, so that an expired or revoked
        link can offer a fresh one to that customer's own address."""
        parts = (token or "").split("-")
        if len(parts) != 4 or not all(part.isdigit() for part in parts[:3]) or len(parts[0]) > 12:
            return self.browse(), "invalid"
        partner_id, version, expires = (int(part) for part in parts[:3])
        partner = self.sudo().browse(partner_id).exists()
        if not partner or partner.commercial_partner_id != partner:
            return self.browse(), "invalid"
        if not hmac_lib.compare_digest(partner._collections_link_signature(version, expires), parts[3]):
            return self.browse(), "invalid"
        if version != partner.collections_link_version:
            return partner, "revoked"
        if expires < time.time():
            return partner, "expired"
        return partner, "ok"

    def _collections_send_fresh_link(self, email_to=None):
        """Email a fresh link to the customer's address on file (queued, sent by the mail cron)."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        email_to = email_to or partner.email
        if not email_to:
            return False
        env = partner.with_context(lang=partner.lang or "en_US").env
        url = partner.with_env(env)._collections_portal_url("email")
        body = Markup('<p>%s</p><p><a href="%s">%s</a></p><p>%s</p>') % (
            env._(
                "Hello %(name)s, here is your new link to see what you owe and to pay, promise or ask for a payment "
                "plan online, without a password:",
                name=partner.name,
            ),
            url,
            url,
            env._("If you did not ask for it, you can ignore this message."),
        )
        self.env["mail.mail"].sudo().create(
            {
                "subject": env._("Your link to your account"),
                "email_to": email_to,
                "body_html": body,
                "auto_delete": False,
            }
        )
        return True

    # === AGING AND STATEMENT === #

    @api.model
    def _collections_formats(self, lang_code=None):
        """Amounts and dates as Odoo shows them, for pages and statements that
        list hundreds of invoices: the reader's number and date formats are
        looked up once, not once per figure (``format_amount``, the
        ``monetary`` widget and ``format_date`` each look them up again).

        :return: {"money": amount, currency -> text as ``format_amount``,
            "money_html": amount, currency -> Markup as the ``monetary`` widget,
            "day": date -> text as ``format_date``}
        """
        lang = get_lang(self.env, lang_code)
        grouping, thousands_sep = ast.literal_eval(lang.grouping), lang.thousands_sep or ""
        locale = babel_locale_parse(lang.code)
        date_pattern = posix_to_ldml(lang.date_format, locale=locale)
        dates = {}

        def number(amount, currency):
            # res.lang.format with grouping, then format_amount's spaces and minus.
            parts = f"{currency.round(amount):.{currency.decimal_places}f}".split(".")
            parts[0] = intersperse(parts[0], grouping, thousands_sep)[0]
            text = lang.decimal_point.join(parts).replace(" ", "\N{NO-BREAK SPACE}")
            return text.replace("-", "-\N{ZERO WIDTH NO-BREAK SPACE}")

        def money(amount, currency):
            if currency.position == "before":
                return f"{currency.symbol or ''}\N{NO-BREAK SPACE}{number(amount, currency)}"
            return f"{number(amount, currency)}\N{NO-BREAK SPACE}{currency.symbol or ''}"

        def money_html(amount, currency):
            symbol, text = currency.symbol or "", number(amount, currency)
            if currency.position == "before":
                return Markup('%s\N{NO-BREAK SPACE}<span class="oe_currency_value">%s</span>') % (symbol, text)
            return Markup('<span class="oe_currency_value">%s</span>\N{NO-BREAK SPACE}%s') % (text, symbol)

        def day(date):
            if not date:
                return ""
            if date not in dates:
                dates[date] = babel.dates.format_date(date, format=date_pattern, locale=locale)
            return dates[date]

        return {"money": money, "money_html": money_html, "day": day}

    @api.model
    def _collections_aging_labels(self):
        """The aging buckets' names, in the order of AGING_LIMITS."""
        return [
            _("Not due yet"),
            _("1-30 days late"),
            _("31-60 days late"),
            _("61-90 days late"),
            _("More than 90 days late"),
        ]

    @api.model
    def _collections_aging(self, invoices, currency, today):
        """[(label, amount)] of what these invoices in ``currency`` owe, by how late they are on ``today``."""
        amounts = [0.0] * len(AGING_LIMITS)
        for invoice in invoices.filtered(lambda m: m.currency_id == currency):
            late = max(0, (today - invoice.invoice_date_due).days) if invoice.invoice_date_due else 0
            index = next(i for i, limit in enumerate(AGING_LIMITS) if limit is None or late <= limit)
            amounts[index] += invoice.amount_residual
        return list(zip(self._collections_aging_labels(), amounts, strict=True))

    @api.model
    def _collections_statement_period(self, date_from, date_to, today):
        """The statement's period: by default the last STATEMENT_DEFAULT_DAYS days to today.

        :raise UserError: a period in the future, backwards or longer than STATEMENT_MAX_DAYS
        """
        date_to = date_to or today
        date_from = date_from or date_to - timedelta(days=STATEMENT_DEFAULT_DAYS)
        if date_to > today:
            raise UserError(_("The period cannot end after today."))
        if date_from > date_to:
            raise UserError(_("The period must start before it ends."))
        if (date_to - date_from).days > STATEMENT_MAX_DAYS:
            raise UserError(_("Choose a period of at most two years."))
        return date_from, date_to

    def _collections_payments_domain(self):
        """The payments received from this customer (and its contacts) that the portal shows."""
        self.ensure_one()
        return [
            ("partner_id", "child_of", self.id),
            ("partner_type", "=", "customer"),
            ("payment_type", "=", "inbound"),
            ("state", "in", ("in_process", "paid")),
        ]

    def _collections_statement(self, date_from=None, date_to=None):
        """The commercial partner's statement of account, as superuser but
        only theirs: the company that sends it, the aging, the open items and
        the payments of the period, per currency.

        :raise UserError: see :meth:`_collections_statement_period`
        """
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        today = fields.Date.context_today(partner)
        date_from, date_to = self._collections_statement_period(date_from, date_to, today)
        invoices = self.env["account.move"]._collections_portal_open_invoices(partner)
        payments = (
            self.env["account.payment"]
            .sudo()
            .search(
                [*partner._collections_payments_domain(), ("date", ">=", date_from), ("date", "<=", date_to)],
                order="date, id",
            )
        )
        sections = []
        for currency in (invoices.currency_id | payments.currency_id).sorted("name"):
            owed = invoices.filtered(lambda m, currency=currency: m.currency_id == currency)
            paid = payments.filtered(lambda p, currency=currency: p.currency_id == currency)
            sections.append(
                {
                    "currency": currency,
                    "aging": self._collections_aging(owed, currency, today),
                    "invoices": owed,
                    "total": currency.round(sum(owed.mapped("amount_residual"))),
                    "payments": paid,
                    "payments_total": currency.round(sum(paid.mapped("amount"))),
                }
            )
        # The company that duns the customer; among several, the one with most open invoices.
        company = (
            max(invoices.company_id, key=lambda c: len(invoices.filtered(lambda m: m.company_id == c)))
            if invoices
            else self.env.company
        )
        return {
            "partner": partner,
            "company": company,
            "today": today,
            "date_from": date_from,
            "date_to": date_to,
            "sections": sections,
        }

    def _collections_statement_pdf(self, date_from=None, date_to=None, lang=None):
        """The statement of account as PDF bytes, in ``lang`` (else the customer's language)."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        lang = lang or partner.lang or "en_US"
        # Every label and figure in the reader's language.
        env = self.with_context(lang=lang).env
        statement = self.with_env(env)._collections_statement(date_from, date_to)
        company = statement["company"].sudo()

        formats = partner.with_env(env)._collections_formats(lang)
        money, day = formats["money"], formats["day"]

        today = statement["today"]
        contact = " · ".join(filter(None, [company.phone, company.email, company.website]))
        if company.vat:
            contact += "\n" + env._("Tax ID: %(vat)s", vat=company.vat)
        data = {
            "title": env._("Statement of Account"),
            "company": {
                "name": company.name,
                "address": company.partner_id._display_address(without_company=True),
                "contact": contact,
                # Odoo's "Your logo" placeholder is no letterhead.
                "logo": base64.b64decode(company.logo)
                if company.logo and company.logo != company._get_logo()
                else None,
            },
            "customer": {
                "name": partner.name,
                "address": partner._display_address(without_company=True),
                "reference": env._("Customer reference: %(ref)s", ref=partner.ref) if partner.ref else "",
            },
            "date_line": env._("Date: %(date)s", date=day(today)),
            "period_line": env._(
                "Payments from %(from)s to %(to)s",
                **{"from": day(statement["date_from"]), "to": day(statement["date_to"])},
            ),
            "labels": {
                "aging": env._("What you owe, by how late"),
                "open_items": env._("Open invoices"),
                "payments": env._("Payments received"),
                "number": env._("Invoice"),
                "date": env._("Date"),
                "due": env._("Due date"),
                "days_late": env._("Days late"),
                "amount_due": env._("Amount due"),
                "amount": env._("Amount"),
                "reference": env._("Reference"),
                "total": env._("Total"),
                "nothing_open": env._("You have no open invoices. Thank you!"),
                "no_payments": env._("No payments in this period."),
                "page": env._("Page %(page)s"),
            },
            "sections": [
                {
                    "currency": section["currency"].name,
                    "aging": [(label, money(amount, section["currency"])) for label, amount in section["aging"]],
                    "items": [
                        (
                            invoice.name,
                            day(invoice.invoice_date),
                            day(invoice.invoice_date_due),
                            str(max(0, (today - invoice.invoice_date_due).days)) if invoice.invoice_date_due else "",
                            money(invoice.amount_residual, invoice.currency_id),
                        )
                        for invoice in section["invoices"]
                    ],
                    "total": money(section["total"], section["currency"]),
                    "payments": [
                        (
                            day(payment.date),
                            payment.memo or payment.name or "",
                            money(payment.amount, payment.currency_id),
                        )
                        for payment in section["payments"]
                    ],
                    "payments_total": money(section["payments_total"], section["currency"]),
                }
                for section in statement["sections"]
            ],
            "closing": env._(
                "Questions about this statement? Contact us at %(contact)s, or pay, promise a date or report a problem "
                "online from the link in our last reminder.",
                contact=company.email or company.phone or company.name,
            ),
        }
        return statement_pdf.render(data)

    def _collections_statement_attachment(self, date_from=None, date_to=None):
        """The statement of account as an attachment on the customer, in their
        language, ready to go with a reminder or an email."""
        self.ensure_one()
        partner = self.commercial_partner_id.sudo()
        today = fields.Date.context_today(partner)
        content = partner._collections_statement_pdf(date_from, date_to)
        name = partner.with_context(lang=partner.lang or "en_US").env._(
            "Statement %(customer)s %(date)s.pdf", customer=partner.name, date=fields.Date.to_string(today)
        )
        return (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": name.replace("/", "-"),
                    "raw": content,
                    "mimetype": "application/pdf",
                    "res_model": "res.partner",
                    "res_id": partner.id,
                }
            )
        )

    def action_collections_statement(self):
        """The Statement button: the customer's statement of account as a PDF, kept on the customer."""
        # A public method: any logged-in user (a portal customer too) could call it over RPC.
        if not self.env.user.has_group(GROUP_COLLECTOR):
            raise AccessError(_("Only collectors can print a customer's statement."))
        self.ensure_one()
        attachment = self._collections_statement_attachment()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }
