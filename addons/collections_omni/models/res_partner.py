from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..tools.risk_score import BAND_LABELS
from ..tools.rules import GROUP_MANAGER, GROUP_VULNERABLE, VULNERABLE_READERS, VULNERABLE_REASONS
from .collections_stage_action import CHANNELS

# The partner fields the engine keeps on behalf of collectors, who may not write partners:
# only _collections_record_contact writes them, and only these.
COLLECTOR_CONTACT_FIELDS = frozenset({"collections_last_date", "collections_next_date", "collections_dispute_hold"})


class ResPartner(models.Model):
    _inherit = "res.partner"

    collections_policy_id = fields.Many2one(
        "collections.policy",
        company_dependent=True,
        help="Overrides the segment and company default policies for this customer.",
    )
    # What the customer's Collections tab shows: the override above is usually empty.
    collections_applied_policy_id = fields.Many2one(
        "collections.policy",
        string="Policy Applied",
        compute="_compute_collections_applied_policy",
        help="The policy the engine follows for this customer: its own, else its segment's, else the company default.",
    )
    collections_stage_id = fields.Many2one("collections.stage", readonly=True, copy=False)
    collections_last_date = fields.Date(string="Last Contact", readonly=True, copy=False)
    collections_next_date = fields.Date(string="Next Collections Action", copy=False)
    collections_reminder_count = fields.Integer(string="Reminders Sent", readonly=True, copy=False)
    collections_user_id = fields.Many2one("res.users", string="Collector", copy=False, help="Responsible collector.")
    collections_contact_id = fields.Many2one(
        "res.partner",
        domain="[('parent_id', '=', id)]",
        help="Contacted before the company's own address.",
    )
    collections_excluded = fields.Boolean(string="Exclude from Collections", copy=False)
    collections_dispute_hold = fields.Boolean(string="Dispute Hold", copy=False)
    collections_vulnerable = fields.Boolean(
        string="Vulnerable Customer",
        copy=False,
        help="Never contacted automatically; a collector trained for vulnerable customers decides.",
    )
    # Why and until when: only trained collectors and managers read them (others see only the flag).
    collections_vulnerable_reason = fields.Selection(
        VULNERABLE_REASONS, string="Vulnerability", copy=False, groups=VULNERABLE_READERS
    )
    collections_vulnerable_note = fields.Text(string="Vulnerability Note", copy=False, groups=VULNERABLE_READERS)
    collections_vulnerable_review_date = fields.Date(
        string="Review Protection On", copy=False, groups=VULNERABLE_READERS
    )
    collections_do_not_contact = fields.Boolean(string="Do Not Contact", copy=False)
    # The band a person confirmed (or a manager-approved rule applied): segment policies follow it.
    # Written only through collections.risk.decision (see write()).
    collections_risk_band = fields.Selection(
        BAND_LABELS, string="Confirmed Risk Band", company_dependent=True, readonly=True, copy=False
    )
    collections_risk_score_id = fields.Many2one(
        "collections.risk.score", string="Risk Score", compute="_compute_collections_risk"
    )
    collections_risk_score = fields.Integer(string="Risk", compute="_compute_collections_risk")
    collections_risk_suggested_band = fields.Selection(
        BAND_LABELS, string="Suggested Risk Band", compute="_compute_collections_risk"
    )
    collections_risk_explanation = fields.Html(
        string="Risk Explanation", compute="_compute_collections_risk", sanitize=False
    )
    collections_risk_suggestion = fields.Boolean(
        compute="_compute_collections_risk", help="The newest score suggests another band than the confirmed one."
    )
    collections_rule_set_id = fields.Many2one(
        "collections.contact.rule.set",
        string="Contact Rules",
        help="Overrides the rules of the customer's country and the company default.",
    )
    collections_next_contact = fields.Datetime(
        string="Next Contact Allowed", compute="_compute_collections_next_contact"
    )
    collections_next_contact_reason = fields.Char(string="Why", compute="_compute_collections_next_contact")
    collections_contact_version = fields.Integer(
        copy=False, readonly=True, help="Bumped by every contact decision: concurrent dispatchers conflict on it."
    )
    collections_preferred_channel = fields.Selection(
        CHANNELS, string="Preferred Channel", compute="_compute_collections_preference"
    )
    collections_preferred_hours = fields.Char(string="Preferred Hours", compute="_compute_collections_preference")
    collections_consent_ids = fields.One2many("collections.consent", "partner_id", string="Consent")
    collections_message_ids = fields.One2many("collections.message", "partner_id", string="Collections Messages")
    collections_plan_ids = fields.One2many("collections.payment.plan", "partner_id", string="Payment Plans")
    collections_promise_ids = fields.One2many("collections.promise", "partner_id", string="Promises to Pay")
    collections_dispute_ids = fields.One2many("collections.dispute", "partner_id", string="Disputes")

    def write(self, vals):
        # A risk band moves a customer to another policy: only a logged decision does it (GDPR art. 22).
        if "collections_risk_band" in vals and not self.env.su:
            raise AccessError(_("A risk band changes only through a confirmed risk decision."))
        return super().write(vals)

    def _compute_collections_risk(self):
        latest = self.env["collections.risk.score"]._latest(self.commercial_partner_id, self.env.company)
        for partner in self:
            score = latest.get(partner.commercial_partner_id.id, self.env["collections.risk.score"])
            partner.collections_risk_score_id = score
            partner.collections_risk_score = score.score
            partner.collections_risk_suggested_band = score.band
            partner.collections_risk_explanation = score.explanation
            partner.collections_risk_suggestion = bool(
                score and score.band != partner.commercial_partner_id.collections_risk_band
            )

    def action_collections_risk_review(self):
        """Review the move the risk score suggests: confirm or reject it (a wizard)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Review the Risk Band"),
            "res_model": "collections.risk.confirm",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.commercial_partner_id.id},
        }

    @api.depends_context("company")
    @api.depends("collections_policy_id", "category_id")
    def _compute_collections_applied_policy(self):
        Policy = self.env["collections.policy"]
        for partner in self:
            partner.collections_applied_policy_id = (
                Policy._for_partner(partner, self.env.company) if partner.id else False
            )

    @api.constrains("collections_vulnerable", "collections_user_id")
    def _check_collections_vulnerable_collector(self):
        """A vulnerable customer's collector is trained for it (or a manager)."""
        for partner in self.filtered(lambda p: p.collections_vulnerable and p.collections_user_id):
            if not _collections_handles_vulnerable(partner.collections_user_id):
                raise ValidationError(
                    _(
                        "%(user)s is not trained for vulnerable customers and cannot collect from %(partner)s.",
                        user=partner.collections_user_id.name,
                        partner=partner.display_name,
                    )
                )

    def action_collections_vulnerable(self):
        """Protect the customer as vulnerable, change why, or lift the protection (a wizard)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Vulnerable Customer"),
            "res_model": "collections.vulnerable.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.commercial_partner_id.id},
        }

    def action_collections_log_call(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Log a Call"),
            "res_model": "collections.call.outcome",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.commercial_partner_id.id},
        }

    def _collections_record_contact(self, values):
        """Record on the customers what a collector's contact decided (last and
        next contact, a dispute hold), for users of the Collector group who may
        read these customers but not write partners. A narrow door instead of a
        wider right: only COLLECTOR_CONTACT_FIELDS, only for collectors, only on
        customers they can see."""
        extra = set(values) - COLLECTOR_CONTACT_FIELDS
        if extra:
            raise AccessError(
                _("A contact records only the collections dates and hold, not: %s", ", ".join(sorted(extra)))
            )
        self._collections_check_collector()
        return self.sudo().write(values)

    def _collections_close_call_tasks(self, feedback):
        """Mark the customers' open call tasks done with what came of the call."""
        self._collections_check_collector()
        activities = (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", self.ids),
                    ("activity_type_id", "=", self.env.ref("mail.mail_activity_data_call").id),
                ]
            )
        )
        if activities:
            activities.action_feedback(feedback=feedback)
        return bool(activities)

    def _collections_schedule_call_back(self, date_deadline):
        """A call task to call the customer back (collectors may not schedule
        activities on partners they cannot write)."""
        self._collections_check_collector()
        user = self.env["collections.hold.mixin"]._find_collector(self, self.env.company) or self.env.user
        return self.sudo().activity_schedule(
            "mail.mail_activity_data_call",
            date_deadline=date_deadline,
            summary=self.env["collections.note"]._for_user(user)._text("call_back").unescape(),
            user_id=user.id,
        )

    def _collections_check_collector(self):
        """The checks of the narrow doors above: a collector, on customers they see."""
        if self.env.su:
            return
        if not self.env.user.has_group("collections_omni.group_collections_collector"):
            raise AccessError(_("Only collectors record the outcome of a contact on a customer."))
        self.check_access("read")

    def _compute_collections_preference(self):
        """The newest preference in the consent ledger."""
        preferences = self.env["collections.consent"]._preferences_by_partner(self)
        for partner in self:
            channel, hours = preferences.get(partner.commercial_partner_id.id, (False, None))
            partner.collections_preferred_channel = channel
            partner.collections_preferred_hours = (
                "{:02d}:{:02d}-{:02d}:{:02d}".format(*divmod(hours[0], 60), *divmod(hours[1], 60)) if hours else False
            )

    def _compute_collections_next_contact(self):
        """When the contact rules next allow a call (the strictest channel), and why not now."""
        messages = self.env["collections.message"]
        for partner in self:
            moment, reason = messages._next_contact_for(partner.commercial_partner_id, "call")
            partner.collections_next_contact = moment
            partner.collections_next_contact_reason = reason

    def _collections_portal_url(self, channel=False):
        """The absolute link a reminder gives this customer to see and settle what they owe.

        The one place every reminder (email, SMS, letter QR, WhatsApp) takes its call-to-action
        link from. The engine links to the portal's balance page; ``collections_portal``
        overrides it with a signed, expiring link that needs no password. ``channel`` lets an
        override tag or shorten the link per channel.
        """
        self.ensure_one()
        return self.get_base_url().rstrip("/") + "/my/collections"


def _collections_handles_vulnerable(user):
    """Whether ``user`` may collect from vulnerable customers: trained, or a manager."""
    return not user.share and (user.has_group(GROUP_VULNERABLE) or user.has_group(GROUP_MANAGER))
