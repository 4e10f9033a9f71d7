from datetime import date

from odoo.tests import tagged
from odoo.tools import format_amount, format_date

from .common import PortalCollectionsCommon


@tagged("post_install", "-at_install")
class TestPortalFormats(PortalCollectionsCommon):
    """The pages that list every open invoice format their amounts and dates
    once per page (``res.partner._collections_formats``): exactly as
    Odoo's ``monetary`` widget and date fields would, in every language."""

    def test_amounts_and_dates_as_odoo_shows_them(self):
        self.env["res.lang"]._activate_lang("es_ES")
        # A grouping other than thousands (as some languages have), on a language of its own.
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["res.lang"]._lang_get("fr_FR").write({"grouping": "[3,2,-1]", "thousands_sep": " "})
        # Symbol before and after, 2 and 0 decimals.
        currencies = (
            self.company.currency_id
            | self.setup_other_currency("EUR", position="after")
            | self.setup_other_currency("JPY", rounding=1.0, position="before")
        )
        amounts = (0.0, 0.005, 1.5, -42.125, 999.995, 1234567.891, -7654321.0, 1e9)
        days = (date(2026, 1, 5), date(2026, 12, 31), False)
        for code in ("en_US", "es_ES", "fr_FR"):
            env = self.env(context=dict(self.env.context, lang=code))
            formats = env["res.partner"]._collections_formats()
            in_pdf = self.env["res.partner"]._collections_formats(code)
            widget = env["ir.qweb.field.monetary"]
            for currency in currencies:
                for amount in amounts:
                    with self.subTest(lang=code, currency=currency.name, amount=amount):
                        expected = widget.value_to_html(amount, {"display_currency": currency})
                        self.assertEqual(formats["money_html"](amount, currency), expected)
                        self.assertEqual(formats["money"](amount, currency), format_amount(env, amount, currency))
                        self.assertEqual(
                            in_pdf["money"](amount, currency), format_amount(self.env, amount, currency, code)
                        )
            for value in days:
                with self.subTest(lang=code, day=value):
                    self.assertEqual(formats["day"](value), format_date(env, value))
                    self.assertEqual(in_pdf["day"](value), format_date(self.env, value, lang_code=code))
