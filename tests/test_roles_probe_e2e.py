"""The probe of issue 19, over XML-RPC on a real Odoo server: an administrator
sets up a team as a real one would (users with only the groups their job
needs, a second company with its own collector), then each user acts through
the same methods the interface calls. The three findings, fixed:

1. a collector logs a call (it failed writing the customer's collections dates);
2. a collector cannot rewrite a logged call's content or state, nor make one up;
3. a collector of company B neither sees nor changes company A's consents.
"""

import uuid
from datetime import date, timedelta

import odoorpc
import pytest
from conftest import posted_invoice

COLLECTOR_GROUPS = ("base.group_user", "account.group_account_invoice", "collections_omni.group_collections_collector")
VIEWER_GROUPS = ("base.group_user", "collections_omni.group_collections_viewer")
MANAGER_GROUPS = ("base.group_user", "account.group_account_invoice", "collections_omni.group_collections_manager")
OUTCOMES = ("no_answer", "wrong_number", "paid", "callback", "promised", "disputed")


def _user(admin, login, groups, company_id):
    group_ids = [admin.env.ref(xmlid).id for xmlid in groups]
    admin.env["res.users"].create(
        {
            "name": login.replace("_", " ").title(),
            "login": login,
            "password": login,
            "company_id": company_id,
            "company_ids": [(6, 0, [company_id])],
            "groups_id": [(6, 0, group_ids)],
        }
    )


@pytest.fixture(scope="module")
def team(odoo_server):
    admin = odoo_server.rpc()
    tag = uuid.uuid4().hex[:6]
    company_a = admin.env.user.company_id.id
    company_b = admin.env["res.company"].create({"name": f"Probe Company B {tag}"})
    # The administrator works in both companies, as one who set up both would.
    admin.env["res.users"].write([admin.env.uid], {"company_ids": [(4, company_b)]})
    logins = {
        "collector_a": (COLLECTOR_GROUPS, company_a),
        "viewer_a": (VIEWER_GROUPS, company_a),
        "manager_a": (MANAGER_GROUPS, company_a),
        "collector_b": (COLLECTOR_GROUPS, company_b),
    }
    for role, (groups, company_id) in logins.items():
        _user(admin, f"probe_{role}_{tag}", groups, company_id)
    customer = admin.env["res.partner"].create({"name": f"Probe Customer {tag}", "is_company": True})
    posted_invoice(admin, customer, 300, 20)
    clients = {role: odoo_server.rpc(f"probe_{role}_{tag}", f"probe_{role}_{tag}") for role in logins}
    return {"admin": admin, "customer": customer, "company_a": company_a, "company_b": company_b, **clients}


def _log_call(client, customer, outcome):
    # The shipped contact rules depend on the hour: a call outside them needs its reason.
    values = {"partner_id": customer, "outcome": outcome, "exception_reason": "The customer asked for the call"}
    if outcome in ("callback", "promised"):
        values["next_date"] = (date.today() + timedelta(days=5)).isoformat()
    if outcome == "promised":
        values["promise_amount"] = 100
    wizard = client.env["collections.call.outcome"].create(values)
    result = client.execute_kw("collections.call.outcome", "action_confirm", [[wizard]])
    return result["infos"]["message_id"]


def test_a_collector_logs_a_call_with_every_outcome(team):
    """Finding 1: the wizard wrote the customer as the collector and rolled back."""
    collector, customer = team["collector_a"], team["customer"]
    message_ids = [_log_call(collector, customer, outcome) for outcome in OUTCOMES]
    rows = collector.env["collections.message"].read(message_ids, ["channel", "state", "company_id"])
    assert {(row["channel"], row["state"], row["company_id"][0]) for row in rows} == {
        ("call", "sent", team["company_a"])
    }
    partner = collector.env["res.partner"].read([customer], ["collections_last_date", "collections_next_date"])[0]
    assert partner["collections_last_date"] == date.today().isoformat()
    assert partner["collections_next_date"] == (date.today() + timedelta(days=5)).isoformat()
    assert collector.env["collections.promise"].search_count([("partner_id", "=", customer)]) == 1
    assert collector.env["collections.dispute"].search_count([("partner_id", "=", customer)]) == 1
    # Still no right on customers: the call went through the engine's narrow door.
    with pytest.raises(odoorpc.error.RPCError):
        collector.env["res.partner"].write([customer], {"collections_next_date": date.today().isoformat()})


