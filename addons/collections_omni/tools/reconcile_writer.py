"""Set-based writing of bank statement reconciliations.

Reconciling ten thousand statement lines through the accounting ORM takes
minutes: every journal item and partial is created, recomputed and tracked one
by one. This module writes the same rows with a handful of SQL statements, for
the plain case only (the caller checks it): everything in the company
currency, no cash-basis taxes, no storno accounting, invoice items reconciled
before only with items in the company currency, no lock date in the way. What
Odoo's ORM writes in that case is pinned down by ``test_reconcile_set_based``,
which reconciles twin scenarios both ways and compares every column.

Each item replaces (part of) a statement line's suspense item: the first item
of a suspense item takes its row, the others are copies of it. Items with a
target (an open receivable item of an invoice) are reconciled with it.
"""

# Columns of the journal items that the writer sets itself.
ITEM_COLUMNS = (
    "account_id",
    "partner_id",
    "amount_currency",
    "balance",
    "debit",
    "credit",
    "amount_residual",
    "amount_residual_currency",
    "reconciled",
    "price_subtotal",
    "price_total",
    "full_reconcile_id",
    "matching_number",
)
# Columns of a copied item that never come from the suspense item it replaces.
_OWN_COLUMNS = {*ITEM_COLUMNS, "id", "create_uid", "create_date", "write_uid", "write_date"}


def write_statement_reconciliations(cr, uid, items):
    """Write ``items`` and reconcile them with their targets.

    ``items``: (match id, suspense item id, position from 1, account id,
    partner id, balance, target item id or None) in the company currency.
    Returns {"invoices": ids of the invoices paid into, "paid": ids of those
    now fully paid, "changed_payment_state": [(invoice id, old state, new
    state)], "lines": ids of the journal items written in full (the items
    replacing suspense items, the invoice items settled), "group_lines": ids
    of the other items of a group settled now (only their matching number
    and full reconcile change), "partials": [(match id,
    partial id)]}.
    """
    columns = [list(column) for column in zip(*items, strict=True)] if items else [[]] * 7
    cr.execute(
        """
        CREATE TEMP TABLE collections_rec_item ON COMMIT DROP AS
        SELECT src.*,
               CASE WHEN src.position = 1 THEN src.suspense_id
                    ELSE nextval('account_move_line_id_seq') END AS line_id,
               CASE WHEN src.target_id IS NOT NULL
                    THEN nextval('account_partial_reconcile_id_seq') END AS partial_id,
               COALESCE(acc.reconcile, FALSE) AS reconcilable,
               -- What the statements below need of the suspense and target items, read once.
               s.move_id AS suspense_move_id, s.date AS line_date, s.currency_id AS line_currency_id,
               t.move_id AS target_move_id, t.date AS target_date, t.currency_id AS target_currency_id,
               t.company_id AS target_company_id, t.amount_residual AS target_residual,
               t.matching_number AS old_number,
               NULL::int AS full_id,
               NULL::varchar AS number
          FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[], %s::int[], %s::numeric[], %s::int[])
               AS src(match_id, suspense_id, position, account_id, partner_id, balance, target_id)
          JOIN account_account acc ON acc.id = src.account_id
          JOIN account_move_line s ON s.id = src.suspense_id
          LEFT JOIN account_move_line t ON t.id = src.target_id
        """,
        columns,
    )
    # Planner statistics for the joins below (a temp table has none).
    cr.execute("ANALYZE collections_rec_item")
    _number_groups(cr, uid)
    _write_items(cr, uid)
    lines, group_lines = _write_partials(cr, uid)
    result = {**_write_invoices(cr, uid), "lines": lines, "group_lines": group_lines}
    cr.execute("SELECT match_id, partial_id FROM collections_rec_item WHERE partial_id IS NOT NULL")
    result["partials"] = cr.fetchall()
    cr.execute(
        """
        UPDATE account_bank_statement_line st
           SET is_reconciled = TRUE, amount_residual = 0, write_uid = %(uid)s, write_date = now() at time zone 'UTC'
          FROM account_move m
         WHERE m.id IN (SELECT suspense_move_id FROM collections_rec_item) AND st.id = m.statement_line_id;
        -- An entry's total is the sum of its debits (a write-off adds one); the flag as the ORM's
        -- writes set it, on the invoices too (_write_invoices).
        UPDATE account_move m
           SET amount_total = s.total_currency, amount_total_signed = ABS(s.total),
               amount_total_in_currency_signed = ABS(s.total_currency), is_manually_modified = TRUE
          FROM (SELECT l.move_id, SUM(l.balance) AS total, SUM(l.amount_currency) AS total_currency
                  FROM account_move_line l
                 WHERE l.move_id IN (SELECT suspense_move_id FROM collections_rec_item) AND l.debit != 0
                 GROUP BY l.move_id) s
         WHERE m.id = s.move_id
           -- Rows left as they are are not rewritten: the entries' index entries and WAL are the cost.
           AND (m.amount_total, m.amount_total_signed, m.amount_total_in_currency_signed, m.is_manually_modified)
               IS DISTINCT FROM (s.total_currency, ABS(s.total), ABS(s.total_currency), TRUE);
        DROP TABLE collections_rec_item;
        """,
        {"uid": uid},
    )
    return result


