"""Contact limits hold when several clients push the same customers through
the real dispatcher of a real Odoo server at the same time."""

import threading

from test_dunning_e2e import _customer_with_invoice


def test_parallel_dispatchers_never_exceed_a_window(odoo_server):
    rpc = odoo_server.rpc()
    once_a_day = rpc.env["collections.contact.rule.set"].create(
        {"name": "Once a day (e2e)", "limit_ids": [(0, 0, {"count": 1, "days": 1, "channel": "any"})]}
    )
    partners = []
    for n in range(8):
        partner_id, _invoice = _customer_with_invoice(rpc, f"Busy {n} GmbH", days_overdue=30, amount=200 + n)
        rpc.env["res.partner"].write([partner_id], {"collections_rule_set_id": once_a_day})
        partners.append(partner_id)
    rpc.env["collections.run"].action_run_now()
    message_ids = rpc.env["collections.message"].search([("partner_id", "in", partners)])
    assert len(message_ids) == 16  # stage "Second reminder": an email and a call each
    # Different messages of the same customers in different dispatchers: only the
    # contact limit stands between them (they never write the same message row).
    by_channel = {
        channel: rpc.env["collections.message"].search([("partner_id", "in", partners), ("channel", "=", channel)])
        for channel in ("email", "call")
    }

    errors = []
    barrier = threading.Barrier(4)

    def dispatch(ids):
        client = odoo_server.rpc()
        barrier.wait()
        try:
            client.execute_kw("collections.message", "action_send_now", [ids])
        except Exception as error:  # noqa: BLE001  a dispatcher may lose a race; the others carry on
            errors.append(str(error))

    threads = [threading.Thread(target=dispatch, args=(by_channel[channel],)) for channel in ("email", "call") * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    messages = rpc.env["collections.message"].read(message_ids, ["partner_id", "state", "attempted_at", "mail_id"])
    contacted = [m for m in messages if m["attempted_at"]]
    per_partner = {p: sum(1 for m in contacted if m["partner_id"][0] == p) for p in partners}
    assert per_partner == {p: 1 for p in partners}, (per_partner, errors)
    assert all(m["state"] == "planned" for m in messages if not m["attempted_at"])
    # Each email went to Odoo's mail queue once.
    mail_ids = [m["mail_id"][0] for m in messages if m["mail_id"]]
    assert len(mail_ids) == len(set(mail_ids))
    emails = rpc.env["mail.mail"].search_count([("id", "in", mail_ids)])
    assert emails == sum(1 for m in contacted if m["mail_id"])
