from odoo import models
from odoo.tools import SQL

from ..tools import ab_testing, sql_rules


class CollectionsRunPlanning(models.AbstractModel):
    """Planning a dunning run, as named steps that each write one temporary
    table or one kind of row, set-based. :meth:`_plan_sql` runs them in
    order; each is a method of its own so that an addon can override one
    step (a new skip reason, another channel choice, another send-at hour)
    and leave the others alone:

    1. :meth:`_plan_held`: documents held out of dunning (plans, promises, disputes);
    2. :meth:`_plan_candidates`: open receivable documents with their policy
       and the skip rule each customer falls under (:meth:`_plan_skip_reason`);
    3. :meth:`_plan_stages`: the stage each invoice reaches;
    4. :meth:`_plan_groups`: one group per customer and currency, credit notes netted;
    5. :meth:`_plan_skipped`: why customers are skipped, counted;
    6. :meth:`_plan_messages`: one message per group and stage action, on the
       channel of :meth:`_plan_channel`, at the time of :meth:`_plan_send_at`;
    7. :meth:`_plan_advance`: invoices and customers moved to the stage reached;
    8. :meth:`_plan_preview`: what a preview shows (only when it asks).
    """

    _name = "collections.run.planning"
    _description = "Collections Run Planning"

    def _plan_sql(self, company, date, run_id=None, collect=False):
        """Plan a run in a few set-based statements; returns counters."""
        self._plan_held(company, date)
        self._plan_candidates(company)
        self._plan_stages(date)
        self._plan_groups(date)
        skipped = self._plan_skipped()
        self.env.cr.execute("SELECT count(DISTINCT partner_id), count(*) FROM collections_open")
        partners, invoices = self.env.cr.fetchone()
        planned = self._plan_messages(company, date, run_id)
        self._plan_advance(company, date)
        result = {"partners": partners, "invoices": invoices, "planned": planned, "skipped": skipped}
        if collect:
            result.update(self._plan_preview())
        # The steps' tables, dropped here rather than at commit: a preview plans again in the same transaction.
        self.env.cr.execute("DROP TABLE collections_held, collections_open, collections_advance, collections_group")
        return result

    def _plan_held(self, company, date):
        """Step 1, ``collections_held``: the company's open documents held out of
        dunning on ``date`` (payment plans, promises, disputes), with the reason."""
        self.env.cr.execute(
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

    def _plan_skip_reason(self):
        """The reason a customer ``p`` is skipped as a whole, or NULL: the one
        rule (``sql_rules.partner_skip_reason``) that sending re-checks too."""
        return sql_rules.partner_skip_reason("p")

    def _plan_candidates(self, company):
        """Step 2, ``collections_open``: the open receivable documents not held,
        with their policy (document > customer > segment > default), the stage
        each stands at and the customer's skip reason."""
        self.env.cr.execute(
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
                skip_reason=self._plan_skip_reason(),
                segment_join=self._segment_join(company),
                default_policy_join=sql_rules.default_policy_join("default_policy", SQL("m.company_id")),
                company=company.id,
                open=sql_rules.open_receivable("m"),
            )
        )

    def _segment_join(self, company):
        """The segment policy of each customer, as a join on ``p`` giving ``segment.id``:
        the first policy by sequence whose partner tags or domain the customer matches.
        Each domain is one SQL sub-select (Odoo's own ``_search``), never a loop over customers."""
        cr = self.env.cr
        Policy = self.env["collections.policy"]
        policies = Policy.search(Policy._segment_search_domain(company))
        if not policies:
            return SQL("LEFT JOIN (SELECT NULL::int AS id) segment ON TRUE")
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
        return SQL("LEFT JOIN collections_segment segment ON segment.partner_id = p.id")

    def _plan_stages(self, date):
        """Step 3, ``collections_advance``: for each invoice, the furthest stage it
        has reached, if it is further than where it stands (in its policy): by
        its days overdue and reminders, or, escalated by a broken promise, the
        stage right after the current one whatever the day."""
        self.env.cr.execute(
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

    def _plan_groups(self, date):
        """Step 4, ``collections_group``: one group per customer and currency: the
        furthest stage among advancing invoices, and what the customer owes in
        that currency (overdue invoices + advancing ones - credit notes)."""
        self.env.cr.execute(
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

    def _plan_skipped(self):
        """Step 5: {skip reason: number of customers} (skip rules, holds, netted
        to nothing or below the stage's minimum, a stage without actions)."""
        self.env.cr.execute(
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
        return dict(self.env.cr.fetchall())

    def _plan_channel(self):
        """The channel of the message of stage action ``a``: the customer's
        preferred one (``pref``) when the action allows it and no other action
        of the stage already uses it, else the action's own."""
        return SQL(
            """CASE WHEN a.use_preferred_channel AND pref.channel IS NOT NULL
                             AND NOT EXISTS (SELECT 1 FROM collections_stage_action other
                                              WHERE other.stage_id = a.stage_id AND other.channel = pref.channel)
                            THEN pref.channel ELSE COALESCE(ab.channel, a.channel) END"""
        )

    def _plan_send_at(self, date, zone):
        """When the message of stage action ``a`` may go: at the action's hour of
        ``date`` in the customer's time zone (``zone``: ``sql_rules.partner_zone``),
        or as soon as it is handed out (NULL)."""
        return SQL(
            """CASE WHEN COALESCE(ab.time_of_day, a.time_of_day) > 0
                            THEN (%(date)s::date
                                  + make_interval(secs => COALESCE(ab.time_of_day, a.time_of_day) * 3600))
                                 AT TIME ZONE %(zone)s END""",
            date=date,
            zone=zone.name,
        )

    def _plan_messages(self, company, date, run_id):
        """Step 6: the messages, one per group and stage action, linked to the
        group's documents; the idempotency key makes a second run of the day a
        no-op. Returns how many were planned."""
        zone = sql_rules.partner_zone("p")
        self.env.cr.execute(
            SQL(
                """
            WITH planned AS (
                INSERT INTO collections_message (
                    company_id, partner_id, recipient_id, direction, channel, currency_id, amount_due,
                    policy_id, stage_id, action_id, run_id, subject, state, idempotency_key, planned_date,
                    scheduled_at, ab_variant_id, create_uid, write_uid, create_date, write_date)
                SELECT %(company)s, g.partner_id, COALESCE(p.collections_contact_id, p.id), 'outbound',
                       %(channel)s,
                       g.currency_id, g.amount_due, g.policy_id, g.stage_id, a.id, %(run)s,
                       -- Until it is rendered, the subject is the stage as the customer will read it.
                       COALESCE(s.name ->> p.lang, s.name ->> 'en_US'),
                       'planned',
                       concat_ws('-', 'dun', %(company)s, g.partner_id, g.currency_id, a.id, %(date)s::date),
                       %(date)s::date,
                       %(send_at)s,
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
                channel=self._plan_channel(),
                send_at=self._plan_send_at(date, zone),
                zone_joins=zone.joins,
                ab_variant=ab_testing.assignment_sql(SQL("a.id"), SQL("g.partner_id")),
            )
        )
        planned, _links = self.env.cr.fetchone()
        return planned

    def _plan_advance(self, company, date):
        """Step 7: invoices and customers moved to the stage reached, only where
        a message was planned; an escalation with no stage after the current
        one is over (the invoice stays on its last stage)."""
        cr = self.env.cr
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

    def _plan_preview(self):
        """Step 8 (preview only): ``lines``, what would be sent, and
        ``skipped_partners``, [(customer, reason)]."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT g.partner_id, a.channel, g.stage_id, g.currency_id, g.amount_due, g.move_ids
              FROM collections_group g JOIN collections_stage_action a ON a.stage_id = g.stage_id
             WHERE g.amount_due > 0 AND g.amount_due_company >= g.min_amount
          ORDER BY g.partner_id, a.sequence
            """
        )
        lines = cr.dictfetchall()
        cr.execute(
            """SELECT DISTINCT partner_id, skip_reason FROM collections_open WHERE skip_reason IS NOT NULL
               UNION SELECT DISTINCT partner_id, reason FROM collections_held"""
        )
        return {"lines": lines, "skipped_partners": cr.fetchall()}