def _write_items(cr, uid):
    """The first item of each suspense item takes its row; the others are
    inserted as copies of it (same entry, date, label, journal...)."""
    cr.execute(
        """
        SELECT column_name FROM information_schema.columns
         WHERE table_name = 'account_move_line' AND table_schema = current_schema()
         ORDER BY ordinal_position
        """
    )
    copied = [name for (name,) in cr.fetchall() if name not in _OWN_COLUMNS]
    # Items with a target are settled by it entirely; the others (write-off, surplus) stay open.
    amounts = """
        i.account_id, i.partner_id, i.balance, i.balance, GREATEST(i.balance, 0), GREATEST(-i.balance, 0),
        CASE WHEN i.reconcilable AND i.target_id IS NULL THEN i.balance ELSE 0 END,
        CASE WHEN i.reconcilable AND i.target_id IS NULL THEN i.balance ELSE 0 END,
        i.target_id IS NOT NULL, i.full_id, i.number, i.balance, i.balance, %(uid)s, now() at time zone 'UTC'
    """
    own = """account_id, partner_id, amount_currency, balance, debit, credit, amount_residual,
             amount_residual_currency, reconciled, full_reconcile_id, matching_number, price_subtotal,
             price_total, write_uid, write_date"""
    copied_sql = ", ".join(f'"{name}"' for name in copied)
    copied_from = ", ".join(f's."{name}"' for name in copied)
    cr.execute(
        f"""
        INSERT INTO account_move_line (id, create_uid, create_date, {own}, {copied_sql})
        SELECT i.line_id, %(uid)s, now() at time zone 'UTC', {amounts}, {copied_from}
          FROM collections_rec_item i
          JOIN account_move_line s ON s.id = i.suspense_id
         WHERE i.position > 1
         ORDER BY i.line_id;
        UPDATE account_move_line l
           SET ({own}) = ({amounts})
          FROM collections_rec_item i
         WHERE i.position = 1 AND l.id = i.suspense_id;
        """,
        {"uid": uid},
    )


def _number_groups(cr, uid):
    """Decide each pair's numbers before writing anything: a target partly
    paid before keeps its matching number (the smallest partial id of its
    group, as Odoo numbers them); a target settled now gets a full reconcile
    over its whole group when every other item of the group is settled."""
    cr.execute(
        """
        UPDATE collections_rec_item i SET full_id = nextval('account_full_reconcile_id_seq')
         WHERE i.target_id IS NOT NULL AND i.target_residual + i.balance = 0
           AND (i.old_number IS NULL
                OR NOT EXISTS (SELECT 1 FROM account_move_line o
                                WHERE o.matching_number = i.old_number AND o.id != i.target_id
                                  AND o.amount_residual != 0));
        UPDATE collections_rec_item SET number = COALESCE(full_id::text, old_number, 'P' || partial_id)
         WHERE target_id IS NOT NULL;
        INSERT INTO account_full_reconcile (id, create_uid, create_date, write_uid, write_date)
        SELECT full_id, %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
          FROM collections_rec_item WHERE full_id IS NOT NULL ORDER BY full_id;
        """,
        {"uid": uid},
    )


