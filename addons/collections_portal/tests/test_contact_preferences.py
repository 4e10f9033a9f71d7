import re

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install", "collections_http")
class TestContactPreferences(HttpCase):
    """A portal customer sets how and when to be contacted; every change lands in the consent ledger."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_partner = cls.env["res.partner"].create({"name": "Ferretería Sur S.A.", "is_company": True})
        cls.user = new_test_user(cls.env, login="portal_sur", password="portal_sur_pw", groups="base.group_portal")
        cls.user.partner_id.parent_id = cls.company_partner
        cls.other = cls.env["res.partner"].create({"name": "Another Customer", "is_company": True})
        cls.Consent = cls.env["collections.consent"]
        cls.Consent._record(cls.other, "sms", "opt_out", "collector")

    def _ledger(self, partner=None):
        return self.Consent.search([("partner_id", "=", (partner or self.company_partner).id)], order="id")

    def _form(self):
        page = self.url_open("/my/contact-preferences")
        self.assertEqual(page.status_code, 200)
        return page, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def test_public_visitor_is_sent_to_login(self):
        response = self.url_open("/my/contact-preferences", allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        self.assertIn("/web/login", response.headers["Location"])

    def test_customer_opts_out_and_sets_a_preference(self):
        self.authenticate("portal_sur", "portal_sur_pw")
        page, csrf = self._form()
        self.assertIn('name="allow_sms" checked', page.text, "every channel allowed until the customer says no")
        allowed = {"allow_email": "on", "allow_letter": "on", "allow_call": "on", "allow_whatsapp": "on"}
        form = {"csrf_token": csrf, **allowed, "preferred_channel": "email", "hour_from": "9", "hour_to": "13"}
        saved = self.url_open("/my/contact-preferences", data=form)
        self.assertEqual(saved.status_code, 200)
        self.assertIn("Your preferences are saved", saved.text)
        ledger = self._ledger()
        self.assertEqual(
            [(e.channel, e.status, e.source, e.hour_from, e.hour_to) for e in ledger],
            [("sms", "opt_out", "portal", 0, 0), ("email", "preference", "portal", 9, 13)],
        )
        self.assertEqual(self.company_partner.collections_preferred_hours, "09:00-13:00")
        # Saving the same form again records nothing new.
        self.url_open("/my/contact-preferences", data={**form, "csrf_token": self._form()[1]})
        self.assertEqual(self._ledger(), ledger)
        self.assertEqual(len(self._ledger(self.other)), 1, "another customer's ledger is untouched")

    def test_invalid_choices_are_refused_and_record_nothing(self):
        self.authenticate("portal_sur", "portal_sur_pw")
        cases = [
            ({"allow_email": "on", "preferred_channel": "sms"}, "must be one you allow"),
            ({"allow_email": "on", "preferred_channel": "email", "hour_from": "14", "hour_to": "9"}, "end after"),
            ({"allow_email": "on", "hour_from": "9"}, "both the start and the end"),
            ({"allow_email": "on", "preferred_channel": "fax"}, "Unknown channel"),
        ]
        for form, message in cases:
            response = self.url_open("/my/contact-preferences", data={"csrf_token": self._form()[1], **form})
            self.assertEqual(response.status_code, 400)
            self.assertIn(message, response.text)
        self.assertFalse(self._ledger())

    def test_a_post_without_csrf_token_is_refused(self):
        self.authenticate("portal_sur", "portal_sur_pw")
        response = self.url_open("/my/contact-preferences", data={"preferred_channel": "email"})
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self._ledger())
