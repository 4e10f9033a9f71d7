"""Opt-out and opt-in keywords in customers' replies (SMS, WhatsApp), in
English and Spanish. Plain Python: the Odoo webhooks and the workers share it.

A reply opts out when its first word is a stop keyword ("STOP", "Baja por
favor", "cancelar."): carriers' standard keywords (CTIA: STOP, STOPALL,
UNSUBSCRIBE, CANCEL, END, QUIT) plus the Spanish words customers use.
"""

import re
import unicodedata

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"}
    | {"BAJA", "ALTO", "PARAR", "DETENER", "CANCELAR", "NOMAS", "DESUSCRIBIR", "DESUSCRIBIRME"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "SUBSCRIBE", "ALTA", "INICIAR", "SUSCRIBIR", "SUSCRIBIRME"})


def _first_word(text):
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().upper()
    plain = plain.replace("NO MAS", "NOMAS").replace("OPT OUT", "OPTOUT").replace("OPT-OUT", "OPTOUT")
    words = re.findall(r"[A-Z]+", plain)
    return words[0] if words else ""


def reply_intent(text):
    """'opt_out', 'opt_in' or None for a customer's reply."""
    word = _first_word(text)
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    return None
