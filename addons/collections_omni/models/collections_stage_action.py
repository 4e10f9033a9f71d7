from odoo import api, fields, models

from ..tools.rules import CHANNELS

__all__ = ["CHANNELS", "CollectionsStageAction"]


class CollectionsStageAction(models.Model):
    """What a stage does on one channel: the template (translated per
    language by Odoo) and an optional time of day."""

    _name = "collections.stage.action"
    _description = "Collections Stage Action"
    _order = "stage_id, sequence, id"
    # Pickers (an A/B test's stage action) find an action by its stage or policy name.
    _rec_names_search = ["stage_id.name", "policy_id.name", "channel"]

    sequence = fields.Integer(default=10)
    stage_id = fields.Many2one("collections.stage", required=True, ondelete="cascade", index=True)
    policy_id = fields.Many2one(related="stage_id.policy_id", store=True)
    company_id = fields.Many2one(related="stage_id.company_id", store=True)
    channel = fields.Selection(CHANNELS, required=True, default="email")
    mail_template_id = fields.Many2one(
        "mail.template",
        string="Template",
        domain=[("model", "=", "collections.message")],
        help="Rendered in the customer's language; used by email, SMS, WhatsApp and letters.",
    )
    use_preferred_channel = fields.Boolean(
        string="Customer's Preferred Channel",
        help="Sent on the channel the customer prefers (consent ledger), unless another action "
        "of the stage already uses it.",
    )
    attach_invoices = fields.Boolean(string="Attach Invoice PDFs")
    time_of_day = fields.Float(
        string="Send At",
        help="Hour of the day, in the customer's time zone, before which the message is not sent (0 = any time).",
    )
    sms_text = fields.Text(
        string="Short Text",
        translate=True,
        help="For SMS and WhatsApp, in the customer's language; placeholders like "
        "{{ object.partner_id.name }} and {{ object._amount_text() }}. Empty: a standard text.",
    )
    note = fields.Char(string="Instructions", translate=True, help="For phone-call tasks: what the collector says.")

    @api.depends("channel", "time_of_day", "stage_id.name", "policy_id.name")
    @api.depends_context("collections_action_full_name")
    def _compute_display_name(self):
        labels = dict(self._fields["channel"]._description_selection(self.env))
        # Inside its stage the channel says enough; a picker over every action (an A/B test's)
        # needs the policy and stage too.
        full = self.env.context.get("collections_action_full_name")
        for action in self:
            name = labels.get(action.channel, "")
            if action.time_of_day:
                hours, minutes = divmod(round(action.time_of_day * 60), 60)
                name = f"{name} {hours:02d}:{minutes:02d}"
            if full and action.stage_id:
                name = f"{action.policy_id.name} / {action.stage_id.name}: {name}"
            action.display_name = name
