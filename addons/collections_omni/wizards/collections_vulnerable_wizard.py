from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..models.res_partner import _collections_handles_vulnerable
from ..tools.rules import GROUP_VULNERABLE, VULNERABLE_REASONS, VULNERABLE_REVIEW_DAYS


class CollectionsVulnerableWizard(models.TransientModel):
    """Protect a customer as vulnerable (why, until when, who looks after
    them), or lift the protection. The one door to the flag for trained
    collectors and managers: collectors, who may not write customers, never
    see it (access rights), and the reason stays with those who may read it."""

    _name = "collections.vulnerable.wizard"
    _description = "Vulnerable Customer"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    protect = fields.Boolean(string="Protect as Vulnerable", default=True)
    reason = fields.Selection(VULNERABLE_REASONS, string="Vulnerability")
    note = fields.Text(help="What a trained collector needs to know; never shown to other collectors.")
    review_date = fields.Date(
        string="Review On",
        default=lambda self: fields.Date.context_today(self) + timedelta(days=VULNERABLE_REVIEW_DAYS),
    )
    user_id = fields.Many2one(
        "res.users",
        string="Trained Collector",
        domain=lambda self: [("groups_id", "in", self.env.ref(GROUP_VULNERABLE).ids), ("share", "=", False)],
        help="Empty: the trained collector who looks after the fewest vulnerable customers.",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        partner = self.env["res.partner"].browse(values.get("partner_id"))
        if partner.collections_vulnerable:
            values.update(
                reason=partner.collections_vulnerable_reason,
                note=partner.collections_vulnerable_note,
                review_date=partner.collections_vulnerable_review_date or values.get("review_date"),
            )
            if partner.collections_user_id:
                values["user_id"] = partner.collections_user_id.id
        return values

    def action_apply(self):
        self.ensure_one()
        if not _collections_handles_vulnerable(self.env.user):
            raise AccessError(_("Only collectors trained for vulnerable customers and managers may do this."))
        partner = self.partner_id.commercial_partner_id
        partner.check_access("read")
        if not self.protect:
            partner.sudo().write({"collections_vulnerable": False, "collections_vulnerable_review_date": False})
            self.env["collections.note"]._post(partner.sudo(), "vulnerable_lifted", user=self.env.user.name)
            return {"type": "ir.actions.act_window_close"}
        if not self.reason or not self.review_date:
            raise UserError(_("Say why the customer is vulnerable and when to review the protection."))
        current = partner.sudo().collections_user_id
        collector = (
            self.user_id
            or (current if current and _collections_handles_vulnerable(current) else None)
            or self.env["collections.hold.mixin"]._trained_collector(self.env.company)
        )
        # One write: the partner's constraint then sees the flag and a collector allowed to hold it
        # (none when the company has no trained collector yet: a manager assigns one).
        partner.sudo().write(
            {
                "collections_vulnerable": True,
                "collections_vulnerable_reason": self.reason,
                "collections_vulnerable_note": self.note,
                "collections_vulnerable_review_date": self.review_date,
                "collections_user_id": collector.id if collector else False,
            }
        )
        # What was planned for the customer stops now, not at its send time.
        self.env["collections.message"]._recheck_pending(partners=partner)
        # The chatter is read by every collector: it says the customer is protected, never why.
        self.env["collections.note"]._post(partner.sudo(), "vulnerable_protected")
        if collector:
            partner.sudo().activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=self.review_date,
                summary=self.env["collections.note"]._for_user(collector)._text("vulnerable_review").unescape(),
                user_id=collector.id,
            )
        return {"type": "ir.actions.act_window_close"}
