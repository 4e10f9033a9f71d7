"""A reminder's link as the customer gets it, on a real Odoo server: the
daily cron emails the reminder through SMTP into the aiosmtpd Maildir sink
that scripts/run uses, and the link read from that file opens the customer's
balance without a password (the browser part of the path, through to the
payment, is collections_portal's TestPortalReminderTour)."""

import email
import email.policy
import mailbox
import re
import socket
import subprocess
import sys
import time

import pytest
import requests
from conftest import free_port, overdue_customers


@pytest.fixture
def mail_sink(tmp_path):
    """aiosmtpd keeping every email as a file in a Maildir, as scripts/run starts it: (port, Maildir)."""
    port = free_port()
    maildir = tmp_path / "mail"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox", maildir],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if sink.poll() is not None or time.monotonic() > deadline:
                sink.kill()
                raise RuntimeError(f"the mail sink did not start: {sink.stderr.read().decode()[-500:]}") from None
            time.sleep(0.2)
    try:
        yield port, maildir
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def _html_bodies(maildir, recipient):
    """The HTML parts of the emails the sink received for ``recipient``."""
    bodies = []
    for message in mailbox.Maildir(maildir, create=False):
        parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        if recipient in parsed["To"]:
            part = parsed.get_body(preferencelist=("html",))
            bodies.append(part.get_content() if part else "")
    return bodies


def test_the_link_in_the_emailed_reminder_opens_the_balance(odoo_server, mail_sink):
    sink_port, maildir = mail_sink
    log_offset = len(odoo_server.log())
    rpc = odoo_server.rpc()
    env = rpc.env
    server_id = env["ir.mail_server"].create(
        {"name": "Mail sink (e2e)", "smtp_host": "127.0.0.1", "smtp_port": sink_port, "smtp_encryption": "none"}
    )
    # This test is about the link, not the hour of the day: the shipped contact rules wait while it runs.
    rule_sets = env["collections.contact.rule.set"]
    active_rule_ids = rule_sets.search([("active", "=", True)])
    rule_sets.browse(active_rule_ids).write({"active": False})
    try:
        address = "reminded.customer@example.com"
        [(partner_id, invoice_id)] = overdue_customers(
            rpc, 1, "Reminded Customer", "+34611000{n:03d}", langs=["en_US"], email=address, amount=420
        )
        invoice_name = env["account.move"].read([invoice_id], ["name"])[0]["name"]

        env.ref("collections_omni.ir_cron_collections_run").method_direct_trigger()
        messages = env["collections.message"].search_read(
            [("partner_id", "=", partner_id), ("channel", "=", "email")], ["state", "mail_id"]
        )
        assert [message["state"] for message in messages] == ["queued"], messages
        env["mail.mail"].browse([messages[0]["mail_id"][0]]).send()

        bodies = _html_bodies(maildir, address)
        assert len(bodies) == 1, f"one reminder in the sink, got {len(bodies)}"
        link = re.search(r'href="[^"]*?(/my/collections/access/[\w-]+)"', bodies[0])
        assert link, bodies[0][-2000:]
        phone = requests.Session()  # never logged in
        page = phone.get(f"{odoo_server.url}{link.group(1)}", timeout=60)
        assert page.status_code == 200 and page.url.endswith("/my/collections"), (page.status_code, page.url)
        assert invoice_name in page.text and "420.00" in page.text
        # An error logged by a request, not the INFO traceback of an attachment missing from the copied filestore.
        assert not re.search(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ", odoo_server.log()[log_offset:], re.M)
    finally:
        rule_sets.browse(active_rule_ids).write({"active": True})
        env["ir.mail_server"].browse([server_id]).unlink()