def _write_partials(cr, uid):
    """One partial per item and target, the targets' residuals and numbers,
    and the rest of each group settled now. Returns the ids of the items
    written in full and those of the rest of the groups."""
    cr.execute(
        """
        INSERT INTO account_partial_reconcile
               (id, debit_move_id, credit_move_id, full_reconcile_id, debit_currency_id, credit_currency_id,
                amount, debit_amount_currency, credit_amount_currency, company_id, max_date,
                create_uid, create_date, write_uid, write_date)
        SELECT i.partial_id, i.target_id, i.line_id, i.full_id, i.target_currency_id, i.line_currency_id,
               -i.balance, -i.balance, -i.balance, i.target_company_id, GREATEST(i.target_date, i.line_date),
               %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
          FROM collections_rec_item i
         WHERE i.target_id IS NOT NULL
         ORDER BY i.partial_id;
        UPDATE account_move_line t
           SET amount_residual = t.amount_residual + i.balance,
               amount_residual_currency = t.amount_residual_currency + i.balance,
               reconciled = t.amount_residual + i.balance = 0,
               full_reconcile_id = i.full_id, matching_number = i.number,
               write_uid = %(uid)s, write_date = now() at time zone 'UTC'
          FROM collections_rec_item i
         WHERE t.id = i.target_id;
        CREATE TEMP TABLE collections_rec_group ON COMMIT DROP AS
        SELECT i.full_id, o.id AS line_id
          FROM collections_rec_item i
          JOIN account_move_line o ON o.matching_number = i.old_number AND o.id != i.target_id
         WHERE i.full_id IS NOT NULL AND i.old_number IS NOT NULL;
        UPDATE account_move_line l SET full_reconcile_id = g.full_id, matching_number = g.full_id::text
          FROM collections_rec_group g WHERE l.id = g.line_id;
        UPDATE account_partial_reconcile p SET full_reconcile_id = g.full_id
          FROM collections_rec_group g WHERE g.line_id = p.debit_move_id AND p.full_reconcile_id IS NULL;
        UPDATE account_partial_reconcile p SET full_reconcile_id = g.full_id
          FROM collections_rec_group g WHERE g.line_id = p.credit_move_id AND p.full_reconcile_id IS NULL;
        """,
        {"uid": uid},
    )
    cr.execute(
        """
        SELECT line_id FROM collections_rec_item
        UNION SELECT target_id FROM collections_rec_item WHERE target_id IS NOT NULL
        """
    )
    lines = [line_id for (line_id,) in cr.fetchall()]
    cr.execute("SELECT line_id FROM collections_rec_group")
    group_lines = [line_id for (line_id,) in cr.fetchall()]
    cr.execute("DROP TABLE collections_rec_group")
    return lines, group_lines


def _write_invoices(cr, uid):
    """Residuals and payment state of the invoices paid into: settled
    invoices are paid (a bank statement line is no payment waiting for its
    bank match), the others partially paid."""
    cr.execute(
        """
        UPDATE account_move m
           SET amount_residual = m.amount_residual - paid.amount,
               amount_residual_signed = m.amount_residual_signed - paid.amount,
               is_manually_modified = TRUE,
               payment_state = CASE WHEN m.amount_residual = paid.amount THEN 'paid' ELSE 'partial' END,
               write_uid = %(uid)s, write_date = now() at time zone 'UTC'
          FROM (SELECT i.target_move_id AS move_id, SUM(-i.balance) AS amount, MIN(inv.payment_state) AS old_state
                  FROM collections_rec_item i
                  JOIN account_move inv ON inv.id = i.target_move_id
                 GROUP BY i.target_move_id) paid
         WHERE m.id = paid.move_id
        RETURNING m.id, paid.old_state, m.payment_state
        """,
        {"uid": uid},
    )
    rows = cr.fetchall()
    return {
        "invoices": [row[0] for row in rows],
        "paid": [row[0] for row in rows if row[2] == "paid"],
        "changed_payment_state": [row for row in rows if row[1] != row[2]],
    }
