import datetime as dt
from collections import defaultdict

from odoo import _, api, fields, models

from ..tools import contact_rules
from ..tools.rules import CLOSED_STATES
from .collections_message_audit import engine_transition

# How far back contact history matters to any rule.
CONTACT_HISTORY_DAYS = 60


class CollectionsMessageContact(models.AbstractModel):
    """Contact decisions: right before sending, whether the contact rules, the
    consent ledger and the customer's preferred hours let a message go now,
    later (it waits, planned, with the rule as its reason) or never (blocked);
    every refusal kept. Also the customer form's "next contact allowed"."""

    _name = "collections.message.contact"
    _description = "Collections Message Contact Decision"

    @engine_transition
    def _apply_contact_rules(self):
        """Right before sending, with each customer's row locked (so parallel
        dispatchers never exceed a window): the messages the contact rules
        allow now. The others wait, planned, until their next allowed moment,
        or end blocked with the rule when there is none within the horizon."""
        if not self:
            return self
        cr = self.env.cr
        partners = self.partner_id
        # Odoo runs in REPEATABLE READ: a lock alone would let a dispatcher whose snapshot
        # predates another's commit decide on stale history. Bumping a version on each
        # customer's row makes such a dispatcher fail with a serialization error (and be
        # retried on fresh data); locking in id order keeps dispatchers from deadlocking.
        cr.execute("SELECT id FROM res_partner WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [partners.ids])
        cr.execute(
            """UPDATE res_partner SET collections_contact_version = COALESCE(collections_contact_version, 0) + 1
                WHERE id = ANY(%s)""",
            [partners.ids],
        )
        self.flush_model()
        now = fields.Datetime.now()
        history = self._contact_history(partners, now)
        RuleSet = self.env["collections.contact.rule.set"]
        rule_sets = RuleSet._for_messages(self)
        Consent = self.env["collections.consent"]
        # Consent is the contacting company's: each message reads its own company's ledger.
        consent = {company.id: Consent._status_by_partner(partners, company) for company in self.company_id}
        preferences = {company.id: Consent._preferences_by_partner(partners, company) for company in self.company_id}
        aware_now = now.replace(tzinfo=dt.timezone.utc)
        allowed = self.browse()
        refusals = []

        def refuse(message, reason, rule_set, retry_at=None):
            refusals.append(
                {
                    "message_id": message.id,
                    "partner_id": message.partner_id.id,
                    "company_id": message.company_id.id,
                    "channel": message.channel,
                    "rule_set_id": rule_set.id,
                    "reason": reason,
                    "refused_at": now,
                    "retry_at": retry_at,
                }
            )

        for message in self.sorted("id"):
            partner = message.partner_id
            rule_set = rule_sets[message]
            status = consent[message.company_id.id].get((partner.id, message.channel))
            if status == "opt_out":
                message.write({"state": "blocked", **self._blocked_vals("opt_out")})
                refuse(message, "opt_out", rule_set)
                continue
            if rule_set and rule_set._needs_consent(message.channel) and status != "opt_in":
                message.write({"state": "blocked", **self._blocked_vals("no_consent", rule_set_id=rule_set.id)})
                refuse(message, "no_consent", rule_set)
                continue
            preferred_hours = preferences[message.company_id.id].get(partner.id, (None, None))[1]
            if rule_set or preferred_hours:
                decision, later, _reason = self._decide_contact(
                    rule_set, partner, history[partner.id], aware_now, message.channel, preferred_hours
                )
                if not decision.allowed:
                    reason = self._blocked_vals("contact_rules", rule_set_id=rule_set.id, refusal=decision.reason)
                    if later:
                        message.write({"scheduled_at": later, **reason})
                    else:
                        message.write({"state": "blocked", **reason})
                    refuse(message, decision.reason, rule_set, later)
                    continue
            history[partner.id].append(
                contact_rules.Contact(aware_now, message.channel, effective=message.channel != "call")
            )
            allowed |= message
        allowed.write({"attempted_at": now, **self._blocked_vals(False)})
        self.env["collections.contact.refusal"].sudo().create(refusals)
        return allowed

    @api.model
    def _contact_history(self, partners, now):
        """Contacts that count for the rules, per customer: {partner id: [Contact]}."""
        self.env.cr.execute(
            """
            SELECT partner_id, attempted_at, channel, conversation FROM collections_message
             WHERE partner_id = ANY(%s) AND attempted_at > %s
               AND state != ALL(%s)
            """,
            [partners.ids, now - dt.timedelta(days=CONTACT_HISTORY_DAYS), list(CLOSED_STATES)],
        )
        history = defaultdict(list)
        for partner_id, attempted_at, channel, conversation in self.env.cr.fetchall():
            history[partner_id].append(
                contact_rules.Contact(
                    attempted_at.replace(tzinfo=dt.timezone.utc),
                    channel,
                    effective=channel != "call" or bool(conversation),
                    conversation=bool(conversation),
                )
            )
        return history

    @api.model
    def _decide_contact(self, rule_set, partner, history, now, channel, preferred_hours=None):
        """The rules' word on contacting ``partner`` on ``channel`` at ``now`` (aware, UTC).
        The customer's preferred hours, if any, postpone a contact the rules allow to the
        next moment both allow; they never make a contact impossible.

        :return: (Decision, next allowed moment as naive UTC or False, reason text)
        """
        RuleSet = self.env["collections.contact.rule.set"]
        rules = rule_set._to_rules() if rule_set else contact_rules.RuleSet()
        tz = RuleSet._partner_timezone(partner)
        holidays = RuleSet._holidays_around(partner, now, tz) if rules.no_holidays else frozenset()
        decision = contact_rules.check(rules, history, now, channel, tz, holidays)
        preferred = (
            contact_rules.next_preferred(rules, history, now, channel, preferred_hours, tz, holidays)
            if preferred_hours
            else None
        )
        if decision.allowed and preferred in (None, now):
            return decision, False, _("%(rules)s: allowed now", rules=rule_set.name or _("No rules"))
        if decision.allowed:
            decision = contact_rules.Decision(False, "preferred_hours", preferred, "preferred_hours")
            later = preferred
        else:
            later = preferred or contact_rules.next_allowed(rules, history, now, channel, tz, holidays)
        reason = self._render_blocked_reason("contact_rules", {"rule_set_id": rule_set.id, "refusal": decision.reason})
        return decision, (later.astimezone(dt.timezone.utc).replace(tzinfo=None) if later else False), reason

    @api.model
    def _next_contact_for(self, partner, channel):
        """(naive UTC datetime or False, reason) for the partner form."""
        rule_set = self.env["collections.contact.rule.set"]._for_partners(partner)[partner]
        now = fields.Datetime.now()
        if not rule_set:
            return now, False
        history = self._contact_history(partner, now)[partner.id]
        decision, later, reason = self._decide_contact(
            rule_set, partner, history, now.replace(tzinfo=dt.timezone.utc), channel
        )
        return (now if decision.allowed else later), reason
