"""scripts/reconcile-check: collections.reconcile.match._consistency_problems on a database."""

import json
import sys

from odoo_env import configure


def main(db):
    odoo = configure(db)
    registry = odoo.modules.registry.Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        problems = env["collections.reconcile.match"]._consistency_problems()
        for match, code in problems:
            print(json.dumps({"match": match.id, "problem": code}))
        cr.execute("SELECT count(*) FROM collections_reconcile_match WHERE state IN ('auto_reconciled', 'confirmed')")
        checked = cr.fetchone()[0]
        cr.rollback()
    print(json.dumps({"reconcile_check": db, "matches_checked": checked, "problems": len(problems)}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
