from markupsafe import Markup, escape

from odoo import api, models
from odoo.tools import LazyTranslate, plaintext2html

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
}


class CollectionsNote(models.AbstractModel):
    """Chatter notes of the engine: a code and its values, rendered for whoever reads them."""

    _name = "collections.note"
    _description = "Collections Chatter Note"

    @api.model
    def _note_labels(self):
        """{code: lazy translatable label}; ``%(name)s`` placeholders take the rendered values."""
        return dict(NOTE_LABELS)

    @api.model
    def _post(self, records, code, words=None, attachment_ids=None, **args):
        """Post the note ``code`` with ``args`` on each of ``records`` (mail.thread); ``words``,
        someone's own text (a customer's description), follows as a paragraph of its own.
        Returns the mail.message records."""
        assert code in self._note_labels(), code
        values = {"code": code, "args": args, **({"words": words} if words else {})}
        messages = self.env["mail.message"]
        for record in records:
            company = (record.company_id if "company_id" in record._fields else False) or self.env.company
            lang = company.partner_id.lang or self.env.lang or "en_US"
            body = self.with_context(lang=lang)._render(code, args, words)
            message = record.message_post(body=body, subtype_xmlid="mail.mt_note", attachment_ids=attachment_ids or [])
            messages |= message
        # sudo: the note's code is the engine's, written on the message it just posted.
        messages.sudo().write({"collections_note_code": code, "collections_note_args": values})
        return messages

    @api.model
    def _render(self, code, args, words=None):
        """The note's HTML body in this environment's language."""
        label = self._note_labels().get(code)
        if label is None:
            return Markup()
        text = escape(self.env._(label))
        try:
            body = Markup("<p>%s</p>") % (text % self._values(args or {}))
        except (KeyError, TypeError, ValueError):
            body = Markup("<p>%s</p>") % text
        return body + (plaintext2html(words) if words else Markup())

    @api.model
    def _values(self, args):
        """Stored values made readable in this environment's language (escaped by the caller's Markup)."""
        env = self.env
        values = {name: escape(value if value is not None else "") for name, value in args.items()}
        if "channel" in args:
            channels = dict(env["collections.message"]._fields["channel"]._description_selection(env))
            values["channel"] = escape(channels.get(args["channel"], args["channel"]))
        if "plan_state" in args:
            states = dict(env["collections.payment.plan"]._fields["state"]._description_selection(env))
            values["plan_state"] = escape(states.get(args["plan_state"], args["plan_state"]))
        return values
