"""Demo database content for scripts/run: generated customers and invoices,
a collections manager, a portal customer, the demo payment provider and a
WhatsApp account on the local Graph API emulator (scripts/run starts it).

    .venv/bin/python scripts/demo.py -d DB            # load (once)
    .venv/bin/python scripts/demo.py -d DB --logins   # print the logins
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from odoo_env import environment  # noqa: E402

from odoo import fields  # noqa: E402

DEMO_CUSTOMERS = 60
DEMO_INVOICES = 400
MANAGER = {"login": "manager", "password": "manager", "name": "Marta Gestora"}
# A collector with the Collector group and nothing else: what the role can do, the demo shows.
COLLECTOR = {"login": "collector", "password": "collector", "name": "Carlos Cobrador"}
PORTAL = {"login": "cliente", "password": "cliente"}
# The portal customer's mobile: scripts/whatsapp-reply plays this customer in the chat.
PORTAL_MOBILE = "+34 600 000 001"
WHATSAPP_EMULATOR_PORT = int(os.environ.get("COLLECTIONS_WHATSAPP_EMULATOR_PORT", "8199"))


COMPANY = {
    "name": "Distribuciones Iberia S.L.",
    "street": "Calle de Alcalá 120",
    "zip": "28009",
    "city": "Madrid",
    "phone": "+34 910 123 456",
    "email": "cobros@distribuciones-iberia.example.com",
    "website": "https://distribuciones-iberia.example.com",
}
COMPANY_BANK = {"acc_number": "ES91 2100 0418 4502 0005 1332", "bank": "CaixaBank"}


def company_logo():
    """A simple logo (PNG, base64) drawn here: a green mark with the initials and the name, so
    that the portal, invoices and letters show the company instead of Odoo's "Your logo"."""
    import base64  # noqa: PLC0415
    import io  # noqa: PLC0415

    import reportlab  # noqa: PLC0415 (ships the Bitstream Vera fonts)
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415 (Pillow: an Odoo requirement)

    bold = os.path.join(os.path.dirname(reportlab.__file__), "fonts", "VeraBd.ttf")
    image = Image.new("RGBA", (560, 140), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8, 10, 128, 130), radius=24, fill=(31, 111, 92, 255))
    draw.text((68, 70), "DI", fill="white", font=ImageFont.truetype(bold, 60), anchor="mm")
    draw.text((148, 42), "Distribuciones", fill=(31, 111, 92, 255), font=ImageFont.truetype(bold, 44), anchor="lm")
    draw.text((148, 100), "Iberia", fill=(40, 48, 56, 255), font=ImageFont.truetype(bold, 44), anchor="lm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue())


def company_identity(env):
    """What every reminder and letter shows as the sender: name, logo, address, contact, bank account."""
    company = env.company
    # A Spanish company keeps its books in euros (before any entry exists: Odoo refuses it afterwards).
    euro = env.ref("base.EUR")
    euro.active = True
    company.write({**COMPANY, "country_id": env.ref("base.es").id, "currency_id": euro.id, "logo": company_logo()})
    bank = env["res.bank"].create({"name": COMPANY_BANK["bank"]})
    env["res.partner.bank"].create(
        {"acc_number": COMPANY_BANK["acc_number"], "bank_id": bank.id, "partner_id": company.partner_id.id}
    )


def _staff_user(env, values, groups_id):
    """A demo colleague working in Spanish, mailed at {login}@example.com."""
    return (
        env["res.users"]
        .with_context(no_reset_password=True)
        .create({**values, "email": f"{values['login']}@example.com", "lang": "es_ES", "groups_id": groups_id})
    )


def load(env):
    import generate_data

    company_identity(env)

    summary = generate_data.generate(env, customers=DEMO_CUSTOMERS, invoices=DEMO_INVOICES, seed=7)
    manager = _staff_user(
        env,
        MANAGER,
        [
            (4, env.ref("account.group_account_manager").id),
            (4, env.ref("collections_omni.group_collections_manager").id),
        ],
    )
    collector = _staff_user(env, COLLECTOR, [(6, 0, [env.ref("collections_omni.group_collections_collector").id])])
    # The portal customer: a generated Spanish-speaking company with open invoices.
    partner = (
        env["account.move"]
        .search(
            [("move_type", "=", "out_invoice"), ("payment_state", "=", "not_paid"), ("partner_id.lang", "=", "es_ES")],
            order="invoice_date_due",
            limit=1,
        )
        .partner_id.commercial_partner_id
    )
    env["res.users"].with_context(no_reset_password=True).create(
        {
            **PORTAL,
            "name": partner.name,
            "partner_id": partner.id,
            "groups_id": [(6, 0, [env.ref("base.group_portal").id])],
        }
    )
    provider = env.ref("payment.payment_provider_demo", raise_if_not_found=False)
    if provider:
        provider.write({"state": "test", "is_published": True})
    # The manager collects from every other customer, the collector from a quarter; the rest have no
    # collector of their own and go to the company's Default Collector (broken promises and plans,
    # portal requests): the manager too.
    customers = env["res.partner"].search([("customer_rank", ">", 0), ("is_company", "=", True)], order="id")
    customers.filtered(lambda p: p.id % 2).write({"collections_user_id": manager.id})
    customers.filtered(lambda p: p.id % 4 == 0).write({"collections_user_id": collector.id})
    env.company.collections_user_id = manager
    # Odoo's portal shows a customer the invoices it follows ("Your invoices"); the bulk generator
    # writes no followers, so the portal customer follows its own invoices here.
    env["account.move"].search(
        [("commercial_partner_id", "=", partner.id), ("move_type", "in", ("out_invoice", "out_refund"))]
    ).message_subscribe(partner_ids=partner.ids)
    # The generator's invoices have OdooBot as salesperson: the portal would show it as the contact.
    env["account.move"].search([("move_type", "in", ("out_invoice", "out_refund"))]).invoice_user_id = manager
    whatsapp_demo(env, partner)
    # What a person does in the back office is done as the manager, in Spanish: owners and
    # collectors are people (not OdooBot) and the chatter's "created" lines read in Spanish.
    demo_activity(env(user=manager, context=dict(env.context, lang="es_ES")), partner)
    demo_ab_test(env(user=manager, context=dict(env.context, lang="es_ES")))
    # One dunning run so invoices and customers carry stages and the message log has content.
    run = env["collections.run"].create({"company_id": env.company.id, "trigger": "manual"})
    run._execute()
    # Sending needs the HTTP server (invoice PDFs are rendered through it): the
    # dispatch cron sends the planned messages as soon as scripts/run starts Odoo.
    env.ref("collections_omni.ir_cron_collections_dispatch").nextcall = fields.Datetime.now()
    env["ir.config_parameter"].set_param("collections.demo_ready", "1")
    return summary, manager, partner


def demo_activity(env, portal_partner):
    """A collector's day has history: an open dispute, a broken promise, an active payment plan,
    and bank statement lines, some reconciled by themselves and some waiting in the review queue
    (an amount two customers owe, a transfer from an unknown payer). The portal customer is left
    as generated, so that the portal shows what a customer can do from scratch."""
    from collections import defaultdict  # noqa: PLC0415

    from odoo import Command  # noqa: PLC0415

    today = fields.Date.context_today(env.user)
    overdue = env["account.move"].search(
        [
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "=", "not_paid"),
            ("invoice_date_due", "<", today),
            ("commercial_partner_id", "!=", portal_partner.id),
            ("company_id", "=", env.company.id),
        ],
        order="invoice_date_due, id",
    )
    by_customer = defaultdict(lambda: env["account.move"])
    for invoice in overdue:
        by_customer[invoice.commercial_partner_id] |= invoice
    customers = [c for c, invoices in by_customer.items() if len(invoices) >= 2]
    disputed, promised, planned, *others = customers
    env["collections.dispute"].create(
        {
            "partner_id": disputed.id,
            "move_ids": [Command.set(by_customer[disputed][:1].ids)],
            "reason": "quality",
            "description": "Tres cajas llegaron dañadas; enviamos fotos al transportista.",
        }
    )
    promise_invoices = by_customer[promised][:2]
    promise = env["collections.promise"].create(
        {
            "partner_id": promised.id,
            "move_ids": [Command.set(promise_invoices.ids)],
            "currency_id": promise_invoices.currency_id.id,
            "amount": sum(promise_invoices.mapped("amount_residual")),
            "date": fields.Date.add(today, days=-10),
            "promised_date": fields.Date.add(today, days=-3),
            "source": "call",
            "note": "Dijo que pagaría tras cobrar de su cliente principal.",
        }
    )
    promise._cron_check()  # three days past its date and unpaid: broken
    # And one kept open: the customer said on the phone it pays next week.
    pending_invoices = by_customer[others[3]][:1]
    env["collections.promise"].create(
        {
            "partner_id": others[3].id,
            "move_ids": [Command.set(pending_invoices.ids)],
            "currency_id": pending_invoices.currency_id.id,
            "amount": pending_invoices.amount_residual,
            "date": today,
            "promised_date": fields.Date.add(today, days=7),
            "source": "call",
            "note": "Paga el viernes que viene, cuando cobre la obra de Valencia.",
        }
    )
    # A customer in a hard time: protected as vulnerable (no reminders, a trained collector).
    env["collections.vulnerable.wizard"].create(
        {
            "partner_id": others[4].id,
            "reason": "bereavement",
            "note": "Falleció el socio fundador; la viuda lleva ahora la empresa. Llamar solo a ella.",
        }
    ).action_apply()
    plan = env["collections.payment.plan"].create(
        {
            "partner_id": planned.id,
            "move_ids": [Command.set(by_customer[planned][:3].ids)],
            "currency_id": by_customer[planned].currency_id[:1].id,
            "installment_count": 3,
            "start_date": today,
        }
    )
    plan.action_generate_schedule()
    plan.action_activate()
    env = env(su=True)  # the bank feed is a system job, not the manager's
    # The bank's statement of the day: two transfers that quote their invoice (reconciled by
    # themselves) and three a person must look at: half of an invoice, an invoice already paid
    # (a likely duplicate payment) and a payer nobody can identify.
    journal = env["account.journal"].search([("type", "=", "bank"), ("company_id", "=", env.company.id)], limit=1)
    quoted = [by_customer[c][0] for c in others[:2]]
    lines = [{"amount": invoice.amount_residual, "payment_ref": f"TRANSFERENCIA {invoice.name}"} for invoice in quoted]
    halved = by_customer[others[2]][0]
    lines.append({"amount": round(halved.amount_residual / 2, 2), "payment_ref": f"PAGO A CUENTA {halved.name}"})
    paid = env["account.move"].search(
        [("move_type", "=", "out_invoice"), ("payment_state", "=", "paid"), ("company_id", "=", env.company.id)],
        limit=1,
    )
    if paid:
        lines.append({"amount": paid.amount_total, "payment_ref": f"TRANSF. {paid.name} {paid.partner_id.name}"})
    lines.append({"amount": 150.0, "payment_ref": "BIZUM RECIBIDO PAGO FRA"})
    statement_lines = env["account.bank.statement.line"].create(
        [{"journal_id": journal.id, "date": today, **line} for line in lines]
    )
    env["collections.reconcile.match"]._match(env.company, statement_lines=statement_lines)


