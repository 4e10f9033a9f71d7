"""The daily dunning cron on a real Odoo server, driven over JSON-RPC."""

import base64
import threading

import requests
from conftest import posted_invoice


def _customer_with_invoice(rpc, name, days_overdue, amount):
    partner_id = rpc.env["res.partner"].create(
        {"name": name, "is_company": True, "email": f"{name.split()[0].lower()}@example.com", "lang": "en_US"}
    )
    return partner_id, posted_invoice(rpc, partner_id, amount, days_overdue, "Consulting")


def _messages(rpc, partner_ids):
    return rpc.env["collections.message"].search_read(
        [("partner_id", "in", partner_ids)], ["partner_id", "channel", "state", "mail_id", "attachment_id", "move_ids"]
    )


def test_login_page_is_served(odoo_server):
    response = requests.get(f"{odoo_server.url}/web/login", timeout=10)
    assert response.status_code == 200
    assert 'name="login"' in response.text


def test_daily_cron_queues_emails_and_prints_letters(odoo_server):
    rpc = odoo_server.rpc()
    first, first_invoice = _customer_with_invoice(rpc, "Emma Early", days_overdue=10, amount=420)
    final, final_invoice = _customer_with_invoice(rpc, "Luis Late", days_overdue=50, amount=1900)
    cron = rpc.env.ref("collections_omni.ir_cron_collections_run")
    cron.method_direct_trigger()

    by_partner = {}
    for message in _messages(rpc, [first, final]):
        by_partner.setdefault(message["partner_id"][0], {})[message["channel"]] = message
    assert set(by_partner[first]) == {"email"}
    assert set(by_partner[final]) == {"email", "letter"}

    email = by_partner[first]["email"]
    assert email["state"] == "queued" and email["move_ids"] == [first_invoice]
    mail = rpc.env["mail.mail"].read([email["mail_id"][0]], ["state", "body_html", "recipient_ids"])[0]
    invoice_name = rpc.env["account.move"].read([first_invoice], ["name"])[0]["name"]
    assert mail["state"] == "outgoing"
    assert invoice_name in mail["body_html"]
    assert mail["recipient_ids"] == [first]

    letter = by_partner[final]["letter"]
    assert letter["state"] == "sent" and letter["move_ids"] == [final_invoice]
    attachment = rpc.env["ir.attachment"].read([letter["attachment_id"][0]], ["datas", "mimetype"])[0]
    assert attachment["mimetype"] == "application/pdf"
    assert base64.b64decode(attachment["datas"]).startswith(b"%PDF")

    # The cron again on the same day: nothing new.
    cron.method_direct_trigger()
    assert len(_messages(rpc, [first, final])) == 3


def test_concurrent_runs_never_duplicate(odoo_server):
    rpc = odoo_server.rpc()
    partners = [_customer_with_invoice(rpc, f"Parallel {n} SA", days_overdue=30, amount=100 + n)[0] for n in range(6)]
    results, errors = [], []
    barrier = threading.Barrier(3)

    def run_now():
        client = odoo_server.rpc()
        barrier.wait()
        try:
            results.append(client.env["collections.run"].action_run_now())
        except Exception as error:  # the run that finds the company locked is refused
            errors.append(str(error))

    threads = [threading.Thread(target=run_now) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results, errors
    assert all("already in progress" in error for error in errors), errors
    messages = _messages(rpc, partners)
    # Stage "Second reminder" (21 days): one email and one call per customer, once.
    assert sorted((m["partner_id"][0], m["channel"]) for m in messages) == sorted(
        [(p, "email") for p in partners] + [(p, "call") for p in partners]
    )
