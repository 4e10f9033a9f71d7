from zoneinfo import ZoneInfo

import pytz

from odoo import api, fields, models

from ..tools import contact_rules, timezones
from .collections_stage_action import CHANNELS

try:
    import holidays as holidays_lib
except ImportError:  # declared in external_dependencies; tests fail loudly without it
    holidays_lib = None

WEEKDAYS = [
    ("0", "Monday"),
    ("1", "Tuesday"),
    ("2", "Wednesday"),
    ("3", "Thursday"),
    ("4", "Friday"),
    ("5", "Saturday"),
    ("6", "Sunday"),
]
RULE_CHANNELS = [(contact_rules.ANY_CHANNEL, "All channels"), *CHANNELS]


class CollectionsContactRuleSet(models.Model):
    """How often, when and how a customer may be contacted: data, not code.

    A customer follows its own rule set, else its policy's, else the first
    one (by sequence) for one of its tags, else for its country, else its
    company's default. The rules themselves are judged by
    ``tools/contact_rules.py`` at the moment of sending.
    """

    _name = "collections.contact.rule.set"
    _description = "Collections Contact Rules"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one("res.company", help="Empty: available to every company.")
    is_company_default = fields.Boolean(
        string="Default", help="Applies to customers that no other rule set claims (per company, or everywhere)."
    )
    country_ids = fields.Many2many("res.country", string="Countries", help="Applies to customers in these countries.")
    partner_category_ids = fields.Many2many(
        "res.partner.category",
        string="Segment (Partner Tags)",
        help="Applies to customers with any of these tags, before the country's rules.",
    )
    source = fields.Text(translate=True, help="The law or policy these rules come from.")
    limit_ids = fields.One2many("collections.contact.limit", "rule_set_id", string="Frequency Limits", copy=True)
    window_ids = fields.One2many("collections.contact.window", "rule_set_id", string="Allowed Hours", copy=True)
    max_channels = fields.Integer(string="Channels per Window", help="Distinct channels allowed in the window below.")
    max_channels_days = fields.Integer(string="Channel Window (days)", default=7)
    min_gap_hours = fields.Float(string="Minimum Gap (hours)")
    no_holidays = fields.Boolean(string="Not on Public Holidays")
    conversation_cooldown_days = fields.Float(
        string="No Call for (days) after a Conversation",
        help="US Regulation F presumes harassment for a call within 7 days after a telephone conversation.",
    )
    effective_only = fields.Boolean(
        string="Count Effective Contacts Only", help="Only contacts that reached the person count towards limits."
    )
    consent_channel_ids = fields.Char(
        string="Channels Needing Consent",
        help="Comma-separated channels (email, sms, whatsapp, letter, call) used only after the customer opted in.",
    )
    opt_out_text = fields.Char(
        string="Opt-out Text", translate=True, help="Appended to every electronic message under these rules."
    )

    def _needs_consent(self, channel):
        self.ensure_one()
        return channel in {c.strip() for c in (self.consent_channel_ids or "").split(",")}

    def _to_rules(self):
        """The plain-Python rules of this record, for the engine."""
        self.ensure_one()
        return contact_rules.RuleSet(
            limits=tuple(contact_rules.Limit(limit.count, limit.days, limit.channel) for limit in self.limit_ids),
            max_channels=((self.max_channels, self.max_channels_days),) if self.max_channels else (),
            min_gap_hours=self.min_gap_hours,
            windows=tuple(
                contact_rules.Window(int(w.weekday), round(w.hour_from * 60), round(w.hour_to * 60), w.channel)
                for w in self.window_ids
            ),
            no_holidays=self.no_holidays,
            conversation_cooldown_days=self.conversation_cooldown_days,
            effective_only=self.effective_only,
            name=self.name,
        )

    @api.model
    def _for_partners(self, partners):
        """The rule set each customer follows: {partner: rule set (maybe empty)}."""
        rule_sets = self.search([])
        result = {}
        for partner in partners:
            own = partner.collections_rule_set_id
            if own:
                result[partner] = own
                continue
            company = partner.company_id or self.env.company
            candidates = rule_sets.filtered(lambda r, c=company: not r.company_id or r.company_id == c)
            by_segment = candidates.filtered(lambda r, p=partner: r.partner_category_ids & p.category_id)
            by_country = candidates.filtered(lambda r, p=partner: p.country_id and p.country_id in r.country_ids)
            defaults = candidates.filtered("is_company_default").sorted(lambda r: (not r.company_id, r.sequence))
            result[partner] = by_segment[:1] or by_country[:1] or defaults[:1]
        return result

    @api.model
    def _for_messages(self, messages):
        """The rule set each message goes out under: {message: rule set (maybe empty)}.
        A policy's rule set comes after the customer's own and before segment, country and default."""
        by_partner = self._for_partners(messages.partner_id)
        return {
            message: message.partner_id.collections_rule_set_id
            or message.policy_id.contact_rule_set_id
            or by_partner[message.partner_id]
            for message in messages
        }

    @api.model
    def _partner_timezone(self, partner):
        """The customer's own time zone, else its state's or country's, else UTC."""
        if partner.tz:
            return partner.tz
        country = (partner.country_id.code or "").upper()
        return timezones.zone_for(country, partner.state_id.code, pytz.country_timezones.get(country)) or "UTC"

    @api.model
    def _holidays_around(self, partner, moment, tz):
        """The public holidays of the customer's country that a contact at
        ``moment`` (aware) may meet: its local year, where the customer is
        (on 31 December evening in Bogotá it is already next year in UTC), and
        the next one, which a search for the next allowed moment may reach."""
        local_year = moment.astimezone(ZoneInfo(tz)).year
        return self._holidays(partner.country_id, {local_year, local_year + 1})

    @api.model
    def _holidays(self, country, years):
        if not country or holidays_lib is None:
            return frozenset()
        try:
            return frozenset(holidays_lib.country_holidays(country.code, years=years))
        except NotImplementedError:  # a country the library does not cover
            return frozenset()