def test_a_viewer_logs_no_call(team):
    with pytest.raises(odoorpc.error.RPCError):
        _log_call(team["viewer_a"], team["customer"], "no_answer")


def test_the_audit_trail_cannot_be_rewritten_over_rpc(team):
    """Finding 2: a collector wrote a logged call's body and state."""
    collector = team["collector_a"]
    call = _log_call(collector, team["customer"], "no_answer")
    before = collector.env["collections.message"].read([call], ["body", "state", "sent_at"])[0]
    for client in (collector, team["manager_a"], team["admin"]):
        for values in ({"body": "<p>Prometió pagar</p>"}, {"state": "failed"}, {"sent_at": "2020-01-01 00:00:00"}):
            with pytest.raises(odoorpc.error.RPCError, match="audit trail"):
                client.execute_kw("collections.message", "write", [[call], values])
            # A context cannot carry the engine's mark over RPC.
            with pytest.raises(odoorpc.error.RPCError, match="audit trail"):
                client.execute_kw(
                    "collections.message",
                    "write",
                    [[call], values],
                    {"context": {"collections_engine_transition": True}},
                )
        with pytest.raises(odoorpc.error.RPCError, match="audit trail"):
            client.execute_kw(
                "collections.message",
                "create",
                [
                    {
                        "partner_id": team["customer"],
                        "channel": "call",
                        "currency_id": client.env.user.company_id.currency_id.id,
                        "state": "sent",
                        "idempotency_key": f"crafted-{uuid.uuid4().hex}",
                    }
                ],
            )
    assert collector.env["collections.message"].read([call], ["body", "state", "sent_at"])[0] == before
    with pytest.raises(odoorpc.error.RPCError):
        collector.execute_kw("collections.message", "unlink", [[call]])


def test_consent_is_separated_by_company(team):
    """Finding 3: collector B saw company A's consents and recorded opt-outs for it."""
    collector_a, collector_b, customer = team["collector_a"], team["collector_b"], team["customer"]
    opt_out_a = collector_a.env["collections.consent"].create(
        {"partner_id": customer, "channel": "email", "status": "opt_out", "note": "Probe A"}
    )
    assert (
        collector_a.env["collections.consent"].read([opt_out_a], ["company_id"])[0]["company_id"][0]
        == (team["company_a"])
    )
    Consent_b = collector_b.env["collections.consent"]
    assert Consent_b.search([("partner_id", "=", customer)]) == []
    assert Consent_b.search([("id", "=", opt_out_a)]) == []
    with pytest.raises(odoorpc.error.RPCError):
        collector_b.execute_kw("collections.consent", "read", [[opt_out_a], ["status"]])
    with pytest.raises(odoorpc.error.RPCError):
        collector_b.execute_kw("collections.consent", "write", [[opt_out_a], {"status": "opt_in"}])
    with pytest.raises(odoorpc.error.RPCError):
        collector_b.execute_kw("collections.consent", "unlink", [[opt_out_a]])
    # B records for its own company only, never for A.
    with pytest.raises(odoorpc.error.RPCError):
        Consent_b.create(
            {"partner_id": customer, "channel": "sms", "status": "opt_out", "company_id": team["company_a"]}
        )
    own = Consent_b.create({"partner_id": customer, "channel": "sms", "status": "opt_out"})
    assert Consent_b.read([own], ["company_id"])[0]["company_id"][0] == team["company_b"]
    # A's ledger is unchanged and still A's alone.
    rows = team["admin"].execute_kw(
        "collections.consent",
        "search_read",
        [[("partner_id", "=", customer)], ["company_id", "channel", "status"]],
        {"context": {"allowed_company_ids": [team["company_a"], team["company_b"]]}},
    )
    assert sorted((row["company_id"][0], row["channel"], row["status"]) for row in rows) == [
        (team["company_a"], "email", "opt_out"),
        (team["company_b"], "sms", "opt_out"),
    ]
    assert collector_a.env["collections.consent"].search([("partner_id", "=", customer)]) == [opt_out_a]
