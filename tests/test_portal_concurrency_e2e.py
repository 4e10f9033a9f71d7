"""The customer portal under concurrent requests, on a real Odoo server: five
browsers (a double tap, several tabs) promise at the same moment for the same
invoice, and exactly one open promise comes out."""

import re
import threading
from datetime import date, timedelta

import requests

CONCURRENT = 5


def _csrf(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _portal_customer_with_invoice(rpc, login):
    partner_id = rpc.env["res.partner"].create(
        {"name": f"Customer of {login}", "is_company": True, "email": f"{login}@example.com", "lang": "en_US"}
    )
    due = (date.today() - timedelta(days=20)).isoformat()
    invoice_id = rpc.env["account.move"].create(
        {
            "move_type": "out_invoice",
            "partner_id": partner_id,
            "invoice_date": due,
            "invoice_date_due": due,
            "invoice_line_ids": [(0, 0, {"name": "Consulting", "quantity": 1, "price_unit": 500, "tax_ids": []})],
        }
    )
    rpc.execute_kw("account.move", "action_post", [[invoice_id]])
    portal_group = rpc.env.ref("base.group_portal").id
    contact_id = rpc.env["res.partner"].create({"name": login, "parent_id": partner_id})
    rpc.env["res.users"].create(
        {
            "name": login,
            "login": login,
            "password": f"{login}-pw",
            "partner_id": contact_id,
            "groups_id": [(6, 0, [portal_group])],
        }
    )
    return partner_id, invoice_id


def _logged_in_browser(url, login):
    browser = requests.Session()
    page = browser.get(f"{url}/web/login", timeout=60)
    response = browser.post(
        f"{url}/web/login",
        data={"login": login, "password": f"{login}-pw", "csrf_token": _csrf(page)},
        timeout=60,
        allow_redirects=False,
    )
    assert response.status_code == 303, response.text[-500:]
    return browser, _csrf(browser.get(f"{url}/my/collections/promise", timeout=60))


def _concurrent_posts(odoo_server, browsers, path, form):
    """The same form posted by every browser at the same moment: (statuses, new log)."""
    barrier = threading.Barrier(len(browsers))
    statuses, errors = [], []

    def post(browser, csrf):
        try:
            barrier.wait(timeout=60)
            response = browser.post(
                f"{odoo_server.url}{path}", data={**form, "csrf_token": csrf}, timeout=120, allow_redirects=False
            )
            statuses.append(response.status_code)
        except Exception as error:  # noqa: BLE001 (reported below with the others)
            errors.append(repr(error))

    log_offset = len(odoo_server.log())
    threads = [threading.Thread(target=post, args=browser) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    return sorted(statuses), odoo_server.log()[log_offset:]


def test_concurrent_promises_for_one_invoice_make_one(odoo_server):
    rpc = odoo_server.rpc()
    login = "concurrent_payer"
    partner_id, invoice_id = _portal_customer_with_invoice(rpc, login)
    browsers = [_logged_in_browser(odoo_server.url, login) for _n in range(CONCURRENT)]
    form = {
        "invoice_ids": str(invoice_id),
        "amount": "",
        "promised_date": (date.today() + timedelta(days=5)).isoformat(),
    }
    statuses, log = _concurrent_posts(odoo_server, browsers, "/my/collections/promise", form)
    promises = rpc.env["collections.promise"].search_read(
        [("partner_id", "=", partner_id), ("state", "=", "open")], ["move_ids"]
    )
    assert len(promises) == 1, f"one open promise per invoice, got {len(promises)} (answers {statuses})"
    assert promises[0]["move_ids"] == [invoice_id]
    # One customer was told "thank you", the others that the invoice already has a promise; nobody saw a 500.
    assert statuses == [303] + [400] * (CONCURRENT - 1), statuses
    assert "Traceback" not in log


def test_concurrent_plan_requests_for_one_invoice_make_one(odoo_server):
    rpc = odoo_server.rpc()
    login = "concurrent_planner"
    partner_id, invoice_id = _portal_customer_with_invoice(rpc, login)
    browsers = [_logged_in_browser(odoo_server.url, login) for _n in range(CONCURRENT)]
    form = {
        "invoice_ids": str(invoice_id),
        "installment_count": "3",
        "frequency": "monthly",
        "start_date": (date.today() + timedelta(days=5)).isoformat(),
        "submit": "1",
    }
    statuses, log = _concurrent_posts(odoo_server, browsers, "/my/collections/plan", form)
    plans = rpc.env["collections.payment.plan"].search_read(
        [("partner_id", "=", partner_id), ("state", "not in", ("cancelled", "completed"))], ["move_ids", "state"]
    )
    assert len(plans) == 1, f"one open plan request per invoice, got {len(plans)} (answers {statuses})"
    assert (plans[0]["move_ids"], plans[0]["state"]) == ([invoice_id], "proposed")
    assert statuses == [303] + [400] * (CONCURRENT - 1), statuses
    assert "Traceback" not in log
