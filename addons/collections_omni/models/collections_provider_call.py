from odoo import fields, models

from .collections_message_audit import engine_messages


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """Phone calls: a call activity for the customer's collector."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[("call_task", "Call Task")], ondelete={"call_task": "cascade"})

    @engine_messages
    def _send_messages(self, messages):
        """A call activity on the customer for each message: sent once the task exists."""
        if self.provider_type != "call_task":
            return super()._send_messages(messages)
        activity_type = messages.env.ref("mail.mail_activity_data_call")
        model_id = messages.env["ir.model"]._get_id("res.partner")
        Collector = messages.env["collections.hold.mixin"]
        Note = messages.env["collections.note"]
        for message in messages:
            user = Collector._find_collector(message.partner_id, message.company_id) or messages.env.user
            # The engine's task on the customer, for whoever sends (a collector may not write customers).
            activity = (
                messages.env["mail.activity"]
                .sudo()
                .create(
                    {
                        "activity_type_id": activity_type.id,
                        "res_model_id": model_id,
                        "res_id": message.partner_id.id,
                        "user_id": user.id,
                        "date_deadline": message.planned_date,
                        # In the collector's language: they read it, not whoever ran the dispatch.
                        "summary": Note._for_user(user)
                        ._text(
                            "call_task",
                            {"amount": message.amount_due, "currency_id": message.currency_id.id},
                        )
                        .unescape(),
                        "note": message.action_id.note or False,
                    }
                )
            )
            message.activity_id = activity
            message._mark_sent()
        return None
