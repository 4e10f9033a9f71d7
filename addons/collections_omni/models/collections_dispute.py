from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..tools.rules import DISPUTE_REASONS


class CollectionsDispute(models.Model):
    """A customer disputes invoices: while open, they are not dunned.

    Resolved by a credit note, a corrected invoice or a rejection; the
    chatter keeps the exchange and the attachments the evidence.
    """

    _name = "collections.dispute"
    _description = "Collections Dispute"
    _inherit = ["collections.hold.mixin"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True, copy=False, default=lambda self: _("New"))
    move_ids = fields.Many2many(
        "account.move",
        "collections_dispute_account_move_rel",
        "dispute_id",
        "move_id",
        string="Invoices",
        required=True,
        check_company=True,
        domain="[('move_type', '=', 'out_invoice'), ('state', '=', 'posted'), "
        "('commercial_partner_id', '=', partner_id)]",
    )
    reason = fields.Selection(
        DISPUTE_REASONS,
        required=True,
        tracking=True,
    )
    description = fields.Text(string="What the Customer Says")
    attachment_ids = fields.Many2many(
        "ir.attachment",
        "collections_dispute_ir_attachment_rel",
        "dispute_id",
        "attachment_id",
        string="Evidence",
    )
    user_id = fields.Many2one(
        "res.users", string="Owner", default=lambda self: self.env.user, tracking=True, required=True
    )
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved")],
        required=True,
        default="open",
        tracking=True,
        index=True,
        copy=False,
    )
    resolution = fields.Selection(
        [
            ("credit_note", "Credit note"),
            ("corrected_invoice", "Corrected invoice"),
            ("rejected", "Rejected"),
        ],
        tracking=True,
        copy=False,
    )
    resolution_move_id = fields.Many2one(
        "account.move",
        string="Credit Note or Corrected Invoice",
        check_company=True,
        copy=False,
        domain="[('commercial_partner_id', '=', partner_id), ('move_type', 'in', ('out_refund', 'out_invoice'))]",
    )
    resolution_note = fields.Text(copy=False)
    resolved_date = fields.Date(readonly=True, copy=False)

    @api.constrains("move_ids", "partner_id")
    def _check_invoices(self):
        self._check_customer_invoices()

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("Disputes are part of the customer's history: resolve them instead of deleting them."))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("collections.dispute") or _("New")
        disputes = super().create(vals_list)
        disputes._stop_pending_messages()
        return disputes

    def write(self, vals):
        result = super().write(vals)
        if "move_ids" in vals:
            self.filtered(lambda d: d.state == "open")._stop_pending_messages()
        return result

    def action_resolve(self):
        for dispute in self:
            if dispute.state != "open":
                raise UserError(_("The dispute %(dispute)s is already resolved.", dispute=dispute.name))
            if not dispute.resolution:
                raise UserError(_("Say how the dispute %(dispute)s was resolved first.", dispute=dispute.name))
            if dispute.resolution != "rejected" and not dispute.resolution_move_id:
                raise UserError(
                    _("Link the credit note or corrected invoice that resolves %(dispute)s.", dispute=dispute.name)
                )
        self.write({"state": "resolved", "resolved_date": fields.Date.context_today(self)})
        return True

    def action_reopen(self):
        self.filtered(lambda d: d.state == "resolved").write(
            {"state": "open", "resolution": False, "resolved_date": False}
        )
        self._stop_pending_messages()
        return True
