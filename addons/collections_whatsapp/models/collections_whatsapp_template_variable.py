from odoo import fields, models

# What a {{n}} of a template says, as collections values (codes: rendered per message, per language).
VARIABLE_SOURCES = [
    ("customer_name", "Customer Name"),
    ("amount_due", "Amount Due (with currency)"),
    ("oldest_due_date", "Oldest Due Date"),
    ("invoice_numbers", "Invoice Numbers"),
    ("portal_url", "Secure Payment Link"),
    ("collector_name", "Collector Name"),
    ("company_name", "Company Name"),
    ("fixed", "Fixed Text"),
]
# The default mapping of a freshly synced template's {{1}}, {{2}}...
DEFAULT_ORDER = [
    "customer_name",
    "amount_due",
    "oldest_due_date",
    "invoice_numbers",
    "portal_url",
    "collector_name",
]


class CollectionsWhatsappTemplateVariable(models.Model):
    """One ``{{n}}`` of a template's body and the collections value it shows."""

    _name = "collections.whatsapp.template.variable"
    _description = "WhatsApp Template Variable"
    _order = "template_id, number"

    template_id = fields.Many2one("collections.whatsapp.template", required=True, ondelete="cascade", index=True)
    number = fields.Integer(required=True, help="n of {{n}} in the template's body.")
    source = fields.Selection(VARIABLE_SOURCES, required=True, default="customer_name", string="Value")
    fixed_text = fields.Char(translate=True)

    _sql_constraints = [
        ("number_uniq", "unique(template_id, number)", "Each variable of a template is mapped once."),
        ("number_positive", "CHECK(number > 0)", "Template variables are numbered from 1."),
    ]
