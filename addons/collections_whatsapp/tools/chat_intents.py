"""What a customer asks for in the chat, from a quick-reply button's payload
or from plain words in Spanish or English. Plain Python.

Intents: ``pay`` (the secure portal link), ``balance``, ``plan``,
``promise`` (with a date when one is written), ``paid`` (I already paid),
``person`` (talk to a collector), ``invoice`` (the invoice PDF in the chat), ``opt_out`` / ``opt_in`` (the consent
ledger: decided by the engine's one rule, ``collections_omni/tools/reply_keywords``,
which callers pass in as ``keyword_intent``).
"""

import datetime as dt
import re
import unicodedata

PAY, BALANCE, PLAN, PROMISE, PAID, PERSON, INVOICE, OPT_OUT, OPT_IN = (
    "pay",
    "balance",
    "plan",
    "promise",
    "paid",
    "person",
    "invoice",
    "opt_out",
    "opt_in",
)
INTENTS = (PAY, BALANCE, PLAN, PROMISE, PAID, PERSON, INVOICE, OPT_OUT, OPT_IN)
# Quick-reply payloads the reminder templates carry (language-independent).
BUTTON_PAYLOADS = {f"COLLECTIONS_{intent.upper()}": intent for intent in INTENTS}

# In order of precedence ("ya pagué" is a claim, not a request to pay); upper-case ASCII.
_PHRASES = [
    (
        PAID,
        (
            "YA PAGUE",
            "YA HE PAGADO",
            "YA LO PAGUE",
            "YA PAGAMOS",
            "YA ESTA PAGADO",
            "ALREADY PAID",
            "I PAID",
            "I HAVE PAID",
            "I'VE PAID",
            "IVE PAID",
            "PAID ALREADY",
        ),
    ),
    (
        PERSON,
        (
            "HABLAR CON",
            "UNA PERSONA",
            "UN AGENTE",
            "UN HUMANO",
            "TALK TO",
            "SPEAK TO",
            "A PERSON",
            "AN AGENT",
            "A HUMAN",
            "LLAMENME",
            "CALL ME",
            "PERSONA",
            "PERSON",
            "AGENTE",
            "AGENT",
            "HUMANO",
            "HUMAN",
        ),
    ),
    (PLAN, ("PLAN DE PAGO", "PLAN DE PAGOS", "PAYMENT PLAN", "EN CUOTAS", "A PLAZOS", "INSTALMENTS", "INSTALLMENTS")),
    (PROMISE, ("PROMESA", "PROMETO", "PAGARE EL", "PAGO EL", "I WILL PAY", "I'LL PAY", "ILL PAY", "PROMISE")),
    (BALANCE, ("MI SALDO", "CUANTO DEBO", "MY BALANCE", "HOW MUCH", "SALDO", "BALANCE", "DEUDA")),
    (PAY, ("PAGAR", "PAGAR AHORA", "PAY NOW", "QUIERO PAGAR", "PAY", "ENLACE", "LINK")),
    # Last: "pagar la factura" is a request to pay, "¿cuánto debo de la factura?" one for the balance.
    (INVOICE, ("FACTURA", "FACTURAS", "DUPLICADO", "INVOICE", "INVOICES", "PDF", "COPY OF THE INVOICE")),
]


def normalise(text):
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().upper()
    return re.sub(r"\s+", " ", re.sub(r"[^A-Z0-9' /.-]", " ", plain)).strip()


def intent_of(text=None, payload=None, keyword_intent=None):
    """The intent of a button payload or of a written reply, or None.
    ``keyword_intent(text)`` answers "opt_out" / "opt_in" / None for STOP,
    BAJA and the like, and is asked first."""
    if payload and payload.upper() in BUTTON_PAYLOADS:
        return BUTTON_PAYLOADS[payload.upper()]
    words = text or payload
    if keyword_intent and words:
        consent = keyword_intent(words)
        if consent in (OPT_OUT, OPT_IN):
            return consent
    plain = normalise(words)
    if not plain:
        return None
    padded = f" {plain} "
    for intent, phrases in _PHRASES:
        if any(re.search(rf"(?<![A-Z]){re.escape(phrase)}(?![A-Z])", padded) for phrase in phrases):
            return intent
    return None


_MONTHS = {
    **{
        m: i
        for i, m in enumerate(
            [
                "ENERO",
                "FEBRERO",
                "MARZO",
                "ABRIL",
                "MAYO",
                "JUNIO",
                "JULIO",
                "AGOSTO",
                "SEPTIEMBRE",
                "OCTUBRE",
                "NOVIEMBRE",
                "DICIEMBRE",
            ],
            1,
        )
    },
    "SETIEMBRE": 9,
    **{
        m: i
        for i, m in enumerate(
            [
                "JANUARY",
                "FEBRUARY",
                "MARCH",
                "APRIL",
                "MAY",
                "JUNE",
                "JULY",
                "AUGUST",
                "SEPTEMBER",
                "OCTOBER",
                "NOVEMBER",
                "DECEMBER",
            ],
            1,
        )
    },
}


def _valid(year, month, day):
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def promised_date(text, today, month_first=False):
    """The date written in a promise ("el 15/12", "2026-12-20", "20 de
    diciembre", "December 20th", "mañana", "tomorrow", "en 5 dias", "in 3
    days"), not before ``today``; None when there is none. ``month_first``:
    the writer's numeric dates are month/day (American English); either way
    a number pair valid only the other way round ("12/20") is read that way."""
    plain = normalise(text)
    if re.search(r"\bPASADO MANANA\b", plain):
        return today + dt.timedelta(days=2)
    if re.search(r"\b(MANANA|TOMORROW)\b", plain):
        return today + dt.timedelta(days=1)
    if re.search(r"\b(HOY|TODAY)\b", plain):
        return today
    match = re.search(r"\b(?:EN|IN) (\d{1,2}) (?:DIAS|DAYS)\b", plain)
    if match:
        return today + dt.timedelta(days=int(match.group(1)))
    candidates = []
    match = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", plain)
    if match:
        candidates.append((int(match.group(1)), int(match.group(2)), int(match.group(3))))
    match = re.search(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?\b", plain)
    if match and not candidates:
        year = int(match.group(3)) if match.group(3) else today.year
        year = year + 2000 if year < 100 else year
        day, month = int(match.group(1)), int(match.group(2))
        readings = [(year, day, month), (year, month, day)] if month_first else [(year, month, day), (year, day, month)]
        candidates.append(next((r for r in readings if _valid(*r)), readings[0]))
    match = re.search(r"\b(\d{1,2}) (?:DE )?([A-Z]+)\b", plain)
    if match and match.group(2) in _MONTHS and not candidates:
        candidates.append((today.year, _MONTHS[match.group(2)], int(match.group(1))))
    match = re.search(r"\b([A-Z]+) (\d{1,2})(?:ST|ND|RD|TH)?\b", plain)
    if match and match.group(1) in _MONTHS and not candidates:
        candidates.append((today.year, _MONTHS[match.group(1)], int(match.group(2))))
    for year, month, day in candidates:
        try:
            date = dt.date(year, month, day)
        except ValueError:
            continue
        if date < today and len(str(year)) == 4 and not re.search(r"\d{4}", plain):
            date = date.replace(year=date.year + 1)  # "15/01" written in December means next January
        if date >= today:
            return date
    return None
