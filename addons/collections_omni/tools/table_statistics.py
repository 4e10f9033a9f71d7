"""Planner statistics for tables a batch has just grown.

Autovacuum analyzes a table once a tenth of it changed, but only after the
transaction commits: the statements that follow a large insert in the same
transaction are planned with statistics that do not know the new rows, and a
nested loop over a table believed tiny can turn a second into minutes. ANALYZE
in the transaction sees its own rows, so the batch analyzes what it outgrew.
"""

from odoo.tools import SQL

# Autovacuum's defaults (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor).
THRESHOLD = 50
SCALE_FACTOR = 0.1


def analyze_outgrown(cr, inserted):
    """ANALYZE each table of ``inserted`` ({table: rows just inserted}) whose
    statistics count fewer rows than autovacuum would tolerate."""
    tables = [table for table, rows in inserted.items() if rows > THRESHOLD]
    if not tables:
        return []
    cr.execute("SELECT relname, GREATEST(reltuples, 0) FROM pg_class WHERE relname = ANY(%s)", [tables])
    known = dict(cr.fetchall())
    outgrown = [table for table in tables if inserted[table] > THRESHOLD + SCALE_FACTOR * known.get(table, 0)]
    for table in outgrown:
        cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))
    return outgrown
