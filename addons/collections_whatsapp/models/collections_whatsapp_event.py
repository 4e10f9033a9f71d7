import json
import logging

from odoo import api, fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import SQL

from ..tools import webhook

_logger = logging.getLogger(__name__)


class CollectionsWhatsappEvent(models.Model):
    """Every webhook event once: a status of a message or a customer's
    message, keyed by Meta's message id (and the status), however often Meta
    delivers it. Stored before it is applied; applying it is idempotent."""

    _name = "collections.whatsapp.event"
    _description = "WhatsApp Webhook Event"
    _order = "id desc"

    key = fields.Char(required=True, readonly=True, help="wamid:status or wamid:inbound.")
    account_id = fields.Many2one("collections.whatsapp.account", required=True, readonly=True, ondelete="cascade")
    kind = fields.Selection([("status", "Status"), ("inbound", "Customer Message")], required=True, readonly=True)
    wamid = fields.Char(string="Message ID", readonly=True)
    status = fields.Char(readonly=True)
    data = fields.Text(readonly=True, help="The parsed event (JSON).")
    state = fields.Selection(
        [("pending", "Pending"), ("done", "Done"), ("error", "Error")], default="pending", required=True, index=True
    )
    error = fields.Text(readonly=True)

    _sql_constraints = [("key_uniq", "unique(key)", "A webhook event is stored once.")]

    @api.model
    def _store(self, account, events):
        """Insert the events Meta sent (set-based); the ones already known
        (retries, duplicates) are skipped. Returns the new events."""
        if not events:
            return self.browse()
        self.env.flush_all()
        rows = [
            (
                event.key,
                "status" if isinstance(event, webhook.StatusEvent) else "inbound",
                event.wamid,
                getattr(event, "status", None),
                json.dumps(event._asdict(), ensure_ascii=False),
            )
            for event in {event.key: event for event in events}.values()
        ]
        self.env.cr.execute(
            """
            INSERT INTO collections_whatsapp_event
                   (key, account_id, kind, wamid, status, data, state, create_uid, create_date, write_uid, write_date)
            SELECT v.key, %s, v.kind, v.wamid, v.status, v.data, 'pending', %s, now() AT TIME ZONE 'UTC',
                   %s, now() AT TIME ZONE 'UTC'
              FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::text[])
                   AS v(key, kind, wamid, status, data)
            ON CONFLICT (key) DO NOTHING
         RETURNING id
            """,
            [account.id, self.env.uid, self.env.uid, *map(list, zip(*rows, strict=True))],
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _process(self):
        """Apply stored events in the order Meta stamped them: statuses onto
        messages, customers' messages onto conversations. One failing event is
        kept with its error; the others go on."""
        Conversation = self.env["collections.whatsapp.conversation"].sudo()
        for event in self.sorted(lambda e: (json.loads(e.data).get("timestamp", 0), e.id)):
            data = json.loads(event.data)
            try:
                with self.env.cr.savepoint():
                    if event.kind == "status":
                        Conversation._apply_status(event.account_id, webhook.StatusEvent(**data))
                    else:
                        Conversation._receive(event.account_id, webhook.InboundEvent(**data))
                    event.state = "done"
            except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
                raise  # another transaction changed the same conversation: the caller retries the batch
            except Exception as error:  # noqa: BLE001 (kept for a person to see; the webhook still answers 200)
                _logger.exception("WhatsApp event %s could not be applied", event.key)
                event.write({"state": "error", "error": str(error)})

    def _claim(self):
        """The pending ones among these events, locked for this transaction: the
        webhook's processor and the scheduled action never apply one twice."""
        if not self:
            return self
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM collections_whatsapp_event WHERE id = ANY(%s) AND state = 'pending' "
                "ORDER BY id FOR UPDATE SKIP LOCKED",
                self.ids,
            )
        )
        claimed = self.browse([row[0] for row in self.env.cr.fetchall()])
        claimed.invalidate_recordset(["state"])
        return claimed

    @api.model
    def _cron_process_pending(self):
        """What the webhook's processor left (a process killed before it ran):
        events pending for more than a minute."""
        before = fields.Datetime.subtract(fields.Datetime.now(), minutes=1)
        self.search(
            [("state", "=", "pending"), ("create_date", "<", before)], order="id", limit=1000
        )._claim()._process()