def demo_ab_test(env):
    """An A/B test running on the first reminder's email: the usual text against the firmer
    second-notice tone, half the customers each, so the A/B screens show how one looks."""
    policy = env["collections.policy"].search([("is_company_default", "=", True)], limit=1)
    action = (
        policy.stage_ids.filtered(lambda s: s.offset_days > 0)
        .sorted("offset_days")[:1]
        .action_ids.filtered(lambda a: a.channel == "email")[:1]
    )
    if not action:
        return
    test = env["collections.ab.test"].create(
        {
            "name": "Primer recordatorio: tono amable o firme",
            "action_id": action.id,
            "variant_ids": [
                (0, 0, {"name": "Amable (actual)", "share": 50, "sequence": 1}),
                (0, 0, {"name": "Firme, con plan de pagos", "share": 50, "sequence": 2, "tone": "second"}),
            ],
        }
    )
    test.action_start()


def whatsapp_demo(env, customer):
    """A WhatsApp account on the local Graph API emulator, its templates synced
    (from an emulator started here for the purpose), an embedded provider,
    and the approved reminder templates on the default policy's first overdue
    stage: the dunning run plans WhatsApp reminders, the dispatch cron sends
    them to the emulator started by scripts/run, whose signed status webhooks
    come back to Odoo."""
    from odoo.addons.collections_whatsapp.tools import emulator as emulator_module

    emulator = emulator_module.GraphApiEmulator().start()
    try:
        account = env["collections.whatsapp.account"].create(
            {
                "name": "Cobros por WhatsApp (emulador)",
                "phone_number_id": emulator.phone_number_id,
                "waba_id": emulator.waba_id,
                "display_phone_number": "+34 910 000 000",
                "graph_url": emulator.url,
                "access_token": emulator.access_token,
                "app_secret": emulator.app_secret,
                "verify_token": "demo-verify-token",
            }
        )
        account.action_sync_templates()
    finally:
        emulator.stop()
    account.graph_url = f"http://127.0.0.1:{WHATSAPP_EMULATOR_PORT}"
    env["collections.provider"].create(
        {
            "name": "WhatsApp (emulador)",
            "channel": "whatsapp",
            "provider_type": "whatsapp_cloud",
            "whatsapp_account_id": account.id,
            "company_id": env.company.id,
        }
    )
    policy = env["collections.policy"].search([("is_company_default", "=", True)], limit=1)
    stage = policy.stage_ids.filtered(lambda s: s.offset_days > 0).sorted("offset_days")[:1]
    reminders = account.template_ids.filtered("usable_for_reminders")
    if stage:
        stage.write(
            {
                "action_ids": [
                    (
                        0,
                        0,
                        {
                            "channel": "whatsapp",
                            "whatsapp_template_ids": [(6, 0, reminders.ids)],
                        },
                    )
                ]
            }
        )
    customer.mobile = PORTAL_MOBILE
    return account


def print_logins(env):
    portal_user = env["res.users"].search([("login", "=", PORTAL["login"])])
    port = os.environ.get("COLLECTIONS_HTTP_PORT", "8069")
    print(
        f"""
  URL:                  http://localhost:{port}/odoo
  Collections manager:  login {MANAGER["login"]!r}, password {MANAGER["password"]!r}
  Collector:            login {COLLECTOR["login"]!r}, password {COLLECTOR["password"]!r}  (the Collector group only)
  Portal customer:      login {PORTAL["login"]!r}, password {PORTAL["password"]!r}  ({portal_user.partner_id.name})
  Administrator:        login 'admin', password 'admin'
  WhatsApp customer:    scripts/whatsapp-reply "{PORTAL_MOBILE}" "quiero pagar"  (as the portal customer)
"""
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--logins", action="store_true", help="print the demo logins and exit")
    args = parser.parse_args()
    with environment(args.database) as env:
        if args.logins:
            print_logins(env)
        elif env["ir.config_parameter"].get_param("collections.demo_ready") == "1":
            print("The demo data is already loaded.")
        else:
            load(env)


if __name__ == "__main__":
    main()
