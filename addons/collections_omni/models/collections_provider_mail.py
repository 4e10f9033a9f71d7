from odoo import fields, models

from .collections_message_audit import engine_messages


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """Email through Odoo's own mail queue (templates in the customer's language)."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(selection_add=[("mail", "Odoo Email")], ondelete={"mail": "cascade"})

    @engine_messages
    def _send_messages(self, messages):
        """Each message rendered from its template, with the invoices' PDFs if
        the action attaches them and a way out (opt-out footer and RFC 8058
        headers), into Odoo's mail queue: queued until the queue has sent it
        (see mail_mail.py)."""
        if self.provider_type != "mail":
            return super()._send_messages(messages)
        messages._render_content()
        rule_sets = messages.env["collections.contact.rule.set"]._for_messages(messages)
        for message in messages:
            template = message._template()
            recipient = message.recipient_id or message.partner_id
            if not recipient.email:
                message.write({"state": "blocked", **message._blocked_vals("no_email")})
                continue
            attachment_ids = []
            if message.action_id.attach_invoices:
                attachment_ids = message._invoice_pdf_attachments().ids
            email_values = {
                "recipient_ids": [(6, 0, recipient.ids)],
                "attachment_ids": [(6, 0, attachment_ids)],
                "auto_delete": False,
            }
            message.body = message.body + message._email_opt_out_footer(rule_sets[message], recipient)
            email_values["body_html"] = message.body
            # From, Reply-To, the customer's chatter for replies, RFC 8058 headers.
            email_values.update(message._reminder_email_values())
            mail_id = template.send_mail(message.id, force_send=False, email_values=email_values)
            message.write({"state": "queued", "mail_id": mail_id})
        return None
