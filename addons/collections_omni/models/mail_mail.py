from odoo import models


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        """Carry the outcome of Odoo's mail queue to the collections messages,
        so no reminder stays 'queued' forever."""
        messages = (
            self.env["collections.message"].sudo().search([("mail_id", "in", self.ids), ("state", "=", "queued")])
        )
        if messages:
            failed = self.filtered(lambda mail: mail.state == "exception").ids
            messages._mark_mail_result(failed_mail_ids=failed)
        return super()._postprocess_sent_message(success_pids, failure_reason=failure_reason, failure_type=failure_type)

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        """A reminder's plain-text part is written for reading (Odoo's default
        converts the HTML and prints one table cell per line)."""
        email_list = super()._prepare_outgoing_list(
            mail_server=mail_server, recipients_follower_status=recipients_follower_status
        )
        message = self.env["collections.message"].sudo().search([("mail_id", "=", self.id)], limit=1)
        if message:
            plain = message._reminder_plain()
            for email in email_list:
                email["body_alternative"] = plain
        return email_list
