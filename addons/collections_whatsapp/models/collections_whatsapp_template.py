import json

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.tools import format_amount, format_date

from odoo.addons.collections_omni.tools import sql_rules

from ..tools import chat_intents, graph_client
from .collections_whatsapp_template_variable import DEFAULT_ORDER

TEMPLATE_STATUSES = [
    ("APPROVED", "Approved"),
    ("PENDING", "Pending"),
    ("REJECTED", "Rejected"),
    ("PAUSED", "Paused"),
    ("DISABLED", "Disabled"),
    ("IN_APPEAL", "In Appeal"),
    ("DELETED", "Deleted"),
]
TEMPLATE_CATEGORIES = [("UTILITY", "Utility"), ("MARKETING", "Marketing"), ("AUTHENTICATION", "Authentication")]


class CollectionsWhatsappTemplate(models.Model):
    """A message template of a WhatsApp Business account, as Meta approved it
    (synced from the Graph API), and what its ``{{n}}`` say in collections."""

    _name = "collections.whatsapp.template"
    _description = "WhatsApp Template"
    _order = "account_id, name, language"
    _check_company_auto = True

    account_id = fields.Many2one("collections.whatsapp.account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True, index=True)
    active = fields.Boolean(default=True)
    name = fields.Char(required=True, readonly=True)
    language = fields.Char(required=True, readonly=True, help="Meta's language code, e.g. es, es_MX, en_US.")
    category = fields.Selection(TEMPLATE_CATEGORIES, readonly=True)
    status = fields.Selection(TEMPLATE_STATUSES, readonly=True, index=True)
    meta_id = fields.Char(string="Meta ID", readonly=True)
    components = fields.Text(readonly=True, help="The components as Meta returns them (JSON).")
    body_text = fields.Text(string="Body", compute="_compute_parts", store=True)
    buttons = fields.Char(compute="_compute_parts", store=True, help="Quick-reply buttons, as customers see them.")
    variable_ids = fields.One2many("collections.whatsapp.template.variable", "template_id", string="Variables")
    usable_for_reminders = fields.Boolean(
        compute="_compute_usable_for_reminders",
        store=True,
        help="Approved Utility templates only: reminders must not be promotional.",
    )
    preview_partner_id = fields.Many2one("res.partner", string="Preview With", help="A real customer's values.")
    preview = fields.Html(compute="_compute_preview", sanitize=True)

    _sql_constraints = [
        ("name_lang_uniq", "unique(account_id, name, language)", "A template exists once per language."),
    ]

    @api.depends("components")
    def _compute_parts(self):
        for template in self:
            components = template._component_list()
            body = next((c for c in components if str(c.get("type")).upper() == "BODY"), {})
            template.body_text = body.get("text") or ""
            template.buttons = ", ".join(button.get("text") or "" for button in template._quick_replies())

    @api.depends("status", "category", "active")
    def _compute_usable_for_reminders(self):
        for template in self:
            template.usable_for_reminders = (
                template.active and template.status == "APPROVED" and template.category == "UTILITY"
            )

    @api.depends("preview_partner_id", "body_text", "variable_ids.source", "variable_ids.fixed_text")
    def _compute_preview(self):
        for template in self:
            partner = template.preview_partner_id.commercial_partner_id
            if not partner:
                template.preview = False
                continue
            values = template._values_for_partner(partner)
            text = graph_client.render(template.body_text, [values[n] for n in template._numbers()])
            buttons = (
                "".join(
                    Markup("<span class='badge text-bg-light border me-1'>%s</span>") % b
                    for b in template.buttons.split(", ")
                )
                if template.buttons
                else ""
            )
            template.preview = Markup("<p style='white-space: pre-wrap'>%s</p>%s") % (escape(text), Markup(buttons))

    def _component_list(self):
        try:
            components = json.loads(self.components or "[]")
        except ValueError:
            return []
        return [c for c in components if isinstance(c, dict)] if isinstance(components, list) else []

    def _quick_replies(self):
        buttons = next((c for c in self._component_list() if str(c.get("type")).upper() == "BUTTONS"), {})
        return [b for b in buttons.get("buttons") or [] if isinstance(b, dict) and b.get("type") == "QUICK_REPLY"]

    def _numbers(self):
        return graph_client.placeholders(self.body_text)

    # === SYNC === #

    @api.model
    def _sync_from_graph(self, account, remote):
        """Upsert the account's templates from Meta's list; new ``{{n}}`` get a default value."""
        existing = {
            (t.name, t.language): t
            for t in self.with_context(active_test=False).search([("account_id", "=", account.id)])
        }
        seen = self.browse()
        for data in remote:
            name, language = data.get("name"), data.get("language")
            if not name or not language:
                continue
            values = {
                "category": data.get("category") if data.get("category") in dict(TEMPLATE_CATEGORIES) else False,
                "status": data.get("status") if data.get("status") in dict(TEMPLATE_STATUSES) else False,
                "meta_id": data.get("id"),
                "components": json.dumps(data.get("components") or [], ensure_ascii=False),
                "active": True,
            }
            template = existing.get((name, language))
            if template:
                template.write(values)
            else:
                template = self.create({"account_id": account.id, "name": name, "language": language, **values})
            template._ensure_variables()
            seen |= template
        (self.browse([t.id for t in existing.values()]) - seen).write({"active": False, "status": "DELETED"})
        return seen

    def _ensure_variables(self):
        for template in self:
            mapped = set(template.variable_ids.mapped("number"))
            template.variable_ids = [
                fields.Command.create(
                    {"number": n, "source": DEFAULT_ORDER[n - 1] if n <= len(DEFAULT_ORDER) else "fixed"}
                )
                for n in template._numbers()
                if n not in mapped
            ]

    # === VALUES === #

    def _values_for_partner(self, partner):
        """{n: text} for a customer's current overdue balance (the preview)."""
        self.ensure_one()
        partner = partner.commercial_partner_id
        company = self.company_id
        # Collections people preview without accounting rights: only this customer's open invoices are read.
        moves = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("commercial_partner_id", "=", partner.id),
                    ("company_id", "=", company.id),
                    *sql_rules.OPEN_INVOICE_DOMAIN,
                ]
            )
        )
        amount = sum(moves.mapped("amount_residual_signed"))
        return self._values(partner, moves, amount, company.currency_id, partner.lang or "en_US")

    def _values(self, partner, moves, amount, currency, lang):
        """{n: text} of every ``{{n}}``, in ``lang``."""
        self.ensure_one()
        texts = self._source_texts(partner, moves, amount, currency, lang)
        by_number = {v.number: v for v in self.variable_ids}
        result = {}
        for number in self._numbers():
            variable = by_number.get(number)
            if not variable:
                result[number] = ""
            elif variable.source == "fixed":
                result[number] = variable.with_context(lang=lang).fixed_text or ""
            else:
                result[number] = texts[variable.source]
        return result

    def _source_texts(self, partner, moves, amount, currency, lang):
        env = self.with_context(lang=lang).env
        dues = [d for d in moves.mapped("invoice_date_due") if d]
        collector = partner.collections_user_id if "collections_user_id" in partner._fields else False
        return {
            "customer_name": partner.name or "",
            "amount_due": format_amount(env, amount, currency, lang),
            "oldest_due_date": format_date(env, min(dues), lang_code=lang) if dues else "",
            "invoice_numbers": ", ".join(moves.sorted(sql_rules.oldest_first_key).mapped("name")),
            "portal_url": partner._collections_portal_url("whatsapp"),
            "collector_name": (collector and collector.name) or self.company_id.name,
            "company_name": self.company_id.name,
        }

    def _payload_for(self, to, partner, moves, amount, currency, lang, callback_data=None):
        """The template message for a customer: ``{{n}}`` filled in (the amount
        as Meta's currency parameter), quick replies carrying the intent they
        stand for, so a pressed button is understood whatever its language."""
        self.ensure_one()
        values = self._values(partner, moves, amount, currency, lang)
        sources = {v.number: v.source for v in self.variable_ids}
        params = []
        for number in self._numbers():
            if sources.get(number) == "amount_due" and currency:
                params.append(graph_client.currency_parameter(amount, currency.name, values[number]))
            else:
                params.append(values[number])
        buttons = []
        for index, button in enumerate(self._quick_replies()):
            intent = chat_intents.intent_of(button.get("text"))
            if intent:
                buttons.append((index, "quick_reply", f"COLLECTIONS_{intent.upper()}"))
        return graph_client.template_payload(to, self.name, self.language, params, buttons, callback_data=callback_data)

    @api.model
    def _best_for_language(self, templates, lang):
        """The template for a reader's language (``es_MX``): the same code, else
        the same language (``es``), else the first one."""
        lang = lang or "en_US"
        for candidate in (lang, lang.split("_")[0]):
            match = templates.filtered(lambda t, code=candidate: t.language == code)
            if match:
                return match[0]
        base = lang.split("_")[0]
        match = templates.filtered(lambda t: t.language.split("_")[0] == base)
        return match[:1] or templates[:1]
