import re

import requests

from odoo.tests import HttpCase, tagged

from .common import engine_message

# What a mail client's RFC 8058 one-click unsubscribe POSTs, and nothing else.
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@tagged("post_install", "-at_install", "collections_http")
class TestCollectionsUnsubscribe(HttpCase):
    """The unsubscribe link of every collections email, over real HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Unsubscribing Ltd", "email": "ap@unsubscribing.test"})
        cls.message = engine_message(cls.env, cls.customer, "test-unsubscribe-1", subject="Payment reminder")
        cls.pending = engine_message(cls.env, cls.customer, "test-unsubscribe-2")

    def _path(self, token=None):
        return f"/collections/unsubscribe/{self.message.id}/{token or self.message._unsubscribe_token()}"

    def _opt_outs(self):
        return self.env["collections.consent"].search([("partner_id", "=", self.customer.id)])

    def _csrf(self, page):
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def _anonymous_post(self, path, data):
        """A POST as a mail client makes it: no cookie, no session, no CSRF token."""
        return requests.post(f"{self.base_url()}{path}", data=data, timeout=30, allow_redirects=False)

    def _assert_opted_out_once(self):
        opt_out = self._opt_outs()
        self.assertEqual(
            (len(opt_out), opt_out.channel, opt_out.status, opt_out.source, opt_out.address),
            (1, "email", "opt_out", "unsubscribe", "ap@unsubscribing.test"),
        )
        self.assertEqual(self.pending.state, "blocked", "pending reminders stop at once")

    def test_link_shows_a_confirmation_first_and_opts_out_on_confirm(self):
        self.assertIn(self._path(), self.message._unsubscribe_url())
        for _prefetch in range(3):  # mail scanners fetch links, sometimes several times
            page = self.url_open(self._path())
            self.assertEqual(page.status_code, 200)
            self.assertIn("ap@unsubscribing.test", page.text)
        self.assertFalse(self._opt_outs(), "following the link alone opts nobody out (mail scanners follow links)")
        for _attempt in range(2):  # a second click records nothing more
            done = self.url_open(self._path(), data={"csrf_token": self._csrf(page)})
            self.assertEqual(done.status_code, 200)
            self.assertIn("any more", done.text)
        self._assert_opted_out_once()

    def test_rfc8058_one_click_post_opts_out_at_once_without_session(self):
        done = self._anonymous_post(self._path(), ONE_CLICK)
        self.assertEqual(done.status_code, 200)
        self.assertIn("any more", done.text)
        self.assertNotIn("session_id", done.headers.get("Set-Cookie", ""), "a one-click POST opens no session")
        self.assertEqual(self._anonymous_post(self._path(), ONE_CLICK).status_code, 200, "a repeat is harmless")
        self._assert_opted_out_once()

    def test_any_other_post_needs_the_pages_csrf_token(self):
        """Only the exact RFC 8058 body goes without a CSRF token: a form posted
        from elsewhere (another site, a scanner) changes nothing."""
        for data in (
            {"confirm": "1"},
            {},
            {"List-Unsubscribe": "one-click"},
            {**ONE_CLICK, "extra": "1"},
            {"csrf_token": "forged"},
            {"csrf_token": "é\x00"},
        ):
            with self.subTest(data=data):
                refused = self._anonymous_post(self._path(), data)
                self.assertEqual(refused.status_code, 400)
                # A NUL is refused before the route by the collections' request guard (ir_http.py).
                self.assertIn("NUL" if any("\x00" in v for v in data.values()) else "expired", refused.text)
                # The same with the session's cookie (url_open would send an empty form as a GET).
                refused = self.opener.post(f"{self.base_url()}{self._path()}", data=data, timeout=30)
                self.assertEqual(refused.status_code, 400)
        self.assertFalse(self._opt_outs())
        self.assertEqual(self.pending.state, "planned")

    def test_garbage_in_the_link_is_a_404_page_never_an_error(self):
        token = self.message._unsubscribe_token()
        paths = [
            f"/collections/unsubscribe/{self.message.id}/%C3%A9%00%FF",
            f"/collections/unsubscribe/{self.message.id}/%00",
            f"/collections/unsubscribe/{self.message.id}/{token}%00",
            f"/collections/unsubscribe/{self.message.id}/{'a' * 10000}",
            f"/collections/unsubscribe/99999999999/{token}",
            f"/collections/unsubscribe/0/{token}",
        ]
        with self.assertNoLogs("odoo", level="ERROR"):
            for path in paths:
                with self.subTest(path=path[:80]):
                    # A NUL is a 400 (the request guard), anything else names no link we sent: 404.
                    expected = 400 if "%00" in path else 404
                    self.assertEqual(self.url_open(path).status_code, expected)
                    self.assertEqual(self._anonymous_post(path, ONE_CLICK).status_code, expected)
        self.assertFalse(self._opt_outs())

    def test_a_wrong_or_foreign_token_changes_nothing(self):
        wrong = self.message._unsubscribe_token()[:-4] + "0000"
        foreign = self.pending._unsubscribe_token()  # valid, but for another message
        for token in (wrong, foreign, "x"):
            self.assertEqual(self.url_open(self._path(token)).status_code, 404)
            self.assertEqual(self.url_open(self._path(token), data={"confirm": "1"}).status_code, 404)
        self.assertEqual(self.url_open(f"/collections/unsubscribe/999999999/{foreign}").status_code, 404)
        self.assertFalse(self._opt_outs())
