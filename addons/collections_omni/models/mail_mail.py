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
