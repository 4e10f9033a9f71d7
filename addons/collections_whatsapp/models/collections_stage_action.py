from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class CollectionsStageAction(models.Model):
    """A WhatsApp action of a stage sends one approved Utility template, the
    one in the customer's language."""

    _inherit = "collections.stage.action"

    whatsapp_template_ids = fields.Many2many(
        "collections.whatsapp.template",
        "collections_stage_action_whatsapp_template_rel",
        "action_id",
        "template_id",
        string="WhatsApp Templates",
        domain=[("usable_for_reminders", "=", True)],
        help="One approved Utility template per language: each customer gets the one in their language.",
    )

    @api.constrains("whatsapp_template_ids")
    def _check_whatsapp_templates(self):
        for action in self:
            templates = action.whatsapp_template_ids
            wrong = templates.filtered(lambda t: not t.usable_for_reminders)
            if wrong:
                raise ValidationError(
                    _(
                        "Reminders use approved Utility templates only; not: %(templates)s",
                        templates=", ".join(f"{t.name} ({t.language})" for t in wrong),
                    )
                )
            languages = templates.mapped("language")
            if len(languages) != len(set(languages)):
                raise ValidationError(_("Choose one WhatsApp template per language."))

    def _whatsapp_template_for(self, lang):
        """The approved Utility template for a reader's language, or an empty recordset."""
        self.ensure_one()
        templates = self.whatsapp_template_ids.filtered("usable_for_reminders")
        return self.env["collections.whatsapp.template"]._best_for_language(templates, lang)
