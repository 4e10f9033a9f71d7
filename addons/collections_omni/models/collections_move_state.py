from odoo import fields, models


class CollectionsMoveState(models.Model):
    """Where an invoice stands in dunning: its stage and reminders.

    Kept apart from ``account_move`` on purpose: a dunning run updates tens of
    thousands of invoices at once, and writing those rows would update every
    one of account_move's many indexes and lock invoices that accountants may
    be editing. This narrow table is written with one set-based upsert.
    """

    _name = "collections.move.state"
    _description = "Collections State of an Invoice"
    _log_access = False

    move_id = fields.Many2one("account.move", required=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, ondelete="cascade", index=True)
    stage_id = fields.Many2one("collections.stage", ondelete="set null", index="btree_not_null")
    reminder_count = fields.Integer()
    last_date = fields.Date()
    next_date = fields.Date(help="When the invoice reaches its policy's next stage.")
    escalate = fields.Boolean(
        help="A broken promise escalates the invoice: the next run moves it on to the stage after its current "
        "one, whatever its days overdue."
    )

    _sql_constraints = [
        ("move_uniq", "unique(move_id)", "An invoice has one collections state."),
    ]
