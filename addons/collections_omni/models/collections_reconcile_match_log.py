from odoo import _, api, models
from odoo.exceptions import UserError

from ..tools.table_statistics import analyze_outgrown


class CollectionsReconcileMatchLog(models.AbstractModel):
    """Reconciliation, logging: what each match reconciled (candidate,
    invoices, the partials undo removes, the amount), and the check that
    every live match records what the ledger holds
    (``scripts/reconcile-check``)."""

    _name = "collections.reconcile.match.log"
    _description = "Collections Reconciliation: Log"

    def _record_reconciliation(self, by_match, last_partial, state, known=None):
        """Log what each match reconciled, set-based: its candidate, the
        invoices, the partials and the amount reconciled. ``known``: {match
        id: (partial ids, amount)} of the set-based writer; the partials of
        the other matches are found among those created since
        ``last_partial`` between the match's own entry and its invoices
        (exactly what undo removes)."""
        self.env.flush_all()
        known = known or {}
        found = self.filtered(lambda match: match.id not in known)
        found_partials = 0
        cr = self.env.cr
        if found:
            found_params = {
                "matches": found.ids,
                "own_moves": [(match.statement_line_id.move_id or match.payment_id.move_id).id for match in found],
                "candidates": [by_match[match.id].id for match in found],
                "last_partial": last_partial,
            }
            cr.execute(
                """
                WITH src AS (
                    SELECT * FROM unnest(%(matches)s::int[], %(own_moves)s::int[], %(candidates)s::int[])
                           AS src(match_id, own_move_id, candidate_id)
                )
                INSERT INTO collections_reconcile_match_partial_rel (match_id, partial_id)
                SELECT DISTINCT src.match_id, apr.id
                  FROM src
                  JOIN account_move_line own ON own.move_id = src.own_move_id
                  JOIN account_partial_reconcile apr
                       ON apr.id > %(last_partial)s AND own.id IN (apr.debit_move_id, apr.credit_move_id)
                  -- The other side of the partial: an item of one of the candidate's invoices.
                  JOIN account_move_line inv
                       ON inv.id = CASE WHEN own.id = apr.debit_move_id THEN apr.credit_move_id
                                        ELSE apr.debit_move_id END
                  JOIN collections_reconcile_candidate_move_rel cm
                       ON cm.candidate_id = src.candidate_id AND cm.move_id = inv.move_id
                ON CONFLICT DO NOTHING
                """,
                found_params,
            )
            found_partials = cr.rowcount
        params = {
            "matches": self.ids,
            "candidates": [by_match[match.id].id for match in self],
            "amounts": [known[match.id][1] if match.id in known else None for match in self],
            "known_matches": [match_id for match_id, (partials, _amount) in known.items() for _partial in partials],
            "known_partials": [partial_id for partials, _amount in known.values() for partial_id in partials],
            "state": state,
            "uid": self.env.uid,
        }
        cr.execute(
            """
            INSERT INTO collections_reconcile_match_partial_rel (match_id, partial_id)
            SELECT * FROM unnest(%(known_matches)s::int[], %(known_partials)s::int[])
            ON CONFLICT DO NOTHING;
            -- The invoices that received money: the other side of each partial of the match (what the
            -- ledger holds), not every invoice of the candidate (a plan's installment pays the oldest).
            INSERT INTO collections_reconcile_match_invoice_rel (match_id, move_id)
            SELECT DISTINCT x.id, CASE WHEN debit.move_id = COALESCE(st.move_id, pay.move_id)
                                       THEN credit.move_id ELSE debit.move_id END
              FROM collections_reconcile_match x
              JOIN collections_reconcile_match_partial_rel r ON r.match_id = x.id
              JOIN account_partial_reconcile apr ON apr.id = r.partial_id
              JOIN account_move_line debit ON debit.id = apr.debit_move_id
              JOIN account_move_line credit ON credit.id = apr.credit_move_id
              LEFT JOIN account_bank_statement_line st ON st.id = x.statement_line_id
              LEFT JOIN account_payment pay ON pay.id = x.payment_id
             WHERE x.id = ANY(%(matches)s)
            ON CONFLICT DO NOTHING;
            """,
            params,
        )
        # A match never claims a reconciliation the ledger does not hold (its invoices were settled
        # meanwhile): the batch fails, and the automatic path puts such a match back in review.
        cr.execute(
            """
            SELECT x.id FROM collections_reconcile_match x
             WHERE x.id = ANY(%s)
               AND NOT EXISTS (SELECT 1 FROM collections_reconcile_match_partial_rel r WHERE r.match_id = x.id)
            """,
            [self.ids],
        )
        empty = self.browse(match_id for (match_id,) in cr.fetchall())
        if empty:
            raise UserError(
                _(
                    "Nothing was reconciled for %(matches)s: its invoices are no longer open.",
                    matches=", ".join(empty.mapped("display_name")),
                )
            )
        analyze_outgrown(
            cr, {"collections_reconcile_match_partial_rel": len(params["known_partials"]) + found_partials}
        )
        cr.execute(
            """
            UPDATE collections_reconcile_candidate SET selected = TRUE
             WHERE id = ANY(%(candidates)s) AND selected IS NOT TRUE;
            UPDATE collections_reconcile_match x
               SET state = %(state)s, rule = n.rule, partner_id = n.partner_id,
                   reconciled_at = now() at time zone 'UTC', reconciled_by_id = %(uid)s,
                   write_date = now() at time zone 'UTC', write_uid = %(uid)s, reconciled_amount = n.amount
              FROM (SELECT src.match_id, c.rule, c.partner_id,
                           -- In the invoices' currency: what the set-based writer applied, else the side of
                           -- each partial that is not the match's own entry (COALESCE evaluates it only then).
                           COALESCE(src.amount, (
                               SELECT SUM(CASE WHEN debit.move_id = COALESCE(st.move_id, pay.move_id)
                                               THEN apr.credit_amount_currency ELSE apr.debit_amount_currency END)
                                 FROM collections_reconcile_match_partial_rel r
                                 JOIN account_partial_reconcile apr ON apr.id = r.partial_id
                                 JOIN account_move_line debit ON debit.id = apr.debit_move_id
                                 LEFT JOIN account_bank_statement_line st ON st.id = own.statement_line_id
                                 LEFT JOIN account_payment pay ON pay.id = own.payment_id
                                WHERE r.match_id = own.id), 0) AS amount
                      FROM unnest(%(matches)s::int[], %(candidates)s::int[], %(amounts)s::numeric[])
                           AS src(match_id, candidate_id, amount)
                      JOIN collections_reconcile_match own ON own.id = src.match_id
                      JOIN collections_reconcile_candidate c ON c.id = src.candidate_id) n
             WHERE x.id = n.match_id
               -- Confident matches were inserted as reconciled (_insert_decisions): rows that came
               -- out as inserted are left alone.
               AND (x.state, x.rule, x.partner_id, x.reconciled_at, x.reconciled_by_id, x.reconciled_amount)
                   IS DISTINCT FROM (%(state)s, n.rule, n.partner_id, now() at time zone 'UTC', %(uid)s, n.amount);
            """,
            params,
        )
        self.invalidate_model()
        self.env["collections.reconcile.candidate"].invalidate_model(["selected"])

    # The consistency check (:meth:`_consistency_problems`): what each live match records against
    # what the ledger holds. Columns: match id, problem code.
    _CONSISTENCY_SQL = """
        WITH live AS (
            SELECT x.id, x.reconciled_amount, COALESCE(st.move_id, pay.move_id) AS own_move_id, cur.rounding
              FROM collections_reconcile_match x
              LEFT JOIN account_bank_statement_line st ON st.id = x.statement_line_id
              LEFT JOIN account_payment pay ON pay.id = x.payment_id
              JOIN res_company co ON co.id = x.company_id
              JOIN res_currency cur ON cur.id = co.currency_id
             WHERE x.state IN ('auto_reconciled', 'confirmed') AND (%(company)s IS NULL OR x.company_id = %(company)s)
        ), sides AS (
            -- Each partial of a match: whether it touches the match's own entry, the other side's
            -- entry and what that side received (in its currency).
            SELECT live.id AS match_id, apr.id AS partial_id,
                   own_move_id IN (debit.move_id, credit.move_id) AS own,
                   CASE WHEN debit.move_id = own_move_id THEN credit.move_id ELSE debit.move_id END AS move_id,
                   CASE WHEN debit.move_id = own_move_id THEN apr.credit_amount_currency
                        ELSE apr.debit_amount_currency END AS amount
              FROM live
              JOIN collections_reconcile_match_partial_rel r ON r.match_id = live.id
              JOIN account_partial_reconcile apr ON apr.id = r.partial_id
              JOIN account_move_line debit ON debit.id = apr.debit_move_id
              JOIN account_move_line credit ON credit.id = apr.credit_move_id
        )
        SELECT live.id, 'no_reconciliation' FROM live
         WHERE NOT EXISTS (SELECT 1 FROM sides WHERE sides.match_id = live.id)
        UNION ALL
        SELECT DISTINCT match_id, 'partial_of_another_entry' FROM sides WHERE NOT own
        UNION ALL
        SELECT live.id, 'invoices_differ' FROM live
         WHERE EXISTS (SELECT move_id FROM collections_reconcile_match_invoice_rel WHERE match_id = live.id
                       EXCEPT SELECT move_id FROM sides WHERE match_id = live.id)
            OR EXISTS (SELECT move_id FROM sides WHERE match_id = live.id
                       EXCEPT SELECT move_id FROM collections_reconcile_match_invoice_rel WHERE match_id = live.id)
        UNION ALL
        SELECT live.id, 'amount_differs' FROM live
          JOIN (SELECT match_id, SUM(amount) AS amount FROM sides GROUP BY match_id) held ON held.match_id = live.id
         WHERE ABS(COALESCE(live.reconciled_amount, 0) - held.amount) > live.rounding / 2
        UNION ALL
        -- The same money twice: the matches of an invoice gave it more than it asked.
        SELECT DISTINCT sides.match_id, 'settled_twice'
          FROM sides
          JOIN (SELECT s.move_id FROM sides s JOIN account_move m ON m.id = s.move_id
                 GROUP BY s.move_id, m.amount_total
                HAVING COUNT(DISTINCT s.match_id) > 1 AND SUM(s.amount) > m.amount_total) twice
            ON twice.move_id = sides.move_id
    """

    @api.model
    def _consistency_problems(self, company=None):
        """[(match, problem code)] for every reconciled match whose record
        differs from what the ledger holds: no reconciliation at all, a
        partial that does not touch its own entry, other invoices than the
        partials', another amount; and invoices settled by several matches
        beyond their total (the same money twice). Empty when consistent.
        One query, on any database (``scripts/reconcile-check``)."""
        self.env.flush_all()
        self.env.cr.execute(self._CONSISTENCY_SQL, {"company": company.id if company else None})
        return [(self.browse(match_id), code) for match_id, code in self.env.cr.fetchall()]

    def _amounts_by_invoice(self):
        """{invoice: amount it received from this match, in its currency}, from the ledger's partials."""
        self.ensure_one()
        own = self.statement_line_id.move_id or self.payment_id.move_id
        amounts = {}
        for partial in self.partial_ids:
            if partial.debit_move_id.move_id == own:
                invoice, amount = partial.credit_move_id.move_id, partial.credit_amount_currency
            else:
                invoice, amount = partial.debit_move_id.move_id, partial.debit_amount_currency
            amounts[invoice] = amounts.get(invoice, 0.0) + amount
        return amounts
