from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from ..tools import ab_testing, analytics_sql


class CollectionsAbTest(models.Model):
    """An A/B test of one stage action: its variants share the traffic, each
    customer stays in one variant for the whole test (tools/ab_testing.py),
    planning records the variant on every message, and the outcome of each
    variant is measured per customer.

    Outcomes follow the analytics attribution rule (tools/analytics_sql.py): a
    payment counts once, for the customer's last contact before it (at most 30
    days before); a customer of a variant *converts* when one of the payments
    so attributed to one of its test messages came at most ``outcome_days``
    after that message. Replies and opt-outs likewise (7 days)."""

    _name = "collections.ab.test"
    _description = "Collections A/B Test"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    action_id = fields.Many2one(
        "collections.stage.action",
        string="Stage Action",
        required=True,
        ondelete="cascade",
        index=True,
        # No check_company: the test's company is this action's (related), so the check would
        # limit a new test's picker to actions without a company, that is to none.
        help="The reminder under test: its messages are split between the variants.",
    )
    company_id = fields.Many2one(related="action_id.company_id", store=True)
    state = fields.Selection(
        [("draft", "Draft"), ("running", "Running"), ("done", "Done")], default="draft", required=True, tracking=True
    )
    variant_ids = fields.One2many("collections.ab.variant", "test_id", string="Variants", copy=True)
    outcome_days = fields.Integer(
        string="Paid Within (Days)",
        default=14,
        required=True,
        help="A customer converts when a payment attributed to one of its test messages comes within these days.",
    )
    min_sample = fields.Integer(
        string="Minimum Customers per Variant",
        default=200,
        required=True,
        help="No winner is called before every variant has reached this many customers.",
    )
    alpha = fields.Float(
        string="Significance Level", default=0.05, required=True, help="The p-value below which a difference counts."
    )
    winner_id = fields.Many2one("collections.ab.variant", string="Promoted Variant", readonly=True, tracking=True)
    suggested_winner_id = fields.Many2one(
        "collections.ab.variant",
        string="Winner",
        compute="_compute_results",
        help="The variant that beats every other one significantly, once each has the minimum sample.",
    )
    result_note = fields.Char(string="Result", compute="_compute_results")

    _sql_constraints = [
        ("outcome_days_range", "CHECK(outcome_days BETWEEN 1 AND 30)", "The outcome window is 1 to 30 days."),
        ("min_sample_positive", "CHECK(min_sample > 0)", "The minimum sample must be positive."),
        ("alpha_range", "CHECK(alpha > 0 AND alpha < 0.5)", "The significance level is between 0 and 0.5."),
    ]

    @api.constrains("state", "action_id", "variant_ids")
    def _check_running(self):
        for test in self.filtered(lambda t: t.state == "running"):
            if len(test.variant_ids) < 2:
                raise ValidationError(_("A running test needs at least two variants."))
            if round(sum(test.variant_ids.mapped("share")), 2) != 100:
                raise ValidationError(_("The variants' traffic shares must add up to 100 %."))
            if self.search_count([("action_id", "=", test.action_id.id), ("state", "=", "running")]) > 1:
                raise ValidationError(_("A stage action runs one test at a time."))

    def write(self, vals):
        # A customer stays in one variant for the whole test: the split is fixed once it runs.
        if {"action_id"} & set(vals) and any(test.state != "draft" for test in self):
            raise UserError(_("The stage action of a running or finished test cannot change."))
        return super().write(vals)

    # --- results -------------------------------------------------------------------
    def _results(self):
        """Per variant of these tests: {variant id: {"customers", "converted", "amount",
        "replied", "opted_out"}}, by the attribution rule above, set-based."""
        variants = self.variant_ids
        if not variants:
            return {}
        self.env.flush_all()
        outcome_days = SQL("t.outcome_days")
        self.env.cr.execute(
            SQL(
                """
                WITH tm AS (
                    SELECT msg.id, msg.partner_id, msg.company_id, msg.ab_variant_id AS variant_id
                      FROM collections_message msg
                     WHERE msg.ab_variant_id = ANY(%(variants)s) AND %(contact)s
                ),
                pay AS (
                    SELECT p.* FROM (%(payments)s) p
                     WHERE p.partner_id IN (SELECT partner_id FROM tm)
                ),
                attributed AS (
                    SELECT pay.amount, last.message_id, pay.date - last.sent_at::date AS days_after
                      FROM pay CROSS JOIN %(last)s
                ),
                paid AS (
                    SELECT tm.variant_id, tm.partner_id, sum(a.amount) AS amount
                      FROM attributed a
                      JOIN tm ON tm.id = a.message_id
                      JOIN collections_ab_variant v ON v.id = tm.variant_id
                      JOIN collections_ab_test t ON t.id = v.test_id
                     WHERE a.days_after <= %(outcome_days)s
                  GROUP BY tm.variant_id, tm.partner_id
                ),
                replied AS (
                    SELECT DISTINCT tm.variant_id, tm.partner_id
                      FROM (%(replies)s) r JOIN tm ON tm.id = r.message_id
                ),
                opted AS (
                    SELECT DISTINCT tm.variant_id, tm.partner_id
                      FROM (%(opt_outs)s) o JOIN tm ON tm.id = o.message_id
                )
                SELECT c.variant_id, count(*) AS customers, count(paid.partner_id) AS converted,
                       COALESCE(sum(paid.amount), 0) AS amount, count(replied.partner_id) AS replied,
                       count(opted.partner_id) AS opted_out
                  FROM (SELECT DISTINCT variant_id, partner_id FROM tm) c
                  LEFT JOIN paid ON paid.variant_id = c.variant_id AND paid.partner_id = c.partner_id
                  LEFT JOIN replied ON replied.variant_id = c.variant_id AND replied.partner_id = c.partner_id
                  LEFT JOIN opted ON opted.variant_id = c.variant_id AND opted.partner_id = c.partner_id
              GROUP BY c.variant_id
                """,
                variants=variants.ids,
                contact=analytics_sql.outbound_contact("msg"),
                payments=analytics_sql.customer_payments(),
                last=analytics_sql.last_contact_before(
                    SQL("pay.partner_id"),
                    SQL("pay.company_id"),
                    SQL("(pay.date + 1)::timestamp - interval '1 microsecond'"),
                    analytics_sql.ATTRIBUTION_DAYS,
                ),
                outcome_days=outcome_days,
                replies=analytics_sql.attributed_replies(),
                opt_outs=analytics_sql.attributed_opt_outs(),
            )
        )
        return {row["variant_id"]: row for row in self.env.cr.dictfetchall()}

    @api.depends("variant_ids", "min_sample", "alpha", "outcome_days")
    def _compute_results(self):
        results = self._results() if self.ids else {}
        for test in self:
            rows = [
                (
                    variant,
                    results.get(variant.id, {}).get("converted", 0),
                    results.get(variant.id, {}).get("customers", 0),
                )
                for variant in test.variant_ids
            ]
            best = ab_testing.winner(rows, test.min_sample, test.alpha) if rows else None
            test.suggested_winner_id = best
            smallest = min((trials for _v, _s, trials in rows), default=0)
            if best:
                test.result_note = _("%(variant)s converts best, significantly.", variant=best.name)
            elif smallest < test.min_sample:
                test.result_note = _(
                    "Too early: the smallest variant has %(smallest)s of the %(needed)s customers needed.",
                    smallest=smallest,
                    needed=test.min_sample,
                )
            else:
                test.result_note = _("No significant difference yet.")

    # --- actions -------------------------------------------------------------------
    def _check_manager(self):
        if not self.env.user.has_group("collections_omni.group_collections_manager"):
            raise AccessError(_("Only collections managers start, stop or promote A/B tests."))

    def action_start(self):
        self._check_manager()
        self.write({"state": "running"})

    def action_stop(self):
        self._check_manager()
        self.write({"state": "done"})

    def action_promote_winner(self):
        """The winner becomes the stage action's reminder (template, channel, time of day,
        and its stage's tone) and the test ends."""
        self._check_manager()
        for test in self:
            variant = test.suggested_winner_id
            if test.state != "running":
                raise UserError(_("Only a running test has a winner to promote."))
            if not variant:
                raise UserError(_("No winner to promote: %(reason)s", reason=test.result_note))
            variant._apply_to_action()
            test.write({"state": "done", "winner_id": variant.id})
            self.env["collections.note"]._post(test, "ab_promoted", variant=variant.name)
        return True
