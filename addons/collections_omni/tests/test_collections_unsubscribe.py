from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install", "collections_http")
class TestCollectionsUnsubscribe(HttpCase):
    """The unsubscribe link of every collections email, over real HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Unsubscribing Ltd", "email": "ap@unsubscribing.test"})
        cls.message = (
            cls.env["collections.message"]
            ._engine()
            .create(
                {
                    "partner_id": cls.customer.id,
                    "channel": "email",
                    "currency_id": cls.env.company.currency_id.id,
                    "idempotency_key": "test-unsubscribe-1",
                    "subject": "Payment reminder",
                }
            )
        )
        cls.pending = (
            cls.env["collections.message"]
            ._engine()
            .create(
                {
                    "partner_id": cls.customer.id,
                    "channel": "email",
                    "currency_id": cls.env.company.currency_id.id,
                    "idempotency_key": "test-unsubscribe-2",
                }
            )
        )

    def _path(self, token=None):
        return f"/collections/unsubscribe/{self.message.id}/{token or self.message._unsubscribe_token()}"

    def _opt_outs(self):
        return self.env["collections.consent"].search([("partner_id", "=", self.customer.id)])

    def test_link_shows_a_confirmation_first_and_opts_out_on_confirm(self):
        self.assertIn(self._path(), self.message._unsubscribe_url())
        page = self.url_open(self._path())
        self.assertEqual(page.status_code, 200)
        self.assertIn("ap@unsubscribing.test", page.text)
        self.assertFalse(self._opt_outs(), "following the link alone opts nobody out (mail scanners follow links)")
        for _attempt in range(2):  # a second click records nothing more
            done = self.url_open(self._path(), data={"confirm": "1"})
            self.assertEqual(done.status_code, 200)
            self.assertIn("any more", done.text)
        opt_out = self._opt_outs()
        self.assertEqual(
            (len(opt_out), opt_out.channel, opt_out.status, opt_out.source, opt_out.address),
            (1, "email", "opt_out", "unsubscribe", "ap@unsubscribing.test"),
        )
        self.assertEqual(self.pending.state, "blocked", "pending reminders stop at once")

    def test_a_wrong_or_foreign_token_changes_nothing(self):
        wrong = self.message._unsubscribe_token()[:-4] + "0000"
        foreign = self.pending._unsubscribe_token()  # valid, but for another message
        for token in (wrong, foreign, "x"):
            self.assertEqual(self.url_open(self._path(token)).status_code, 404)
            self.assertEqual(self.url_open(self._path(token), data={"confirm": "1"}).status_code, 404)
        self.assertEqual(self.url_open(f"/collections/unsubscribe/999999999/{foreign}").status_code, 404)
        self.assertFalse(self._opt_outs())
