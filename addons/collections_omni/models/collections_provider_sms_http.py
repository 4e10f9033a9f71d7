from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools import sms_http_client
from ..tools.rules import GROUP_MANAGER as MANAGERS
from .collections_message_audit import engine_messages

# Twilio's MessageStatus values and what they mean for a collections message.
TWILIO_STATUSES = {
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}


# One file per provider type, as Odoo's payment providers: a new provider is one file.
# pylint: disable=consider-merging-classes-inherited
class CollectionsProvider(models.Model):
    """SMS through any gateway with a Twilio-compatible HTTP API (Twilio itself,
    compatible gateways, the local fake). Runs inside Odoo or on the workers."""

    _inherit = "collections.provider"

    provider_type = fields.Selection(
        selection_add=[("sms_http", "SMS over HTTP (Twilio-compatible)")], ondelete={"sms_http": "cascade"}
    )
    sms_http_base_url = fields.Char(
        string="API Base URL",
        groups=MANAGERS,
        help="For example https://api.twilio.com; the messages go to {URL}/2010-04-01/Accounts/{SID}/Messages.json.",
    )
    # Secrets: for managers only, and never carried over to a duplicated provider.
    sms_http_account_sid = fields.Char(string="Account SID", groups=MANAGERS, copy=False)
    sms_http_auth_token = fields.Char(string="Auth Token", groups=MANAGERS, copy=False)
    sms_http_from_number = fields.Char(string="Sender Number", groups=MANAGERS, help="In E.164, e.g. +34600000000.")
    sms_http_timeout = fields.Float(string="Timeout (seconds)", default=10.0, groups=MANAGERS)
    sms_http_inbound_url = fields.Char(
        string="Incoming Messages URL",
        compute="_compute_sms_http_inbound_url",
        groups=MANAGERS,
        help="Set it as the provider's webhook for incoming messages: customers' replies are logged "
        "and STOP/BAJA opts them out of SMS.",
    )

    def _compute_sms_http_inbound_url(self):
        for provider in self:
            provider.sms_http_inbound_url = (
                provider.id and f"{provider.get_base_url()}/collections/inbound/{provider.id}"
            )

    @api.constrains("provider_type", "sms_http_base_url", "sms_http_from_number", "sms_http_timeout")
    def _check_sms_http(self):
        for provider in self.sudo().filtered(lambda p: p.provider_type == "sms_http"):
            if provider.channel != "sms":
                raise ValidationError(_("%(provider)s sends SMS: set its channel to SMS.", provider=provider.name))
            if not (provider.sms_http_base_url or "").startswith(("http://", "https://")):
                raise ValidationError(
                    _("%(provider)s: the API base URL must start with http:// or https://", provider=provider.name)
                )
            if provider.sms_http_from_number and not sms_http_client.E164.match(provider.sms_http_from_number):
                raise ValidationError(
                    _("%(provider)s: the sender number must be in E.164 format (+ and digits).", provider=provider.name)
                )
            if provider.sms_http_timeout <= 0:
                raise ValidationError(_("%(provider)s: the timeout must be positive.", provider=provider.name))

    @api.depends("provider_type")
    def _compute_supports_scaled(self):
        result = super()._compute_supports_scaled()
        for provider in self.filtered(lambda p: p.provider_type == "sms_http"):
            provider.supports_scaled = True
        return result

    @engine_messages
    def _prepare_messages(self, messages):
        if self.provider_type != "sms_http":
            return super()._prepare_messages(messages)
        return self._prepare_phone_messages(messages)

    def _get_client_settings(self):
        if self.provider_type != "sms_http":
            return super()._get_client_settings()
        provider = self.sudo()
        return {
            "base_url": provider.sms_http_base_url,
            "account_sid": provider.sms_http_account_sid,
            "auth_token": provider.sms_http_auth_token,
            "from_number": provider.sms_http_from_number,
            "timeout": provider.sms_http_timeout,
        }

    def _get_client(self):
        if self.provider_type != "sms_http":
            return super()._get_client()
        return sms_http_client.TwilioCompatibleClient(**self._get_client_settings())

    def _verify_webhook(self, request_data):
        """Twilio's signature (X-Twilio-Signature) with the provider's auth token."""
        if self.provider_type != "sms_http":
            return super()._verify_webhook(request_data)
        return sms_http_client.verify_signature(
            self.sudo().sms_http_auth_token,
            request_data["url"],
            request_data["form"],
            request_data["headers"].get("X-Twilio-Signature", ""),
        )

    def _parse_status_webhook(self, request_data):
        """Twilio's status callback: MessageSid, MessageStatus, ErrorCode,
        ErrorMessage; the message's idempotency key in the URL (``key``)."""
        if self.provider_type != "sms_http":
            return super()._parse_status_webhook(request_data)
        params = request_data["params"]
        status = TWILIO_STATUSES.get(params.get("MessageStatus"))
        if not (status and params.get("MessageSid")):
            return []
        return [
            {
                "provider_ref": params["MessageSid"],
                "status": status,
                "code": params.get("ErrorCode"),
                "error": params.get("ErrorMessage"),
                "key": request_data["query"].get("key"),
            }
        ]

    def _parse_inbound_webhook(self, request_data):
        """Twilio's incoming-message webhook: From, Body, MessageSid."""
        if self.provider_type != "sms_http":
            return super()._parse_inbound_webhook(request_data)
        params = request_data["params"]
        if not (params.get("From") and params.get("MessageSid")):
            return []
        return [{"number": params["From"], "text": params.get("Body") or "", "provider_ref": params["MessageSid"]}]
