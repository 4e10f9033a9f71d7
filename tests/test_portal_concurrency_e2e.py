"""The customer portal under concurrent requests, on a real Odoo server: five
browsers (a double tap, several tabs) promise at the same moment for the same
invoice, and exactly one open promise comes out."""

import re
import threading
from datetime import date, timedelta

import requests
from conftest import posted_invoice

CONCURRENT = 5


def _csrf(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _portal_customer_with_invoice(rpc, login):
    partner_id = rpc.env["res.partner"].create(
        {"name": f"Customer of {login}", "is_company": True, "email": f"{login}@example.com", "lang": "en_US"}
    )
    invoice_id = posted_invoice(rpc, partner_id, 500, 20, "Consulting")
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


def _customer_in_several_browsers(odoo_server, login):
    """A portal customer with one invoice, logged in CONCURRENT times: (rpc, partner id, invoice id, browsers)."""
    rpc = odoo_server.rpc()
    partner_id, invoice_id = _portal_customer_with_invoice(rpc, login)
    browsers = [_logged_in_browser(odoo_server.url, login) for _n in range(CONCURRENT)]
    return rpc, partner_id, invoice_id, browsers


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
    rpc, partner_id, invoice_id, browsers = _customer_in_several_browsers(odoo_server, "concurrent_payer")
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
    rpc, partner_id, invoice_id, browsers = _customer_in_several_browsers(odoo_server, "concurrent_planner")
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


# --- Paying: the pay lock (controllers/portal.py, _collections_pay_locked) ---


def _link_visitor_browsers(odoo_server, rpc, partner_id, count):
    """``count`` phones that opened the customer's reminder link (no password)."""
    action_id = rpc.env["ir.actions.server"].create(
        {
            "name": "Test fixture: the customer's reminder link",
            "model_id": rpc.env["ir.model"].search([("model", "=", "res.partner")])[0],
            "state": "code",
            "code": "action = {'url': model.browse(env.context['partner']).sudo()._collections_portal_url('email')}",
        }
    )
    url = rpc.execute_kw("ir.actions.server", "run", [[action_id]], {"context": {"partner": partner_id}})["url"]
    path = url[url.index("/my/collections/access/") :]
    browsers = []
    for _n in range(count):
        browser = requests.Session()
        landing = browser.get(f"{odoo_server.url}{path}", timeout=60)
        assert landing.status_code == 200 and landing.url.endswith("/my/collections"), landing.url
        browsers.append(browser)
    return browsers


def _demo_provider(rpc):
    """Odoo's demo payment provider, published in test mode (scripts/test installs payment_demo)."""
    provider_id = rpc.env["payment.provider"].search([("code", "=", "demo")], limit=1)[0]
    rpc.env["payment.provider"].browse(provider_id).write({"state": "test", "is_published": True})
    method_id = rpc.env["payment.method"].search([("code", "=", "demo")], limit=1)[0]
    return provider_id, method_id


def _concurrent_transactions(odoo_server, browsers, query, provider_id, method_id):
    """Every browser shows the pay page, then all submit its payment form at the
    same moment: [(HTTP status, transaction reference or error)], new log."""
    tokens = []
    for browser in browsers:
        page = browser.get(f"{odoo_server.url}/my/collections/pay?{query}", timeout=60)
        assert page.status_code == 200, page.text[-500:]
        tokens.append(re.search(r'data-access-token="([^"]+)"', page.text).group(1))
    assert len(set(tokens)) == 1, tokens
    barrier = threading.Barrier(len(browsers))
    answers, errors = [], []

    def pay(browser):
        params = {
            "provider_id": provider_id,
            "payment_method_id": method_id,
            "token_id": None,
            "amount": 1.0,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": "/my/collections?done=paid",
            "is_validation": False,
            "access_token": tokens[0],
        }
        try:
            barrier.wait(timeout=60)
            response = browser.post(
                f"{odoo_server.url}/my/collections/pay/transaction",
                json={"jsonrpc": "2.0", "method": "call", "id": 1, "params": params},
                timeout=120,
            )
            body = response.json() if response.status_code == 200 else {}
            if "result" in body:
                answers.append((response.status_code, body["result"]["reference"]))
            else:
                answers.append((response.status_code, repr(body.get("error") or response.text[-300:])))
        except Exception as error:  # noqa: BLE001 (reported below with the others)
            errors.append(repr(error))

    log_offset = len(odoo_server.log())
    threads = [threading.Thread(target=pay, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    return answers, odoo_server.log()[log_offset:]


def _customer_with_invoices(rpc, name, amounts):
    partner_id = rpc.env["res.partner"].create(
        {"name": name, "is_company": True, "email": f"{name.replace(' ', '.').lower()}@example.com"}
    )
    return partner_id, [posted_invoice(rpc, partner_id, amount, 20, "Consulting") for amount in amounts]


def _transactions(rpc, invoice_ids):
    return rpc.env["payment.transaction"].search_read([("invoice_ids", "in", invoice_ids)], ["reference", "amount"])


def test_concurrent_payments_of_the_same_invoices_make_one_transaction(odoo_server):
    rpc = odoo_server.rpc()
    provider_id, method_id = _demo_provider(rpc)
    partner_id, invoice_ids = _customer_with_invoices(rpc, "Concurrent Payer Link", [300, 200])
    browsers = _link_visitor_browsers(odoo_server, rpc, partner_id, CONCURRENT)
    query = "&".join(f"invoice_ids={invoice_id}" for invoice_id in invoice_ids)
    answers, log = _concurrent_transactions(odoo_server, browsers, query, provider_id, method_id)
    transactions = _transactions(rpc, invoice_ids)
    assert len(transactions) == 1, f"one transaction for one selection, got {transactions} (answers {answers})"
    assert transactions[0]["amount"] == 500
    # Every tap got an answer, and the same transaction: none a 500, none a second payment.
    assert answers == [(200, transactions[0]["reference"])] * CONCURRENT, answers
    assert "Traceback" not in log


def test_concurrent_payments_of_the_next_installment_make_one_transaction(odoo_server):
    rpc = odoo_server.rpc()
    provider_id, method_id = _demo_provider(rpc)
    partner_id, invoice_ids = _customer_with_invoices(rpc, "Concurrent Installment Payer", [300, 300])
    Plan = rpc.env["collections.payment.plan"]
    plan_id = Plan.create(
        {
            "partner_id": partner_id,
            "move_ids": [(6, 0, invoice_ids)],
            "installment_count": 3,
            "frequency": "monthly",
            "start_date": date.today().isoformat(),
        }
    )
    rpc.execute_kw("collections.payment.plan", "action_generate_schedule", [[plan_id]])
    rpc.execute_kw("collections.payment.plan", "action_activate", [[plan_id]])
    browsers = _link_visitor_browsers(odoo_server, rpc, partner_id, CONCURRENT)
    answers, log = _concurrent_transactions(odoo_server, browsers, f"plan_id={plan_id}", provider_id, method_id)
    transactions = _transactions(rpc, invoice_ids)
    assert len(transactions) == 1, f"one transaction for one installment, got {transactions} (answers {answers})"
    assert transactions[0]["amount"] == 200, "the first of three installments of 600"
    assert answers == [(200, transactions[0]["reference"])] * CONCURRENT, answers
    assert "Traceback" not in log
