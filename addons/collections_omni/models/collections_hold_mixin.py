from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import plaintext2html

from ..tools.rules import GROUP_VULNERABLE
from .res_partner import _collections_handles_vulnerable


class CollectionsHoldMixin(models.AbstractModel):
    """What payment plans, promises to pay and disputes share: each holds some
    of a customer's invoices (``move_ids`` of ``partner_id``, in a company)
    out of dunning, in a tracked record that a collector (``user_id``) looks
    after.

    Plans and promises may also break under a policy that keeps the hold
    (``state`` 'broken' with ``hold_after_break``) until the collector resumes
    dunning.
    """

    _name = "collections.hold.mixin"
    _description = "Collections Hold (payment plans, promises, disputes)"
    _inherit = ["mail.thread", "mail.activity.mixin"]

    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        tracking=True,
        domain="[('parent_id', '=', False)]",
        check_company=True,
    )

    # Every invoice in the currency of the record (its currency_id): amounts are agreed in one currency.
    _hold_one_currency = False

    def _check_customer_invoices(self):
        """Only posted customer invoices of the record's customer, in its currency when it has one."""
        for record in self:
            customer = record.partner_id.commercial_partner_id
            wrong = record.move_ids.filtered(
                lambda m, customer=customer: (
                    m.move_type != "out_invoice" or m.state != "posted" or m.commercial_partner_id != customer
                )
            )
            if wrong:
                raise ValidationError(
                    _(
                        "%(record)s may only cover posted invoices of its own customer, %(customer)s: "
                        "%(invoices)s do not qualify.",
                        record=record.display_name,
                        customer=customer.display_name,
                        invoices=", ".join(wrong.mapped("display_name")),
                    )
                )
            if not self._hold_one_currency:
                continue
            # Amounts are agreed in one currency: converting would make them drift with the rates.
            foreign = record.move_ids.filtered(lambda m, record=record: m.currency_id != record.currency_id)
            if foreign:
                raise ValidationError(
                    _(
                        "%(record)s is in %(currency)s but %(invoices)s are in another currency: "
                        "make one per currency.",
                        record=record.display_name,
                        currency=record.currency_id.name,
                        invoices=", ".join(foreign.mapped("display_name")),
                    )
                )

    def _stop_pending_messages(self):
        """Reminders already planned for the held invoices are re-checked at once (and dropped)."""
        self.env["collections.message"]._recheck_pending(moves=self.move_ids)

    def action_resume_dunning(self):
        """Broken and still holding under its policy: the collector lets dunning resume."""
        self.filtered(lambda r: r.state == "broken").write({"hold_after_break": False})
        return True

    @api.model
    def _find_collector(self, partner, company, assigned=None, policy_collector=None):
        """The one rule for who collects from a customer: the first internal
        user among ``assigned`` (a record's own collector), the customer's
        collector, ``policy_collector`` (a policy's, for callers that have
        one) and the company's Default Collector. Portal users never are.

        :return: the user, or an empty recordset when none is set
        """
        candidates = (
            assigned,
            partner.commercial_partner_id.collections_user_id,
            policy_collector,
            company.collections_user_id,
        )
        if partner.commercial_partner_id.collections_vulnerable:
            # A vulnerable customer goes to a collector trained for it, whoever else is set.
            found = next((user for user in candidates if user and _collections_handles_vulnerable(user)), None)
            return found or self._trained_collector(company)
        return next((user for user in candidates if user and not user.share), self.env["res.users"])

    @api.model
    def _trained_collector(self, company):
        """The collector trained for vulnerable customers in ``company`` who
        looks after the fewest of them (then the lowest id); empty when there is none."""
        trained = (
            self.env.ref(GROUP_VULNERABLE)
            .sudo()
            .users.filtered(lambda user: not user.share and user.active and company in user.company_ids)
        )
        if not trained:
            return self.env["res.users"]
        load = dict(
            self.env["res.partner"]
            .sudo()
            ._read_group(
                [("collections_vulnerable", "=", True), ("collections_user_id", "in", trained.ids)],
                ["collections_user_id"],
                ["__count"],
            )
        )
        return min(trained, key=lambda user: (load.get(user, 0), user.id)).with_env(self.env)

    def _collector(self):
        """Who looks after the record: its own collector, else the customer's,
        else the company's default collector, else the current user. Portal
        users (a record made on the portal, a customer acting on the portal)
        are never the collector: then there is none."""
        self.ensure_one()
        found = self._find_collector(self.partner_id, self.company_id, assigned=self.user_id)
        return found or self.env.user.filtered(lambda user: not user.share)

    def _tell_collector(
        self, summary, note=None, deadline=None, activity="mail.mail_activity_data_todo", words=None, **args
    ):
        """A to-do (or the given activity type) for the collector of each record
        that has one (see :meth:`_collector`), due ``deadline``, else today
        where the collector is (not where whoever triggered it is: a customer
        on the portal may be a day behind). ``summary`` and ``note`` are codes of
        collections.note with ``args``, written in the collector's language (not
        the language of the cron or the customer who triggered it); ``words``,
        someone's own text, follow the note."""
        Note = self.env["collections.note"]
        for record in self:
            collector = record._collector()
            if collector:
                note_of = Note._for_user(collector)
                body = note_of._render(note, args, words) if note else (plaintext2html(words) if words else False)
                record.activity_schedule(
                    activity,
                    date_deadline=deadline or fields.Date.context_today(record.with_context(tz=collector.tz)),
                    summary=note_of._text(summary, args).unescape(),
                    note=body or False,
                    user_id=collector.id,
                )
