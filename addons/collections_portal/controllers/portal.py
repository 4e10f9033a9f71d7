from collections import defaultdict
from urllib.parse import urlencode

from odoo import _, fields, http
from odoo.exceptions import MissingError, UserError
from odoo.http import request
from odoo.tools import float_repr, format_date

from odoo.addons.collections_omni.models.collections_stage_action import CHANNELS
from odoo.addons.portal.controllers.portal import CustomerPortal

from ..models.account_move import PORTAL_OPEN_INVOICE_DOMAIN
from ..models.collections_payment_plan import MAX_DECLINE_REASON_LENGTH

HOURS = range(25)
# A note the customer adds to a plan request is kept this short.
MAX_NOTE_LENGTH = 2000


class CollectionsCustomerPortal(CustomerPortal):
    """Portal routes for the customer's balance, promises and payment plans,
    and the contact preferences behind the consent ledger."""

    def _collections_partner(self):
        return request.env.user.partner_id.commercial_partner_id

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
        return [
            {
                "invoice": invoice,
                "days_overdue": max(0, (today - invoice.invoice_date_due).days) if invoice.invoice_date_due else 0,
                "hold": hold_labels.get(held.get(invoice.id)),
                "url": invoice.get_portal_url(),
                # For the promise form's script, which keeps the amount in step with the ticked invoices.
                "residual": float_repr(invoice.amount_residual, invoice.currency_id.decimal_places),
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

    def _collections_balance_values(self, partner, **extra):
        invoices = request.env["account.move"]._collections_portal_open_invoices(partner)
        rows = self._collections_invoice_rows(invoices)
        Promise = request.env["collections.promise"]
        promises = Promise._portal_promises(partner)
        plans = request.env["collections.payment.plan"]._portal_plans(partner)
        return {
            **self._prepare_portal_layout_values(),
            "page_name": "collections_balance",
            "partner": partner,
            "rows": rows,
            "totals": self._collections_totals(rows),
            "promises": promises,
            # The running promises come first; a divider row separates the earlier ones.
            "running_promise_count": len(promises.filtered(lambda promise: promise.state == "open")),
            "promise_states": dict(Promise._fields["state"]._description_selection(request.env)),
            "plans": plans,
            "plan_status": self._collections_plan_status,
            "next_installments": {
                plan.id: plan.installment_ids.filtered(lambda i: i.state != "paid")[:1] for plan in plans
            },
            **extra,
        }

    @http.route("/my/collections", type="http", auth="user", website=True, methods=["GET"])
    def collections_balance(self, done=None, **kwargs):
        messages = {
            "promise": _(
                "Thank you: your promise is recorded. We will not send you reminders for these invoices until the "
                "date you chose."
            ),
        }
        values = self._collections_balance_values(self._collections_partner(), done=messages.get(done))
        return request.render("collections_portal.portal_collections_balance", values)

    # === PROMISE TO PAY AND PLAN REQUEST FORMS === #

    def _collections_selected_ids(self):
        """The invoice ids of the form or query string, the ones that are numbers."""
        values = request.httprequest.values.getlist("invoice_ids")
        return {int(value) for value in values if value.isdigit()}

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
            return float(value.replace(",", ".") if value.count(",") == 1 and "." not in value else value)
        except ValueError as error:
            raise UserError(_("Enter the amount as a number, for example 150.50.")) from error

    @http.route("/my/collections/promise", type="http", auth="user", website=True, methods=["GET"])
    def collections_promise_form(self, **kwargs):
        values = self._collections_form_values(self._collections_partner(), "collections_promise")
        currency = values["chosen_currency"]
        values.update(
            amount=float_repr(values["chosen_total"], currency.decimal_places) if currency else "",
            promised_date="",
        )
        return request.render("collections_portal.portal_collections_promise", values)

    @http.route("/my/collections/promise", type="http", auth="user", website=True, methods=["POST"])
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
        if not count.isdigit():
            raise UserError(_("Choose the number of installments."))
        return (
            int(count),
            form.get("frequency"),
            self._collections_parse_date(form.get("start_date")),
            (form.get("note") or "").strip()[:MAX_NOTE_LENGTH],
        )

    @http.route("/my/collections/plan", type="http", auth="user", website=True, methods=["GET"])
    def collections_plan_form(self, preview=None, **kwargs):
        """The plan form; with ``preview`` (a link may carry the terms) the schedule too."""
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
        values.update(schedule=schedule, schedule_currency=invoices.currency_id)
        return request.render("collections_portal.portal_collections_plan_request", values)

    @http.route("/my/collections/plan", type="http", auth="user", website=True, methods=["POST"])
    def collections_plan_submit(self, **post):
        """'Show the schedule' re-renders the form with the schedule the
        engine computes; 'Send' creates the proposed plan."""
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
        return request.redirect(f"/my/collections/plans/{plan.id}?requested=1")

    # === PLANS === #

    @http.route("/my/collections/plans/<int:plan_id>", type="http", auth="user", website=True, methods=["GET"])
    def collections_plan(self, plan_id, requested=None, accepted=None, declined=None, **kwargs):
        return self._collections_plan_page(
            plan_id, requested=bool(requested), accepted=bool(accepted), declined=bool(declined)
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
            "accepted": False,
            "declined": False,
            **flags,
            "error": error,
            "decline_reason": decline_reason or "",
            # A refused decline shows its form open again, with what the customer wrote.
            "decline_refused": decline_reason is not None,
            "max_decline_reason_length": MAX_DECLINE_REASON_LENGTH,
        }
        return request.render("collections_portal.portal_collections_plan", values, status=status)

    @http.route("/my/collections/plans/<int:plan_id>/accept", type="http", auth="user", website=True, methods=["POST"])
    def collections_plan_accept(self, plan_id, **post):
        try:
            with request.env.cr.savepoint():
                request.env["collections.payment.plan"]._portal_accept(self._collections_partner(), plan_id)
        except MissingError as error:
            raise request.not_found() from error
        except UserError as error:
            return self._collections_plan_page(plan_id, error=error.args[0], status=400)
        return request.redirect(f"/my/collections/plans/{plan_id}?accepted=1")

    @http.route("/my/collections/plans/<int:plan_id>/decline", type="http", auth="user", website=True, methods=["POST"])
    def collections_plan_decline(self, plan_id, reason=None, **post):
        """The customer declines a plan proposed to them; a refusal keeps the reason they wrote."""
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
        status = Consent._status_by_partner(partner)
        channel, hours = Consent._preferences_by_partner(partner).get(partner.id, (False, None))
        # Words for customers, not the back office's channel names.
        labels = {
            "email": _("Email"),
            "sms": _("Text message (SMS)"),
            "whatsapp": _("WhatsApp"),
            "letter": _("Letter"),
            "call": _("Phone call"),
        }
        return {
            "page_name": "collections_contact_preferences",
            "partner": partner,
            "channels": [
                (code, labels[code], status.get((partner.id, code)) != "opt_out") for code, _label in CHANNELS
            ],
            "preferred_channel": channel,
            "hour_from": hours[0] // 60 if hours else False,
            "hour_to": hours[1] // 60 if hours else False,
            "hours": HOURS,
            "error": error,
            "saved": saved,
        }

    @http.route("/my/contact-preferences", type="http", auth="user", website=True, methods=["GET"])
    def collections_contact_preferences(self, saved=None, **kwargs):
        values = self._contact_preferences_values(self._collections_partner(), saved=bool(saved))
        return request.render("collections_portal.portal_contact_preferences", values)

    @http.route("/my/contact-preferences", type="http", auth="user", website=True, methods=["POST"])
    def collections_contact_preferences_save(self, **post):
        """Every change lands in the consent ledger with the portal as its source;
        unchanged channels record nothing."""
        partner = self._collections_partner()
        channel_codes = {code for code, _label in CHANNELS}
        preferred = post.get("preferred_channel") or False
        hour_from, hour_to = post.get("hour_from") or "", post.get("hour_to") or ""
        error = None
        if preferred and preferred not in channel_codes:
            error = _("Unknown channel.")
        elif bool(hour_from) != bool(hour_to):
            error = _("Choose both the start and the end of your preferred hours, or neither.")
        elif hour_from and not (hour_from.isdigit() and hour_to.isdigit() and int(hour_from) < int(hour_to) <= 24):
            error = _("Your preferred hours must end after they start.")
        elif preferred and not post.get(f"allow_{preferred}"):
            error = _("Your preferred channel must be one you allow us to use.")
        if error:
            values = self._contact_preferences_values(partner, error=error)
            return request.render("collections_portal.portal_contact_preferences", values, status=400)
        Consent = request.env["collections.consent"].sudo()
        status = Consent._status_by_partner(partner)
        for code in sorted(channel_codes):
            allowed = bool(post.get(f"allow_{code}"))
            was_allowed = status.get((partner.id, code)) != "opt_out"
            if allowed != was_allowed:
                Consent._record(partner, code, "opt_in" if allowed else "opt_out", "portal")
        current = Consent._preferences_by_partner(partner).get(partner.id, (False, None))
        wanted_hours = (int(hour_from) * 60, int(hour_to) * 60) if hour_from else None
        if (preferred, wanted_hours) != current:
            Consent._record(
                partner,
                preferred,
                "preference",
                "portal",
                hour_from=int(hour_from or 0),
                hour_to=int(hour_to or 0),
            )
        return request.redirect("/my/contact-preferences?saved=1")
