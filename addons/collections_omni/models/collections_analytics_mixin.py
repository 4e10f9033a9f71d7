from odoo import _, api, fields, models, tools
from odoo.tools import SQL

from ..tools import analytics_sql


class CollectionsAnalyticsMixin(models.AbstractModel):
    """A collections figure: a read-only SQL view over one builder of
    tools/analytics_sql.py, with the drill-down to the records behind it."""

    _name = "collections.analytics.mixin"
    _description = "Collections Figure"
    _auto = False
    # Selection fields whose groups follow the selection's order, not their keys' alphabetical
    # order (the aging buckets: not due, 1-30, 31-60, ..., not "1_30" before "current").
    _group_in_selection_order = ()

    # Every figure belongs to a company: its multi-company rule reads it (security/collections_analytics_security.xml).
    company_id = fields.Many2one("res.company", readonly=True)

    @api.model
    def _figure_query(self):
        """The SELECT of the figure (an SQL with an ``id`` column)."""
        raise NotImplementedError

    def init(self):
        if self._abstract:
            return
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE VIEW %s AS (%s)", SQL.identifier(self._table), self._figure_query()))

    @api.model
    def _create_materialized(self, table, query, index_columns):
        """(Re)create a materialized view the figures read (a heavy builder computed once)."""
        self.env.cr.execute(SQL("DROP MATERIALIZED VIEW IF EXISTS %s CASCADE", SQL.identifier(table)))
        self.env.cr.execute(SQL("CREATE MATERIALIZED VIEW %s AS (%s)", SQL.identifier(table), query))
        self.env.cr.execute(
            SQL(
                "CREATE INDEX ON %s (%s)",
                SQL.identifier(table),
                SQL(", ").join(SQL.identifier(column) for column in index_columns),
            )
        )

    @api.model
    def action_refresh_figures(self):
        """Recompute what the figures read (the daily cron, the menu, the monthly report)."""
        for table in (analytics_sql.SNAPSHOT_TABLE, analytics_sql.CONTACT_OUTCOME_TABLE):
            self.env.cr.execute(SQL("REFRESH MATERIALIZED VIEW %s", SQL.identifier(table)))
        self.env.registry.clear_cache()
        return {"type": "ir.actions.client", "tag": "reload"}

    @api.model
    def _read_group_orderby(self, order, groupby_terms, query):
        """Groups of the fields of ``_group_in_selection_order`` sort by their place in the
        selection (the dashboards, pivots and graphs all read groups through here)."""
        terms = dict(groupby_terms)
        for spec, sql in groupby_terms.items():
            if spec in self._group_in_selection_order:
                keys = [key for key, _label in self._fields[spec].selection]
                terms[spec] = SQL("array_position(%s::varchar[], %s::varchar)", keys, sql)
        return super()._read_group_orderby(order, terms, query)

    @api.model
    def _figure(self, domain=(), groupby=(), aggregates=None):
        """The figure grouped as the dashboard groups it (what the benchmark times)."""
        aggregates = aggregates or [f"{name}:{self._fields[name].aggregator}" for name in self._figure_measures()]
        return self._read_group(list(domain), list(groupby), aggregates)

    @api.model
    def _figure_measures(self):
        return [
            name
            for name, field in self._fields.items()
            if field.type in ("integer", "float", "monetary") and field.aggregator and name != "id"
        ]

    def _open_records(self, model, ids, name, view_mode="list,form"):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": model,
            "view_mode": view_mode,
            "domain": [("id", "in", list(ids))],
            "context": {"create": False},
        }

    def _open_month_receivables(self):
        """The documents open at these rows' month ends (a figure per company and month)."""
        return {
            "type": "ir.actions.act_window",
            "name": _("Receivables Behind the Figure"),
            "res_model": "collections.analytics.aging",
            "view_mode": "list,pivot",
            "domain": [("company_id", "in", self.company_id.ids), ("month_end", "in", self.mapped("month_end"))],
        }

    def _open_invoices(self, moves):
        action = self._open_records("account.move", moves.ids, _("Invoices and Credit Notes"))
        if len(moves) == 1:
            action.update(view_mode="form", res_id=moves.id, views=[(False, "form")])
        return action
