import re
import time
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from .common import PortalCollectionsCommon


@tagged("post_install", "-at_install", "collections_http")
class TestPortalSignedLinks(PortalCollectionsCommon, HttpCase):
    """A reminder's signed link over real HTTP: it opens the customer's own
    balance without a password, and nothing else; every other link is refused
    with a way to get a fresh one; attempts are logged and rate-limited."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.vat = "ESB12345678"
        cls.customer.lang = "en_US"  # the pages in English, but in the test of the customer's language
        cls.first = cls._invoice(cls.customer, 300, 40)
        cls.foreign = cls._invoice(cls.other_customer, 777.77, 10)
        cls.Access = cls.env["collections.portal.access"]
        cls.Mail = cls.env["mail.mail"]

    def setUp(self):
        super().setUp()
        self.Access.search([]).unlink()  # attempts logged before the test (a demo session) must not count

    def _path(self, partner=None):
        url = (partner or self.customer)._collections_portal_url("email")
        return url[url.index("/my/collections/access/") :]

    def _token(self, path):
        return path.rsplit("/", 1)[1]

    def _open(self, path, status):
        response = self.url_open(path, allow_redirects=True)
        self.assertEqual(response.status_code, status, (path, response.url, response.text[-300:]))
        return response

    def _csrf(self, page):
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _last_result(self):
        return self.Access.search([], limit=1).result

    def test_link_opens_the_customers_own_balance_without_a_password(self):
        path = self._path()
        self.assertRegex(
            self.customer._collections_portal_url(), r"^https?://[^/]+/my/collections/access/\d+-0-\d+-\w{32}$"
        )
        page = self._open(path, 200)
        self.assertTrue(page.url.endswith("/my/collections"), "the link lands on the balance page")
        self.assertIn(self.first.name, page.text)
        self.assertNotIn(self.foreign.name, page.text)
        self.assertNotIn("777.77", page.text)
        self.assertEqual(self._last_result(), "ok")
        # A contact's link opens its company's account.
        contact = self.env["res.partner"].create({"name": "Contacto", "parent_id": self.customer.id})
        self.assertEqual(self._token(self._path(contact)).split("-")[0], str(self.customer.id))

    def test_the_link_visitor_reads_the_customers_language(self):
        self.env["res.lang"]._activate_lang("es_ES")
        # The active languages are cached past the test's rollback: the next tests must not see Spanish active.
        self.addCleanup(self.env.registry.clear_cache)
        self.env["ir.module.module"]._load_module_terms(["collections_portal"], ["es_ES"], overwrite=True)
        self.customer.lang = "es_ES"
        page = self._open(self._path(), 200)
        self.assertIn("Próximo vencimiento", page.text)
        self.assertIn("Pagar las seleccionadas", page.text)
        self.assertNotIn("/my/invoices?filterby", page.text, "no link to pages that need an account")
        self.assertIn("Gracias por su pago", self._open("/my/collections?done=paid", 200).text)
        self.opener.cookies.clear()
        refused = self.url_open("/my/collections/access/1-0-1-x", headers={"Accept-Language": "es-ES,es;q=0.9"})
        self.assertEqual(refused.status_code, 403)
        self.assertIn("Este enlace no funciona", refused.text, "a visitor nobody knows reads the browser's language")

    def test_altered_links_are_refused_with_a_friendly_page(self):
        token = self._token(self._path())
        partner_id, version, expires, signature = token.split("-")
        other_id = str(self.other_customer.id)
        for altered in (
            f"{other_id}-{version}-{expires}-{signature}",  # another customer's id, my signature
            f"{partner_id}-{version}-{int(expires) + 86400 * 365}-{signature}",  # a longer life
            # The last digit changed (a signature that ends in 0 would stay the same with 0: 1 in 16 runs).
            f"{partner_id}-{version}-{expires}-{signature[:-1]}{'1' if signature.endswith('0') else '0'}",
            f"{partner_id}-{version}-{expires}",
            "ñandú-%E2%9C%93-0-0",
            "99999999999999999999-0-1-" + "a" * 32,
            "NaN-0-1-abc",
        ):
            self.Access.search([]).unlink()  # the rate limit would end the loop early
            page = self._open(f"/my/collections/access/{altered}", 403)
            self.assertIn("This link does not work", page.text, altered)
            self.assertIn('name="email"', page.text, "offers a fresh link to an address the visitor types")
            self.assertNotIn(self.other_customer.name, page.text)
            self.assertEqual(self._last_result(), "invalid")
        balance = self.url_open("/my/collections", allow_redirects=False)
        self.assertIn("/web/login", balance.headers.get("Location", ""), "no refused link grants anything")

    def test_expired_link_offers_a_fresh_link_to_the_address_on_file(self):
        month_ago = time.time() - 31 * 86400
        with patch("odoo.addons.collections_portal.models.res_partner.time.time", return_value=month_ago):
            path = self._path()  # sent a month ago, for 30 days
        page = self._open(path, 403)
        self.assertIn("This link has expired", page.text)
        self.assertEqual(self._last_result(), "expired")
        self.assertNotIn(self.customer.email, page.text, "the address on file is not shown")
        sent = self.url_open(
            "/my/collections/access/renew", data={"csrf_token": self._csrf(page), "token": self._token(path)}
        )
        self.assertEqual(sent.status_code, 200)
        self.assertIn("Check your email", sent.text)
        mail = self.Mail.search([("email_to", "=", self.customer.email)], limit=1, order="id desc")
        self.assertTrue(mail, "a fresh link went to the address on file")
        fresh = re.search(r"/my/collections/access/[\w-]+", mail.body_html).group(0)
        self.assertNotEqual(fresh, path)
        self.assertTrue(self._open(fresh, 200).url.endswith("/my/collections"), "the fresh link works")

    def test_fresh_link_by_typed_email_says_the_same_whoever_asks(self):
        page = self._open("/my/collections/access/1-0-1-x", 403)
        csrf = self._csrf(page)
        known = self.url_open("/my/collections/access/renew", data={"csrf_token": csrf, "email": self.customer.email})
        unknown = self.url_open("/my/collections/access/renew", data={"csrf_token": csrf, "email": "nadie@example.com"})
        self.assertEqual((known.status_code, unknown.status_code), (200, 200))
        self.assertIn("If the address is one we have on file", unknown.text, "reveals nothing about the address")
        self.assertEqual(self.Mail.search_count([("email_to", "=", self.customer.email)]), 1)
        self.assertFalse(self.Mail.search_count([("email_to", "=", "nadie@example.com")]))
        bad = self.url_open("/my/collections/access/renew", data={"csrf_token": csrf, "email": "<script>"})
        self.assertEqual(bad.status_code, 400)
        self.assertIn("Enter a valid email address.", bad.text)
        no_csrf = self.url_open("/my/collections/access/renew", data={"email": self.customer.email})
        self.assertEqual(no_csrf.status_code, 400, "CSRF is checked")
        self.assertEqual(self.Mail.search_count([("email_to", "=", self.customer.email)]), 1)

    def test_revoked_links_stop_working_at_once(self):
        path = self._path()
        self._open(path, 200)
        self.customer.action_collections_revoke_links()
        balance = self.url_open("/my/collections", allow_redirects=False)
        self.assertIn("/web/login", balance.headers.get("Location", ""), "the open session ends with the revocation")
        page = self._open(path, 403)
        self.assertIn("This link is no longer valid", page.text)
        self.assertEqual(self._last_result(), "revoked")
        self.assertIn('name="token"', page.text, "one tap for a fresh link to the address on file")
        self._open(self._path(), 200)

    def test_attempts_are_rate_limited_per_ip(self):
        for attempt in range(10):
            self._open(f"/my/collections/access/{self.customer.id}-0-1-{attempt:032d}", 403)
        page = self._open(self._path(), 429)
        self.assertIn("Too many attempts", page.text, "even a good link waits once this IP failed too often")
        self.assertEqual(self.Access.search_count([("ip", "=", "127.0.0.1"), ("result", "=", "invalid")]), 10)

    def test_attempts_are_rate_limited_per_customer(self):
        self.Access.sudo().create(
            [{"ip": f"10.0.0.{n}", "partner_id": self.customer.id, "result": "check_failed"} for n in range(20)]
        )
        self._open(self._path(), 429)
        self._open(self._path(self.other_customer), 200)

    def test_changes_ask_the_last_digits_of_the_tax_id_first(self):
        self._open(self._path(), 200)
        form = self._open("/my/contact-preferences", 200)
        self.assertIn("/my/collections/verify", form.url, "the form waits for the check")
        self.assertIn("The last 4 digits of your tax ID", form.text)
        csrf = self._csrf(form)
        blocked = self.url_open("/my/contact-preferences", data={"csrf_token": csrf, "allow_email": "on"})
        self.assertEqual(blocked.status_code, 403, "a POST without the check changes nothing")
        self.assertFalse(self.env["collections.consent"].search([("partner_id", "=", self.customer.id)]))
        for wrong in ("1234", "", "٥٦٧٨", "5678' OR 1=1", "9" * 5000):
            refused = self.url_open(
                "/my/collections/verify", data={"csrf_token": csrf, "answer": wrong, "next": "/my/contact-preferences"}
            )
            self.assertEqual(refused.status_code, 400, wrong[:20])
            self.assertIn("These are not the last 4 digits of your tax ID", refused.text)
        self.assertEqual(self._last_result(), "check_failed")
        passed = self.url_open(
            "/my/collections/verify", data={"csrf_token": csrf, "answer": "5678", "next": "/my/contact-preferences"}
        )
        self.assertEqual(passed.status_code, 200)
        self.assertTrue(passed.url.endswith("/my/contact-preferences"))
        saved = self.url_open(
            "/my/contact-preferences", data={"csrf_token": self._csrf(passed), "allow_email": "on", "allow_sms": "on"}
        )
        self.assertEqual(saved.status_code, 200)
        self.assertEqual(
            set(self.env["collections.consent"].search([("partner_id", "=", self.customer.id)]).mapped("channel")),
            {"whatsapp", "letter", "call"},
            "the unticked channels were opted out from the link's session",
        )

    def test_next_after_the_check_stays_on_this_site(self):
        self._open(self._path(), 200)
        form = self._open("/my/collections/verify?next=https://evil.example.com/", 200)
        self.assertIn('name="next" value="/my/collections"', form.text)

    def test_without_a_tax_id_a_code_goes_by_email(self):
        self.customer.vat = False
        self._open(self._path(), 200)
        form = self._open("/my/collections/plan", 200)
        self.assertIn("We will send a code to", form.text)
        self.assertIn("c***@example.com", form.text)
        sent = self.url_open(
            "/my/collections/verify/code", data={"csrf_token": self._csrf(form), "next": "/my/collections/plan"}
        )
        self.assertIn("It is valid for 10 minutes", sent.text)
        mail = self.Mail.search([("email_to", "=", self.customer.email)], limit=1, order="id desc")
        code = re.search(r"<strong>(\d{6})</strong>", mail.body_html).group(1)
        wrong = f"{(int(code) + 1) % 1000000:06d}"
        refused = self.url_open("/my/collections/verify", data={"csrf_token": self._csrf(sent), "answer": wrong})
        self.assertEqual(refused.status_code, 400)
        passed = self.url_open(
            "/my/collections/verify",
            data={"csrf_token": self._csrf(sent), "answer": code, "next": "/my/collections/plan"},
        )
        self.assertEqual(passed.status_code, 200)
        self.assertIn('name="installment_count"', passed.text, "the plan form, once the code is right")

    def test_a_link_session_reaches_no_other_customers_records(self):
        plan_other = self.Plan.create({"partner_id": self.other_customer.id, "move_ids": [(6, 0, self.foreign.ids)]})
        plan_other.action_generate_schedule()
        plan_other.action_propose()
        self._open(self._path(), 200)
        self.assertEqual(self.url_open(f"/my/collections/plans/{plan_other.id}").status_code, 404)
        promise = self.url_open(f"/my/collections/promise?invoice_ids={self.foreign.id}")
        self.assertNotIn(self.foreign.name, promise.text)
