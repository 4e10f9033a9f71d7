from odoo import fields, models


class CollectionsMessage(models.Model):
    _inherit = "collections.message"

    whatsapp_payload = fields.Text(
        string="WhatsApp Content",
        readonly=True,
        copy=False,
        help="The template and its parameters (or the text) as prepared: a retry sends exactly this (JSON).",
    )
