import base64
import json
import math
import pathlib
import re
import threading
from datetime import timedelta
from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser
from odoo.tools import config

from odoo.addons.collections_omni.tests.common import TODAY
from odoo.addons.mail.tests.common import MockEmail

from .common import PortalCollectionsCommon

# The tour asks for a photograph of the page with this console message, then waits for the
# body's data-collections-shot attribute to name it (static/tests/tours/collections_portal_reminder_tour.js).
SHOT_PREFIX = "collections-shot:"
# (label, width, height, mobile): a phone and a desktop window.
WINDOWS = (("phone", 390, 844, True), ("desktop", 1366, 900, False))
# Where the photographs are kept: Odoo's --screenshots folder (scripts/test: the run's log folder).
SHOTS_SUBDIR = ("collections_portal", "reminder_tour")


def shots_dir():
    return pathlib.Path(config["screenshots"], *SHOTS_SUBDIR)


@tagged("post_install", "-at_install", "collections_http")
class TestPortalReminderTour(PortalCollectionsCommon, MockEmail, HttpCase):
    """Issue 16's tour in headless Chromium: a Spanish customer taps the link
    of a reminder the engine emailed, sees the balance without a password,
    disputes one invoice, requests a plan within the policy's limits (approved
    at once), pays its first installment with Odoo's demo payment provider,
    and the pending reminders are cancelled. Every page is photographed on a
    phone and on a desktop (see ``shots_dir``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Spanish for the customer, Odoo's pages (portal, payment) included.
        cls.addClassCleanup(cls.env.registry.clear_cache)  # the active languages are cached past the rollback
        cls.env["ir.module.module"]._load_module_terms(
            [
                "web",
                "portal",
                "payment",
                "account",
                "account_payment",
                "payment_demo",
                "collections_omni",
                "collections_portal",
            ],
            ["es_ES"],
            overwrite=True,
        )
        cls.customer.write({"lang": "es_ES", "vat": "ESB12345678"})
        cls.disputed = cls._invoice(cls.customer, 300, 40)
        cls.older = cls._invoice(cls.customer, 100, 20)
        cls.newer = cls._invoice(cls.customer, 200, 10)
        cls.policy.portal_approve_up_to = 1000
        # Odoo's demo provider (payment_demo), in the test company, as its own tests prepare it.
        cls.demo_provider = (
            cls.env.ref("payment.payment_provider_demo")
            .sudo()
            .copy({"company_id": cls.company.id, "state": "test", "is_published": True})
            .sudo(False)
        )
        cls.demo_provider.journal_id = cls.company_data["default_journal_bank"]
        cls.demo_provider.journal_id.inbound_payment_method_line_ids.filtered(
            lambda line: line.payment_provider_id == cls.demo_provider
        ).payment_account_id = cls.inbound_payment_method_line.payment_account_id

    def _reminder_link(self):
        """The engine plans and sends the reminders; the link of the email as it left Odoo."""
        self._run()
        self.env["collections.message"]._dispatch_planned(self.company)
        emails = self._messages(self.customer).filtered(lambda m: m.channel == "email" and m.state == "queued")
        self.assertTrue(emails, "the engine emailed a reminder")
        with self.mock_mail_gateway():
            emails.mail_id.send(raise_exception=False)
        self.assertEqual(set(emails.mapped("state")), {"sent"})
        sent = self._mails[0]
        self.assertEqual(sent["email_to"], [self.customer.email_formatted])
        link = re.search(r'href="(https?://[^"]+(/my/collections/access/[^"]+))"', sent["body"])
        self.assertTrue(link, "the email carries the customer's secure link")
        return link.group(2)

    def _shoot(self, browser, name, errors):
        """Photograph the whole page in each window, then tell the tour (another thread than the browser's)."""
        try:
            folder = shots_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for label, width, height, mobile in WINDOWS:
                browser._websocket_request(
                    "Emulation.setDeviceMetricsOverride",
                    params={"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
                )
                # Two frames: the page is laid out again for the new window.
                browser._websocket_request(
                    "Runtime.evaluate",
                    params={
                        "expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
                        "awaitPromise": True,
                    },
                )
                content = browser._websocket_request("Page.getLayoutMetrics")["cssContentSize"]
                clip = {"x": 0, "y": 0, "width": width, "height": max(height, math.ceil(content["height"])), "scale": 1}
                shot = browser._websocket_request(
                    "Page.captureScreenshot",
                    params={"format": "png", "captureBeyondViewport": True, "clip": clip},
                    timeout=30,
                )
                (folder / f"{name}_{label}.png").write_bytes(base64.b64decode(shot["data"]))
            width, height = (int(size) for size in self.browser_size.replace(",", "x").split("x"))
            browser._websocket_request(
                "Emulation.setDeviceMetricsOverride",
                params={"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
        except Exception as error:  # noqa: BLE001 (the test fails on it below, not the browser's thread)
            errors.append(f"{name}: {error!r}")
        finally:
            browser._websocket_send(
                "Runtime.evaluate",
                params={"expression": f"document.body.dataset.collectionsShot = {json.dumps(name)}"},
            )

    def test_from_the_reminders_link_to_the_first_installment(self):
        link = self._reminder_link()
        # Two weeks later the next run plans the next stage's reminders: they wait to go out when the link is opened.
        self._run(TODAY + timedelta(days=14))
        pending = self._messages(self.customer).filtered(lambda m: m.state in ("planned", "queued"))
        self.assertTrue(pending, "reminders still waiting to go out")
        self.assertEqual(
            pending.move_ids, self.disputed | self.older | self.newer, str(pending.read(["channel", "state"]))
        )
        for old in shots_dir().glob("*.png"):  # a folder kept from an earlier run
            old.unlink()
        errors, threads = [], []
        handle_console = ChromeBrowser._handle_console
        test = self

        def photographing_console(browser, type, args=None, **kwargs):  # pylint: disable=redefined-builtin
            message = (args or [{}])[0].get("value")
            if type == "log" and isinstance(message, str) and message.startswith(SHOT_PREFIX):
                thread = threading.Thread(
                    target=test._shoot, args=(browser, message[len(SHOT_PREFIX) :], errors), daemon=True
                )
                threads.append(thread)
                thread.start()
                return
            handle_console(browser, type, args=args, **kwargs)

        with patch.object(ChromeBrowser, "_handle_console", photographing_console):
            self.start_tour(link, "collections_portal_reminder_tour", timeout=240)
        for thread in threads:
            thread.join(timeout=60)
        self.assertFalse(errors)
        self.assertEqual(len(list(shots_dir().glob("*.png"))), 9 * len(WINDOWS), "each page on a phone and a desktop")

        dispute = self.env["collections.dispute"].search([("partner_id", "=", self.customer.id)])
        self.assertEqual((dispute.move_ids, dispute.state), (self.disputed, "open"))
        plan = self._plans()
        self.assertEqual((plan.move_ids, plan.state, plan.origin), (self.older | self.newer, "active", "portal"))
        first, second = plan.installment_ids.sorted("sequence")
        self.assertEqual((first.state, second.state), ("paid", "pending"))
        transaction = self.env["payment.transaction"].search([("invoice_ids", "in", plan.move_ids.ids)])
        self.assertEqual(
            (transaction.provider_id, transaction.state, transaction.amount), (self.demo_provider, "done", 150)
        )
        # The installment's 150 into the oldest invoice first: 100 settles it, 50 go to the next.
        self.assertEqual((self.older.payment_state, self.older.amount_residual), ("paid", 0))
        self.assertEqual(self.newer.amount_residual, 150)
        payment_line = transaction.payment_id.move_id.line_ids.filtered(
            lambda line: line.account_id == self.older.line_ids.account_id.filtered("reconcile")
        )
        self.assertEqual(
            payment_line.matched_debit_ids.debit_move_id.move_id, self.older | self.newer, "reconciled with them"
        )
        self.assertEqual(self.disputed.amount_residual, 300, "nothing on the disputed invoice")
        # Every reminder that was still to go out is cancelled; none is left pending.
        self.assertEqual(set(pending.mapped("state")), {"cancelled"})
        self.assertFalse(self._messages(self.customer).filtered(lambda m: m.state in ("planned", "queued")))
