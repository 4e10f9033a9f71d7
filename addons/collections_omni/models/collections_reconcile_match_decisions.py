import logging
import time

from odoo import models
from odoo.exceptions import UserError, ValidationError

from ..tools import reconcile_matching as matching
from ..tools.table_statistics import analyze_outgrown

_logger = logging.getLogger(__name__)


class CollectionsReconcileMatchDecisions(models.AbstractModel):
    """Reconciliation, deciding: the decisions of
    ``tools/reconcile_matching.py`` (``decide``) recorded as matches and
    ranked candidates, three INSERTs for a batch; the confident ones
    reconciled with their best candidate at once (:meth:`_reconcile_candidates`),
    those that fail put back in the review queue."""

    _name = "collections.reconcile.match.decisions"
    _description = "Collections Reconciliation: Decisions"

    def _record_decisions(self, company, kind, decisions, original_partners, stats):
        column = f"{kind}_id"
        keys = [decision.line.key for decision in decisions]
        started = time.perf_counter()
        timings = stats["seconds"]
        # Open proposals of these lines are replaced by the new decision.
        self.search([(column, "in", keys), ("state", "in", ("proposed", "none"))]).unlink()
        matches = self._insert_decisions(company, column, decisions, original_partners)
        auto_keys = {decision.line.key for decision in decisions if decision.verdict == "confident"}
        confident = self.browse(match_id for key, match_id in matches.items() if key in auto_keys)
        self.env.flush_all()
        timings["record"] = timings.get("record", 0.0) + time.perf_counter() - started
        failed = self.browse()
        if confident:
            failed = confident._reconcile_automatically(timings)
        stats["auto_reconciled"] += len(confident) - len(failed)
        stats["proposed"] += sum(1 for d in decisions if d.verdict == "ambiguous") + len(failed)
        stats["none"] += sum(1 for d in decisions if d.verdict == "none")

    def _reconcile_automatically(self, timings):
        """Reconcile the confident matches with their best candidate, all in
        one batch; if the batch fails (a lock date, an entry changed meanwhile),
        one by one, and those that still fail stay in the review queue with
        the reason. Returns the failed matches."""
        self.env.cr.execute(
            "SELECT id FROM collections_reconcile_candidate WHERE match_id = ANY(%s) AND rank = 1", [self.ids]
        )
        best = self.env["collections.reconcile.candidate"].browse(
            candidate_id for (candidate_id,) in self.env.cr.fetchall()
        )
        try:
            with self.env.cr.savepoint():
                self._reconcile_candidates(best, "auto_reconciled", timings)
            return self.browse()
        except (UserError, ValidationError) as error:
            _logger.info("Batch reconciliation failed (%s); reconciling one by one", error)
            self.env.invalidate_all()
        failed = self.browse()
        for match in self:
            try:
                with self.env.cr.savepoint():
                    match._reconcile_candidates(best.filtered(lambda c, m=match: c.match_id == m), "auto_reconciled")
            except (UserError, ValidationError) as error:
                self.env.invalidate_all()
                failed |= match
                # The error is Odoo's own words (data); the sentence around it is the reader's.
                self.env["collections.note"]._post(match, "not_reconciled", error=str(error))
        if failed:
            # Back to the review queue, as the match was before its best candidate was taken.
            self.env.cr.execute(
                """
                UPDATE collections_reconcile_candidate SET selected = FALSE WHERE match_id = ANY(%(failed)s);
                UPDATE collections_reconcile_match x
                   SET state = 'proposed', partner_id = COALESCE(x.original_partner_id, c.partner_id),
                       reconciled_at = NULL, reconciled_by_id = NULL, reconciled_amount = NULL
                  FROM collections_reconcile_candidate c
                 WHERE x.id = ANY(%(failed)s) AND c.match_id = x.id AND c.rank = 1;
                """,
                {"failed": failed.ids},
            )
            self.env["collections.reconcile.candidate"].invalidate_model(["selected"])
            self.invalidate_model()
        return failed

    def _insert_decisions(self, company, column, decisions, original_partners):
        """Write the matches and their ranked candidates with three INSERTs
        (the ORM would take seconds for ten thousand lines); returns {line
        key: match id}. Confident matches are written as reconciled with
        their best candidate, selected, and the amount it should settle: an
        update of rows inserted in the same transaction re-checks every
        foreign key, so the log (:meth:`_record_reconciliation`) rewrites
        only what came out otherwise, and a failed reconciliation puts the
        match back in the review queue (:meth:`_reconcile_automatically`)."""
        states = {"confident": "auto_reconciled", "ambiguous": "proposed", "none": "none"}
        tolerance = company.collections_reconcile_tolerance or 0.0
        if not company.collections_reconcile_writeoff_account_id:
            tolerance = 0.0
        match_rows = {
            "keys": [],
            "labels": [],
            "amounts": [],
            "currencies": [],
            "partners": [],
            "originals": [],
            "states": [],
            "rules": [],
            "reasons": [],
            "reconciled": [],
            "reconciled_amounts": [],
        }
        candidate_rows = {
            "keys": [],
            "ranks": [],
            "scores": [],
            "rules": [],
            "partners": [],
            "amounts": [],
            "selected": [],
        }
        move_rows = {"keys": [], "ranks": [], "moves": []}
        for decision in decisions:
            line = decision.line
            best = decision.candidates[0] if decision.candidates else None
            match_rows["keys"].append(line.key)
            match_rows["labels"].append(line.label)
            match_rows["amounts"].append(line.amount)
            match_rows["currencies"].append(line.currency_id)
            confident = decision.verdict == "confident"
            match_rows["partners"].append(
                best.partner_id if confident else line.partner_id or (best.partner_id if best else None)
            )
            match_rows["originals"].append(original_partners[line.key])
            match_rows["states"].append(states[decision.verdict])
            match_rows["rules"].append(best.rule if best else None)
            match_rows["reasons"].append(decision.reason)
            match_rows["reconciled"].append(confident)
            # What allocating the line to the candidate's open amount settles (the invoices' part).
            match_rows["reconciled_amounts"].append(
                round(sum(matching.allocate(line.amount, [best.amount], tolerance, line.digits)[0]), line.digits)
                if confident
                else None
            )
            for rank, cand in enumerate(decision.candidates, start=1):
                candidate_rows["keys"].append(line.key)
                candidate_rows["ranks"].append(rank)
                candidate_rows["selected"].append(rank == 1 and decision.verdict == "confident")
                candidate_rows["scores"].append(cand.score)
                candidate_rows["rules"].append(cand.rule)
                candidate_rows["partners"].append(cand.partner_id)
                candidate_rows["amounts"].append(cand.amount)
                for move_id in cand.move_ids:
                    move_rows["keys"].append(line.key)
                    move_rows["ranks"].append(rank)
                    move_rows["moves"].append(move_id)
        source = "account_bank_statement_line" if column == "statement_line_id" else "account_payment"
        cr = self.env.cr
        cr.execute(
            f"""
            INSERT INTO collections_reconcile_match
                   (company_id, {column}, date, label, amount, currency_id, partner_id, original_partner_id,
                    state, rule, review_reason, reconciled_at, reconciled_by_id, reconciled_amount,
                    create_uid, create_date, write_uid, write_date)
            SELECT %(company)s, src.key, m.date, src.label, src.amount, src.currency, src.partner, src.original,
                   src.state, src.rule, src.reason, CASE WHEN src.reconciled THEN now() at time zone 'UTC' END,
                   CASE WHEN src.reconciled THEN %(uid)s END, src.reconciled_amount,
                   %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
              FROM unnest(%(keys)s::int[], %(labels)s::varchar[], %(amounts)s::numeric[], %(currencies)s::int[],
                          %(partners)s::int[], %(originals)s::int[], %(states)s::varchar[], %(rules)s::varchar[],
                          %(reasons)s::varchar[], %(reconciled)s::bool[], %(reconciled_amounts)s::numeric[])
                   AS src(key, label, amount, currency, partner, original, state, rule, reason, reconciled,
                          reconciled_amount)
              JOIN {source} s ON s.id = src.key
              JOIN account_move m ON m.id = s.move_id
            RETURNING {column}, id
            """,
            {"company": company.id, "uid": self.env.uid, **match_rows},
        )
        matches = dict(cr.fetchall())
        if candidate_rows["keys"]:
            cr.execute(
                """
                CREATE TEMP TABLE collections_new_candidate ON COMMIT DROP AS
                SELECT x.id AS match_id, src.rank, src.score, src.rule, src.partner, src.amount, src.selected
                  FROM unnest(%(keys)s::int[], %(ranks)s::int[], %(scores)s::int[], %(rules)s::varchar[],
                              %(partners)s::int[], %(amounts)s::numeric[], %(selected)s::bool[])
                       AS src(key, rank, score, rule, partner, amount, selected)
                  JOIN unnest(%(match_keys)s::int[], %(match_ids)s::int[]) AS x(key, id) ON x.key = src.key;
                INSERT INTO collections_reconcile_candidate
                       (match_id, company_id, rank, score, rule, partner_id, amount, selected,
                        create_uid, create_date, write_uid, write_date)
                SELECT match_id, %(company)s, rank, score, rule, partner, amount, selected,
                       %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
                  FROM collections_new_candidate;
                DROP TABLE collections_new_candidate;
                """,
                {
                    "company": company.id,
                    "uid": self.env.uid,
                    "match_keys": list(matches),
                    "match_ids": list(matches.values()),
                    **candidate_rows,
                },
            )
            cr.execute(
                """
                INSERT INTO collections_reconcile_candidate_move_rel (candidate_id, move_id)
                SELECT c.id, src.move
                  FROM unnest(%(keys)s::int[], %(ranks)s::int[], %(moves)s::int[]) AS src(key, rank, move)
                  JOIN unnest(%(match_keys)s::int[], %(match_ids)s::int[]) AS x(key, id) ON x.key = src.key
                  JOIN collections_reconcile_candidate c ON c.match_id = x.id AND c.rank = src.rank
                ON CONFLICT DO NOTHING
                """,
                {"match_keys": list(matches), "match_ids": list(matches.values()), **move_rows},
            )
        analyze_outgrown(
            cr,
            {
                "collections_reconcile_match": len(matches),
                "collections_reconcile_candidate": len(candidate_rows["keys"]),
                "collections_reconcile_candidate_move_rel": len(move_rows["keys"]),
            },
        )
        self.invalidate_model()
        self.env["collections.reconcile.candidate"].invalidate_model()
        return matches
