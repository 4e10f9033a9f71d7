from odoo import api, fields, models

from ..tools.rules import CHANNELS, SKIP_REASONS


class CollectionsRunPreview(models.TransientModel):
    """What a run would send on a date, to whom, by which channel and why,
    computed by the same planning as a real run and rolled back."""

    _name = "collections.run.preview"
    _description = "Collections Run Preview"

    date = fields.Date(required=True, default=fields.Date.context_today)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    line_ids = fields.One2many("collections.run.preview.line", "preview_id", string="Would Be Sent")
    skipped_ids = fields.One2many("collections.run.preview.skip", "preview_id", string="Would Be Skipped")
    message_count = fields.Integer(compute="_compute_counts")
    skipped_count = fields.Integer(compute="_compute_counts")

    @api.depends("line_ids", "skipped_ids")
    def _compute_counts(self):
        for preview in self:
            preview.message_count = len(preview.line_ids)
            preview.skipped_count = len(preview.skipped_ids)

    def action_compute(self):
        self.ensure_one()
        result = self.env["collections.run"].preview(self.company_id, self.date)
        self.line_ids = [fields.Command.clear()] + [
            fields.Command.create(
                {
                    "partner_id": line["partner_id"],
                    "channel": line["channel"],
                    "stage_id": line["stage_id"],
                    "currency_id": line["currency_id"],
                    "amount_due": line["amount_due"],
                    "invoice_count": len(line["move_ids"]),
                }
            )
            for line in result["lines"]
        ]
        self.skipped_ids = [fields.Command.clear()] + [
            fields.Command.create({"partner_id": partner_id, "reason": reason})
            for partner_id, reason in result["skipped_partners"]
        ]
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }


class CollectionsRunPreviewLine(models.TransientModel):
    _name = "collections.run.preview.line"
    _description = "Collections Run Preview Line"
    _order = "amount_due desc"

    preview_id = fields.Many2one("collections.run.preview", required=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Customer")
    channel = fields.Selection(CHANNELS)
    stage_id = fields.Many2one("collections.stage")
    currency_id = fields.Many2one("res.currency")
    amount_due = fields.Monetary()
    invoice_count = fields.Integer(string="Documents")


class CollectionsRunPreviewSkip(models.TransientModel):
    _name = "collections.run.preview.skip"
    _description = "Collections Run Preview Skip"

    preview_id = fields.Many2one("collections.run.preview", required=True, ondelete="cascade")
    partner_id = fields.Many2one("res.partner", string="Customer")
    reason = fields.Selection(SKIP_REASONS)
