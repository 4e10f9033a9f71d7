import logging
import time

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools import ab_testing, sql_rules
from ..tools.rules import SKIP_REASON_LABELS

__all__ = ["SKIP_REASON_LABELS", "CollectionsRun"]

_logger = logging.getLogger(__name__)

# Advisory-lock namespace of dunning runs (one lock per company).
RUN_LOCK_NAMESPACE = 0x636F6C6C  # "coll"


class CollectionsRun(models.Model):
    """One dunning run over a company's open receivables on a date.

    Planning is set-based SQL (see :meth:`_plan_sql`): it resolves each open
    invoice's policy (invoice > partner > segment > company default), the
    stage it has reached, groups what a customer owes per currency with
    credit notes netted, applies the skip rules, and writes one planned
    ``collections.message`` per customer, currency and stage action.
    """

    _name = "collections.run"
    _description = "Collections Run"
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    date = fields.Date(required=True, default=fields.Date.context_today)
    trigger = fields.Selection([("cron", "Scheduled"), ("manual", "Manual")], required=True, default="manual")
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], required=True, default="draft")
    duration = fields.Float(string="Duration (s)", digits=(10, 3), readonly=True)
    partners_evaluated = fields.Integer(readonly=True)
    invoices_evaluated = fields.Integer(readonly=True)
    messages_planned = fields.Integer(readonly=True)
    messages_skipped = fields.Integer(readonly=True)
    messages_blocked = fields.Integer(readonly=True)
    skip_reasons = fields.Json(readonly=True, help="Skipped customers by reason.")
    skip_summary = fields.Text(compute="_compute_skip_summary")
    message_ids = fields.One2many("collections.message", "run_id", string="Messages")

    @api.depends("date", "company_id")
    def _compute_name(self):
        for run in self:
            run.name = _("Run of %(date)s", date=run.date)

    @api.depends("skip_reasons")
    def _compute_skip_summary(self):
        # Translated through the selection that shows the same reasons in the preview.
        reason_field = self.env["collections.run.preview.skip"]._fields["reason"]
        labels = dict(reason_field._description_selection(self.env))
        for run in self:
            run.skip_summary = "\n".join(
                f"{labels.get(reason, reason)}: {count}" for reason, count in (run.skip_reasons or {}).items()
            )

    # === ACTION METHODS === #

    def action_run(self):
        """Plan the messages of this run (button on a draft run)."""
        for run in self.filtered(lambda r: r.state == "draft"):
            run._execute()
        return True

    @api.model
    def action_run_now(self):
        run = self.create({"company_id": self.env.company.id, "trigger": "manual"})
        run._execute()
        return {
            "type": "ir.actions.act_window",
            "res_model": "collections.run",
            "res_id": run.id,
            "view_mode": "form",
        }

    @api.model
    def _cron_run(self):
        """Daily: one run per company that has an active policy."""
        companies = self.env["collections.policy"].search([]).company_id
        for company in companies:
            run = self.with_company(company).create({"company_id": company.id, "trigger": "cron"})
            run._execute()
            run.env["collections.message"].with_company(company)._dispatch_planned(company)

    # === BUSINESS METHODS === #

    def _execute(self):
        self.ensure_one()
        started = time.monotonic()
        self.env.flush_all()
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (RUN_LOCK_NAMESPACE, self.company_id.id))
        if not self.env.cr.fetchone()[0]:
            raise UserError(
                _("A collections run is already in progress for %s; try again later.", self.company_id.name)
            )
        stats = self._plan_sql(self.company_id, self.date, run_id=self.id)
        self.env.invalidate_all()
        self.write(
            {
                "state": "done",
                "duration": time.monotonic() - started,
                "partners_evaluated": stats["partners"],
                "invoices_evaluated": stats["invoices"],
                "messages_planned": stats["planned"],
                "messages_skipped": sum(stats["skipped"].values()),
                "skip_reasons": stats["skipped"],
            }
        )
        _logger.info("Collections run %s: %s", self.id, stats)
        return stats

    @api.model
    def preview(self, company, date):
        """What would be sent on ``date``, to whom, by which channel and why;
        plans inside a savepoint that is rolled back, so nothing is written.

        :return: a list of dicts (partner, channel, stage, currency, amount,
            invoices) and a ``skipped`` list of (partner, reason)
        """
        self.env.flush_all()
        with self.env.cr.savepoint(flush=False) as savepoint:
            stats = self._plan_sql(company, date, run_id=None, collect=True)
            savepoint.rollback()
        self.env.invalidate_all()
        return stats

    def _segment_join(self, company):
        """The segment policy of each customer, as a join on ``p`` giving ``segment.id``:
        the first policy by sequence whose partner tags or domain the customer matches.
        Each domain is one SQL sub-select (Odoo's own ``_search``), never a loop over customers."""
        cr = self.env.cr
        Policy = self.env["collections.policy"]
        policies = Policy.search(Policy._segment_search_domain(company))
        if not policies:
            return "LEFT JOIN (SELECT NULL::int AS id) segment ON TRUE"
        cr.execute("CREATE TEMP TABLE collections_segment_match (partner_id int, policy_id int) ON COMMIT DROP")
        Partner = self.env["res.partner"].with_company(company)
        for policy in policies:
            if policy.partner_category_ids:
                cr.execute(
                    """INSERT INTO collections_segment_match
                       SELECT DISTINCT partner_id, %s FROM res_partner_res_partner_category_rel
                        WHERE category_id = ANY(%s)""",
                    [policy.id, policy.partner_category_ids.ids],
                )
            domain = policy._segment_domain()
            if domain:
                query = Partner._search(domain)
                cr.execute(
                    SQL("INSERT INTO collections_segment_match SELECT id, %s FROM (%s) q", policy.id, query.subselect())
                )
        cr.execute(
            """
            CREATE TEMP TABLE collections_segment ON COMMIT DROP AS
            SELECT DISTINCT ON (sm.partner_id) sm.partner_id, sm.policy_id AS id
              FROM collections_segment_match sm JOIN collections_policy pol ON pol.id = sm.policy_id
          ORDER BY sm.partner_id, pol.sequence, pol.id;
            CREATE UNIQUE INDEX ON collections_segment (partner_id);
            ANALYZE collections_segment;
            """
        )
        return "LEFT JOIN collections_segment segment ON segment.partner_id = p.id"

    def _plan_sql(self, company, date, run_id=None, collect=False):
        """Plan a run in a few set-based statements; returns counters."""
        cr = self.env.cr
        segment_join = self._segment_join(company)
        # 0. Documents held out of dunning (payment plans, promises, disputes).
        cr.execute(
            SQL(
                """
            CREATE TEMP TABLE collections_held ON COMMIT DROP AS
            SELECT DISTINCT ON (h.move_id) h.move_id, m.commercial_partner_id AS partner_id, h.reason
              FROM (%(held)s) h
              JOIN account_move m ON m.id = h.move_id
             WHERE m.company_id = %(company)s AND %(open)s
          ORDER BY h.move_id, h.reason
            """,
                held=sql_rules.held_invoices(date),
                company=company.id,
                open=sql_rules.open_receivable("m"),
            )
        )
        # 1. Open receivable documents with their policy and the stage each has reached.
        cr.execute(
            SQL(
                """
            CREATE TEMP TABLE collections_open ON COMMIT DROP AS
            SELECT m.id AS move_id, m.commercial_partner_id AS partner_id, m.currency_id, m.move_type,
                   m.invoice_date_due AS due, st.stage_id AS current_stage_id,
                   COALESCE(st.reminder_count, 0) AS reminder_count, COALESCE(st.escalate, FALSE) AS escalate,
                   %(residual)s AS residual,
                   m.amount_residual_signed AS residual_company,
                   %(policy)s AS policy_id,
                   %(skip_reason)s AS skip_reason
              FROM account_move m
              JOIN res_partner p ON p.id = m.commercial_partner_id
              LEFT JOIN collections_move_state st ON st.move_id = m.id
              %(segment_join)s
              %(default_policy_join)s
             WHERE m.company_id = %(company)s AND %(open)s
               AND m.collections_excluded IS NOT TRUE AND m.collections_disputed IS NOT TRUE
               AND NOT EXISTS (SELECT 1 FROM collections_held h WHERE h.move_id = m.id)
            """,
                residual=sql_rules.signed_residual("m"),
                policy=sql_rules.policy_precedence("m", "p", "segment", "default_policy", company.id),
                skip_reason=sql_rules.partner_skip_reason("p"),
                segment_join=SQL(segment_join),
                default_policy_join=sql_rules.default_policy_join("default_policy", SQL("m.company_id")),
                company=company.id,
                open=sql_rules.open_receivable("m"),
            )
        )
        # 2. For each invoice, the furthest stage it has reached, if it is further than where it stands
        #    (in its policy): by its days overdue and reminders, or, escalated by a broken promise,
        #    the stage right after the current one whatever the day.
        cr.execute(
            """
            CREATE TEMP TABLE collections_advance ON COMMIT DROP AS
            SELECT o.move_id, o.partner_id, o.currency_id, o.reminder_count, reached.id AS stage_id,
                   reached.offset_days, reached.sequence,
                   o.due + (SELECT min(nxt.offset_days) FROM collections_stage nxt
                             WHERE nxt.policy_id = o.policy_id AND nxt.offset_days > reached.offset_days) AS next_date
              FROM collections_open o
              LEFT JOIN collections_stage cur ON cur.id = o.current_stage_id AND cur.policy_id = o.policy_id
              JOIN LATERAL (
                    SELECT candidate.id, candidate.offset_days, candidate.sequence FROM (
                        (SELECT s.id, s.offset_days, s.sequence FROM collections_stage s
                          WHERE s.policy_id = o.policy_id
                            AND s.offset_days <= (%(date)s::date - o.due)
                            AND COALESCE(s.min_reminder_count, 0) <= o.reminder_count
                       ORDER BY s.offset_days DESC, s.sequence DESC, s.id DESC LIMIT 1)
                        UNION ALL
                        (SELECT s.id, s.offset_days, s.sequence FROM collections_stage s
                          WHERE o.escalate AND s.policy_id = o.policy_id
                            AND (cur.id IS NULL
                                 OR (s.offset_days, s.sequence, s.id) > (cur.offset_days, cur.sequence, cur.id))
                       ORDER BY s.offset_days, s.sequence, s.id LIMIT 1)
                    ) candidate
                  ORDER BY candidate.offset_days DESC, candidate.sequence DESC, candidate.id DESC
                     LIMIT 1) reached ON TRUE
             WHERE o.move_type = 'out_invoice' AND o.skip_reason IS NULL
               AND (cur.id IS NULL
                    OR (reached.offset_days, reached.sequence, reached.id) > (cur.offset_days, cur.sequence, cur.id))
            """,
            {"date": date},
        )
        # 3. One group per customer and currency: the furthest stage among advancing invoices,
        #    and what the customer owes in that currency (overdue invoices + advancing ones - credit notes).
        cr.execute(
            """
            CREATE TEMP TABLE collections_group ON COMMIT DROP AS
            WITH lead_stage AS (
                SELECT DISTINCT ON (partner_id, currency_id) partner_id, currency_id, stage_id
                  FROM collections_advance
              ORDER BY partner_id, currency_id, offset_days DESC, sequence DESC, stage_id DESC
            )
            SELECT ls.partner_id, ls.currency_id, ls.stage_id, s.policy_id, COALESCE(s.min_amount, 0) AS min_amount,
                   array_agg(o.move_id ORDER BY o.due, o.move_id) AS move_ids,
                   sum(o.residual) AS amount_due, sum(o.residual_company) AS amount_due_company
              FROM lead_stage ls
              JOIN collections_stage s ON s.id = ls.stage_id
              JOIN collections_open o ON o.partner_id = ls.partner_id AND o.currency_id = ls.currency_id
             WHERE o.move_type = 'out_refund' OR o.due <= %(date)s
                OR o.move_id IN (SELECT move_id FROM collections_advance)
          GROUP BY ls.partner_id, ls.currency_id, ls.stage_id, s.policy_id, COALESCE(s.min_amount, 0)
            """,
            {"date": date},
        )
        cr.execute(
            """
            SELECT reason, count(*) FROM (
                SELECT DISTINCT partner_id, skip_reason AS reason FROM collections_open
                 WHERE skip_reason IS NOT NULL
                UNION ALL
                SELECT DISTINCT partner_id, reason FROM collections_held
                UNION ALL
                SELECT partner_id, CASE WHEN amount_due <= 0 THEN 'netted' ELSE 'below_minimum' END
                  FROM collections_group WHERE amount_due <= 0 OR amount_due_company < min_amount
                UNION ALL
                SELECT g.partner_id, 'no_action' FROM collections_group g
                 WHERE NOT EXISTS (SELECT 1 FROM collections_stage_action a WHERE a.stage_id = g.stage_id)
            ) skipped GROUP BY reason
            """
        )
        skipped = dict(cr.fetchall())
        cr.execute("SELECT count(DISTINCT partner_id), count(*) FROM collections_open")
        partners, invoices = cr.fetchone()
        # 4. The messages: one per group and stage action; the key makes a second run of the day a no-op.
        zone = sql_rules.partner_zone("p")
        cr.execute(
            SQL(
                """
            WITH planned AS (
                INSERT INTO collections_message (
                    company_id, partner_id, recipient_id, direction, channel, currency_id, amount_due,
                    policy_id, stage_id, action_id, run_id, subject, state, idempotency_key, planned_date,
                    scheduled_at, ab_variant_id, create_uid, write_uid, create_date, write_date)
                SELECT %(company)s, g.partner_id, COALESCE(p.collections_contact_id, p.id), 'outbound',
                       CASE WHEN a.use_preferred_channel AND pref.channel IS NOT NULL
                             AND NOT EXISTS (SELECT 1 FROM collections_stage_action other
                                              WHERE other.stage_id = a.stage_id AND other.channel = pref.channel)
                            THEN pref.channel ELSE COALESCE(ab.channel, a.channel) END,
                       g.currency_id, g.amount_due, g.policy_id, g.stage_id, a.id, %(run)s, s.name ->> 'en_US',
                       'planned',
                       concat_ws('-', 'dun', %(company)s, g.partner_id, g.currency_id, a.id, %(date)s::date),
                       %(date)s::date,
                       CASE WHEN COALESCE(ab.time_of_day, a.time_of_day) > 0
                            THEN (%(date)s::date
                                  + make_interval(secs => COALESCE(ab.time_of_day, a.time_of_day) * 3600))
                                 AT TIME ZONE %(zone)s END,
                       ab.variant_id, %(uid)s, %(uid)s, now() at time zone 'UTC', now() at time zone 'UTC'
                  FROM collections_group g
                  JOIN collections_stage s ON s.id = g.stage_id
                  JOIN collections_stage_action a ON a.stage_id = g.stage_id
                  JOIN res_partner p ON p.id = g.partner_id
                  %(zone_joins)s
                  LEFT JOIN LATERAL (
                        SELECT c.channel FROM collections_consent c
                         WHERE c.partner_id = g.partner_id AND c.status = 'preference'
                      ORDER BY c.date DESC, c.id DESC LIMIT 1) pref ON a.use_preferred_channel
                  -- An A/B test of the action: the customer's variant (channel, time of day; template and tone
                  -- are read from the variant when the message is rendered).
                  LEFT JOIN %(ab_variant)s ab ON TRUE
                 WHERE g.amount_due > 0 AND g.amount_due_company >= g.min_amount
                 -- Ids in customer order whatever the join order (the zone joins would shuffle them).
              ORDER BY g.partner_id, g.currency_id, a.sequence, a.id
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING id, partner_id, currency_id, stage_id
            ),
            links AS (
                INSERT INTO collections_message_account_move_rel (message_id, move_id)
                SELECT pl.id, unnest(g.move_ids) FROM planned pl
                  JOIN collections_group g ON g.partner_id = pl.partner_id AND g.currency_id = pl.currency_id
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM planned), (SELECT count(*) FROM links)
            """,
                company=company.id,
                run=run_id,
                date=date,
                uid=self.env.uid,
                zone=zone.name,
                zone_joins=zone.joins,
                ab_variant=ab_testing.assignment_sql(SQL("a.id"), SQL("g.partner_id")),
            )
        )
        planned, _links = cr.fetchone()
        # 5. Move invoices and customers to the stage reached (only where a message was planned).
        cr.execute(
            """
            INSERT INTO collections_move_state AS st
                   (move_id, company_id, stage_id, reminder_count, last_date, next_date, escalate)
            SELECT a.move_id, %(company)s, a.stage_id, a.reminder_count + 1, %(date)s, a.next_date, FALSE
              FROM collections_advance a
              JOIN collections_group g ON g.partner_id = a.partner_id AND g.currency_id = a.currency_id
             WHERE g.amount_due > 0 AND g.amount_due_company >= g.min_amount
               AND EXISTS (SELECT 1 FROM collections_stage_action sa WHERE sa.stage_id = g.stage_id)
            ON CONFLICT (move_id) DO UPDATE
               SET stage_id = EXCLUDED.stage_id, reminder_count = EXCLUDED.reminder_count,
                   last_date = EXCLUDED.last_date, next_date = EXCLUDED.next_date, escalate = FALSE
            """,
            {"company": company.id, "date": date},
        )
        # An escalation with no stage after the current one is over: the invoice stays on its last stage.
        cr.execute(
            """
            UPDATE collections_move_state st SET escalate = FALSE
              FROM collections_open o
              JOIN collections_stage cur ON cur.id = o.current_stage_id AND cur.policy_id = o.policy_id
             WHERE o.escalate AND st.move_id = o.move_id
               AND NOT EXISTS (SELECT 1 FROM collections_stage s WHERE s.policy_id = o.policy_id
                                  AND (s.offset_days, s.sequence, s.id) > (cur.offset_days, cur.sequence, cur.id))
            """
        )
        cr.execute(
            """
            UPDATE res_partner p
               SET collections_stage_id = g.stage_id,
                   collections_reminder_count = COALESCE(p.collections_reminder_count, 0) + 1,
                   collections_last_date = %(date)s
              FROM (SELECT DISTINCT ON (partner_id) partner_id, stage_id FROM collections_group
                     WHERE amount_due > 0 AND amount_due_company >= min_amount
                  ORDER BY partner_id, amount_due_company DESC) g
             WHERE p.id = g.partner_id
            """,
            {"date": date},
        )
        result = {"partners": partners, "invoices": invoices, "planned": planned, "skipped": skipped}
        if collect:
            cr.execute(
                """
                SELECT g.partner_id, a.channel, g.stage_id, g.currency_id, g.amount_due, g.move_ids
                  FROM collections_group g JOIN collections_stage_action a ON a.stage_id = g.stage_id
                 WHERE g.amount_due > 0 AND g.amount_due_company >= g.min_amount
              ORDER BY g.partner_id, a.sequence
                """
            )
            result["lines"] = cr.dictfetchall()
            cr.execute(
                """SELECT DISTINCT partner_id, skip_reason FROM collections_open WHERE skip_reason IS NOT NULL
                   UNION SELECT DISTINCT partner_id, reason FROM collections_held"""
            )
            result["skipped_partners"] = cr.fetchall()
        cr.execute("DROP TABLE collections_held, collections_open, collections_advance, collections_group")
        return result
