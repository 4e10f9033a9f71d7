import hashlib
import hmac as hmac_lib
import math
import re
import secrets
import time
from collections import defaultdict
from urllib.parse import urlencode

from markupsafe import Markup

from odoo import Command, _, fields, http
from odoo.exceptions import MissingError, UserError, ValidationError
from odoo.http import SessionExpiredException, request
from odoo.tools import float_repr, format_date

from odoo.addons.account_payment.controllers.portal import PortalAccount
from odoo.addons.collections_omni.models.collections_stage_action import CHANNELS

from ..models.account_move import PORTAL_OPEN_INVOICE_DOMAIN, portal_record_id
from ..models.collections_dispute import MAX_DESCRIPTION_LENGTH, MAX_EVIDENCE_FILES, MAX_EVIDENCE_SIZE
from ..models.collections_payment_plan import MAX_DECLINE_REASON_LENGTH

HOURS = range(25)
# A note the customer adds to a plan request is kept this short.
MAX_NOTE_LENGTH = 2000
# How many recent payments and messages the balance page shows.
RECENT_LIMIT = 5
# The session key of a visitor who came through a reminder's signed link.
LINK_SESSION_KEY = "collections_link"
# An emailed identity code is valid this long (seconds).
CODE_LIFETIME = 600
# Where the identity check may send the visitor back to.
SAFE_NEXT = re.compile(r"^/my/(collections|contact-preferences)[\w/\-]*(\?[\w=&%.+\-]*)?$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}$")
# How Odoo's payment form pays (payment.transaction's flows).
PAYMENT_FLOWS = ("redirect", "direct", "token")
# A small count (installments) or an hour of the day, in ASCII digits.
SMALL_NUMBER_RE = re.compile(r"[0-9]{1,3}\Z")


