from odoo import models

# RFC 5322's limit for a header line; Python folds at 78 by default.
MAX_HEADER_LINE = 998


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def build_email(self, *args, **kwargs):
        """List-Unsubscribe must reach mail clients as ``<https://...>`` (RFC 2369,
        RFC 8058). Python folds a header longer than 78 characters that has no
        space (an unsubscribe URL with its token) into an RFC 2047 encoded word
        that no client reads as a link: such messages fold at RFC 5322's line limit."""
        message = super().build_email(*args, **kwargs)
        if message["List-Unsubscribe"]:
            message.policy = message.policy.clone(max_line_length=MAX_HEADER_LINE)
        return message
