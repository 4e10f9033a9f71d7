import functools
import uuid

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools.rules import GROUP_COLLECTOR

# The mark of the engine's own transitions, as OCA queue_job marks its edits: a
# Python object, so no context sent over RPC or JSON can carry it.
ENGINE_TRANSITION = object()
ENGINE_CONTEXT_KEY = "collections_engine_transition"
# States of a message that has not happened yet: cancelled, never corrected.
UNSENT_STATES = ("planned", "queued", "sending")


def engine_transition(method):
    """Mark a method of the engine as one of its transitions: the messages it
    works on (and those it passes on, to providers too) may write the trail."""

    @functools.wraps(method)
    def transition(self, *args, **kwargs):
        return method(self._engine(), *args, **kwargs)

    return transition


def engine_messages(method):
    """Mark a provider method that receives messages from the engine (``messages``
    is its first argument): it writes them as the engine's transitions do, also
    when a test or another addon calls the provider directly."""

    @functools.wraps(method)
    def transition(self, messages, *args, **kwargs):
        return method(self, messages._engine(), *args, **kwargs)

    return transition


class CollectionsMessageAudit(models.AbstractModel):
    """The audit-trail rules of ``collections.message``, apart from its dispatch engine.

    The outbox is an append-only record of every contact: what it said, by
    which channel, to whom, its states and their moments change only through
    the engine's transitions. A user's write, from any group and from the
    interface or RPC, is refused; the engine's methods run as superuser or
    through ``_engine()``. A correction is a new entry pointing to the old one.
    """

    _name = "collections.message.audit"
    _description = "Collections Message Audit Trail"

    # Fields a user may write on a message: none records anything but what happened.
    _audit_user_writable_fields = frozenset()

    correction_of_id = fields.Many2one(
        "collections.message",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="The entry this one corrects: the history keeps both.",
    )
    correction_ids = fields.One2many("collections.message", "correction_of_id")

    def _engine(self):
        """These records as the engine's transitions see them: allowed to write the trail."""
        return self.with_context(**{ENGINE_CONTEXT_KEY: ENGINE_TRANSITION})

    def _check_collector(self):
        """The outbox's buttons are the collectors': a viewer reads the trail, never acts on it."""
        if self.env.su:
            return
        if not self.env.user.has_group(GROUP_COLLECTOR):
            raise AccessError(_("Only collectors send, cancel or correct collections messages."))
        self.check_access("read")

    def _is_engine_transition(self):
        return self.env.su or self.env.context.get(ENGINE_CONTEXT_KEY) is ENGINE_TRANSITION

    def write(self, vals):
        refused = set(vals) - self._audit_user_writable_fields
        if refused and not self._is_engine_transition():
            labels = sorted(
                self._fields[name].get_description(self.env)["string"] for name in refused if name in self._fields
            )
            raise AccessError(
                _(
                    "The contact history is an audit trail: %(fields)s of a collections message change only "
                    "through the engine. To correct an entry, record a correction.",
                    fields=", ".join(labels) or ", ".join(sorted(refused)),
                )
            )
        return super().write(vals)

    @api.model_create_multi
    def create(self, vals_list):
        """Entries are made by the engine (a run's plan, a logged call, a reply,
        a provider's report); a user, of any group and over any interface,
        creates only a correction, whose facts are the corrected entry's."""
        engine = self._is_engine_transition()
        for vals in vals_list:
            # The correction form passes the corrected entry as a default.
            correction_of = vals.get("correction_of_id") or self.env.context.get("default_correction_of_id")
            if correction_of:
                self._check_collector()
                vals.update(self._correction_values({**vals, "correction_of_id": correction_of}))
            elif not engine:
                raise AccessError(
                    _(
                        "The contact history is an audit trail: collections messages are created only by "
                        "the engine (a run, a logged call, a reply). To correct an entry, record a correction."
                    )
                )
        return super().create(vals_list)

    @api.model
    def _correction_values(self, vals):
        """What a correction takes from the entry it corrects, whatever the user
        sent: the same contact (customer, recipient, channel, direction, state);
        only its subject and content are the user's. It was never attempted, so
        the contact rules do not count it as another contact."""
        original = self.browse(vals["correction_of_id"])
        original.check_access("read")
        if original.state in UNSENT_STATES:
            raise UserError(_("A message that was not sent yet is cancelled, not corrected."))
        return {
            "correction_of_id": original.id,
            "company_id": original.company_id.id,
            "partner_id": original.partner_id.id,
            "recipient_id": original.recipient_id.id,
            "channel": original.channel,
            "direction": original.direction,
            "currency_id": original.currency_id.id,
            "amount_due": original.amount_due,
            "state": original.state,
            "subject": vals.get("subject") or original._correction_subject(),
            "body": vals.get("body") or False,
            "conversation": False,
            "attempted_at": False,
            "sent_at": False,
            "idempotency_key": f"correction-{original.id}-{uuid.uuid4().hex}",
        }

    def _correction_subject(self):
        """The subject of a correction of this entry, in the customer's language (they
        receive it), not the language of whoever records it."""
        self.ensure_one()
        return self.with_context(lang=self._reminder_lang()).env._("Correction: %s", self.subject or "")

    def action_record_correction(self):
        """A new entry that corrects this one (the original stays as it was)."""
        self.ensure_one()
        self._check_collector()
        if self.state in UNSENT_STATES:
            raise UserError(_("A message that was not sent yet is cancelled, not corrected."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Record a Correction"),
            "res_model": "collections.message",
            "view_mode": "form",
            "views": [(self.env.ref("collections_omni.collections_message_correction_form").id, "form")],
            "target": "new",
            "context": {
                "default_correction_of_id": self.id,
                "default_subject": self._correction_subject(),
            },
        }
