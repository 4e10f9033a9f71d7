from odoo import models


class SmsTracker(models.Model):
    """Odoo SMS (IAP) delivery reports reach ``sms.tracker`` by SMS UUID: carry
    them to the collections messages sent through the IAP provider."""

    _inherit = "sms.tracker"

    def _action_update_from_sms_state(self, sms_state, failure_type=False, failure_reason=False):
        result = super()._action_update_from_sms_state(
            sms_state, failure_type=failure_type, failure_reason=failure_reason
        )
        if sms_state == "sent":  # IAP's "sent" is the handset's delivery report
            self._collections_apply_status("delivered")
        elif sms_state == "error":
            self._collections_apply_status("failed", failure_type, failure_reason)
        return result

    def _action_update_from_provider_error(self, provider_error):
        error_status, failure_type, failure_reason = super()._action_update_from_provider_error(provider_error)
        self._collections_apply_status("failed", failure_type, failure_reason or failure_type)
        return error_status, failure_type, failure_reason

    def _collections_apply_status(self, status, code=None, error=None):
        if self.env.context.get("collections_sending"):
            return  # the answer to our own send: the provider records it (and retries temporary errors)
        messages = (
            self.env["collections.message"]
            .sudo()
            .search([("provider_ref", "in", self.mapped("sms_uuid")), ("provider_id.provider_type", "=", "sms_iap")])
        )
        for message in messages:
            message._apply_provider_status(message.provider_id, message.provider_ref, status, code=code, error=error)
