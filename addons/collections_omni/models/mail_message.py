from odoo import fields, models


class MailMessage(models.Model):
    """A collections note (collections_note.py) keeps its code and values, and is
    shown to each reader in their own language."""

    _inherit = "mail.message"

    collections_note_code = fields.Char(readonly=True, index="btree_not_null")
    collections_note_args = fields.Json(readonly=True)

    def write(self, vals):
        # A body written over a note (its author edits or deletes a comment in the chatter) is
        # what everybody reads from then on: the note's code would render the old text again.
        if "body" in vals and "collections_note_code" not in vals and any(self.mapped("collections_note_code")):
            vals = {**vals, "collections_note_code": False, "collections_note_args": False}
        return super().write(vals)

    def _to_store(self, store, /, *, fields=None, **kwargs):
        super()._to_store(store, fields=fields, **kwargs)
        if fields is not None and "body" not in fields:
            return
        notes = self.filtered("collections_note_code")
        if not notes:
            return
        # The reader's language, not the poster's: the web client's own context has none.
        Note = self.env["collections.note"].with_context(lang=self.env.user.lang or self.env.lang)
        memo = {}
        for message in notes:
            values = message.collections_note_args or {}
            body = Note._render(message.collections_note_code, values.get("args"), values.get("words"), memo)
            if body:
                store.add(message, {"body": body})
