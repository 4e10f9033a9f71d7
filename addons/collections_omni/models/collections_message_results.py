import json
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools.mail import generate_tracking_message_id

from ..tools.rules import CLOSED_STATES, GROUP_MANAGER, IN_FLIGHT_STATES, STATUS_RANK
from .collections_message_audit import engine_transition

# Who may hand messages out to providers and report their results.
DISPATCHERS_GROUP = GROUP_MANAGER


class CollectionsMessageResults(models.AbstractModel):
    """Results of sending: what the workers and the embedded senders report
    (sent or failed, set-based and idempotent), delivery reports that never
    move a message backwards, Odoo's mail queue outcome, and the note of each
    sent contact on the customer's chatter."""

    _name = "collections.message.results"
    _description = "Collections Message Results"

    @api.model
    @engine_transition
    def report_dispatch_results(self, results):
        """Public RPC of the Celery workers: the outcome of messages they sent.

        ``results``: [{"key": idempotency key, "status": "sent"|"failed",
        "provider_ref", "code", "message"}]. Idempotent: a result reported
        again, or for a message already further on, changes nothing.
        Returns the number of messages updated."""
        if not self.env.user.has_group(DISPATCHERS_GROUP):
            raise AccessError(_("Only collections managers may report dispatch results."))
        if not isinstance(results, list) or not all(
            isinstance(r, dict) and r.get("key") and r.get("status") in ("sent", "failed") for r in results
        ):
            raise UserError(_("Each result needs an idempotency key and a status 'sent' or 'failed'."))
        # Only the caller's companies, as its record rules would allow.
        return len(self.sudo()._apply_dispatch_results(results, company_ids=self.env.user.company_ids.ids))

    @api.model
    @engine_transition
    def _apply_dispatch_results(self, results, company_ids=None):
        """Set-based: queued or sending messages become sent or failed; anything
        else (already sent, delivered, unknown key) is left alone."""
        if not results:
            return self.browse()
        self.env.flush_all()
        columns = [
            [r.get(name) or None for r in results] for name in ("key", "status", "provider_ref", "code", "message")
        ]
        self.env.cr.execute(
            """
            UPDATE collections_message m
               SET state = v.status,
                   provider_ref = COALESCE(v.ref, m.provider_ref),
                   error_code = v.code,
                   error = CASE WHEN v.status = 'failed' THEN v.msg END,
                   sent_at = CASE WHEN v.status = 'sent' THEN now() AT TIME ZONE 'UTC' ELSE m.sent_at END,
                   lease_until = NULL,
                   write_uid = %s,
                   write_date = now() AT TIME ZONE 'UTC'
              FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::text[])
                   AS v(key, status, ref, code, msg)
             WHERE m.idempotency_key = v.key AND m.state IN ('queued', 'sending')
               AND (%s::int[] IS NULL OR m.company_id = ANY(%s::int[]))
         RETURNING m.id, v.status
            """,
            [self.env.uid, *columns, company_ids, company_ids],
        )
        rows = self.env.cr.fetchall()
        updated = self.browse([row[0] for row in rows])
        updated.invalidate_recordset()
        sent = updated.browse([row[0] for row in rows if row[1] == "sent"])
        sent._log_sent_on_chatter()
        for message in sent.filtered("early_status"):
            message._apply_provider_status(
                message.provider_id, message.provider_ref, message.early_status, code=message.early_status_code
            )
        return updated

    @api.model
    @engine_transition
    def _apply_provider_status(self, provider, provider_ref, status, code=None, error=None, key=None):
        """A delivery-status callback: sent -> delivered (or failed with the
        code); never downgrades, so replays and late callbacks change nothing.
        A report that overtakes the send's own result (found by the message's
        ``key`` in the callback URL) waits on the message until that result."""
        Message = self.sudo()
        message = Message.search([("provider_id", "=", provider.id), ("provider_ref", "=", provider_ref)], limit=1)
        if not message and key:
            message = Message.search([("provider_id", "=", provider.id), ("idempotency_key", "=", key)], limit=1)
        if not message or message.state in CLOSED_STATES:
            return message
        if message.state in IN_FLIGHT_STATES:
            if status != "failed" or not message.early_status:  # a delivery outranks a failure report
                message.write({"early_status": status, "early_status_code": code})
            return message
        rank = STATUS_RANK.get(message.state, 0)
        if status == "failed" and rank <= STATUS_RANK["sent"]:
            message.write({"state": "failed", "error_code": code or "not_delivered", "error": error or False})
        elif status in ("delivered", "read") and STATUS_RANK[status] > rank:
            now = fields.Datetime.now()
            values = {"state": status, "delivered_at": message.delivered_at or now}
            if status == "read":
                values["read_at"] = now
            message.write(values)
        return message

    @engine_transition
    def _mark_mail_result(self, failed_mail_ids=()):
        """Called when Odoo's mail queue has processed our emails."""
        for message in self:
            if message.mail_id.id in failed_mail_ids:
                message.write(
                    {"state": "failed", "error_code": "email_failed", "error": message.mail_id.failure_reason or False}
                )
            else:
                message._mark_sent()

    @engine_transition
    def _mark_sent(self):
        """Sent: stamped, and shown on the customer's chatter as the contact timeline."""
        self.write({"state": "sent", "sent_at": fields.Datetime.now()})
        self._log_sent_on_chatter()

    def _log_sent_on_chatter(self):
        """One note per customer on its chatter for these sent messages.

        Thousands at a time (worker reports): the notes are written with one
        INSERT, as ``mail.thread._message_log_batch`` would write them (an
        internal note, no notification) but without the ORM's per-record cost;
        their bodies are built from escaped values, so they need no sanitizing."""
        if not self:
            return
        # A collections.note (code and values, read in each reader's language); the stored body
        # is its rendering in the company's language, as collections.note._post stores it.
        lines = defaultdict(list)
        for message in self:
            lines[message.partner_id.id].append(
                {
                    "channel": message.channel,
                    "subject": message.subject or message.stage_id.name or "",
                    "amount": message.amount_due,
                    "currency_id": message.currency_id.id,
                }
            )
        author = self.env.user.partner_id
        partner_ids = list(lines)
        lang_of = {company: company.partner_id.lang or self.env.lang or "en_US" for company in self.company_id}
        company_of = {message.partner_id.id: message.company_id for message in self}
        # One renderer and one memo (collections.note._text) per language.
        renderers = {lang: (self.env["collections.note"].with_context(lang=lang), {}) for lang in set(lang_of.values())}
        args = [{"lines": lines[pid]} for pid in partner_ids]
        bodies = []
        for pid, arg in zip(partner_ids, args, strict=True):
            Note, memo = renderers[lang_of[company_of[pid]]]
            bodies.append(str(Note._render("messages_sent", arg, memo=memo)))
        self.env.flush_all()
        self.env.cr.execute(
            """
            INSERT INTO mail_message (model, res_id, body, message_type, subtype_id, author_id, email_from, date,
                                      is_internal, message_id, create_uid, create_date, write_uid, write_date,
                                      collections_note_code, collections_note_args)
            SELECT 'res.partner', v.res_id, v.body, 'notification', %s, %s, %s, now() AT TIME ZONE 'UTC',
                   TRUE, v.message_id, %s, now() AT TIME ZONE 'UTC', %s, now() AT TIME ZONE 'UTC',
                   'messages_sent', jsonb_build_object('code', 'messages_sent', 'args', v.args)
              FROM unnest(%s::int[], %s::text[], %s::varchar[], %s::jsonb[]) AS v(res_id, body, message_id, args)
            """,
            [
                self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
                author.id,
                author.email_formatted or None,
                self.env.uid,
                self.env.uid,
                partner_ids,
                bodies,
                [generate_tracking_message_id("collections") for _pid in partner_ids],
                [json.dumps(arg) for arg in args],
            ],
        )
        self.env["res.partner"].invalidate_model(["message_ids"])
