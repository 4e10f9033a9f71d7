"""Phone numbers for WhatsApp: E.164 with ``phonenumbers``.

WhatsApp wants country code and national number; webhooks carry the ``wa_id``
as digits without ``+``. Both sides are normalised before they are compared.
"""

import re

import phonenumbers

# Reasons are codes (translated by the addon), never sentences.
EMPTY = "empty"
UNPARSABLE = "unparsable"
INVALID = "invalid"
NOT_MOBILE = "not_mobile"


def to_e164(number, country_code=None):
    """(``"+34600123456"``, None) or (None, reason) for ``number`` read in the
    customer's country (ISO code such as ``"ES"``; numbers with ``+`` or ``00``
    carry their own). Fixed lines are refused: WhatsApp lives on mobiles (a
    number phonenumbers cannot tell apart, ``FIXED_LINE_OR_MOBILE``, passes)."""
    text = (number or "").strip()
    if not text:
        return None, EMPTY
    if text.startswith("00"):
        text = "+" + text[2:]
    region = (country_code or "").upper() or None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, UNPARSABLE
    if not phonenumbers.is_valid_number(parsed):
        return None, INVALID
    if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE:
        return None, NOT_MOBILE
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), None


def wa_id(e164):
    """The digits WhatsApp uses as ``to`` and ``wa_id``: E.164 without ``+``."""
    return re.sub(r"\D", "", e164 or "")


def from_wa_id(value):
    """E.164 (``+`` and digits) of a webhook's ``wa_id`` / ``from``, or None."""
    digits = wa_id(value)
    return f"+{digits}" if 7 <= len(digits) <= 15 else None
