from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_date

from ..tools import sql_rules
from ..tools.rules import PROMISE_STATES

PROMISE_SOURCES = [
    ("portal", "Customer Portal"),
    ("whatsapp", "WhatsApp"),
    ("call", "Phone Call"),
    ("email", "Email"),
    ("other", "Other"),
]


class CollectionsPromise(models.Model):
    """A customer's promise to pay an amount by a date.

    Until the date its invoices (or, without invoices, all its customer's)
    are not dunned. It is kept as soon as payments reconciled since the
    promise, on those invoices, cover the amount by the date; the day after
    the date an uncovered promise is broken and the policy says what follows.
    """

    _name = "collections.promise"
    _description = "Collections Promise to Pay"
    _inherit = ["collections.hold.mixin"]
    _order = "promised_date desc, id desc"
    _check_company_auto = True
    _hold_one_currency = True  # the promised amount is in one currency

    move_ids = fields.Many2many(
        "account.move",
        "collections_promise_account_move_rel",
        "promise_id",
        "move_id",
        string="Invoices",
        check_company=True,
        domain="[('move_type', '=', 'out_invoice'), ('state', '=', 'posted'), "
        "('commercial_partner_id', '=', partner_id), ('currency_id', '=', currency_id)]",
        help="Leave empty when the promise is about the customer's whole balance.",
    )
    currency_id = fields.Many2one(
        "res.currency", required=True, default=lambda self: self.env.company.currency_id, tracking=True
    )
    amount = fields.Monetary(required=True, tracking=True)
    date = fields.Date(
        string="Promised On", required=True, default=fields.Date.context_today, help="Payments count from this day."
    )
    promised_date = fields.Date(string="Pay By", required=True, tracking=True, index=True)
    source = fields.Selection(PROMISE_SOURCES, required=True, default="call")
    state = fields.Selection(
        PROMISE_STATES,
        required=True,
        default="open",
        tracking=True,
        index=True,
        copy=False,
    )
    amount_paid = fields.Monetary(string="Paid So Far", readonly=True, copy=False)
    user_id = fields.Many2one(
        "res.users",
        string="Collector",
        default=lambda self: self.env.user,
        tracking=True,
        help="Told when the promise is broken.",
    )
    policy_id = fields.Many2one(
        "collections.policy", compute="_compute_policy_id", store=True, readonly=False, check_company=True
    )
    hold_after_break = fields.Boolean(
        readonly=True, copy=False, help="Broken under a policy that keeps dunning on hold until the collector decides."
    )
    end_date = fields.Date(string="Settled On", readonly=True, copy=False)
    note = fields.Text()

    @api.depends("partner_id", "company_id")
    def _compute_policy_id(self):
        Policy = self.env["collections.policy"]
        for promise in self:
            promise.policy_id = (
                Policy._for_partner(promise.partner_id, promise.company_id) if promise.partner_id else False
            )

    @api.depends("partner_id", "amount", "currency_id", "promised_date")
    @api.depends_context("lang")
    def _compute_display_name(self):
        for promise in self:
            promise.display_name = _(
                "%(customer)s: %(amount)s by %(date)s",
                customer=promise.partner_id.display_name or "",
                amount=promise.currency_id.format(promise.amount),
                date=format_date(self.env, promise.promised_date) if promise.promised_date else "",
            )

    @api.constrains("amount", "date", "promised_date", "move_ids", "partner_id", "currency_id")
    def _check_promise(self):
        for promise in self:
            if promise.currency_id.compare_amounts(promise.amount, 0) <= 0:
                raise ValidationError(_("A promise to pay needs a positive amount."))
            if promise.promised_date < promise.date:
                raise ValidationError(_("The promised date cannot be before the day of the promise."))
        self._check_customer_invoices()

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("Promises are part of the customer's history: cancel them instead of deleting them."))

    @api.model_create_multi
    def create(self, vals_list):
        promises = super().create(vals_list)
        promises._stop_pending_messages()
        return promises

    def _stop_pending_messages(self):
        """While the promise runs, reminders already planned for what it covers
        (without invoices: everything its customer owes) are dropped."""
        self.env["collections.message"]._recheck_pending(
            moves=self.move_ids, partners=self.filtered(lambda p: not p.move_ids).partner_id
        )

    def action_cancel(self):
        self.filtered(lambda p: p.state in ("open", "broken")).write(
            {"state": "cancelled", "hold_after_break": False, "end_date": fields.Date.context_today(self)}
        )
        return True

    # === EVALUATION === #

    def _paid_amounts(self):
        """{promise id: amount} paid towards each promise: reconciled (payment,
        statement line or credit note) between the day of the promise and the
        promised date, on its invoices or, without invoices, on any of its
        customer's invoices in its currency. One statement for all promises."""
        if not self:
            return {}
        self.env.flush_all()
        invoices = SQL("m.currency_id = pr.currency_id AND m.move_type = 'out_invoice' AND m.state = 'posted'")
        promises = SQL("pr.id = ANY(%s)", self.ids)
        self.env.cr.execute(
            SQL(
                """
            SELECT pr.id, COALESCE(sum(apr.debit_amount_currency), 0)
              FROM (%s) covered
              JOIN collections_promise pr ON pr.id = covered.promise_id
              JOIN account_move_line aml ON aml.move_id = covered.move_id AND aml.display_type = 'payment_term'
              JOIN account_partial_reconcile apr ON apr.debit_move_id = aml.id
             WHERE apr.max_date BETWEEN pr.date AND pr.promised_date
          GROUP BY pr.id
            """,
                sql_rules.promise_invoices(promises, invoices),
            )
        )
        return dict(self.env.cr.fetchall())

    def _evaluate(self, today=None, break_due=True):
        """Kept when covered; broken (with the policy's consequences) once the
        promised date has passed uncovered, when ``break_due``."""
        today = today or fields.Date.context_today(self)
        promises = self.filtered(lambda p: p.state == "open")
        paid = promises._paid_amounts()
        kept, broken = self.browse(), self.browse()
        for promise in promises:
            amount_paid = paid.get(promise.id, 0.0)
            if promise.currency_id.compare_amounts(amount_paid, promise.amount_paid) != 0:
                promise.amount_paid = amount_paid
            if promise.currency_id.compare_amounts(amount_paid, promise.amount) >= 0:
                kept |= promise
            elif break_due and promise.promised_date < today:
                broken |= promise
        if kept:
            kept.write({"state": "kept", "end_date": today})
            self.env["collections.note"]._post(kept, "promise_kept")
        broken._break(today)

    def _break(self, today):
        """Broken: the policy's broken_promise_action says what follows."""
        action_of = {promise: promise.policy_id.broken_promise_action or "resume_activity" for promise in self}
        holding = self.filtered(lambda p: action_of[p] == "activity")
        holding.write({"state": "broken", "end_date": today, "hold_after_break": True})
        (self - holding).write({"state": "broken", "end_date": today, "hold_after_break": False})
        self.filtered(lambda p: action_of[p] == "escalate")._escalate_invoices()
        then_of = {
            "resume": "dunning_resumes",
            "resume_activity": "dunning_resumes",
            "activity": "promise_holds",
            "escalate": "promise_escalates",
        }
        Note = self.env["collections.note"]
        for promise in self:
            # Codes and values: the chatter and the collector's to-do read in their reader's language.
            args = {
                "amount": promise.amount,
                "paid": promise.amount_paid,
                "currency_id": promise.currency_id.id,
                "date": fields.Date.to_string(promise.promised_date),
            }
            then = then_of[action_of[promise]]
            Note._post(promise, "promise_broken", then=then, **args)
            if action_of[promise] != "resume":
                promise._tell_collector(
                    "promise_broken", note=then, deadline=today, activity="mail.mail_activity_data_call", **args
                )

    def _escalate_invoices(self):
        """The open invoices these promises cover move on to their policy's next
        stage at the next run, whatever their days overdue (see
        collections.move.state's ``escalate``). One statement for all promises."""
        if not self:
            return
        self.env.flush_all()
        covered = sql_rules.promise_invoices(SQL("pr.id = ANY(%s)", self.ids), sql_rules.open_invoice("m"))
        self.env.cr.execute(
            SQL(
                """
            INSERT INTO collections_move_state AS st (move_id, company_id, escalate)
            SELECT DISTINCT m.id, m.company_id, TRUE
              FROM (%s) covered
              JOIN account_move m ON m.id = covered.move_id
            ON CONFLICT (move_id) DO UPDATE SET escalate = TRUE
            """,
                covered,
            )
        )
        self.env["collections.move.state"].invalidate_model(["escalate"])

    @api.model
    def _cron_check(self):
        """Daily: promises covered are kept, those past their date uncovered are broken."""
        self.search([("state", "=", "open")])._evaluate()

    @api.model
    def _on_payments(self, invoices):
        """Payments touched these invoices: promises they cover are kept at once."""
        invoices.fetch(["commercial_partner_id"])  # that column alone, not every column of thousands
        promises = self.search(
            [
                ("state", "=", "open"),
                "|",
                ("move_ids", "in", invoices.ids),
                "&",
                ("move_ids", "=", False),
                ("partner_id", "in", invoices.commercial_partner_id.ids),
            ]
        )
        promises._evaluate(break_due=False)
