import logging
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import graph_client, webhook

_logger = logging.getLogger(__name__)
MANAGERS = "collections_omni.group_collections_manager"


class CollectionsWhatsappAccount(models.Model):
    """One WhatsApp Business phone number on Meta's Cloud API (several per
    company). Its secrets are read by managers only and never copied."""

    _name = "collections.whatsapp.account"
    _inherit = ["mail.thread"]
    _description = "WhatsApp Business Account"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    phone_number_id = fields.Char(
        string="Phone Number ID", required=True, copy=False, help="Meta's id of the business phone number."
    )
    display_phone_number = fields.Char(string="Phone Number", help="The number customers see, for people.")
    waba_id = fields.Char(
        string="Business Account ID", required=True, help="The WhatsApp Business Account (WABA) id: its templates."
    )
    api_version = fields.Char(string="Graph API Version", required=True, default=graph_client.DEFAULT_API_VERSION)
    graph_url = fields.Char(
        string="Graph API URL",
        required=True,
        default=graph_client.DEFAULT_BASE_URL,
        help="Meta's Graph API; the local emulator's URL for tests and the demo.",
    )
    access_token = fields.Char(groups=MANAGERS, copy=False, help="A system user's permanent token.")
    app_secret = fields.Char(groups=MANAGERS, copy=False, help="The Meta app's secret: it signs every webhook.")
    verify_token = fields.Char(
        string="Webhook Verify Token",
        groups=MANAGERS,
        copy=False,
        default=lambda self: secrets.token_urlsafe(24),
        help="Typed in Meta's webhook settings; Meta sends it back when it subscribes.",
    )
    timeout = fields.Float(string="Timeout (seconds)", default=10.0)
    webhook_url = fields.Char(string="Webhook URL", compute="_compute_webhook_url")
    template_ids = fields.One2many("collections.whatsapp.template", "account_id", string="Templates")
    template_count = fields.Integer(compute="_compute_template_count")
    templates_synced_at = fields.Datetime(readonly=True)
    # Stopped: Meta's error code and its own words (data), stored; the sentence is the reader's.
    stopped = fields.Boolean(readonly=True, copy=False)
    stopped_code = fields.Char(string="Meta's Error Code", readonly=True, copy=False)
    stopped_message = fields.Char(string="Meta's Error Message", readonly=True, copy=False)
    stopped_reason = fields.Char(
        compute="_compute_stopped_reason",
        help="Set when Meta refused the token or blocked the account: nothing is sent until a manager fixes it "
        "and resumes; the messages wait, none is lost.",
    )

    _sql_constraints = [
        ("phone_number_id_uniq", "unique(phone_number_id)", "This WhatsApp phone number is already configured."),
    ]

    @api.constrains("graph_url", "api_version", "timeout")
    def _check_settings(self):
        for account in self:
            if not (account.graph_url or "").startswith(("http://", "https://")):
                raise ValidationError(
                    _("%(account)s: the Graph API URL must start with http:// or https://", account=account.name)
                )
            try:
                graph_client.CloudApiClient("x", "x", account.api_version, account.graph_url)
            except ValueError as error:
                raise ValidationError(
                    _("%(account)s: the Graph API version must look like v21.0.", account=account.name)
                ) from error
            if account.timeout <= 0:
                raise ValidationError(_("%(account)s: the timeout must be positive.", account=account.name))

    @api.depends("stopped", "stopped_code", "stopped_message")
    @api.depends_context("lang", "uid")
    def _compute_stopped_reason(self):
        Note = self.env["collections.note"].with_context(lang=self.env.lang or self.env.user.lang or "en_US")
        for account in self:
            account.stopped_reason = account.stopped and account._stopped_text(Note)

    def _stopped_text(self, Note):
        """Why the account stopped, in ``Note``'s language."""
        args = {"error_code": self.stopped_code or "", "message": self.stopped_message or ""}
        return Note._text("whatsapp_account_stopped", args).unescape()

    def _compute_webhook_url(self):
        for account in self:
            account.webhook_url = account.id and f"{account.get_base_url()}/collections/whatsapp/webhook/{account.id}"

    def _compute_template_count(self):
        counts = dict(
            self.env["collections.whatsapp.template"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        for account in self:
            account.template_count = counts.get(account, 0)

    def _client_settings(self):
        """How to reach the account (credentials included): for the workers too."""
        self.ensure_one()
        account = self.sudo()
        return {
            "phone_number_id": account.phone_number_id,
            "access_token": account.access_token,
            "api_version": account.api_version,
            "base_url": account.graph_url,
            "timeout": account.timeout,
        }

    def _note_accepted(self, events):
        """Statuses carry our idempotency key back (``biz_opaque_callback_data``):
        proof that Meta accepted the message. Recorded in the workers' send
        ledger (scaled mode only), so a worker never resends a message whose
        answer it lost (graph_client.SendLedger). Best effort: without Redis the
        ledger waits, then resends as if no proof came."""
        self.ensure_one()
        accepted = {
            event.callback_data: event.wamid
            for event in events
            if isinstance(event, webhook.StatusEvent) and event.callback_data and event.status != "failed"
        }
        if not accepted:
            return
        providers = (
            self.env["collections.provider"]
            .sudo()
            .search(
                [
                    ("provider_type", "=", "whatsapp_cloud"),
                    ("whatsapp_account_id", "=", self.id),
                    ("dispatch_mode", "=", "celery"),
                ],
                limit=1,
            )
        )
        if not providers:
            return
        try:
            graph_client.note_accepted(graph_client.ledger_for(providers._broker_url()).redis, accepted)
        except Exception as error:  # noqa: BLE001 (Meta gets its 200 anyway; the ledger's wait covers it)
            _logger.warning("WhatsApp: could not record %s accepted messages in Redis: %s", len(accepted), error)

    def _client(self):
        self.ensure_one()
        settings = self._client_settings()
        if not settings["access_token"]:
            raise UserError(_("%(account)s has no access token.", account=self.name))
        return graph_client.CloudApiClient(**settings)

    def action_sync_templates(self):
        """Fetch the account's message templates from the Graph API: new ones
        are added with their variables, known ones updated (status, category,
        text), those Meta no longer lists archived."""
        for account in self:
            try:
                remote = account._client().list_templates(account.sudo().waba_id)
            except graph_client.GraphApiError as error:
                if error.kind in graph_client.STOPPING_KINDS:
                    account._stop(error.code, error.message)
                raise UserError(
                    _("Meta refused the template list of %(account)s: %(error)s", account=account.name, error=error)
                ) from error
            except Exception as error:  # network: say so, change nothing
                _logger.info("WhatsApp template sync of %s failed: %s", account.name, error)
                raise UserError(
                    _("The Graph API of %(account)s could not be reached: %(error)s", account=account.name, error=error)
                ) from error
            self.env["collections.whatsapp.template"]._sync_from_graph(account, remote)
            account.templates_synced_at = fields.Datetime.now()
        return True

    def _stop(self, code, message):
        """Meta refused the token or blocked the account: stop sending, tell the managers."""
        for account in self.filtered(lambda a: not a.stopped):
            account.sudo().write({"stopped": True, "stopped_code": code or False, "stopped_message": message or False})
            _logger.warning("WhatsApp account %s stopped by Meta's error %s: %s", account.name, code, message)
            company = account.company_id
            managers = self.env.ref(MANAGERS).sudo().users.filtered(lambda u, company=company: company in u.company_ids)
            # Posted on the account and sent to every manager of its company; each reads it in their language.
            self.env["collections.note"]._post(
                account.sudo(),
                "whatsapp_account_stopped",
                post_values={"partner_ids": managers.partner_id.ids, "subtype_xmlid": "mail.mt_comment"},
                error_code=code or "",
                message=message or "",
            )

    def action_resume(self):
        self.sudo().write({"stopped": False, "stopped_code": False, "stopped_message": False})
        return True

    def action_open_templates(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Templates of %(account)s", account=self.name),
            "res_model": "collections.whatsapp.template",
            "view_mode": "list,form",
            "domain": [("account_id", "=", self.id)],
            "context": {"default_account_id": self.id},
        }
