# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Months of collections history for generate_data.py (``--history``).

Each customer gets a hidden payment habit (how many days after the due date
it usually pays, and how much that varies); every invoice that is neither
credited nor paid in part is paid in full on its due date plus a delay drawn
from its customer's habit, if that day has come. The reminders the standard
policy would have sent before each payment (stages at -3, +7, +21, +45 days
from the due date) are written as collections messages, on the customer's
channel, with delivery and read states, and a few replies and opt-outs.

The draws come from their own ``random.Random(seed + 7)``, so the documents
generated without ``--history`` stay exactly what they were.
"""

import datetime

# (share of customers, mean delay after the due date in days, spread): the habits the risk score should find.
HABITS = [(0.40, -2, 3), (0.35, 10, 6), (0.18, 35, 12), (0.07, 80, 25)]
# The standard policy's stages (data/collections_policy_data.xml): offset from the due date, channels.
STAGE_CONTACTS = [
    ("collections_stage_standard_before", -3, ("email",)),
    ("collections_stage_standard_first", 7, ("email",)),
    ("collections_stage_standard_second", 21, ("email", "call")),
    ("collections_stage_standard_final", 45, ("letter", "email")),
]
# The customer's own channel replaces email: (share of customers, channel).
CUSTOMER_CHANNELS = [(0.5, "email"), (0.3, "sms"), (0.2, "whatsapp")]
# Final state shares per channel: (sent, delivered, read).
CHANNEL_STATES = {
    "email": (0.6, 0.3, 0.1),
    "sms": (0.1, 0.9, 0.0),
    "whatsapp": (0.05, 0.25, 0.7),
    "letter": (1.0, 0.0, 0.0),
    "call": (1.0, 0.0, 0.0),
}
SHARE_REPLY = 0.08  # of SMS and WhatsApp contacts
SHARE_OPT_OUT = 0.01  # of SMS and WhatsApp contacts
MESSAGE_COLUMNS = (
    "id company_id partner_id direction channel currency_id amount_due policy_id stage_id action_id subject "
    "state idempotency_key planned_date sent_at delivered_at read_at create_date write_date create_uid write_uid"
).split()
CONSENT_COLUMNS = "company_id partner_id channel status source date create_date write_date create_uid write_uid".split()


def _weighted(rng, table):
    roll, total = rng.random(), 0.0
    for row in table:
        total += row[0]
        if roll < total:
            return row
    return table[-1]


def assign_habits(rng, customers):
    """A hidden habit and a channel per customer (stored on the plan, never in the database)."""
    for customer in customers:
        _share, mean, spread = _weighted(rng, HABITS)
        customer["habit"] = (mean, spread)
        customer["channel"] = _weighted(rng, CUSTOMER_CHANNELS)[1]


def pay_by_habit(rng, invoices, refunds, payments, today, make_payment):
    """Full payments on the due date plus the customer's delay, when that day
    has come; invoices credited or paid in part keep what the plan says."""
    credited = {id(refund["reverses"]) for refund in refunds if refund["reconciled"]}
    partial = {id(payment["invoice"]) for payment in payments if not payment["full"]}
    kept = [payment for payment in payments if not payment["full"]]
    for invoice in invoices:
        if id(invoice) in credited or id(invoice) in partial:
            continue
        mean, spread = invoice["partner"]["habit"]
        delay = round(rng.gauss(mean, spread))
        day = max(invoice["date"], invoice["due"] + datetime.timedelta(days=delay))
        if day <= today:
            payment = make_payment(invoice, invoice["total"], rng, (today - invoice["date"]).days, full=True)
            payment["date"] = day
            kept.append(payment)
    return kept


def insert_contacts(env, refs, invoices, payments, refunds, today, rng, copy_rows, reserve_ids):
    """The reminders sent before each invoice was settled, replies and opt-outs; return their counts."""
    cr = env.cr
    company = refs["company"]
    stages = {xmlid: env.ref(f"collections_omni.{xmlid}") for xmlid, _offset, _channels in STAGE_CONTACTS}
    policy = env.ref("collections_omni.collections_policy_standard")
    settled = {}
    for payment in payments:
        if payment["full"]:
            settled[id(payment["invoice"])] = payment["date"]
    for refund in refunds:
        if refund["reconciled"]:
            key = id(refund["reverses"])
            settled[key] = min(settled.get(key, refund["date"]), refund["date"])
    planned = []
    for invoice in invoices:
        closed = settled.get(id(invoice))
        customer = invoice["partner"]
        for xmlid, offset, channels in STAGE_CONTACTS:
            day = invoice["due"] + datetime.timedelta(days=offset)
            if day > today or day < invoice["date"] or (closed and day >= closed):
                continue
            stage = stages[xmlid]
            for channel in channels:
                if channel == "email":
                    channel = customer["channel"]
                action = stage.action_ids.filtered(lambda a, channel=channel: a.channel == channel)[:1]
                planned.append((invoice, customer, stage, action, channel, day))
    first = reserve_ids(cr, "collections_message", len(planned))
    uid = env.uid
    messages, consents, replies = [], [], []
    for offset, (invoice, customer, stage, action, channel, day) in enumerate(planned):
        sent = datetime.datetime.combine(day, datetime.time(9, 0))
        sent_share, delivered_share, _read_share = CHANNEL_STATES[channel]
        roll = rng.random()
        state = "sent" if roll < sent_share else "delivered" if roll < sent_share + delivered_share else "read"
        delivered = sent + datetime.timedelta(minutes=1) if state in ("delivered", "read") else None
        read = sent + datetime.timedelta(hours=2) if state == "read" else None
        message_id = first + offset
        messages.append(
            (
                message_id,
                company.id,
                customer["id"],
                "outbound",
                channel,
                invoice["currency"].id,
                f"{invoice['residual'] / 100:.2f}",
                policy.id,
                stage.id,
                action.id or None,
                invoice["name"],
                state,
                f"datagen-{message_id}",
                day,
                sent,
                delivered,
                read,
                sent,
                sent,
                uid,
                uid,
            )
        )
        if channel in ("sms", "whatsapp"):
            if rng.random() < SHARE_REPLY:
                replies.append((customer, channel, invoice, sent + datetime.timedelta(hours=rng.randint(1, 72))))
            if rng.random() < SHARE_OPT_OUT:
                moment = sent + datetime.timedelta(hours=rng.randint(1, 48))
                consents.append(
                    (company.id, customer["id"], channel, "opt_out", "reply", moment, moment, moment, uid, uid)
                )
    first_reply = reserve_ids(cr, "collections_message", len(replies))
    for offset, (customer, channel, invoice, moment) in enumerate(replies):
        message_id = first_reply + offset
        messages.append(
            (
                message_id,
                company.id,
                customer["id"],
                "inbound",
                channel,
                invoice["currency"].id,
                None,
                None,
                None,
                None,
                None,
                "delivered",
                f"datagen-in-{message_id}",
                moment.date(),
                None,
                None,
                None,
                moment,
                moment,
                uid,
                uid,
            )
        )
    copy_rows(cr, "collections_message", MESSAGE_COLUMNS, messages)
    copy_rows(cr, "collections_consent", CONSENT_COLUMNS, consents)
    return {"messages": len(planned), "replies": len(replies), "opt_outs": len(consents)}
