from datetime import date, timedelta

from odoo import Command
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

TODAY = date(2026, 6, 15)

# Staff who invoice (Billing) in each collections role, and an accountant with no collections role.
COLLECTOR_GROUPS = "base.group_user,account.group_account_invoice,collections_omni.group_collections_collector"
VIEWER_GROUPS = "base.group_user,collections_omni.group_collections_viewer"
MANAGER_GROUPS = "base.group_user,account.group_account_invoice,collections_omni.group_collections_manager"
ACCOUNTANT_GROUPS = "base.group_user,account.group_account_invoice"


def engine_message(env, partner, key, channel="email", **values):
    """A collections message as the engine writes it (``_engine()``): for ``partner`` on
    ``channel``, idempotency key ``key``, in the company's currency unless ``values`` say otherwise."""
    return (
        env["collections.message"]
        ._engine()
        .create(
            {
                "partner_id": partner.id,
                "channel": channel,
                "currency_id": env.company.currency_id.id,
                "idempotency_key": key,
                **values,
            }
        )
    )


class CollectionsLedgerCommon(AccountTestInvoicingCommon):
    """Accounting fixtures, without mail tracking, worked by a collections manager."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        # The accounting test user also manages collections.
        cls.env.user.groups_id += cls.env.ref("collections_omni.group_collections_manager")
        cls.company = cls.env.company


class CollectionsCommon(CollectionsLedgerCommon):
    """Accounting fixtures plus a three-stage policy on the test company."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The shipped contact rules depend on the hour of the day: tests of
        # other behaviour run without them; test_contact_enforcement sets its own.
        cls.env["collections.contact.rule.set"].search([]).active = False
        cls.Run = cls.env["collections.run"]
        cls.template = cls.env.ref("collections_omni.mail_template_collections_reminder")
        cls.policy = cls._policy(
            "Test default",
            [("Before", -3, "email"), ("First", 7, "email"), ("Second", 21, "email+call"), ("Final", 45, "letter")],
            is_company_default=True,
        )
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.customer = cls._customer("Cliente Uno", lang="es_ES")

    @classmethod
    def _policy(cls, name, stages, **values):
        """stages: [(name, offset_days, 'email+call', extra stage values)]"""
        stage_cmds = []
        for index, spec in enumerate(stages):
            stage_name, offset, channels = spec[:3]
            extra = spec[3] if len(spec) > 3 else {}
            actions = [
                Command.create(
                    {"channel": channel, "mail_template_id": cls.template.id if channel == "email" else False}
                )
                for channel in channels.split("+")
                if channel
            ]
            stage_cmds.append(
                Command.create(
                    {"name": stage_name, "offset_days": offset, "sequence": index, "action_ids": actions, **extra}
                )
            )
        return cls.env["collections.policy"].create(
            {"name": name, "company_id": cls.company.id, "stage_ids": stage_cmds, **values}
        )

    @classmethod
    def _staff_user(cls, login, groups, company=None, **values):
        """A user with exactly ``groups`` (xml ids, comma-separated), working in
        ``company`` only (the test company by default)."""
        company = company or cls.company
        return new_test_user(
            cls.env, login, groups=groups, company_id=company.id, company_ids=[Command.set(company.ids)], **values
        )

    @classmethod
    def _english_and_spanish_viewers(cls, prefix):
        """Two Viewers of the test company, one reading English and one Spanish (the engine's
        Spanish terms loaded): the same record read by each shows their own language."""
        cls.env["ir.module.module"]._load_module_terms(["collections_omni"], ["es_ES"], overwrite=True)
        common = {
            "groups": "base.group_user,collections_omni.group_collections_viewer",
            "company_id": cls.company.id,
            "company_ids": [Command.set(cls.company.ids)],
        }
        return (
            new_test_user(cls.env, f"{prefix}_en", lang="en_US", **common),
            new_test_user(cls.env, f"{prefix}_es", lang="es_ES", **common),
        )

    @classmethod
    def _customer(cls, name, **values):
        values.setdefault("email", f"{name.lower().replace(' ', '.')}@example.com")
        return cls.env["res.partner"].create({"name": name, "is_company": True, **values})

    @classmethod
    def _invoice(cls, partner, amount, days_overdue, currency=None, move_type="out_invoice", post=True):
        """A posted invoice due ``days_overdue`` days before TODAY."""
        due = TODAY - timedelta(days=days_overdue)
        move = cls.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": partner.id,
                "invoice_date": min(due, TODAY),
                "invoice_date_due": due,
                "currency_id": (currency or cls.company.currency_id).id,
                "invoice_line_ids": [
                    Command.create({"name": "Service", "quantity": 1, "price_unit": amount, "tax_ids": []})
                ],
            }
        )
        if post:
            move.action_post()
        return move

    def _run(self, on=TODAY):
        run = self.Run.create({"company_id": self.company.id, "date": on})
        run.action_run()
        return run

    def _messages(self, partner=None):
        domain = [("company_id", "=", self.company.id)]
        if partner:
            domain.append(("partner_id", "=", partner.id))
        return self.env["collections.message"].search(domain, order="id")

    def _pay(self, invoice, amount=None):
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"amount": amount or invoice.amount_residual, "payment_date": TODAY})
        )
        wizard._create_payments()

    def _open_and_resolve_dispute(self, user, invoices, **values):
        """A dispute that ``user`` opens on ``invoices`` and resolves (rejected), as its form does."""
        dispute = (
            self.env["collections.dispute"]
            .with_user(user)
            .create(
                {
                    "partner_id": invoices.partner_id.id,
                    "move_ids": [Command.set(invoices.ids)],
                    "reason": "other",
                    "description": "No recibió el servicio",
                    **values,
                }
            )
        )
        dispute.write({"resolution": "rejected"})
        dispute.action_resolve()
        return dispute

    def _running_plan(self, invoices, installment_count=3, start=TODAY):
        """An active monthly payment plan from ``start`` over ``invoices``."""
        plan = self.env["collections.payment.plan"].create(
            {
                "partner_id": invoices.partner_id.id,
                "currency_id": self.company.currency_id.id,
                "move_ids": [Command.set(invoices.ids)],
                "installment_count": installment_count,
                "start_date": start,
                "frequency": "monthly",
            }
        )
        plan.action_generate_schedule()
        plan.action_activate()
        return plan


class ReconcileCommon(CollectionsCommon):
    """Bank statement lines and registered payments to reconcile, another customer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Match = cls.env["collections.reconcile.match"]
        cls.bank = cls.company_data["default_journal_bank"]
        cls.other = cls._customer("Otra Empresa")

    def _line(self, amount, label, partner=None, on=TODAY):
        return self.env["account.bank.statement.line"].create(
            {
                "journal_id": self.bank.id,
                "date": on,
                "amount": amount,
                "payment_ref": label,
                "partner_id": partner.id if partner else False,
            }
        )

    def _match(self, *lines):
        self.Match._match(self.company, statement_lines=self.env["account.bank.statement.line"].concat(*lines))
        return self.Match.search([("statement_line_id", "in", [line.id for line in lines])])

    def _payment(self, partner, amount, memo=""):
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": partner.id,
                "amount": amount,
                "date": TODAY,
                "memo": memo,
                "journal_id": self.bank.id,
            }
        )
        payment.action_post()
        return payment
