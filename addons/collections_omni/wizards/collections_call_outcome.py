from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ..tools import sql_rules

OUTCOMES = [
    ("no_answer", "No answer"),
    ("promised", "Promised to pay"),
    ("disputed", "Disputes the debt"),
    ("paid", "Says it is paid"),
    ("wrong_number", "Wrong number"),
    ("callback", "Call back later"),
]


# Outcomes where the call reached the person (a "telephone conversation").
CONVERSATIONS = ("promised", "disputed", "paid", "callback")


class CollectionsCallOutcome(models.TransientModel):
    """What came of a collections call: logged as a contact in the audit
    trail, with its consequence on the customer."""

    _name = "collections.call.outcome"
    _description = "Collections Call Outcome"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    outcome = fields.Selection(OUTCOMES, required=True, default="no_answer")
    note = fields.Text()
    rule_warning = fields.Char(compute="_compute_rule_warning", string="Contact Rules")
    exception_reason = fields.Char(
        string="Reason for the Exception", help="Required when this call breaks the customer's contact rules."
    )
    next_date = fields.Date(
        string="Follow-up Date", help="Promise date, or when to call back; becomes the customer's next action."
    )
    currency_id = fields.Many2one("res.currency", default=lambda self: self.env.company.currency_id)
    promise_amount = fields.Monetary(
        string="Promised Amount",
        compute="_compute_promise_amount",
        store=True,
        readonly=False,
        help="Records a promise to pay: until the date the customer is not dunned. Zero records none.",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "res.partner" and self.env.context.get("active_id"):
            values.setdefault("partner_id", self.env.context["active_id"])
        return values

    @api.depends("partner_id", "outcome")
    def _compute_promise_amount(self):
        """What the customer owes overdue in the company currency, as a start."""
        today = fields.Date.context_today(self)
        for wizard in self:
            if wizard.outcome != "promised" or not wizard.partner_id:
                wizard.promise_amount = 0.0
                continue
            groups = self.env["account.move"]._read_group(
                [
                    ("commercial_partner_id", "=", wizard.partner_id.commercial_partner_id.id),
                    ("company_id", "=", self.env.company.id),
                    *sql_rules.OPEN_INVOICE_DOMAIN,
                    *sql_rules.overdue_domain(today),
                ],
                aggregates=["amount_residual_signed:sum"],
            )
            wizard.promise_amount = (groups[0][0] if groups else 0.0) or 0.0

    @api.depends("partner_id")
    def _compute_rule_warning(self):
        for wizard in self:
            partner = wizard.partner_id.commercial_partner_id
            moment, reason = self.env["collections.message"]._next_contact_for(partner, "call") if partner else (0, "")
            allowed_now = moment and moment <= fields.Datetime.now()
            wizard.rule_warning = False if allowed_now else reason

    def _open_dispute(self, partner):
        """The customer disputes the debt on the phone: a dispute over its open
        overdue invoices, owned by the collector, with what was said."""
        invoices = self.env["account.move"].search(
            [
                ("commercial_partner_id", "=", partner.id),
                ("company_id", "=", self.env.company.id),
                *sql_rules.OPEN_INVOICE_DOMAIN,
                *sql_rules.overdue_domain(fields.Date.context_today(self)),
            ]
        )
        if not invoices:
            return self.env["collections.dispute"]
        return self.env["collections.dispute"].create(
            {
                "company_id": self.env.company.id,
                "partner_id": partner.id,
                "move_ids": [Command.set(invoices.ids)],
                "reason": "other",
                "description": self.note or _("Disputed on the phone"),
            }
        )

    def action_confirm(self):
        self.ensure_one()
        self.env["collections.message"]._check_collector()
        partner = self.partner_id.commercial_partner_id
        if self.rule_warning and not self.exception_reason:
            raise UserError(
                _("This call breaks the contact rules (%s): give the reason for the exception.", self.rule_warning)
            )
        if self.outcome in ("promised", "callback") and not self.next_date:
            raise UserError(_("Give the date the customer promised, or when to call back."))
        labels = dict(self._fields["outcome"]._description_selection(self.env))
        # The call enters the history through the engine: users never create messages themselves.
        message = (
            self.env["collections.message"]
            ._engine()
            .create(
                {
                    "company_id": self.env.company.id,
                    "partner_id": partner.id,
                    "recipient_id": self.partner_id.id,
                    "channel": "call",
                    "direction": "outbound",
                    "currency_id": self.env.company.currency_id.id,
                    "subject": _("Call: %s", labels[self.outcome]),
                    "body": self.note or False,
                    "state": "sent",
                    "sent_at": fields.Datetime.now(),
                    "attempted_at": fields.Datetime.now(),
                    "conversation": self.outcome in CONVERSATIONS,
                    "rule_exception": self.rule_warning and self.exception_reason or False,
                    "idempotency_key": f"call-{partner.id}-{fields.Datetime.now().isoformat()}-{self.id}",
                }
            )
        )
        partner_values = {"collections_last_date": fields.Date.context_today(self)}
        if self.next_date:
            partner_values["collections_next_date"] = self.next_date
        if self.outcome == "disputed" and not self._open_dispute(partner):
            # Nothing open to attach a dispute to: hold the customer as a whole.
            partner_values["collections_dispute_hold"] = True
        partner._collections_record_contact(partner_values)
        # The call task the dunning run created for this customer is done.
        partner._collections_close_call_tasks(f"{labels[self.outcome]}. {self.note or ''}".strip())
        if self.outcome == "promised" and self.currency_id.compare_amounts(self.promise_amount, 0) > 0:
            self.env["collections.promise"].create(
                {
                    "company_id": self.env.company.id,
                    "partner_id": partner.id,
                    "currency_id": self.currency_id.id,
                    "amount": self.promise_amount,
                    "promised_date": self.next_date,
                    "source": "call",
                    "note": self.note or False,
                }
            )
        if self.outcome == "callback":
            partner._collections_schedule_call_back(self.next_date)
        return {"type": "ir.actions.act_window_close", "infos": {"message_id": message.id}}
