from markupsafe import Markup, escape

from odoo import api, models
from odoo.tools import LazyTranslate, format_date, plaintext2html

_lt = LazyTranslate(__name__)

# What the engine notes on a chatter, by code. A note stores its code and values
# on the mail.message (collections_note_code, collections_note_args) and is read
# in the reader's language (mail_message.py); its stored body is the rendering in
# the company's language, for emails to followers and search. Values are data
# (names, numbers, a customer's words) or codes rendered here (``channel``,
# ``plan_state``). Other addons add codes by extending ``_note_labels``.
NOTE_LABELS = {
    "inbound_reply": _lt("Collections reply by %(channel)s from %(number)s: %(text)s"),
    "promise_kept": _lt("Payments cover the promise: kept."),
    "plan_completed": _lt("Every installment is paid: the plan is completed."),
    "plan_reactivated": _lt("A payment was undone: the plan is active again."),
    "reconciliation_undone": _lt("Reconciliation undone."),
    # One paragraph per message sent (``lines``: the values of each), the customer's contact timeline.
    "messages_sent": _lt("Collections %(channel)s sent: %(subject)s (%(amount)s due)"),
    "not_reconciled": _lt("Not reconciled automatically: %(error)s"),
    "promise_broken": _lt("Promise broken: %(amount)s promised by %(date)s, %(paid)s paid"),
    "dunning_resumes": _lt("Dunning resumes with the next run."),
    "promise_holds": _lt("Dunning stays on hold until you resume it or cancel the promise."),
    "promise_escalates": _lt("Its invoices move on to the next dunning stage with the next run."),
    "plan_broken": _lt("Payment plan %(plan)s broken: %(count)s installment(s) unpaid past the grace days"),
    "plan_broken_resumes": _lt("Dunning of its invoices resumes with the next run."),
    "plan_broken_holds": _lt("Its invoices stay out of dunning until you renegotiate, cancel or resume it."),
    "plan_renegotiated": _lt("Renegotiated as %(plan)s."),
    "ab_promoted": _lt("Variant %(variant)s promoted to the stage action."),
    "vulnerable_lifted": _lt("Vulnerable customer protection lifted by %(user)s."),
    "vulnerable_protected": _lt(
        "Protected as a vulnerable customer: no automated contact; a trained collector handles them."
    ),
    "vulnerable_review": _lt("Review the vulnerable customer's protection"),
    "call_task": _lt("Collections call: %(amount)s due"),
    "call_back": _lt("Collections call back"),
}
# Values rendered as money in the currency ``currency_id`` of the same values, and as dates.
MONEY_VALUES = ("amount", "paid")
DATE_VALUES = ("date",)


class CollectionsNote(models.AbstractModel):
    """Chatter notes of the engine: a code and its values, rendered for whoever reads them."""

    _name = "collections.note"
    _description = "Collections Chatter Note"

    @api.model
    def _note_labels(self):
        """{code: lazy translatable label}; ``%(name)s`` placeholders take the rendered values."""
        return dict(NOTE_LABELS)

    @api.model
    def _post(self, records, code, words=None, attachment_ids=None, post_values=None, **args):
        """Post the note ``code`` with ``args`` on each of ``records`` (mail.thread); ``words``,
        someone's own text (a customer's description), follows as a paragraph of its own;
        ``post_values`` go to message_post (partner_ids, subtype_xmlid). An arg ``then``
        names a second code of the table, said after the first with the same values.
        Returns the mail.message records."""
        assert code in self._note_labels(), code
        assert not args.get("then") or args["then"] in self._note_labels(), args.get("then")
        values = {"code": code, "args": args, **({"words": words} if words else {})}
        post_values = {"subtype_xmlid": "mail.mt_note", **(post_values or {})}
        messages = self.env["mail.message"]
        for record in records:
            company = (record.company_id if "company_id" in record._fields else False) or self.env.company
            lang = company.partner_id.lang or self.env.lang or "en_US"
            body = self.with_context(lang=lang)._render(code, args, words)
            message = record.message_post(body=body, attachment_ids=attachment_ids or [], **post_values)
            messages |= message
        # sudo: the note's code is the engine's, written on the message it just posted.
        messages.sudo().write({"collections_note_code": code, "collections_note_args": values})
        return messages

    @api.model
    def _render(self, code, args, words=None, memo=None):
        """The note's HTML body in this environment's language; ``lines`` in ``args``: a
        paragraph per line, each with its own values. ``memo``: see :meth:`_text`."""
        # Thousands of lines and notes at a time (worker reports, a chatter): labels,
        # vocabularies and currencies looked up once per rendering, not per line.
        memo = {} if memo is None else memo
        if args and args.get("lines"):
            return Markup("").join(Markup("<p>%s</p>") % self._text(code, line, memo) for line in args["lines"])
        text = self._text(code, args, memo)
        if not text:
            return Markup()
        return Markup("<p>%s</p>") % text + (plaintext2html(words) if words else Markup())

    @api.model
    def _text(self, code, args=None, memo=None):
        """The note's sentence (then its ``then`` sentence) in this environment's language, as
        escaped Markup: for a chatter or an activity's one-line summary. ``memo``, a dict shared
        by the calls of one rendering, keeps what they look up."""
        memo = {} if memo is None else memo
        if ("label", code) not in memo:
            label = self._note_labels().get(code)
            memo["label", code] = label and escape(self.env._(label))
        template = memo["label", code]
        if template is None:
            return Markup()
        args = args or {}
        try:
            text = template % self._values(args, memo)
        except (KeyError, TypeError, ValueError):
            text = template  # values missing (a label changed since it was stored): the label alone
        then = args.get("then")
        if then and then != code:
            stop = "" if text.endswith(".") else "."
            text = Markup("%s%s %s") % (text, stop, self._text(then, {**args, "then": None}, memo))
        return text

    @api.model
    def _for_user(self, user):
        """Notes rendered in ``user``'s language (an activity's assignee reads it, not whoever ran the job)."""
        company = self.env.company
        return self.with_context(lang=user.lang or company.partner_id.lang or self.env.lang or "en_US")

    @api.model
    def _values(self, args, memo=None):
        """Stored values made readable in this environment's language (escaped by the caller's Markup)."""
        env = self.env
        memo = {} if memo is None else memo
        values = {name: escape(value if value is not None else "") for name, value in args.items()}
        for name, model in (("channel", "collections.message"), ("plan_state", "collections.payment.plan")):
            if name in args:
                if name not in memo:
                    field = env[model]._fields["channel" if name == "channel" else "state"]
                    memo[name] = dict(field._description_selection(env))
                values[name] = escape(memo[name].get(args[name], args[name]))
        currency_id = args.get("currency_id") or False
        if ("currency", currency_id) not in memo:
            memo["currency", currency_id] = env["res.currency"].browse(currency_id or []).exists()
        currency = memo["currency", currency_id]
        for name in MONEY_VALUES:
            if currency and isinstance(args.get(name), (int, float)):
                values[name] = escape(currency.format(args[name]))
        for name in DATE_VALUES:
            if args.get(name):
                values[name] = escape(format_date(env, args[name]))
        return values
