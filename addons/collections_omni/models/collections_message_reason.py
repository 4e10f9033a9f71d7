from odoo import api, fields, models
from odoo.tools import LazyTranslate

from ..tools.rules import SKIP_REASON_LABELS

_lt = LazyTranslate(__name__)

# Why a message was blocked, cancelled or held back: the one table of codes and
# their labels. Messages store the code and its values (``blocked_args``); the
# label is rendered in the reader's language. Holds and netting ("payment_plan",
# "promise", "dispute", "netted") read the run's skip-reason labels
# (tools/rules.py SKIP_REASON_LABELS). Other addons add codes by extending
# ``_blocked_reason_labels``.
BLOCKED_REASON_LABELS = {
    "paid": _lt("Paid since planning"),
    "cancelled_by": _lt("Cancelled by %(user)s"),
    "no_provider": _lt("No active %(channel)s provider for %(company)s"),
    "opt_out": _lt("The customer opted out of this channel"),
    "no_consent": _lt("%(rules)s: no consent for this channel"),
    "contact_rules": _lt("%(rules)s: %(refusal)s"),
    "no_email": _lt("No email address"),
    "no_phone": _lt("No mobile or phone number"),
    "invalid_phone": _lt("The number %(number)s is not a valid phone number"),
    # A reason stored as a sentence before the codes that the migration could not map (18.0.1.0.1).
    "legacy": _lt("%(text)s"),
}
# Why a send failed, for the codes the engine itself gives (``error_code``); a
# provider's own codes ("21211", "429") are shown with the provider's own words
# (``error``), which are data, not ours to translate. ``%(detail)s`` takes those
# words where they add something (an SMTP answer, a network error).
ERROR_LABELS = {
    "not_delivered": _lt("Not delivered"),
    "email_failed": _lt("The email could not be sent: %(detail)s"),
    "timeout": _lt(
        "The provider did not answer in time: it may have accepted the message; a resend with the same key is safe"
    ),
    "connection": _lt("The provider could not be reached: %(detail)s"),
}
# Who the contact rules are when a customer's own preferred hours held a message back.
CUSTOMER_PREFERENCE = _lt("Customer preference")


class CollectionsMessageReason(models.AbstractModel):
    """Why a message did not go (or not yet): a code and its values, stored;
    the sentence, rendered for whoever reads it, in their language."""

    _name = "collections.message.reason"
    _description = "Collections Message Reason"

    blocked_code = fields.Char(string="Reason Code", readonly=True, index="btree_not_null")
    blocked_args = fields.Json(string="Reason Values", readonly=True)
    blocked_reason = fields.Char(string="Reason", compute="_compute_blocked_reason", search="_search_blocked_reason")

    @api.model
    def _blocked_vals(self, code, **args):
        """The values every writer of a reason uses: ``{'blocked_code', 'blocked_args'}``
        (``code`` False clears it). Values name records by id (``rule_set_id``,
        ``user_id``, ``company_id``) and vocabulary by code (``channel``, ``refusal``),
        so that nothing is stored in the writer's language."""
        assert not code or code in self._blocked_reason_labels() or code in SKIP_REASON_LABELS, code
        return {"blocked_code": code or False, "blocked_args": (args or False) if code else False}

    @api.model
    def _blocked_reason_labels(self):
        """{code: lazy translatable label}; ``%(name)s`` placeholders take the rendered values."""
        return dict(BLOCKED_REASON_LABELS)

    def _reader_lang(self):
        return self.env.lang or self.env.user.lang or "en_US"

    @api.depends("blocked_code", "blocked_args")
    @api.depends_context("lang", "uid")
    def _compute_blocked_reason(self):
        renderer = self.with_context(lang=self._reader_lang())
        for record in self:
            code = record.blocked_code
            record.blocked_reason = code and renderer._render_blocked_reason(code, record.blocked_args)

    @api.model
    def _render_blocked_reason(self, code, args=None):
        """The sentence for ``code`` with ``args``, in this environment's language."""
        env = self.env
        if code in SKIP_REASON_LABELS:
            field = env["collections.run.preview.skip"]._fields["reason"]
            return dict(field._description_selection(env)).get(code, code)
        label = self._blocked_reason_labels().get(code)
        if label is None:
            return code
        values = self._blocked_reason_values(args or {})
        try:
            return env._(label) % values
        except (KeyError, TypeError, ValueError):
            return env._(label)

    @api.model
    def _blocked_reason_values(self, args):
        """Stored values made readable in this environment's language."""
        env = self.env
        values = dict(args)
        if "rule_set_id" in args:
            rule_set = env["collections.contact.rule.set"].sudo().browse(args["rule_set_id"] or [])
            values["rules"] = rule_set.exists().name or env._(CUSTOMER_PREFERENCE)
        if "user_id" in args:
            values["user"] = env["res.users"].sudo().browse(args["user_id"] or []).exists().name or ""
        if "company_id" in args:
            values["company"] = env["res.company"].sudo().browse(args["company_id"] or []).exists().name or ""
        if "channel" in args:
            channels = dict(env["collections.message"]._fields["channel"]._description_selection(env))
            values["channel"] = channels.get(args["channel"], args["channel"])
        if "refusal" in args:
            refusals = dict(env["collections.contact.refusal"]._fields["reason"]._description_selection(env))
            values["refusal"] = refusals.get(args["refusal"], args["refusal"])
        return values

    @api.model
    def _error_labels(self):
        """{engine error code: lazy translatable label}; other addons add theirs."""
        return dict(ERROR_LABELS)

    @api.model
    def _render_error(self, code, detail):
        """Why a send failed, in this environment's language: the label of an engine
        code (with the provider's or network's words as its detail), else the
        provider's own words."""
        label = self._error_labels().get(code)
        if label is None:
            # Odoo SMS (IAP) failures carry Odoo's own failure types, labelled by Odoo.
            if code and "sms.sms" in self.env:
                failure_types = dict(self.env["sms.sms"]._fields["failure_type"]._description_selection(self.env))
                if code in failure_types:
                    return failure_types[code]
            return detail or code or False
        text = self.env._(label)
        if "%(detail)s" not in text:
            return text
        if not detail:
            return text.split(":")[0] if ":" in text else text
        return text % {"detail": detail}

    @api.model
    def _search_blocked_reason(self, operator, value):
        """Search the rendered reason (in the reader's language) by its code: the
        codes whose label, without its values, matches."""
        if operator in ("=", "!=") and not value:
            return [("blocked_code", "=" if operator == "=" else "!=", False)]
        if operator not in ("ilike", "not ilike", "=", "!=") or not isinstance(value, str):
            return [("blocked_code", operator, value)]
        env = self.with_context(lang=self._reader_lang()).env
        renderer = self.with_env(env)
        needle = value.casefold()
        codes = [
            code
            for code in [*self._blocked_reason_labels(), *SKIP_REASON_LABELS]
            if (
                needle in renderer._render_blocked_reason(code).casefold()
                if "ilike" in operator
                else renderer._render_blocked_reason(code) == value
            )
            or needle == code
        ]
        positive = operator in ("ilike", "=")
        return [("blocked_code", "in" if positive else "not in", codes)]
