from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

# Limits of the customer's portal requests when no policy applies.
DEFAULT_PORTAL_MAX_DAYS = 30
DEFAULT_PORTAL_MAX_INSTALLMENTS = 6


class CollectionsPolicy(models.Model):
    _inherit = "collections.policy"

    portal_max_days = fields.Integer(
        string="Latest Date a Customer May Choose",
        default=DEFAULT_PORTAL_MAX_DAYS,
        help="In the customer portal, how many days ahead a promise to pay or the first installment of a "
        "requested payment plan may fall.",
    )
    portal_max_installments = fields.Integer(
        string="Installments a Customer May Request",
        default=DEFAULT_PORTAL_MAX_INSTALLMENTS,
        help="The largest number of installments a customer may ask for in the portal.",
    )
    portal_approve_up_to = fields.Float(
        string="Approve Portal Plans Up To",
        digits="Account",
        help="A payment plan a customer requests in the portal within the limits above, for at most this amount "
        "(in the company's currency), starts at once; a larger one goes to the collector. 0: every request goes "
        "to the collector.",
    )
    portal_user_id = fields.Many2one(
        "res.users",
        string="Collector for Portal Requests",
        domain="[('share', '=', False)]",
        help="Gets the payment plans and promises customers make in the portal when the customer has no "
        "collector. Empty: the company's Default Collector (company form, Collections tab); without one, "
        "nobody is assigned.",
    )

    @api.constrains("portal_max_days", "portal_max_installments", "portal_approve_up_to")
    def _check_portal_limits(self):
        for policy in self:
            if policy.portal_approve_up_to < 0:
                raise ValidationError(_("The amount up to which plans are approved at once cannot be negative."))
            if policy.portal_max_days < 0:
                raise ValidationError(_("The latest date a customer may choose cannot be in the past."))
            if policy.portal_max_installments < 1:
                raise ValidationError(_("Customers must be allowed at least one installment."))

    def _portal_limits(self):
        """(days ahead, installments) a customer may choose; the defaults without a policy."""
        if not self:
            return DEFAULT_PORTAL_MAX_DAYS, DEFAULT_PORTAL_MAX_INSTALLMENTS
        self.ensure_one()
        return self.portal_max_days, self.portal_max_installments

    def _portal_approves(self, amount, currency, company, on_date):
        """Whether a plan the customer requests for ``amount`` (within the
        installment and date limits, checked before) starts at once: up to the
        policy's amount, converted into the company's currency; never without
        a policy or with 0."""
        limit = self.portal_approve_up_to if self else 0.0
        if limit <= 0:
            return False
        in_company_currency = currency._convert(amount, company.currency_id, company, on_date)
        return company.currency_id.compare_amounts(in_company_currency, limit) <= 0

    def _portal_check_date(self, chosen, today):
        """A date the customer chose: from today up to the policy's limit."""
        max_days = self._portal_limits()[0]
        if not chosen:
            raise UserError(_("Choose a date."))
        if chosen < today:
            raise UserError(_("The date cannot be in the past."))
        if (chosen - today).days > max_days:
            raise UserError(_("Choose a date at most %(days)s days from today.", days=max_days))

    def _portal_collector(self, partner, company):
        """Who handles a customer's portal request: the customer's collector,
        else the policy's collector for portal requests, else the company's
        Default Collector (the engine's rule, see ``collections.hold.mixin``).

        :return: the user, or an empty recordset when none is set
        """
        return self.env["collections.hold.mixin"]._find_collector(
            partner, company, policy_collector=self.portal_user_id
        )
