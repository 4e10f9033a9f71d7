import logging

from odoo import Command, api, models, tools
from odoo.tools.mail import generate_tracking_message_id

from ..tools.reconcile_writer import ITEM_COLUMNS

_logger = logging.getLogger(__name__)


class CollectionsReconcileMatchEffects(models.AbstractModel):
    """Reconciliation, the set-based writer's side effects: what an ORM
    write of the same rows would have done besides the rows themselves,
    done set-based: the invoices' payment-state chatter, registered
    payments settled, and the stored fields of other models that depend on
    what was written (proven by the twin-scenario test in
    ``tests/test_reconcile_set_based.py``)."""

    _name = "collections.reconcile.match.effects"
    _description = "Collections Reconciliation: Side Effects"

    def _track_payment_states(self, changes):
        """The chatter line "Payment Status: Not Paid → Paid" that tracking
        writes on each invoice whose payment state changed, as mail.thread
        does it: a paid invoice gets a posted message of subtype "Paid", any
        other change a logged note. Invoices with followers of "Paid" need
        Odoo's notification: posted through it; the others inserted set-based."""
        # Invoices created in this very transaction are not tracked (mail.thread's _track_discard).
        discarded = self.env.cr.precommit.data.get("mail.tracking.account.move", {})
        changes = [change for change in changes if not (change[0] in discarded and discarded[change[0]] is None)]
        if not changes:
            return
        Move = self.env["account.move"]
        field = self.env["ir.model.fields"]._get("account.move", "payment_state")
        col_info = Move.fields_get(["payment_state"], attributes=("string", "type", "selection"))["payment_state"]
        labels = dict(col_info["selection"])
        paid_subtype = self.env.ref("account.mt_invoice_paid")
        note_subtype = self.env.ref("mail.mt_note")
        paid = Move.browse([move_id for move_id, _old, new in changes if new == "paid"])
        self.env.cr.execute(
            """
            SELECT DISTINCT f.res_id
              FROM mail_followers f
              JOIN mail_followers_mail_message_subtype_rel rel ON rel.mail_followers_id = f.id
             WHERE f.res_model = 'account.move' AND f.res_id = ANY(%s) AND rel.mail_message_subtype_id = %s
            """,
            [paid.ids, paid_subtype.id],
        )
        notified = {res_id for (res_id,) in self.env.cr.fetchall()}
        author, email_from = self.env.user.partner_id, self.env.user.email_formatted
        reply_to, alias_domains, companies = self._paid_message_headers(paid, email_from)
        log_reply_to = self.env["mail.thread"]._notify_get_reply_to(default=email_from)[False]
        rows = {
            key: []
            for key in ("ids", "old", "new", "subtypes", "posted", "message_ids", "reply_to", "domains", "companies")
        }
        for move_id, old, new in changes:
            if move_id in notified:
                invoice = Move.browse(move_id)
                tracking = self.env["mail.tracking.value"]._create_tracking_values(
                    old, new, "payment_state", col_info, invoice
                )
                invoice.message_post(subtype_id=paid_subtype.id, tracking_value_ids=[Command.create(tracking)])
                continue
            posted = new == "paid"
            rows["ids"].append(move_id)
            rows["old"].append(labels.get(old))
            rows["new"].append(labels.get(new))
            rows["posted"].append(posted)
            rows["subtypes"].append((paid_subtype if posted else note_subtype).id)
            rows["message_ids"].append(
                generate_tracking_message_id(f"{move_id}-account.move" if posted else "message-notify")
            )
            rows["reply_to"].append(reply_to[move_id] if posted else log_reply_to)
            rows["domains"].append(alias_domains[move_id].id or None if posted else None)
            rows["companies"].append(companies[move_id].id or None if posted else None)
        if not rows["ids"]:
            return
        self.env.cr.execute(
            """
            WITH change AS (
                SELECT * FROM unnest(%(ids)s::int[], %(old)s::varchar[], %(new)s::varchar[], %(subtypes)s::int[],
                                     %(posted)s::bool[], %(message_ids)s::varchar[], %(reply_to)s::varchar[],
                                     %(domains)s::int[], %(companies)s::int[])
                       AS c(move_id, old, new, subtype_id, posted, message_id, reply_to, domain_id, company_id)
            ), message AS (
                INSERT INTO mail_message
                       (model, res_id, record_name, record_alias_domain_id, record_company_id, message_type,
                        subtype_id, is_internal, author_id, email_from, reply_to, message_id, email_add_signature,
                        date, body, create_uid, create_date, write_uid, write_date)
                SELECT 'account.move', change.move_id, CASE WHEN change.posted THEN m.name END, change.domain_id,
                       change.company_id, 'notification', change.subtype_id, CASE WHEN NOT change.posted THEN TRUE END,
                       %(author)s, %(email_from)s, change.reply_to, change.message_id, change.posted,
                       now() at time zone 'UTC', '',
                       %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
                  FROM change JOIN account_move m ON m.id = change.move_id
                RETURNING id, res_id
            )
            INSERT INTO mail_tracking_value
                   (field_id, old_value_char, new_value_char, mail_message_id,
                    create_uid, create_date, write_uid, write_date)
            SELECT %(field)s, change.old, change.new, message.id,
                   %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
              FROM message JOIN change ON change.move_id = message.res_id
            """,
            {**rows, "field": field.id, "author": author.id, "email_from": email_from, "uid": self.env.uid},
        )

    @api.model
    def _paid_message_headers(self, invoices, email_from):
        """The reply-to, alias domain and company of the "Paid" message of
        each of ``invoices``, as mail's generic ``_notify_get_reply_to``,
        ``_mail_get_alias_domains`` and ``_mail_get_companies`` give them:
        ({id: reply-to}, {id: mail.alias.domain}, {id: res.company}). Those
        depend on the invoice's company alone unless a company has a
        catchall address or an invoice has its own alias (the reply-to then
        names the document): per company here, as the generic calls would
        otherwise read every invoice one by one."""
        generic = all(
            getattr(type(invoices), method).__module__ == "odoo.addons.mail.models.models"
            for method in ("_notify_get_reply_to", "_mail_get_companies", "_mail_get_alias_domains")
        )
        own_aliases = (
            self.env["mail.alias"]
            .sudo()
            .search_count(
                [("alias_parent_model_id.model", "=", invoices._name), ("alias_parent_thread_id", "in", invoices.ids)],
                limit=1,
            )
        )
        if generic and not own_aliases:
            self.env.cr.execute("SELECT id, company_id FROM account_move WHERE id = ANY(%s)", [invoices.ids])
            company_of = dict(self.env.cr.fetchall())
            # One invoice per company answers for all of that company's.
            representatives = invoices.browse({company: move for move, company in company_of.items()}.values())
            representatives.fetch(["company_id"])
            rep_companies = representatives._mail_get_companies(default=self.env.company)
            if not any(company.catchall_email for company in rep_companies.values()):
                rep_domains = representatives.sudo()._mail_get_alias_domains(default_company=self.env.company)
                by_company = {company_of[rep]: (rep_companies[rep], rep_domains[rep]) for rep in representatives.ids}
                return (
                    dict.fromkeys(invoices.ids, email_from),
                    {move: by_company[company][1] for move, company in company_of.items()},
                    {move: by_company[company][0] for move, company in company_of.items()},
                )
        # What the reply-to reads, alone: after the writer's invalidation the first access would load
        # every column of thousands of invoices.
        invoices.fetch(["state", "move_type", "name", "ref", "company_id"])
        return (
            invoices._notify_get_reply_to(default=email_from),
            invoices.sudo()._mail_get_alias_domains(default_company=self.env.company),
            invoices._mail_get_companies(default=self.env.company),
        )

    # What the set-based writer sets (besides the rows it inserts).
    _WRITTEN_FIELDS = {
        "account.move.line": (*ITEM_COLUMNS, "matched_debit_ids", "matched_credit_ids"),
        "account.move": (
            "amount_residual",
            "amount_residual_signed",
            "payment_state",
            "is_manually_modified",
            "amount_total",
            "amount_total_signed",
            "amount_total_in_currency_signed",
        ),
        "account.bank.statement.line": ("is_reconciled", "amount_residual"),
    }

    @api.model
    @tools.ormcache()
    def _proven_modules(self):
        """collections_omni's dependencies (account, analytic, mail...): the
        stored fields they define on the rows the set-based writer writes are
        the ones the twin-scenario test proves written alike or unchanged."""
        module = self.env["ir.module.module"].sudo().search([("name", "=", "collections_omni")])
        return frozenset(module.upstream_dependencies(exclude_states=("uninstallable",)).mapped("name"))

    # The stored fields of other models that depend on what the writer writes, with the SQL selecting
    # the records where they do: {model: {field: query}}. Parameters: %(lines)s the journal items
    # written in full, %(moves)s the entries written, %(invoices)s the invoices whose payment state
    # changed. The other items of a group settled now only change their matching number and full
    # reconcile: what depends on those (the payments' entries' totals and payment state) is proven
    # unchanged by the twin-scenario test.
    # Registered payments of the invoices whose payment state changed: those with an entry and an
    # outstanding account are settled set-based (_settle_registered_payments), the others (no
    # entry: their state also feeds the invoice's payment state) are recomputed by Odoo.
    _PAYMENTS_OF_WRITTEN_LINES = (
        "SELECT payment_id FROM account_move_line WHERE id = ANY(%(lines)s) AND payment_id IS NOT NULL"
    )
    _SETTLED_SET_BASED = "p.move_id IS NOT NULL AND p.outstanding_account_id IS NOT NULL"
    _PAYMENTS_OF_WRITTEN_ROWS = f"""
        {_PAYMENTS_OF_WRITTEN_LINES}
        UNION SELECT r.payment_id
                FROM account_move__account_payment r
                JOIN account_payment p ON p.id = r.payment_id
               WHERE r.invoice_id = ANY(%(invoices)s) AND NOT ({_SETTLED_SET_BASED})
    """
    _DEPENDENT_RECORDS_SQL = {
        "account.payment": {
            # invoice_ids.payment_state, move_id.line_ids.amount_residual; and what follows the state
            "state": _PAYMENTS_OF_WRITTEN_ROWS,
            "is_reconciled": _PAYMENTS_OF_WRITTEN_ROWS,
            "is_matched": _PAYMENTS_OF_WRITTEN_ROWS,
            "name": _PAYMENTS_OF_WRITTEN_ROWS,
            # move_id.amount_total_signed
            "amount_company_currency_signed": "SELECT id FROM account_payment WHERE move_id = ANY(%(moves)s)",
        },
        # move_line_id.partner_id
        "account.analytic.line": {
            "partner_id": "SELECT id FROM account_analytic_line WHERE move_line_id = ANY(%(lines)s)",
        },
    }

    @api.model
    @tools.ormcache()
    def _reconcile_dependents(self):
        """The stored computed fields that depend on what the set-based writer
        sets, as (fields of other models it recomputes for the records of
        ``_DEPENDENT_RECORDS_SQL``, fields left to Odoo's generic
        recomputation). Proven fields of the written rows are neither: the
        twin-scenario test shows the writer sets them alike."""
        proven = self._proven_modules()
        written = [self.env[model]._fields[name] for model, names in self._WRITTEN_FIELDS.items() for name in names]
        tree = self.env.registry.get_trigger_tree(written, select=lambda field: field.store and field.compute)
        explicit, generic = [], []
        for field in {field for node in tree.depth_first() for field in node.root}:
            if field.model_name in self._WRITTEN_FIELDS and set(field._modules) <= proven:
                continue
            if field.name in self._DEPENDENT_RECORDS_SQL.get(field.model_name, {}) and set(field._modules) <= proven:
                explicit.append((field.model_name, field.name))
            else:
                generic.append(str(field))
        return tuple(sorted(explicit)), tuple(sorted(generic))

    def _settle_registered_payments(self, params):
        """Registered payments (with an entry and an outstanding account) of
        the invoices whose payment state changed become paid when all their
        invoices are, as their state's computation decides: their own items
        are untouched, so the part of it that reads them gives what it gave
        before (in process), and only the invoices' part can change it. What
        follows their state (number, matching flags) does not change between
        in process and paid when there is an outstanding account. Odoo's
        computation would read every payment's entry one by one."""
        self.env["account.payment"].flush_model(["state"])
        self.env.cr.execute(
            f"""
            UPDATE account_payment p
               SET state = 'paid', write_uid = %(uid)s, write_date = now() at time zone 'UTC'
             WHERE p.id IN (SELECT payment_id FROM account_move__account_payment WHERE invoice_id = ANY(%(invoices)s))
               AND p.state = 'in_process' AND {self._SETTLED_SET_BASED}
               AND p.id NOT IN ({self._PAYMENTS_OF_WRITTEN_LINES})
               AND NOT EXISTS (SELECT 1
                                 FROM account_move__account_payment r
                                 JOIN account_move i ON i.id = r.invoice_id
                                WHERE r.payment_id = p.id AND i.payment_state != 'paid')
            RETURNING p.id
            """,
            {**params, "uid": self.env.uid},
        )
        settled = self.env["account.payment"].browse(payment_id for (payment_id,) in self.env.cr.fetchall())
        settled.invalidate_recordset(["state", "write_uid", "write_date"])

    def _trigger_dependents(self, invoices, statement_moves, line_ids, group_line_ids, changed_invoices):
        """Recompute what depends on the written rows, as an ORM write would:
        registered payments and analytic items directly, fields of other
        modules through Odoo's generic triggers (slower; only when such
        fields exist). The written rows' proven fields are not computed a
        second time."""
        explicit, generic = self._reconcile_dependents()
        params = {
            "lines": list(line_ids),
            "moves": (invoices | statement_moves).ids,
            "invoices": changed_invoices.ids,
        }
        if ("account.payment", "state") in explicit:
            self._settle_registered_payments(params)
        records_of = {}  # the same query runs once
        for model, name in explicit:
            query = self._DEPENDENT_RECORDS_SQL[model][name]
            if query not in records_of:
                self.env.cr.execute(query, params)
                records_of[query] = self.env[model].browse(
                    {record_id for (record_id,) in self.env.cr.fetchall() if record_id}
                )
            self.env.add_to_compute(self.env[model]._fields[name], records_of[query])
        if not generic:
            return
        _logger.info("Recomputing after set-based reconciliation: %s", ", ".join(generic))
        proven = self._proven_modules()
        records = {
            "account.move.line": self.env["account.move.line"].browse(line_ids),
            "account.move": invoices | statement_moves,
            "account.bank.statement.line": statement_moves.statement_line_id,
        }
        protected = [
            (
                [field for field in self.env[model]._fields.values() if field.store and set(field._modules) <= proven],
                recs,
            )
            for model, recs in records.items()
        ]
        with self.env.protecting(protected):
            for model, recs in records.items():
                recs.modified(self._WRITTEN_FIELDS[model])
            self.env["account.move.line"].browse(group_line_ids).modified(["full_reconcile_id", "matching_number"])
