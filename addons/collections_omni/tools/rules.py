"""The collections vocabulary, defined once: channels, message states and the
moves between them, skip reasons and the security groups. Plain Python (no
Odoo import), so workers and tests read the same names as the models.

Labels are stored as codes on records and translated on display: Odoo
translates selection labels through the fields that use these lists.
"""

# Channels a reminder goes out on (collections.stage.action.channel and every model that names one).
CHANNELS = [
    ("email", "Email"),
    ("sms", "SMS"),
    ("whatsapp", "WhatsApp"),
    ("letter", "Printed Letter"),
    ("call", "Phone Call Task"),
]

# A message's life in the outbox, in order.
MESSAGE_STATES = [
    ("planned", "Planned"),
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("read", "Read"),
    ("failed", "Failed"),
    ("blocked", "Blocked"),
    ("cancelled", "Cancelled"),
]
# States a message never leaves except upwards by a delivery report (delivered -> read):
# the engine only appends after them.
FINAL_STATES = ("delivered", "read", "failed", "blocked", "cancelled")
# States that end a message for good: nothing a provider reports changes them.
CLOSED_STATES = ("failed", "blocked", "cancelled")
# States a message waits in before a provider has it (a planner or a person may still stop it).
PENDING_STATES = ("planned", "queued")
# States a message is in while a provider works on it (its result is still to come).
IN_FLIGHT_STATES = ("queued", "sending")
# Which state may follow which: planning, hand-out, the send's result and delivery reports.
ALLOWED_TRANSITIONS = {
    "planned": ("queued", "sending", "sent", "failed", "blocked", "cancelled"),
    "queued": ("sending", "sent", "delivered", "read", "failed", "blocked", "cancelled", "planned"),
    "sending": ("queued", "sent", "delivered", "read", "failed", "blocked"),
    "sent": ("delivered", "read", "failed"),
    "delivered": ("read",),
    "read": (),
    "failed": (),
    "blocked": (),
    "cancelled": (),
}
# Provider delivery statuses, in the order a message goes through them: never downgraded.
STATUS_RANK = {"queued": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 5}


def may_move(from_state, to_state):
    """Whether a message in ``from_state`` may go to ``to_state``."""
    return to_state in ALLOWED_TRANSITIONS.get(from_state, ())


# Why a dunning run skips a customer (codes stored in collections.run.skip_reasons).
SKIP_REASON_LABELS = {
    "excluded": "Excluded from collections",
    "do_not_contact": "Do not contact",
    "vulnerable": "Vulnerable customer",
    "disputed": "Dispute hold",
    "below_minimum": "Below the stage's minimum amount",
    "netted": "Credit notes cover the balance",
    "no_action": "The stage has no action",
    "payment_plan": "Invoices under a payment plan",
    "promise": "Promise to pay not yet due",
    "dispute": "Invoices in dispute",
}
SKIP_REASONS = list(SKIP_REASON_LABELS.items())
# Why documents are held out of dunning (a subset of the skip reasons).
HOLD_REASONS = ("payment_plan", "promise", "dispute")

# Why a customer is protected as vulnerable (codes on res.partner; the free note is apart).
VULNERABLE_REASONS = [
    ("bereavement", "Bereavement"),
    ("illness", "Serious illness or disability"),
    ("mental_health", "Mental health"),
    ("hardship", "Severe financial hardship"),
    ("life_event", "Life event (job loss, separation)"),
    ("capacity", "Limited capacity (age, language, literacy)"),
    ("other", "Other"),
]
# How long a protection lasts before a trained collector reviews it, by default.
VULNERABLE_REVIEW_DAYS = 90

# What a customer disputes (collections.dispute.reason and its figure).
DISPUTE_REASONS = [
    ("not_received", "Goods or service not received"),
    ("quality", "Quality or damage"),
    ("wrong_amount", "Wrong price or quantity"),
    ("already_paid", "Already paid"),
    ("not_ordered", "Not ordered"),
    ("other", "Other"),
]
# A payment plan's life (collections.payment.plan.state and its figure).
PLAN_STATES = [
    ("draft", "Draft"),
    ("proposed", "Proposed"),
    ("active", "Active"),
    ("completed", "Completed"),
    ("broken", "Broken"),
    ("cancelled", "Cancelled"),
]
# A promise to pay's life (collections.promise.state and its figure).
PROMISE_STATES = [("open", "Open"), ("kept", "Kept"), ("broken", "Broken"), ("cancelled", "Cancelled")]

# Security groups, by full xml id.
GROUP_VIEWER = "collections_omni.group_collections_viewer"
GROUP_COLLECTOR = "collections_omni.group_collections_collector"
GROUP_MANAGER = "collections_omni.group_collections_manager"
# Collectors trained to handle vulnerable customers (with managers, the only ones who see why).
GROUP_VULNERABLE = "collections_omni.group_collections_vulnerable"
VULNERABLE_READERS = f"{GROUP_VULNERABLE},{GROUP_MANAGER}"
