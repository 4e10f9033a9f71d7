"""How many SMS segments a text takes (GSM 03.38): plain Python, no Odoo.

A text in the GSM-7 alphabet fits 160 characters in one segment and 153 per
segment when split; one character outside it (Spanish á, í, ó, ú) turns the
whole text into UCS-2: 70, then 67 per segment. The extension characters
(€, [, ], ...) take two septets."""

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"


def sms_segments(text):
    """(encoding, segments) of ``text``: encoding is 'GSM-7' or 'UCS-2'."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        septets = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        return "GSM-7", 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else -(-units // 67)