class CollectionsCustomerPortal(PortalAccount):
    """Portal routes for the customer's balance, promises and payment plans,
    and the contact preferences behind the consent ledger."""

    # === SIGNED LINKS === #

    def _collections_link_partner(self):
        """The customer whose signed link this visitor opened, while the link
        holds: not expired, not revoked since (checked on every request)."""
        grant = request.session.get(LINK_SESSION_KEY)
        if not grant:
            return request.env["res.partner"]
        partner = request.env["res.partner"].sudo().browse(grant.get("partner_id")).exists()
        if not partner or partner.collections_link_version != grant.get("version") or grant["expires"] < time.time():
            request.session.pop(LINK_SESSION_KEY, None)
            return request.env["res.partner"]
        installed = (
            partner.lang and partner.lang != request.env.lang and request.env["res.lang"]._get_data(code=partner.lang)
        )
        if installed:
            # The link visitor reads in the customer's language, as a logged-in customer would.
            request.update_context(lang=partner.lang)
        return partner

    def _collections_partner(self):
        """The commercial partner whose account the visitor sees: the logged-in
        customer's, or the one of the signed link they came through; anybody
        else is sent to the login page."""
        if not request.env.user._is_public():
            return request.env.user.partner_id.commercial_partner_id
        partner = self._collections_link_partner()
        if not partner:
            raise SessionExpiredException(_("Open the link of your last reminder again, or log in."))
        return partner

    def _collections_needs_check(self):
        """Whether the visitor came through a link and has not passed the identity check yet."""
        if not request.env.user._is_public():
            return False
        grant = request.session.get(LINK_SESSION_KEY) or {}
        return not grant.get("verified")

    def _collections_check_first(self):
        """For the forms with consequences (plan, dispute, contact preferences):
        a response sending a link visitor to the identity check, or None."""
        self._collections_partner()
        if not self._collections_needs_check():
            return None
        path = request.httprequest.path
        if request.httprequest.query_string:
            path += "?" + request.httprequest.query_string.decode("latin-1")
        if request.httprequest.method == "GET":
            return request.redirect("/my/collections/verify?" + urlencode({"next": path}))
        values = self._collections_verify_values(path, error=_("Confirm who you are first, then send the form again."))
        return request.render("collections_portal.portal_collections_verify", values, status=403)

    def _collections_visitor_lang(self, partner=None):
        """Pages for a visitor nobody knows yet in the customer's language if
        the link names one, else in the browser's, among the installed ones."""
        codes = [code for code, _name in request.env["res.lang"].get_installed()]
        lang = partner.lang if partner and partner.lang in codes else None
        if not lang:
            best = request.httprequest.accept_languages.best_match([code.replace("_", "-") for code in codes])
            lang = best.replace("-", "_") if best else None
        if not lang:
            wanted = [value.split("-")[0].lower() for value, _quality in request.httprequest.accept_languages]
            lang = next((code for prefix in wanted for code in codes if code.split("_")[0] == prefix), None)
        if lang and lang != request.env.lang:
            request.update_context(lang=lang)

    def _collections_ip(self):
        return request.httprequest.remote_addr or ""

    def _collections_throttled_page(self):
        self._collections_visitor_lang()
        return request.render("collections_portal.portal_collections_link_throttled", {}, status=429)

    @http.route(
        "/my/collections/access/<string:token>",
        type="http",
        auth="public",
        website=True,
        methods=["GET"],
        sitemap=False,
    )
    def collections_link(self, token, **kwargs):
        """A reminder's link: a genuine, current one opens the customer's page
        without a password; any other is refused with a page that offers a
        fresh link by email. Every attempt is logged and counted."""
        Access = request.env["collections.portal.access"]
        ip = self._collections_ip()
        if Access._throttled(ip):
            return self._collections_throttled_page()
        partner, result = request.env["res.partner"]._collections_check_link(token)
        if partner and Access._throttled(ip, partner):
            return self._collections_throttled_page()
        Access._log(ip, partner, result)
        if result != "ok":
            self._collections_visitor_lang(partner)
            values = {"result": result, "token": token if partner else "", "partner": partner}
            return request.render("collections_portal.portal_collections_link_refused", values, status=403)
        user = request.env.user
        if not user._is_public() and user.partner_id.commercial_partner_id == partner:
            return request.redirect("/my/collections")
        if not user._is_public():
            # Somebody else's session in this browser: the link is the customer's, not theirs.
            request.session.logout(keep_db=True)
        grant = {"partner_id": partner.id, "version": partner.collections_link_version, "verified": False}
        grant["expires"] = int(token.split("-")[2])
        request.session[LINK_SESSION_KEY] = grant
        request.session.should_rotate = True
        return request.redirect("/my/collections")

    @http.route(
        "/my/collections/access/renew", type="http", auth="public", website=True, methods=["POST"], sitemap=False
    )
    def collections_link_renew(self, token=None, email=None, **post):
        """A fresh link by email: to the address on file of the customer of a
        genuine expired or revoked link, or to an address the visitor types if
        a customer has it. The answer is the same whether or not it does."""
        Access = request.env["collections.portal.access"]
        Partner = request.env["res.partner"].sudo()
        ip = self._collections_ip()
        if Access._throttled(ip):
            return self._collections_throttled_page()
        email = (email or "").strip()[:254]
        self._collections_visitor_lang()
        if token:
            partner, result = Partner._collections_check_link(token)
            if partner and Access._throttled(ip, partner):
                return self._collections_throttled_page()
            Access._log(ip, partner, "link_requested")
            if partner:
                partner._collections_send_fresh_link()
        elif EMAIL_RE.match(email):
            contacts = Partner.search([("email", "=ilike", email)], limit=3)
            customers = contacts.commercial_partner_id.filtered("customer_rank")
            Access._log(ip, customers[:1], "link_requested")
            for contact in contacts.filtered(lambda c: c.commercial_partner_id in customers):
                contact.commercial_partner_id._collections_send_fresh_link(email_to=contact.email)
        else:
            values = {"result": "invalid", "token": "", "partner": Partner, "error": _("Enter a valid email address.")}
            return request.render("collections_portal.portal_collections_link_refused", values, status=400)
        return request.render("collections_portal.portal_collections_link_sent", {})

    # === IDENTITY CHECK === #

    def _collections_verify_method(self, partner):
        """How the customer proves who they are: the tax id's last 4 digits if
        we have them, else a code by email, else nothing works online."""
        if len(re.sub(r"\D", "", partner.vat or "")) >= 4:
            return "vat"
        return "email" if partner.email else "none"

    def _collections_verify_values(self, next_url, error=None, sent=False):
        partner = self._collections_partner()
        email = partner.email or ""
        local, _at, domain = email.partition("@")
        return {
            **self._prepare_portal_layout_values(),
            "page_name": "collections_verify",
            "partner": partner,
            "method": self._collections_verify_method(partner),
            "masked_email": (local[:1] + "***@" + domain) if domain else "",
            "next_url": next_url if SAFE_NEXT.match(next_url or "") else "/my/collections",
            "error": error,
            "sent": sent,
        }

    @http.route("/my/collections/verify", type="http", auth="public", website=True, methods=["GET"], sitemap=False)
    def collections_verify(self, next=None, sent=None, **kwargs):  # pylint: disable=redefined-builtin
        if not self._collections_needs_check():
            self._collections_partner()
            return request.redirect(next if SAFE_NEXT.match(next or "") else "/my/collections")
        values = self._collections_verify_values(next, sent=bool(sent))
        return request.render("collections_portal.portal_collections_verify", values)

    @http.route(
        "/my/collections/verify/code", type="http", auth="public", website=True, methods=["POST"], sitemap=False
    )
    def collections_verify_send_code(self, next=None, **post):  # pylint: disable=redefined-builtin
        """Email a 6-digit code to the customer's address on file; the session keeps its hash."""
        partner = self._collections_partner()
        Access = request.env["collections.portal.access"]
        if Access._throttled(self._collections_ip(), partner):
            return self._collections_throttled_page()
        if self._collections_needs_check() and self._collections_verify_method(partner) == "email":
            Access._log(self._collections_ip(), partner, "link_requested")
            code = f"{secrets.randbelow(1000000):06d}"
            grant = dict(request.session[LINK_SESSION_KEY])
            grant["code"] = hashlib.sha256(code.encode()).hexdigest()
            grant["code_expires"] = int(time.time()) + CODE_LIFETIME
            request.session[LINK_SESSION_KEY] = grant
            env = partner.with_context(lang=partner.lang or "en_US").env
            request.env["mail.mail"].sudo().create(
                {
                    "subject": env._("Your code: %(code)s", code=code),
                    "email_to": partner.email,
                    "body_html": Markup("<p>%s</p><p><strong>%s</strong></p>")
                    % (env._("Your code to confirm it is you (valid for 10 minutes):"), code),
                    "auto_delete": True,
                }
            )
        return request.redirect("/my/collections/verify?" + urlencode({"next": next or "", "sent": 1}))

    @http.route("/my/collections/verify", type="http", auth="public", website=True, methods=["POST"], sitemap=False)
    def collections_verify_submit(self, answer=None, next=None, **post):  # pylint: disable=redefined-builtin
        partner = self._collections_partner()
        if not self._collections_needs_check():
            return request.redirect(next if SAFE_NEXT.match(next or "") else "/my/collections")
        Access = request.env["collections.portal.access"]
        ip = self._collections_ip()
        if Access._throttled(ip, partner):
            return self._collections_throttled_page()
        answer = re.sub(r"\s", "", answer or "")[:20]
        grant = dict(request.session[LINK_SESSION_KEY])
        method = self._collections_verify_method(partner)
        if method == "vat":
            expected = re.sub(r"\D", "", partner.vat)[-4:]
            passed = hmac_lib.compare_digest(answer.encode(), expected.encode())
        elif method == "email" and grant.get("code") and grant.get("code_expires", 0) >= time.time():
            passed = hmac_lib.compare_digest(hashlib.sha256(answer.encode()).hexdigest(), grant["code"])
        else:
            passed = False
        Access._log(ip, partner, "check_ok" if passed else "check_failed")
        if not passed:
            error = (
                _("These are not the last 4 digits of your tax ID. Try again.")
                if method == "vat"
                else _("This code is wrong or has expired. Ask for a new code.")
            )
            values = self._collections_verify_values(next, error=error)
            return request.render("collections_portal.portal_collections_verify", values, status=400)
        grant.update(verified=True, code=False)
        request.session[LINK_SESSION_KEY] = grant
        return request.redirect(next if SAFE_NEXT.match(next or "") else "/my/collections")

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "collections_invoice_count" in counters:
            values["collections_invoice_count"] = (
                request.env["account.move"]
                .sudo()
                .search_count(
                    [
                        ("commercial_partner_id", "=", self._collections_partner().id),
                        *PORTAL_OPEN_INVOICE_DOMAIN,
                    ]
                )
            )
        return values

    # === MY BALANCE === #

    def _collections_today(self):
        return fields.Date.context_today(request.env.user)

    def _collections_invoice_rows(self, invoices):
        """What the portal shows of each open invoice: due date, days overdue,
        what is left to pay, the link to Odoo's invoice page (where the
        customer pays online) and why it is on hold, if it is."""
        today = self._collections_today()
        held = invoices._collections_hold_reasons(today)
        hold_labels = request.env["account.move"]._collections_hold_labels()
        invoices._collections_portal_ensure_tokens()
        formats = request.env["res.partner"]._collections_formats()
        money, day = formats["money_html"], formats["day"]
        return [
            {
                "invoice": invoice,
                "days_overdue": max(0, (today - invoice.invoice_date_due).days) if invoice.invoice_date_due else 0,
                "hold": hold_labels.get(held.get(invoice.id)),
                "hold_reason": held.get(invoice.id),
                "url": invoice.get_portal_url(),
                # For the promise form's script, which keeps the amount in step with the ticked invoices.
                "residual": float_repr(invoice.amount_residual, invoice.currency_id.decimal_places),
                "due_label": day(invoice.invoice_date_due),
                "residual_html": money(invoice.amount_residual, invoice.currency_id),
            }
            for invoice in invoices
        ]

    def _collections_totals(self, rows):
        """[{currency, open, overdue, count, label}] per currency, the one with most invoices first."""
        totals = defaultdict(lambda: {"open": 0.0, "overdue": 0.0, "count": 0})
        for row in rows:
            invoice = row["invoice"]
            total = totals[invoice.currency_id]
            total["open"] += invoice.amount_residual
            total["count"] += 1
            if row["days_overdue"]:
                total["overdue"] += invoice.amount_residual
        for total in totals.values():
            total["label"] = (
                _("1 open invoice") if total["count"] == 1 else _("%(count)s open invoices", count=total["count"])
            )
        return sorted(
            ({"currency": currency, **total} for currency, total in totals.items()),
            key=lambda total: (-total["count"], total["currency"].name),
        )

    def _collections_plan_status(self, plan):
        """The plan's state in the customer's words: who has to answer a proposed plan."""
        if plan.state == "proposed":
            return _("Waiting for our answer") if plan.origin == "portal" else _("Waiting for your answer")
        return dict(plan._fields["state"]._description_selection(request.env))[plan.state]

    def _collections_aging(self, rows, currency):
        """[(label, amount)] of the open invoices in ``currency`` by how late they are."""
        invoices = request.env["account.move"].sudo().union(*(row["invoice"] for row in rows))
        return request.env["res.partner"]._collections_aging(invoices, currency, self._collections_today())

    def _collections_recent(self, partner):
        """The customer's last payments and the last reminders we sent them."""
        payments = (
            request.env["account.payment"]
            .sudo()
            .search(partner._collections_payments_domain(), order="date desc, id desc", limit=RECENT_LIMIT)
        )
        messages = (
            request.env["collections.message"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", partner.id),
                    ("direction", "=", "outbound"),
                    ("state", "in", ("sent", "delivered", "read")),
                ],
                order="sent_at desc, id desc",
                limit=RECENT_LIMIT,
            )
        )
        return payments, messages

    def _collections_channel_labels(self):
        # Words for customers, not the back office's channel names.
        return {
            "email": _("Email"),
            "sms": _("Text message (SMS)"),
            "whatsapp": _("WhatsApp"),
            "letter": _("Letter"),
            "call": _("Phone call"),
        }

    def _collections_balance_values(self, partner, **extra):
        invoices = request.env["account.move"]._collections_portal_open_invoices(partner)
        rows = self._collections_invoice_rows(invoices)
        totals = self._collections_totals(rows)
        payments, messages = self._collections_recent(partner)
        upcoming = [row["invoice"].invoice_date_due for row in rows if row["invoice"].invoice_date_due]
        not_yet_due = [due for due in upcoming if due >= self._collections_today()]
        Promise = request.env["collections.promise"]
        promises = Promise._portal_promises(partner)
        plans = request.env["collections.payment.plan"]._portal_plans(partner)
        Dispute = request.env["collections.dispute"]
        return {
            **self._prepare_portal_layout_values(),
            "page_name": "collections_balance",
            "partner": partner,
            # A visitor through a reminder's link has no account: no links to pages that need one.
            "link_visitor": request.env.user._is_public(),
            "rows": rows,
            "totals": totals,
            "aging": self._collections_aging(rows, totals[0]["currency"]) if totals else [],
            "next_due": min(not_yet_due) if not_yet_due else False,
            "payments": payments,
            "messages": messages,
            "channel_labels": self._collections_channel_labels(),
            "promises": promises,
            # The running promises come first; a divider row separates the earlier ones.
            "running_promise_count": len(promises.filtered(lambda promise: promise.state == "open")),
            "promise_states": dict(Promise._fields["state"]._description_selection(request.env)),
            "plans": plans,
            "plan_status": self._collections_plan_status,
            "disputes": Dispute._portal_disputes(partner),
            "dispute_reasons": dict(Dispute._portal_reasons()),
            "dispute_states": dict(Dispute._fields["state"]._description_selection(request.env)),
            "dispute_resolutions": dict(Dispute._fields["resolution"]._description_selection(request.env)),
            "next_installments": {
                plan.id: plan.installment_ids.filtered(lambda i: i.state != "paid")[:1] for plan in plans
            },
            **extra,
        }

    @http.route("/my/collections", type="http", auth="public", website=True, methods=["GET"])
    def collections_balance(self, done=None, **kwargs):
        partner = self._collections_partner()  # first: a link visitor's language comes with it
        messages = {
            "paid": _(
                "Thank you for your payment. The invoices you paid leave your balance and their reminders stop as "
                "soon as the payment is confirmed."
            ),
            "promise": _(
                "Thank you: your promise is recorded. We will not send you reminders for these invoices until the "
                "date you chose."
            ),
            "dispute": _(
                "Thank you for telling us. We are looking into it and will not send you reminders for these invoices "
                "meanwhile."
            ),
        }
        values = self._collections_balance_values(partner, done=messages.get(done))
        return request.render("collections_portal.portal_collections_balance", values)

    # === STATEMENT === #

    def _collections_statement_period(self, form):
        """(date from, date to) the reader chose, None for the defaults.

        :raise UserError: a date that is not one
        """
        return self._collections_parse_date(form.get("date_from")), self._collections_parse_date(form.get("date_to"))

    @http.route("/my/collections/statement", type="http", auth="public", website=True, methods=["GET"])
    def collections_statement(self, **kwargs):
        """The statement of account: the aging, the open items and the payments of a period (by default the
        last 90 days), with its PDF."""
        partner = self._collections_partner()
        formats = request.env["res.partner"]._collections_formats()
        error = None
        try:
            date_from, date_to = self._collections_statement_period(kwargs)
            statement = partner._collections_statement(date_from, date_to)
        except UserError as exception:
            error = exception.args[0]
            statement = partner._collections_statement()
        values = {
            **self._prepare_portal_layout_values(),
            "page_name": "collections_statement",
            "partner": partner,
            "statement": statement,
            # A statement lists every open invoice: their dates and amounts formatted without a widget each.
            **{key: formats[key] for key in ("money_html", "day")},
            "error": error,
            "pdf_url": "/my/collections/statement.pdf?"
            + urlencode(
                {
                    "date_from": fields.Date.to_string(statement["date_from"]),
                    "date_to": fields.Date.to_string(statement["date_to"]),
                }
            ),
        }
        return request.render("collections_portal.portal_collections_statement", values, status=400 if error else 200)

    @http.route("/my/collections/statement.pdf", type="http", auth="public", website=True, methods=["GET"])
    def collections_statement_pdf(self, **kwargs):
        """The statement as a PDF with the company's letterhead, in the reader's language."""
        partner = self._collections_partner()
        try:
            date_from, date_to = self._collections_statement_period(kwargs)
            content = partner._collections_statement_pdf(date_from, date_to, lang=request.env.lang)
        except UserError as error:
            return request.make_response(
                error.args[0], headers=[("Content-Type", "text/plain; charset=utf-8")], status=400
            )
        filename = _("Statement %(customer)s %(date)s.pdf", customer=partner.name, date=self._collections_today())
        return request.make_response(
            content,
            headers=[
                ("Content-Type", "application/pdf"),
                ("Content-Length", str(len(content))),
                ("Content-Disposition", http.content_disposition(filename.replace("/", "-"))),
                ("Cache-Control", "private, no-store"),
            ],
        )

    # === PAY ONLINE === #

    def _collections_pay_selection(self, partner, invoice_ids):
        """The invoices a customer chose to pay in one payment, checked: their
        own open invoices, in one currency and one company.

        :raise UserError: with what is wrong
        """
        ids = request.env["account.move"]._collections_portal_ids(invoice_ids)
        if not ids:
            raise UserError(_("Choose at least one invoice to pay."))
        invoices = request.env["account.move"]._collections_portal_open_invoices(partner, ids)
        if len(invoices) != len(ids):
            raise UserError(
                _("Some of the chosen invoices are not open invoices of your account. Reload the page and try again.")
            )
        if len(invoices.currency_id) > 1 or len(invoices.company_id) > 1:
            raise UserError(
                _("The chosen invoices are in different currencies or from different companies: pay them separately.")
            )
        return invoices

    def _collections_pay_ids(self, kwargs):
        """The invoice ids of the pay link: ``all`` for every open invoice, else the ticked ones."""
        if kwargs.get("all"):
            return request.env["account.move"]._collections_portal_open_invoices(self._collections_partner()).ids
        return request.httprequest.values.getlist("invoice_ids")

    def _collections_pay_what(self, partner, kwargs):
        """(invoices, amount, access token, landing route) of the pay link:
        the next installment of a running plan (``plan_id``), every open
        invoice (``all``) or the ticked ones.

        :raise UserError: with what is wrong
        """
        if kwargs.get("plan_id"):
            Plan = request.env["collections.payment.plan"]
            installment, invoices, amount = Plan._portal_next_installment(partner, kwargs["plan_id"])
            token = f"plan-{installment.plan_id.id}-{installment.id}"
            return invoices, amount, token, f"/my/collections/plans/{installment.plan_id.id}?paid=1"
        invoices = self._collections_pay_selection(partner, self._collections_pay_ids(kwargs))
        amount = invoices.currency_id.round(sum(invoices.mapped("amount_residual")))
        return invoices, amount, ".".join(str(invoice_id) for invoice_id in invoices.ids), "/my/collections?done=paid"

    @http.route("/my/collections/pay", type="http", auth="public", website=True, methods=["GET"], sitemap=False)
    def collections_pay(self, **kwargs):
        """One payment for the chosen invoices (or all of them, or the next
        installment of a plan) through Odoo's payment providers."""
        partner = self._collections_partner()
        try:
            invoices, total, token, landing_route = self._collections_pay_what(partner, kwargs)
        except UserError as error:
            values = self._collections_balance_values(partner, error=error.args[0])
            return request.render("collections_portal.portal_collections_balance", values, status=400)
        currency = invoices.currency_id
        formats = request.env["res.partner"]._collections_formats()
        money, day = formats["money_html"], formats["day"]
        values = {
            **self._prepare_portal_layout_values(),
            "page_name": "collections_pay",
            "partner": partner,
            "pay_invoices": invoices,
            "pay_rows": [
                {
                    "invoice": invoice,
                    "due_label": day(invoice.invoice_date_due),
                    "residual_html": money(invoice.amount_residual, currency),
                }
                for invoice in invoices
            ],
            "installment": token.startswith("plan-")
            and request.env["collections.payment.plan.installment"].sudo().browse(int(token.split("-")[2])),
            "amount": total,
            "currency": currency,
            **self._get_common_page_view_values(
                invoices_data={
                    "partner": partner,
                    "company": invoices.company_id,
                    "total_amount": total,
                    "currency": currency,
                    "amount_residual": total,
                    "payment_reference": False,
                    "landing_route": landing_route,
                    "transaction_route": "/my/collections/pay/transaction",
                },
                # The payment form hands this to the transaction route: what is paid, checked again there.
                access_token=token,
            ),
        }
        return request.render("collections_portal.portal_collections_pay", values)

    def _collections_pay_locked(self, partner, token):
        """(invoices, amount) of a pay token (see :meth:`_collections_pay_what`),
        computed with the invoices locked: what they owe now, not when the page
        was shown.

        :raise UserError: with what is wrong
        """
        if token.startswith("plan-"):
            parts = token.split("-")
            if len(parts) != 3:
                raise UserError(_("This payment plan is not running: there is no installment to pay online."))
            Plan = request.env["collections.payment.plan"]
            installment, invoices, _amount = Plan._portal_next_installment(partner, parts[1])
            invoices._collections_portal_lock()
            installment, invoices, amount = Plan._portal_next_installment(partner, parts[1])
            if str(installment.id) != parts[2]:
                raise UserError(_("This installment is already paid. Reload the page to pay the next one."))
            return invoices, amount
        invoices = self._collections_pay_selection(partner, token.split("."))
        invoices._collections_portal_lock()
        return invoices, invoices.currency_id.round(sum(invoices.mapped("amount_residual")))

    @http.route("/my/collections/pay/transaction", type="json", auth="public", methods=["POST"], sitemap=False)
    def collections_pay_transaction(self, access_token=None, **kwargs):
        """The transaction that pays exactly the chosen invoices (or the next
        installment of a plan, into the plan's invoices), for what they still
        owe (whatever amount the browser sends). The invoices are locked
        first: a second submission of the same selection (a double tap,
        another tab) gets the transaction of the first, never a second one."""
        partner = self._collections_partner()
        try:
            invoices, total = self._collections_pay_locked(partner, access_token or "")
        except UserError as error:
            raise ValidationError(error.args[0]) from error
        self._validate_transaction_kwargs(kwargs)
        # Ids as Odoo's payment form sends them; Odoo itself would take any other value to the database.
        flow = kwargs.get("flow")
        required = ("provider_id", "token_id") if flow == "token" else ("provider_id", "payment_method_id")
        for key in ("provider_id", "payment_method_id", "token_id"):
            value = kwargs.get(key)
            if (key in required or value not in (None, False, "")) and portal_record_id(value) is None:
                raise ValidationError(_("Choose a payment method from the list."))
        if flow not in PAYMENT_FLOWS:  # Odoo takes any other value for a redirection
            raise ValidationError(_("Choose a payment method from the list."))
        currency = invoices.currency_id
        payer = partner if request.env.user._is_public() else request.env.user.partner_id
        provider_id = int(kwargs.get("provider_id") or 0)
        running = (
            request.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("invoice_ids", "in", invoices.ids),
                    ("state", "in", ("draft", "pending", "authorized")),
                    ("provider_id", "=", provider_id),
                    ("token_id", "=", False),
                ],
            )
            .filtered(lambda tx: tx.invoice_ids == invoices and not currency.compare_amounts(tx.amount, total))
        )
        if running:
            return running[:1]._get_processing_values()
        kwargs.update(amount=total, currency_id=currency.id, partner_id=payer.id)
        transaction = self._create_transaction(
            custom_create_values={"invoice_ids": [Command.set(invoices.ids)]}, **kwargs
        )
        return transaction._get_processing_values()

    # === PROMISE TO PAY AND PLAN REQUEST FORMS === #

    def _collections_selected_ids(self):
        """The invoice ids of the form or query string, the ones that are numbers."""
        values = request.httprequest.values.getlist("invoice_ids")
        return {invoice_id for invoice_id in map(portal_record_id, values) if invoice_id is not None}

    def _collections_form_values(self, partner, page_name, error=None, **extra):
        """Values shared by the promise and plan forms: the invoices the
        customer may choose (their open invoices, those on hold greyed out)
        and the ones chosen."""
        invoices = request.env["account.move"]._collections_portal_open_invoices(partner)
        rows = self._collections_invoice_rows(invoices)
        selected = self._collections_selected_ids()
        chosen = invoices.filtered(lambda m: m.id in selected)
        policy = (
            request.env["collections.policy"]
            .sudo()
            ._for_partner(partner, chosen.company_id[:1] or invoices.company_id[:1] or request.env.company)
        )
        max_days, max_installments = policy._portal_limits()
        today = self._collections_today()
        return {
            **self._prepare_portal_layout_values(),
            "page_name": page_name,
            "partner": partner,
            "rows": rows,
            "selected_ids": selected,
            "chosen_total": chosen.currency_id.round(sum(chosen.mapped("amount_residual")))
            if len(chosen.currency_id) == 1
            else False,
            "chosen_currency": chosen.currency_id if len(chosen.currency_id) == 1 else False,
            "today": today,
            "max_date": fields.Date.add(today, days=max_days),
            "latest_hint": _(
                "At the latest %(date)s.", date=format_date(request.env, fields.Date.add(today, days=max_days))
            ),
            "max_installments": max_installments,
            "error": error,
            **extra,
        }

    def _collections_parse_date(self, value):
        try:
            return fields.Date.to_date(value) if value else None
        except ValueError as error:
            raise UserError(_("Enter a valid date.")) from error

    def _collections_parse_amount(self, value):
        value = (value or "").strip()
        if not value:
            return None
        try:
            amount = float(value.replace(",", ".") if value.count(",") == 1 and "." not in value else value)
        except ValueError as error:
            raise UserError(_("Enter the amount as a number, for example 150.50.")) from error
        if not math.isfinite(amount):  # float() reads "nan", "inf" and "1e999" too
            raise UserError(_("Enter the amount as a number, for example 150.50."))
        return amount

    @http.route("/my/collections/promise", type="http", auth="public", website=True, methods=["GET"])
    def collections_promise_form(self, **kwargs):
        values = self._collections_form_values(self._collections_partner(), "collections_promise")
        currency = values["chosen_currency"]
        values.update(
            amount=float_repr(values["chosen_total"], currency.decimal_places) if currency else "",
            promised_date="",
        )
        return request.render("collections_portal.portal_collections_promise", values)

    @http.route("/my/collections/promise", type="http", auth="public", website=True, methods=["POST"])
    def collections_promise_submit(self, amount=None, promised_date=None, **post):
        partner = self._collections_partner()
        try:
            with request.env.cr.savepoint():
                request.env["collections.promise"]._portal_promise(
                    partner,
                    request.httprequest.form.getlist("invoice_ids"),
                    self._collections_parse_amount(amount),
                    self._collections_parse_date(promised_date),
                )
        except UserError as error:
            values = self._collections_form_values(partner, "collections_promise", error=error.args[0])
            values.update(amount=amount or "", promised_date=promised_date or "")
            return request.render("collections_portal.portal_collections_promise", values, status=400)
        return request.redirect("/my/collections?done=promise")

    def _collections_plan_values(self, partner, form, error=None):
        values = self._collections_form_values(partner, "collections_plan_request", error=error)
        values.update(
            frequencies=[
                (code, label)
                for code, label in request.env["collections.payment.plan"]
                ._fields["frequency"]
                ._description_selection(request.env)
            ],
            installment_count=form.get("installment_count") or "3",
            frequency=form.get("frequency") or "monthly",
            start_date=form.get("start_date") or fields.Date.to_string(values["today"]),
            note=form.get("note") or "",
            schedule=None,
        )
        return values

    def _collections_plan_terms(self, form):
        """(installment count, frequency, start date, note) from the plan form."""
        count = form.get("installment_count") or ""
        if not SMALL_NUMBER_RE.match(count):
            raise UserError(_("Choose the number of installments."))
        return (
            int(count),
            form.get("frequency"),
            self._collections_parse_date(form.get("start_date")),
            (form.get("note") or "").strip()[:MAX_NOTE_LENGTH],
        )

    @http.route("/my/collections/plan", type="http", auth="public", website=True, methods=["GET"])
    def collections_plan_form(self, preview=None, **kwargs):
        """The plan form; with ``preview`` (a link may carry the terms) the schedule too."""
        if check := self._collections_check_first():
            return check
        partner = self._collections_partner()
        if preview:
            return self._collections_plan_preview(partner, kwargs, request.httprequest.args.getlist("invoice_ids"))
        values = self._collections_plan_values(partner, kwargs)
        return request.render("collections_portal.portal_collections_plan_request", values)

    def _collections_plan_preview(self, partner, form, invoice_ids):
        """The form with the schedule the engine computes for its terms; nothing is written."""
        try:
            count, frequency, start_date, _note = self._collections_plan_terms(form)
            invoices, schedule = request.env["collections.payment.plan"]._portal_schedule(
                partner, invoice_ids, count, frequency, start_date
            )
        except UserError as error:
            values = self._collections_plan_values(partner, form, error=error.args[0])
            return request.render("collections_portal.portal_collections_plan_request", values, status=400)
        values = self._collections_plan_values(partner, form)
        company = invoices.company_id
        policy = request.env["collections.policy"].sudo()._for_partner(partner, company)
        total = sum(amount for _sequence, _due, amount in schedule)
        values.update(
            schedule=schedule,
            schedule_currency=invoices.currency_id,
            # Said before sending: such a request starts at once (collections.payment.plan._portal_request).
            approved_at_once=policy._portal_approves(total, invoices.currency_id, company, self._collections_today()),
        )
        return request.render("collections_portal.portal_collections_plan_request", values)

    @http.route("/my/collections/plan", type="http", auth="public", website=True, methods=["POST"])
    def collections_plan_submit(self, **post):
        """'Show the schedule' re-renders the form with the schedule the
        engine computes; 'Send' creates the proposed plan."""
        if check := self._collections_check_first():
            return check
        partner = self._collections_partner()
        invoice_ids = request.httprequest.form.getlist("invoice_ids")
        if "submit" not in post:
            return self._collections_plan_preview(partner, post, invoice_ids)
        try:
            count, frequency, start_date, note = self._collections_plan_terms(post)
            with request.env.cr.savepoint():
                plan = request.env["collections.payment.plan"]._portal_request(
                    partner, invoice_ids, count, frequency, start_date, note=note
                )
        except UserError as error:
            values = self._collections_plan_values(partner, post, error=error.args[0])
            return request.render("collections_portal.portal_collections_plan_request", values, status=400)
        return request.redirect(
            f"/my/collections/plans/{plan.id}?{'approved' if plan.state == 'active' else 'requested'}=1"
        )

    # === DISPUTES === #

    def _collections_dispute_values(self, partner, form, error=None):
        values = self._collections_form_values(partner, "collections_dispute", error=error)
        values.update(
            reasons=request.env["collections.dispute"]._portal_reasons(),
            reason=form.get("reason") or "",
            description=form.get("description") or "",
            max_description_length=MAX_DESCRIPTION_LENGTH,
            files_hint=_(
                "PDF, PNG or JPEG; up to %(count)s files of at most %(size)s MB each.",
                count=MAX_EVIDENCE_FILES,
                size=MAX_EVIDENCE_SIZE // (1024 * 1024),
            ),
            # Invoices in a plan or promised may be disputed too; only those already disputed may not.
            selectable_holds=("payment_plan", "promise"),
        )
        return values

    @http.route("/my/collections/dispute", type="http", auth="public", website=True, methods=["GET"])
    def collections_dispute_form(self, **kwargs):
        if check := self._collections_check_first():
            return check
        values = self._collections_dispute_values(self._collections_partner(), kwargs)
        return request.render("collections_portal.portal_collections_dispute", values)

    @http.route("/my/collections/dispute", type="http", auth="public", website=True, methods=["POST"])
    def collections_dispute_submit(self, reason=None, description=None, **post):
        """The customer disputes the ticked invoices with a reason, their words and files."""
        if check := self._collections_check_first():
            return check
        partner = self._collections_partner()
        files = [
            (upload.filename, upload.read(MAX_EVIDENCE_SIZE + 1))
            for upload in request.httprequest.files.getlist("attachments")
            if upload.filename
        ]
        try:
            with request.env.cr.savepoint():
                request.env["collections.dispute"]._portal_dispute(
                    partner, request.httprequest.form.getlist("invoice_ids"), reason, description, files
                )
        except UserError as error:
            values = self._collections_dispute_values(partner, post | {"reason": reason, "description": description})
            values["error"] = error.args[0]
            return request.render("collections_portal.portal_collections_dispute", values, status=400)
        return request.redirect("/my/collections?done=dispute")

    # === PLANS === #

    @http.route("/my/collections/plans/<int:plan_id>", type="http", auth="public", website=True, methods=["GET"])
    def collections_plan(
        self, plan_id, requested=None, approved=None, accepted=None, declined=None, paid=None, **kwargs
    ):
        return self._collections_plan_page(
            plan_id,
            requested=bool(requested),
            approved=bool(approved),
            accepted=bool(accepted),
            declined=bool(declined),
            paid=bool(paid),
        )

    def _collections_plan_page(self, plan_id, error=None, decline_reason=None, status=200, **flags):
        """The plan page; after a refused answer, with the error and the reason the customer wrote."""
        partner = self._collections_partner()
        plan = request.env["collections.payment.plan"]._portal_plans(partner, plan_id)
        if not plan:
            raise request.not_found()
        open_invoices = plan._open_invoices_oldest_first()
        values = {
            **self._prepare_portal_layout_values(),
            "page_name": "collections_plan",
            "plan": plan,
            "plan_status": self._collections_plan_status,
            "installment_states": dict(plan.installment_ids._fields["state"]._description_selection(request.env)),
            "frequency_label": dict(plan._fields["frequency"]._description_selection(request.env))[plan.frequency],
            "invoice_urls": {invoice.id: invoice.get_portal_url() for invoice in plan.move_ids},
            # After declining: the plan form with the invoices still open ticked.
            "request_url": "/my/collections/plan?" + urlencode([("invoice_ids", i) for i in open_invoices.ids]),
            "requested": False,
            "approved": False,
            "accepted": False,
            "declined": False,
            "paid": False,
            "next_installment": plan.installment_ids.filtered(lambda i: i.state != "paid")[:1],
            **flags,
            "error": error,
            "decline_reason": decline_reason or "",
            # A refused decline shows its form open again, with what the customer wrote.
            "decline_refused": decline_reason is not None,
            "max_decline_reason_length": MAX_DECLINE_REASON_LENGTH,
        }
        return request.render("collections_portal.portal_collections_plan", values, status=status)

    @http.route(
        "/my/collections/plans/<int:plan_id>/accept", type="http", auth="public", website=True, methods=["POST"]
    )
    def collections_plan_accept(self, plan_id, **post):
        if check := self._collections_check_first():
            return check
        try:
            with request.env.cr.savepoint():
                request.env["collections.payment.plan"]._portal_accept(self._collections_partner(), plan_id)
        except MissingError as error:
            raise request.not_found() from error
        except UserError as error:
            return self._collections_plan_page(plan_id, error=error.args[0], status=400)
        return request.redirect(f"/my/collections/plans/{plan_id}?accepted=1")

    @http.route(
        "/my/collections/plans/<int:plan_id>/decline", type="http", auth="public", website=True, methods=["POST"]
    )
    def collections_plan_decline(self, plan_id, reason=None, **post):
        """The customer declines a plan proposed to them; a refusal keeps the reason they wrote."""
        if check := self._collections_check_first():
            return check
        try:
            with request.env.cr.savepoint():
                request.env["collections.payment.plan"]._portal_decline(self._collections_partner(), plan_id, reason)
        except MissingError as error:
            raise request.not_found() from error
        except UserError as error:
            return self._collections_plan_page(plan_id, error=error.args[0], decline_reason=reason or "", status=400)
        return request.redirect(f"/my/collections/plans/{plan_id}?declined=1")

    def _contact_preferences_values(self, partner, error=None, saved=False):
        Consent = request.env["collections.consent"].sudo()
        companies = Consent._contacting_companies(partner)
        # Opted out with any company that contacts the customer shows as not allowed.
        opted_out = {
            code
            for company in companies
            for (_partner_id, code), value in Consent._status_by_partner(partner, company).items()
            if value == "opt_out"
        }
        channel, hours = Consent._preferences_by_partner(partner, companies[:1]).get(partner.id, (False, None))
        labels = self._collections_channel_labels()
        return {
            "page_name": "collections_contact_preferences",
            "partner": partner,
            "channels": [(code, labels[code], code not in opted_out) for code, _label in CHANNELS],
            "preferred_channel": channel,
            "hour_from": hours[0] // 60 if hours else False,
            "hour_to": hours[1] // 60 if hours else False,
            "hours": HOURS,
            "error": error,
            "saved": saved,
        }

    @http.route("/my/contact-preferences", type="http", auth="public", website=True, methods=["GET"])
    def collections_contact_preferences(self, saved=None, **kwargs):
        if check := self._collections_check_first():
            return check
        values = self._contact_preferences_values(self._collections_partner(), saved=bool(saved))
        return request.render("collections_portal.portal_contact_preferences", values)

    @http.route("/my/contact-preferences", type="http", auth="public", website=True, methods=["POST"])
    def collections_contact_preferences_save(self, **post):
        """Every change lands in the consent ledger with the portal as its source;
        unchanged channels record nothing."""
        if check := self._collections_check_first():
            return check
        partner = self._collections_partner()
        channel_codes = {code for code, _label in CHANNELS}
        preferred = post.get("preferred_channel") or False
        hour_from, hour_to = post.get("hour_from") or "", post.get("hour_to") or ""
        error = None
        if preferred and preferred not in channel_codes:
            error = _("Unknown channel.")
        elif bool(hour_from) != bool(hour_to):
            error = _("Choose both the start and the end of your preferred hours, or neither.")
        elif hour_from and not (
            SMALL_NUMBER_RE.match(hour_from) and SMALL_NUMBER_RE.match(hour_to) and int(hour_from) < int(hour_to) <= 24
        ):
            error = _("Your preferred hours must end after they start.")
        elif preferred and not post.get(f"allow_{preferred}"):
            error = _("Your preferred channel must be one you allow us to use.")
        if error:
            values = self._contact_preferences_values(partner, error=error)
            return request.render("collections_portal.portal_contact_preferences", values, status=400)
        Consent = request.env["collections.consent"].sudo()
        wanted_hours = (int(hour_from) * 60, int(hour_to) * 60) if hour_from else None
        # The customer's choice goes to every company that contacts it (each is a data controller).
        for company in Consent._contacting_companies(partner):
            status = Consent._status_by_partner(partner, company)
            for code in sorted(channel_codes):
                allowed = bool(post.get(f"allow_{code}"))
                was_allowed = status.get((partner.id, code)) != "opt_out"
                if allowed != was_allowed:
                    Consent._record(partner, code, "opt_in" if allowed else "opt_out", "portal", company=company)
            current = Consent._preferences_by_partner(partner, company).get(partner.id, (False, None))
            if (preferred, wanted_hours) != current:
                Consent._record(
                    partner,
                    preferred,
                    "preference",
                    "portal",
                    hour_from=int(hour_from or 0),
                    hour_to=int(hour_to or 0),
                    company=company,
                )
        return request.redirect("/my/contact-preferences?saved=1")
