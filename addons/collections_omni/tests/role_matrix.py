"""The role matrix of collections, as data: who may do what (issue 19).

One source for the README's table (``markdown_table()``, compared with the
README by ``test_role_matrix``) and for the test that acts each cell as a user
with exactly that role's groups, through the entry points people use.
"""

# Each role: (column title, the groups its users have and nothing more).
ROLES = {
    "viewer": ("Viewer", "base.group_user,collections_omni.group_collections_viewer"),
    "collector": ("Collector", "base.group_user,collections_omni.group_collections_collector"),
    "manager": ("Manager", "base.group_user,collections_omni.group_collections_manager"),
    "accountant": (
        "Accountant",
        "base.group_user,account.group_account_invoice,account.group_account_user",
    ),
    "portal": ("Portal customer", "base.group_portal"),
}

VIEWER, COLLECTOR, MANAGER = "viewer", "collector", "manager"
STAFF = (VIEWER, COLLECTOR, MANAGER)
COLLECTORS = (COLLECTOR, MANAGER)
MANAGERS = (MANAGER,)

# The call outcomes of the Log a Call wizard (collections.call.outcome), each a row.
CALL_OUTCOMES = {
    "no_answer": "no answer",
    "wrong_number": "wrong number",
    "paid": "says paid",
    "callback": "call back",
    "promised": "promised",
    "disputed": "disputed",
}

# Each action: (key, what a person does, the entry point, roles allowed). Every other role is refused.
ACTIONS = [
    ("worklist", "See the worklist", "`collections.worklist` list, *Log a Call* on a row", STAFF),
    *(
        (f"log_call_{outcome}", f"Log a call: {label}", "`collections.call.outcome.action_confirm`", COLLECTORS)
        for outcome, label in CALL_OUTCOMES.items()
    ),
    ("send_now", "Send a planned message now", "`collections.message.action_send_now`", COLLECTORS),
    ("cancel_message", "Cancel a planned message", "`collections.message.action_cancel`", COLLECTORS),
    (
        "correct_message",
        "Correct a sent message (a new entry)",
        "`collections.message.action_record_correction`",
        COLLECTORS,
    ),
    ("rewrite_message", "Rewrite a message's content or state", "`collections.message.write`", ()),
    ("promise", "Record and cancel a promise to pay", "`collections.promise` form, *Cancel*", COLLECTORS),
    ("plan", "Record and activate a payment plan", "`collections.payment.plan` form, *Activate*", COLLECTORS),
    ("dispute", "Open and resolve a dispute", "`collections.dispute` form, *Resolve*", COLLECTORS),
    ("run_preview", "Preview a run", "`collections.run.preview.action_compute`", STAFF),
    ("run_confirm", "Create and confirm a run", "`collections.run.action_run`, *Run Now*", MANAGERS),
    ("policy", "Configure policies and stages", "`collections.policy` form", MANAGERS),
    ("rule_set", "Configure contact rule sets", "`collections.contact.rule.set` form", MANAGERS),
    ("provider", "Configure channel providers", "`collections.provider` form", MANAGERS),
    ("provider_secret", "Read a provider's secrets", "`collections.provider` credentials", MANAGERS),
    ("consent", "Record a customer's opt-out", "`collections.consent` on the customer", COLLECTORS),
    (
        "vulnerable",
        "Protect a customer as vulnerable (also the Trained for Vulnerable Customers group)",
        "`collections.vulnerable.wizard.action_apply`",
        MANAGERS,
    ),
    ("risk_confirm", "Confirm a suggested risk move", "`collections.risk.confirm.action_confirm`", COLLECTORS),
    (
        "review_confirm",
        "Confirm a match in the review queue",
        "`collections.reconcile.candidate.action_confirm`",
        MANAGERS,
    ),
    ("review_undo", "Undo a reconciliation", "`collections.reconcile.match.action_undo`", MANAGERS),
    ("compliance_report", "Compliance report (CSV)", "`collections.compliance.report.action_csv`", STAFF),
    ("analytics", "Dashboards and analytics menus", "*Collections → Analytics*", MANAGERS),
    ("management_report", "Monthly management report", "`collections.management.report.action_csv`", MANAGERS),
]

ALLOWED, REFUSED = "allowed", "refused"


def allowed(action, role):
    """Whether ``role`` may do ``action`` (a key of ACTIONS)."""
    return role in next(roles for key, _label, _entry, roles in ACTIONS if key == action)


def markdown_table():
    """The matrix as the README shows it (one row per action, one column per role)."""
    header = ["Action", "Entry point", *(title for title, _groups in ROLES.values())]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _key, label, entry, roles in ACTIONS:
        cells = [ALLOWED if role in roles else REFUSED for role in ROLES]
        lines.append("| " + " | ".join([label, entry, *cells]) + " |")
    return "\n".join(lines) + "\n"
