import json
from collections import namedtuple

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.tools import SQL, format_amount, format_date, get_lang

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
# A message as a batch of templates reads it (collections.whatsapp.template._message_rows).
MessageRow = namedtuple(
    "MessageRow",
    "message_id customer_id customer_name collector_name invoice_names oldest_due mobile phone country lang",
)
# What filling a template in needs, read once per batch (collections.whatsapp.template._spec).
TemplateSpec = namedtuple("TemplateSpec", "numbers sources fixed name language body buttons company_name")
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
        return self._values_from_texts(self._source_texts(partner, moves, amount, currency, lang), lang)

    def _spec(self, lang):
        """What filling this template in needs, read once (a batch keeps it):
        its ``{{n}}``, each one's source and fixed text in ``lang``, its name,
        language, body, quick replies and company name."""
        self.ensure_one()
        variables = {v.number: v for v in self.variable_ids}
        return TemplateSpec(
            numbers=self._numbers(),
            sources={n: v.source for n, v in variables.items()},
            fixed={n: v.with_context(lang=lang).fixed_text or "" for n, v in variables.items() if v.source == "fixed"},
            name=self.name,
            language=self.language,
            body=self.body_text,
            buttons=self._button_params(),
            company_name=self.company_id.name,
        )

    def _values_from_texts(self, texts, lang, spec=None):
        """{n: text} of every ``{{n}}`` from the collections values ``texts`` (``_source_texts``)."""
        spec = spec or self._spec(lang)
        result = {}
        for number in spec.numbers:
            source = spec.sources.get(number)
            if not source:
                result[number] = ""
            elif source == "fixed":
                result[number] = spec.fixed[number]
            else:
                result[number] = texts[source]
        return result

    def _source_texts(self, partner, moves, amount, currency, lang):
        dues = [d for d in moves.mapped("invoice_date_due") if d]
        collector = partner.collections_user_id if "collections_user_id" in partner._fields else False
        return self._texts_of(
            lang,
            partner.name,
            amount,
            currency,
            min(dues) if dues else None,
            moves.sorted(sql_rules.oldest_first_key).mapped("name"),
            partner._collections_portal_url("whatsapp"),
            collector and collector.name,
        )

    def _texts_of(
        self, lang, name, amount, currency, oldest_due, invoice_names, portal_url, collector_name, memo=None, spec=None
    ):
        """The collections values a ``{{n}}`` can show, written for ``lang``: the one
        place they are written, for one customer or for a batch of messages
        (``memo``: the batch's formatted dates, which repeat; ``spec``: ``_spec``)."""
        env = self.with_context(lang=lang).env
        company_name = spec.company_name if spec else self.company_id.name
        if oldest_due and memo is not None:
            due_text = memo.get(("date", oldest_due, lang))
            if due_text is None:
                due_text = memo[("date", oldest_due, lang)] = format_date(env, oldest_due, lang_code=lang)
        else:
            due_text = format_date(env, oldest_due, lang_code=lang) if oldest_due else ""
        return {
            "customer_name": name or "",
            "amount_due": self._amount_text(env, amount, currency, lang, memo),
            "oldest_due_date": due_text,
            "invoice_numbers": ", ".join(invoice_names),
            "portal_url": portal_url,
            "collector_name": collector_name or company_name,
            "company_name": company_name,
        }

    @api.model
    def _amount_text(self, env, amount, currency, lang, memo=None):
        """``format_amount(env, amount, currency, lang)``; in a batch (``memo``) the
        language is looked up once per currency and language, not per message
        (the same text: test_whatsapp_templates)."""
        if memo is None:
            return format_amount(env, amount, currency, lang)
        key = ("amount", currency.id, lang)
        if key not in memo:
            memo[key] = (
                env["res.lang"].browse(get_lang(env, lang).id),
                f"%.{currency.decimal_places}f",
                currency.position == "before",
                currency.symbol or "",
            )
        language, pattern, before, symbol = memo[key]
        text = (
            language.format(pattern, currency.round(amount), grouping=True)
            .replace(" ", "\N{NO-BREAK SPACE}")
            .replace("-", "-\N{ZERO WIDTH NO-BREAK SPACE}")
        )
        return f"{symbol}\N{NO-BREAK SPACE}{text}" if before else f"{text}\N{NO-BREAK SPACE}{symbol}"

    def _payload_for(self, to, partner, moves, amount, currency, lang, callback_data=None):
        """The template message for a customer: ``{{n}}`` filled in (the amount
        as Meta's currency parameter), quick replies carrying the intent they
        stand for, so a pressed button is understood whatever its language."""
        self.ensure_one()
        values = self._values(partner, moves, amount, currency, lang)
        return self._payload_from_values(to, values, amount, currency, callback_data=callback_data)

    def _payload_from_values(self, to, values, amount, currency, callback_data=None, spec=None):
        """The template message with ``values`` ({n: text}); ``spec``: ``_spec``,
        when the caller already has it."""
        spec = spec or self._spec(None)
        currency_code = currency.name if currency else None
        params = []
        for number in spec.numbers:
            if spec.sources.get(number) == "amount_due" and currency_code:
                params.append(graph_client.currency_parameter(amount, currency_code, values[number]))
            else:
                params.append(values[number])
        return graph_client.template_payload(
            to, spec.name, spec.language, params, spec.buttons, callback_data=callback_data
        )

    def _button_params(self):
        """The quick replies, each carrying the intent it stands for."""
        buttons = []
        for index, button in enumerate(self._quick_replies()):
            intent = chat_intents.intent_of(button.get("text"))
            if intent:
                buttons.append((index, "quick_reply", f"COLLECTIONS_{intent.upper()}"))
        return buttons

    def _message_rows(self, messages):
        """What the templates of ``messages`` show, read for the whole batch in
        one query: {message id: row} with the customer (commercial partner) and
        its name, the collector's name, the invoice numbers oldest first and the
        oldest due date of the message's invoices, and the contacted person's
        mobile, phone, country, language (and the customer's, the company's
        country) for the number and the language."""
        if not messages:
            return {}
        # Only what the query reads: the batch's other pending writes (when its contact was
        # allowed) go with its content, in one UPDATE.
        for model, names in (
            ("collections.message", ["partner_id", "recipient_id", "company_id", "move_ids"]),
            ("res.partner", ["commercial_partner_id", "name", "mobile", "phone", "country_id", "lang"]),
            ("res.partner", ["collections_user_id"]),
            ("account.move", ["name", "move_type", "invoice_date_due", "date"]),
        ):
            self.env[model].flush_model(names)
        self.env.cr.execute(
            SQL(
                """
            SELECT msg.id, cp.id, cp.name, collector.name,
                   COALESCE(array_agg(m.name ORDER BY %(oldest_first)s)
                            FILTER (WHERE m.move_type = 'out_invoice'), '{}'),
                   min(m.invoice_date_due) FILTER (WHERE m.move_type = 'out_invoice'),
                   contact.mobile, contact.phone, COALESCE(contact_country.code, company_country.code),
                   COALESCE(contact.lang, partner.lang, 'en_US')
              FROM collections_message msg
              JOIN res_partner partner ON partner.id = msg.partner_id
              JOIN res_partner cp ON cp.id = partner.commercial_partner_id
              JOIN res_partner contact ON contact.id = COALESCE(msg.recipient_id, msg.partner_id)
              LEFT JOIN res_country contact_country ON contact_country.id = contact.country_id
              JOIN res_company company ON company.id = msg.company_id
              LEFT JOIN res_partner company_partner ON company_partner.id = company.partner_id
              LEFT JOIN res_country company_country ON company_country.id = company_partner.country_id
              LEFT JOIN res_users collector_user ON collector_user.id = cp.collections_user_id
              LEFT JOIN res_partner collector ON collector.id = collector_user.partner_id
              LEFT JOIN collections_message_account_move_rel rel ON rel.message_id = msg.id
              LEFT JOIN account_move m ON m.id = rel.move_id
             WHERE msg.id = ANY(%(ids)s)
          GROUP BY msg.id, cp.id, collector.name, contact.id, contact_country.code, company_country.code, partner.lang
            """,
                oldest_first=sql_rules.oldest_first("m"),
                ids=messages.ids,
            )
        )
        return {row[0]: MessageRow(*row) for row in self.env.cr.fetchall()}

    def _content_for_row(self, row, amount, currency, lang, memo):
        """(payload without ``to``, the text the customer reads) of this
        template for a message read by ``_message_rows``. ``memo``: a dict the
        batch shares (portal links per customer, the templates' specs, dates)."""
        link = memo.get(("link", row.customer_id))
        if link is None:
            partners = memo["partners"]
            link = memo[("link", row.customer_id)] = partners.browse(row.customer_id)._collections_portal_url(
                "whatsapp"
            )
        spec = memo.get(("spec", self.id, lang))
        if spec is None:
            spec = memo[("spec", self.id, lang)] = self._spec(lang)
        texts = self._texts_of(
            lang,
            row.customer_name,
            amount,
            currency,
            row.oldest_due,
            row.invoice_names,
            link,
            row.collector_name,
            memo=memo,
            spec=spec,
        )
        values = self._values_from_texts(texts, lang, spec=spec)
        payload = self._payload_from_values(None, values, amount, currency, spec=spec)
        payload.pop("to", None)
        return payload, graph_client.render(spec.body, [values[n] for n in spec.numbers])

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
