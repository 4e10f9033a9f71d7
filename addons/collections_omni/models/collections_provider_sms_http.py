from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools import sms_http_client
from ..tools.rules import GROUP_MANAGER as MANAGERS


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
    sms_http_account_sid = fields.Char(string="Account SID", groups=MANAGERS)
    sms_http_auth_token = fields.Char(string="Auth Token", groups=MANAGERS)
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

    def _sms_http_client_settings(self):
        provider = self.sudo()
        return {
            "base_url": provider.sms_http_base_url,
            "account_sid": provider.sms_http_account_sid,
            "auth_token": provider.sms_http_auth_token,
            "from_number": provider.sms_http_from_number,
            "timeout": provider.sms_http_timeout,
        }

    def _sms_http_client(self):
        return sms_http_client.TwilioCompatibleClient(**self._sms_http_client_settings())

    def _sms_http_verify_callback(self, url, params, signature):
        return sms_http_client.verify_signature(self.sudo().sms_http_auth_token, url, params, signature)
