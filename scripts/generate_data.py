# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Generate demo and benchmark data for the collections suite.

The one generator of customers and receivables, used by ``scripts/run`` with
small sizes and by the benchmarks with 20,000 customers / 100,000 invoices::

    .venv/bin/python scripts/generate_data.py -d DB [--customers N] [--invoices N]
        [--days 150] [--seed S] [--today YYYY-MM-DD] [--reuse]

How it stays fast: the ORM is far too slow to post 100,000 invoices, so the
ORM only creates a handful of *template* documents (an invoice, a customer
payment, a credit note) inside a savepoint. Their database rows are captured,
the savepoint is rolled back, and every generated document is then written
with set-based SQL: ``INSERT ... SELECT`` joining the captured template row
(for the many columns that never vary) with a temporary table of generated
values (partner, dates, names, amounts...) loaded through ``COPY``. Every
stored amount is computed the way Odoo computes it (round half-up per line,
company-currency conversion per line), so the clones are indistinguishable
from documents posted through the ORM; :func:`check_ledger` verifies it.

Customers are cloned the same way from one ORM-made company and contact
person per country (creating 25,000 partners through the ORM takes ~30 s,
mostly because Odoo syncs commercial fields to contacts one at a time). The
template rows are compared with what the generator computes for them (complete
name, normalized email, sanitized phone...), so a change in Odoo's computes
stops the generator instead of producing subtly different partners.

Everything random comes from ``random.Random(seed)`` and the dates are relative
to ``--today`` (default: the current date), so a seed, sizes and a date always
give the same data. The parameters and the summary are stored in the
``collections.datagen`` system parameter: ``--reuse`` skips the work when they
match, and generating twice into one database is refused.
"""

import argparse
import contextlib
import datetime
import io
import json
import os
import random
import sys
import time
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_history
from odoo_env import ODOO_SRC, Progress, environment

try:
    import odoo  # noqa: F401
except ImportError:  # the virtualenv's .pth is written by scripts/setup; work without it too
    sys.path.insert(0, ODOO_SRC)

PARAM_KEY = "collections.datagen"

# --------------------------------------------------------------------------
# Built-in name lists: small, but their combinations give tens of thousands
# of plausible company names.
# --------------------------------------------------------------------------


def _word_list(text):
    """Split a comma-separated list of names (names may hold spaces)."""
    return [word.strip() for word in text.split(",")]


def _column_list(text):
    """Split a space-separated list of column names."""
    return text.split()


SPANISH_SURNAMES = _word_list(
    "García, Rodríguez, Martínez, López, González, Hernández, Pérez, Sánchez, Ramírez, Torres, Flores, Rivera, "
    "Gómez, Díaz, Morales, Ortiz, Castillo, Jiménez, Moreno, Romero, Álvarez, Ruiz, Navarro, Domínguez, Vargas, "
    "Castro, Herrera, Medina, Aguilar, Rojas, Mendoza, Guerrero, Cruz, Reyes, Ortega, Delgado, Vega, Molina, "
    "Suárez, Ramos"
)
SPANISH_FIRST_NAMES = _word_list(
    "María, José, Carmen, Antonio, Lucía, Manuel, Laura, Javier, Ana, Carlos, Sofía, Miguel, Elena, Alejandro, "
    "Isabel, Diego, Paula, Fernando, Valentina, Andrés, Camila, Jorge, Daniela, Luis, Gabriela"
)
SPANISH_TRADES = _word_list(
    "Distribuciones, Comercial, Suministros, Construcciones, Transportes, Alimentos, Consultores, Tecnología, "
    "Logística, Ferretería, Importaciones, Textiles, Farmacéutica, Papelería, Agropecuaria, Ingeniería, Muebles, "
    "Energía, Hostelería, Servicios Industriales"
)
SPANISH_PLACES = _word_list(
    "del Norte, del Sur, Andina, Mediterránea, Central, del Pacífico, Ibérica, del Valle, Atlántica, Global, "
    "Integrales, Continental"
)
ENGLISH_SURNAMES = _word_list(
    "Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Taylor, Thomas, Moore, Jackson, "
    "Martin, Lee, Thompson, White, Harris, Clark, Lewis, Walker, Hall, Allen, Young, King, Wright, Scott, Green, "
    "Baker, Adams, Nelson, Hill, Campbell, Mitchell, Roberts, Carter, Phillips, Evans, Turner, Parker"
)
ENGLISH_FIRST_NAMES = _word_list(
    "James, Mary, John, Patricia, Robert, Jennifer, Michael, Linda, William, Elizabeth, David, Susan, Richard, "
    "Jessica, Thomas, Sarah, Charles, Karen, Daniel, Emily, Oliver, Amelia, George, Olivia, Harry"
)
ENGLISH_TRADES = _word_list(
    "Logistics, Supplies, Engineering, Foods, Trading, Consulting, Manufacturing, Freight, Building Services, "
    "Electrical, Hardware, Textiles, Pharma, Office Supplies, Software, Packaging, Energy, Marine, Auto Parts, "
    "Catering"
)
ENGLISH_PLACES = _word_list(
    "Northern, Atlantic, Pacific, Midland, Pennine, Hudson, Capital, Summit, Riverside, Coastal, Highland, Metro"
)

# Services the company sells; prices are drawn per invoice line.
PRODUCT_NAMES = _word_list("Consulting services, Software subscription, Hardware maintenance, Installation, Training")


def _digits(rng, count):
    return "".join(str(rng.randrange(10)) for _ in range(count))


def _phone_es(rng, _city):
    return f"+34 6{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}"  # mobile: 6xx xxx xxx


def _phone_mx(rng, city):
    return f"+52 {city['area']} {_digits(rng, 4)} {_digits(rng, 4)}"  # 2-digit metropolitan area code


def _phone_co(rng, _city):
    prefix = rng.choice(["300", "301", "304", "310", "311", "312", "313", "315", "316", "318", "320", "321", "350"])
    return f"+57 {prefix} {_digits(rng, 3)} {_digits(rng, 4)}"  # mobile: 3xx xxx xxxx


def _phone_us(rng, city):
    # NANP: the exchange starts with 2-9 and is never N11 nor the fictional 555.
    while True:
        exchange = f"{rng.randint(2, 9)}{_digits(rng, 2)}"
        if exchange[1:] != "11" and exchange != "555":
            break
    return f"+1 {rng.choice(city['area'])} {exchange} {_digits(rng, 4)}"


def _phone_gb(rng, _city):
    # UK mobiles are 07xxx; 076 (pagers, Isle of Man) is avoided.
    return f"+44 7{rng.choice('12345789')}{_digits(rng, 2)} {_digits(rng, 6)}"


def _zip_range(low, high, width=5):
    return lambda rng: f"{rng.randint(low, high):0{width}d}"


def _uk_postcode(*districts):
    letters = "ABDEFGHJLNPQRSTUWXYZ"  # the inward code never uses C, I, K, M, O, V
    return lambda rng: f"{rng.choice(districts)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"


def _street_es(rng):
    name = rng.choice(["Mayor", "de Alcalá", "Gran Vía", "de Serrano", "de Colón", "Real", "de San Vicente"])
    return f"{rng.choice(['Calle', 'Avenida', 'Paseo'])} {name}, {rng.randint(1, 180)}"


def _street_mx(rng):
    name = rng.choice(["Insurgentes Sur", "Paseo de la Reforma", "Hidalgo", "Juárez", "Morelos", "Revolución"])
    return f"{rng.choice(['Av.', 'Calle'])} {name} {rng.randint(1, 3500)}"


def _street_co(rng):
    street = rng.choice(["Calle", "Carrera", "Avenida Calle"])
    return f"{street} {rng.randint(1, 150)} # {rng.randint(1, 99)}-{rng.randint(1, 99)}"  # Colombian "# 10-34"


def _street_us(rng):
    name = rng.choice(["Main", "Oak", "Maple", "Washington", "Park", "Elm", "Lake", "Market", "Broad"])
    return f"{rng.randint(1, 9999)} {name} {rng.choice(['St', 'Ave', 'Blvd', 'Rd'])}"


def _street_gb(rng):
    name = rng.choice(["High", "Station", "Church", "Victoria", "Manor", "Mill", "Queen's", "King's"])
    return f"{rng.randint(1, 250)} {name} {rng.choice(['Street', 'Road', 'Lane'])}"


# One profile per country: language, time zone, cities (with the state code
# Odoo knows, a postcode generator and, where the phone depends on it, the
# area code), company-name vocabulary and legal forms.
SPANISH = {
    "surnames": SPANISH_SURNAMES,
    "first": SPANISH_FIRST_NAMES,
    "trades": SPANISH_TRADES,
    "places": SPANISH_PLACES,
    "spanish": True,
    "mailboxes": ["facturacion", "contabilidad", "administracion", "pagos", "tesoreria"],
}
ENGLISH = {
    "surnames": ENGLISH_SURNAMES,
    "first": ENGLISH_FIRST_NAMES,
    "trades": ENGLISH_TRADES,
    "places": ENGLISH_PLACES,
    "spanish": False,
    "mailboxes": ["accounts", "billing", "finance", "accounts.payable", "ap"],
}
COUNTRY_PROFILES = {
    "ES": {
        "weight": 25,
        "lang": "es_ES",
        "tz": "Europe/Madrid",
        "words": SPANISH,
        "legal_forms": ["S.L.", "S.L.", "S.A.", "S.L.U."],
        "phone": _phone_es,
        "street": _street_es,
        "cities": [
            {"name": "Madrid", "state": "M", "zip": _zip_range(28001, 28055)},
            {"name": "Barcelona", "state": "B", "zip": _zip_range(8001, 8042)},
            {"name": "Valencia", "state": "V", "zip": _zip_range(46001, 46026)},
            {"name": "Sevilla", "state": "SE", "zip": _zip_range(41001, 41020)},
            {"name": "Bilbao", "state": "BI", "zip": _zip_range(48001, 48015)},
        ],
    },
    "MX": {
        "weight": 20,
        "lang": "es_ES",
        "tz": "America/Mexico_City",
        "words": SPANISH,
        "legal_forms": ["S.A. de C.V.", "S.A. de C.V.", "S. de R.L. de C.V."],
        "phone": _phone_mx,
        "street": _street_mx,
        "cities": [
            {"name": "Ciudad de México", "state": "CMX", "zip": _zip_range(1000, 16999), "area": "55"},
            {"name": "Guadalajara", "state": "JAL", "zip": _zip_range(44100, 44990), "area": "33"},
            {"name": "Monterrey", "state": "NLE", "zip": _zip_range(64000, 64990), "area": "81"},
        ],
    },
    "CO": {
        "weight": 15,
        "lang": "es_ES",
        "tz": "America/Bogota",
        "words": SPANISH,
        "legal_forms": ["S.A.S.", "S.A.S.", "Ltda.", "S.A."],
        "phone": _phone_co,
        "street": _street_co,
        "cities": [
            {"name": "Bogotá", "state": "DC", "zip": _zip_range(110111, 110911, 6)},
            {"name": "Medellín", "state": "ANT", "zip": _zip_range(50001, 50036, 6)},
            {"name": "Cali", "state": "VAC", "zip": _zip_range(760001, 760046, 6)},
            {"name": "Barranquilla", "state": "ATL", "zip": _zip_range(80001, 80020, 6)},
        ],
    },
    "US": {
        # East-coast cities only, so that America/New_York is right for all of them.
        "weight": 25,
        "lang": "en_US",
        "tz": "America/New_York",
        "words": ENGLISH,
        "legal_forms": ["Inc.", "LLC", "Corp."],
        "phone": _phone_us,
        "street": _street_us,
        "cities": [
            {"name": "New York", "state": "NY", "zip": _zip_range(10001, 10282), "area": ["212", "646", "917"]},
            {"name": "Boston", "state": "MA", "zip": _zip_range(2108, 2215), "area": ["617", "857"]},
            {"name": "Philadelphia", "state": "PA", "zip": _zip_range(19102, 19154), "area": ["215", "267"]},
            {"name": "Miami", "state": "FL", "zip": _zip_range(33101, 33199), "area": ["305", "786"]},
            {"name": "Atlanta", "state": "GA", "zip": _zip_range(30301, 30380), "area": ["404", "470"]},
            {"name": "Washington", "state": "DC", "zip": _zip_range(20001, 20099), "area": ["202"]},
        ],
    },
    "GB": {
        "weight": 15,
        "lang": "en_GB",
        "tz": "Europe/London",
        "words": ENGLISH,
        "legal_forms": ["Ltd", "Ltd", "PLC", "LLP"],
        "phone": _phone_gb,
        "street": _street_gb,
        "cities": [
            {"name": "London", "zip": _uk_postcode("EC1A", "EC2M", "WC2N", "SE1", "N1", "E14", "W1D")},
            {"name": "Manchester", "zip": _uk_postcode("M1", "M2", "M3", "M15")},
            {"name": "Birmingham", "zip": _uk_postcode("B1", "B2", "B3")},
            {"name": "Leeds", "zip": _uk_postcode("LS1", "LS2", "LS6")},
            {"name": "Bristol", "zip": _uk_postcode("BS1", "BS2", "BS8")},
        ],
    },
}

# Share of invoices per outcome; the rest stays open (not paid at all).
SHARE_PAID = 0.20
SHARE_PARTIAL = 0.15
SHARE_CREDITED = 0.05  # reconciled with a credit note, half fully, half partly
SHARE_UNAPPLIED_CREDIT = 0.01  # a credit note issued after payment, left as customer credit
SHARE_FOREIGN_CURRENCY = 0.10
SHARE_TWO_LINES = 0.30
SHARE_WITH_CONTACT = 0.25
PAYMENT_TERM_XMLIDS = [  # (xmlid, days until due, weight)
    ("account.account_payment_term_immediate", 0, 3),
    ("account.account_payment_term_15days", 15, 3),
    ("account.account_payment_term_30days", 30, 4),
]
FOREIGN_RATE = 0.92  # foreign currency units per company currency unit (EUR per USD), unless already set


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def round_half_up(value):
    """Round a Decimal to an integer the way Odoo's float_round (HALF-UP) does."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def money(cents):
    """Format integer cents as an exact SQL numeric literal."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def slugify(text):
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return "-".join(words)


def _copy_value(value):
    if value is None:
        return r"\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def copy_rows(cr, table, columns, rows):
    """Bulk-load ``rows`` (tuples matching ``columns``) into ``table`` with COPY."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(_copy_value, row)))
        buffer.write("\n")
    buffer.seek(0)
    cr._obj.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def reserve_ids(cr, table, count):
    """Take ``count`` consecutive ids from ``table``'s sequence; return the first."""
    if not count:
        return 0
    cr.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cr.fetchone()[0]
    cr.execute("SELECT nextval(%s)", [sequence])
    first = cr.fetchone()[0]
    cr.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


class _RollbackTemplates(Exception):
    """Raised to roll back the savepoint holding the ORM-made template records."""


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def _fetch_row(env, table, record_id):
    """The database row of one record, as a dict of JSON values."""
    env.cr.execute(f"SELECT row_to_json(t)::text FROM {table} t WHERE id = %s", [record_id])
    return json.loads(env.cr.fetchone()[0])


def _install_templates(cr, table, rows_by_role):
    """Keep captured template rows in ``dg_tmpl_<table>`` (typed like ``table``) for the clones."""
    cr.execute(f"DROP TABLE IF EXISTS dg_tmpl_{table}")
    cr.execute(
        f"CREATE TEMP TABLE dg_tmpl_{table} ON COMMIT DROP AS SELECT NULL::text AS dg_role, * FROM {table} LIMIT 0"
    )
    for role, row in rows_by_role.items():
        cr.execute(
            f"INSERT INTO dg_tmpl_{table} SELECT %s, r.* FROM json_populate_record(NULL::{table}, %s) r",
            [role, json.dumps(row)],
        )


@contextlib.contextmanager
def bulk_load(cr):
    """Skip the per-row foreign-key triggers while loading generated rows (superuser only).

    Checking each of ~500,000 rows against ten referenced tables takes two
    thirds of the load time. The rows only use ids that exist (or that the same
    load creates), and :func:`check_ledger` verifies the references set-based.
    Without superuser rights the load just runs slower. ``SET LOCAL`` ends with
    the transaction, so a failed load cannot leave the triggers off. Yields
    whether the triggers are off.
    """
    cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    superuser = cr.fetchone()[0]
    if superuser:
        cr.execute("SET LOCAL session_replication_role = replica")
    yield superuser
    if superuser:
        cr.execute("SET LOCAL session_replication_role = origin")


def table_columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = current_schema()"
        " ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cr.fetchall()]


# --------------------------------------------------------------------------
# Reference data: languages, currency, tax, payment terms, products
# --------------------------------------------------------------------------


def prepare_reference_data(env, today):
    """Activate and create (ORM) what the generated documents refer to."""
    for code in sorted({profile["lang"] for profile in COUNTRY_PROFILES.values()}):
        env["res.lang"]._activate_lang(code)
    company = env.company
    company_currency = company.currency_id
    # The foreign currency is EUR, unless the company itself works in EUR.
    foreign = env.ref("base.EUR") if company_currency.name != "EUR" else env.ref("base.USD")
    if not foreign.active:
        foreign.active = True
    # One rate long before any generated date keeps every conversion at the same
    # rate, so payments never need an exchange difference entry.
    rate_date = datetime.date(2000, 1, 1)
    rate = env["res.currency.rate"].search(
        [("currency_id", "=", foreign.id), ("company_id", "in", [company.id, False]), ("name", "=", rate_date)]
    )
    if not rate:
        rate = env["res.currency.rate"].create(
            {"currency_id": foreign.id, "company_id": company.id, "name": rate_date, "rate": FOREIGN_RATE}
        )
    later_rates = env["res.currency.rate"].search_count(
        [("currency_id", "=", foreign.id), ("company_id", "in", [company.id, False]), ("name", ">", rate_date)]
    )
    if later_rates:
        sys.stderr.write(f"warning: {foreign.name} has rates after {rate_date}; generated amounts use a fixed rate\n")

    taxes = (
        env["account.tax"]
        .search(
            [
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "in", [10.0, 15.0]),
                ("company_id", "=", company.id),
            ]
        )
        .filtered(lambda tax: not tax.price_include and not tax.children_tax_ids)
    )
    tax = taxes[:1] or env["account.tax"].create(
        {"name": "15% (datagen)", "amount": 15.0, "amount_type": "percent", "type_tax_use": "sale"}
    )

    terms = [(env.ref(xmlid), days, weight) for xmlid, days, weight in PAYMENT_TERM_XMLIDS]
    products = env["product.product"].create(
        [{"name": name, "type": "service", "taxes_id": [(6, 0, tax.ids)]} for name in PRODUCT_NAMES]
    )
    sale_journal = env["account.journal"].search([("type", "=", "sale"), ("company_id", "=", company.id)], limit=1)
    bank_journal = env["account.journal"].search([("type", "=", "bank"), ("company_id", "=", company.id)], limit=1)
    return {
        "company": company,
        "company_currency": company_currency,
        "foreign_currency": foreign,
        "foreign_rate": Decimal(repr(rate[:1].rate)),
        "tax": tax,
        "terms": terms,
        "products": products,
        "sale_journal": sale_journal,
        "bank_journal": bank_journal,
        "today": today,
    }


# --------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------


def _company_name(rng, profile):
    words = profile["words"]
    surname, other = rng.sample(words["surnames"], 2)
    trade, place = rng.choice(words["trades"]), rng.choice(words["places"])
    if words["spanish"]:
        pattern = rng.choice(
            [
                f"{trade} {surname}",
                f"{trade} {place}",
                f"{surname} y {other}",
                f"{surname} Hermanos",
                f"Grupo {surname}",
                f"{trade} {surname} {other}",
            ]
        )
    else:
        pattern = rng.choice(
            [
                f"{surname} {trade}",
                f"{place} {trade}",
                f"{surname} & {other}",
                f"{surname} Brothers",
                f"{surname} Group",
                f"{surname} {other} {trade}",
            ]
        )
    return f"{pattern} {rng.choice(profile['legal_forms'])}"


def plan_customers(rng, count, refs):
    """Plan the customer companies and their contact persons.

    Returns ``[(country_code, values)]`` for companies and
    ``[(company_index, country_code, values)]`` for contact persons, the values
    being what ``res.partner.create`` would take.
    """
    env = refs["company"].env
    countries = {code: env["res.country"].search([("code", "=", code)], limit=1) for code in COUNTRY_PROFILES}
    states = {}
    for code, country in countries.items():
        for state in env["res.country.state"].search([("country_id", "=", country.id)]):
            states[code, state.code] = state.id
    codes = list(COUNTRY_PROFILES)
    weights = [COUNTRY_PROFILES[code]["weight"] for code in codes]
    term_weights = [weight for _term, _days, weight in refs["terms"]]
    used_domains = set()
    companies, contacts = [], []
    for index in range(count):
        code = rng.choices(codes, weights)[0]
        profile = COUNTRY_PROFILES[code]
        city = rng.choice(profile["cities"])
        name = _company_name(rng, profile)
        # Reserved example.com sub-domains: the demo can never mail a real company.
        domain = slugify(name.rsplit(" ", 1)[0] if " " in name else name)[:40].strip("-")
        if domain in used_domains:
            domain = f"{domain}-{index}"
        used_domains.add(domain)
        domain += ".example.com"
        term = rng.choices(refs["terms"], term_weights)[0][0]
        address = {
            "street": profile["street"](rng),
            "city": city["name"],
            "zip": city["zip"](rng),
            "country_id": countries[code].id,
            "state_id": states.get((code, city.get("state"))),
        }
        company = {
            "name": name,
            "is_company": True,
            "customer_rank": 1,
            "lang": profile["lang"],
            "tz": profile["tz"],
            "email": f"{rng.choice(profile['words']['mailboxes'])}@{domain}",
            "phone": profile["phone"](rng, city),
            "property_payment_term_id": term.id,
            **address,
        }
        companies.append((code, company))
        if rng.random() < SHARE_WITH_CONTACT:
            first, last = rng.choice(profile["words"]["first"]), rng.choice(profile["words"]["surnames"])
            contacts.append(
                (
                    index,
                    code,
                    {
                        "name": f"{first} {last}",
                        "type": rng.choice(["invoice", "invoice", "contact"]),
                        "is_company": False,
                        "lang": profile["lang"],
                        "tz": profile["tz"],
                        "email": f"{slugify(first)}.{slugify(last)}@{domain}",
                        "phone": profile["phone"](rng, city),
                        "function": rng.choice(
                            ["Responsable de cuentas por pagar", "Contable", "Tesorero"]
                            if profile["words"]["spanish"]
                            else ["Accounts Payable", "Bookkeeper", "Finance Manager"]
                        ),
                        "property_payment_term_id": term.id,
                        **address,
                    },
                )
            )
    return companies, contacts


PARTNER_COLUMNS = _column_list(
    "id dg_role name complete_name commercial_partner_id commercial_company_name parent_id type lang tz email "
    "email_normalized phone phone_sanitized street city zip state_id country_id function property_payment_term_id"
)


def _partner_row(partner_id, role, values, company_id, parent=None):
    """One res_partner row: the values plus what Odoo's computes derive from them.

    ``parent`` is ``(id, name)`` of the company of a contact person.
    """
    commercial_id, commercial_name = parent or (partner_id, values["name"])
    return (
        partner_id,
        role,
        values["name"],
        f"{commercial_name}, {values['name']}" if parent else values["name"],
        commercial_id,
        commercial_name,
        parent and parent[0],
        values.get("type", "contact"),
        values["lang"],
        values["tz"],
        values["email"],
        values["email"].lower(),
        values["phone"],
        values["phone"].replace(" ", ""),  # generated phones are E.164 with spaces
        values["street"],
        values["city"],
        values["zip"],
        values["state_id"],
        values["country_id"],
        values.get("function"),
        json.dumps({str(company_id): values["property_payment_term_id"]}),
    )


def capture_partner_templates(env, companies, contacts):
    """Create, per country, a company and a contact person with the ORM; keep their rows.

    Some stored computes depend on the country (e.g. the Peppol scheme), hence
    one template per country. The rows computed by :func:`_partner_row` for the
    same values must match what the ORM stored, which validates its shortcuts.
    """
    partner_model = env["res.partner"].with_context(
        tracking_disable=True, mail_create_nolog=True, mail_create_nosubscribe=True, mail_notrack=True
    )
    company_id = env.company.id
    captured = {}
    try:
        with env.cr.savepoint():
            for code in COUNTRY_PROFILES:
                planned = next((values for country, values in companies if country == code), None)
                if not planned:
                    continue
                company = partner_model.create(planned)
                roles = {f"company_{code}": (company, planned, None)}
                contact_values = next((values for _i, country, values in contacts if country == code), None)
                if contact_values:
                    # Odoo copies the company's commercial fields (payment terms) and, on
                    # 'contact' persons, its address: planned contacts share their company's.
                    shared = ("property_payment_term_id", "street", "city", "zip", "state_id", "country_id")
                    contact_values = dict(contact_values, **{field: planned[field] for field in shared})
                    contact = partner_model.create(dict(contact_values, parent_id=company.id))
                    roles[f"contact_{code}"] = (contact, contact_values, (company.id, company.name))
                env.flush_all()
                for role, (partner, values, parent) in roles.items():
                    row = _fetch_row(env, "res_partner", partner.id)
                    expected = _partner_row(partner.id, role, values, company_id, parent)
                    for column, value in zip(PARTNER_COLUMNS[2:], expected[2:], strict=True):
                        stored = row[column]
                        if column == "property_payment_term_id":
                            value = json.loads(value)
                        if stored != value and not (stored is None and value in (None, "")):
                            raise RuntimeError(
                                f"partner template {role}: Odoo stored {column}={stored!r}, expected {value!r}"
                            )
                    captured[role] = row
            raise _RollbackTemplates
    except _RollbackTemplates:
        pass
    env.clear()
    _install_templates(env.cr, "res_partner", captured)


def insert_customers(env, companies, contacts):
    """Insert the planned customers by cloning the per-country templates; return the company ids."""
    cr = env.cr
    capture_partner_templates(env, companies, contacts)
    first_id = reserve_ids(cr, "res_partner", len(companies) + len(contacts))
    company_ids = list(range(first_id, first_id + len(companies)))
    company_id = env.company.id
    progress = Progress("customers", len(companies) + len(contacts))
    rows = []
    for partner_id, (code, values) in zip(company_ids, companies, strict=True):
        rows.append(_partner_row(partner_id, f"company_{code}", values, company_id))
    progress.advance(len(companies))
    next_id = first_id + len(companies)
    for company_index, code, values in contacts:
        parent = (company_ids[company_index], companies[company_index][1]["name"])
        rows.append(_partner_row(next_id, f"contact_{code}", values, company_id, parent))
        next_id += 1
    with bulk_load(cr):
        _clone_from_templates(cr, "res_partner", PARTNER_COLUMNS, rows, _utc_now(), env.uid)
    progress.advance(len(contacts))
    env.invalidate_all()
    return company_ids


# --------------------------------------------------------------------------
# Templates: one ORM-made document per shape, captured then rolled back
# --------------------------------------------------------------------------


def capture_templates(env, refs, partner_id):
    """Post an invoice, a full payment and a credit note with the ORM; keep their rows.

    Returns, per role, the row (as JSON) of account_move / account_move_line /
    account_payment, the tax and tag ids of template lines, and the naming
    conventions (sequence prefixes, payment line label) Odoo applied. The
    documents themselves are rolled back so that they do not use up numbers.
    """
    today = refs["today"]
    product = refs["products"][0]
    captured = {}

    def new_invoice(move_type, reversed_entry=None):
        return env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": partner_id,
                "invoice_date": today,
                "date": today,
                "journal_id": refs["sale_journal"].id,
                "currency_id": refs["company_currency"].id,
                "invoice_payment_term_id": refs["terms"][0][0].id,
                "reversed_entry_id": reversed_entry and reversed_entry.id,
                "invoice_line_ids": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "quantity": 1,
                            "price_unit": 100.0,
                            "tax_ids": [(6, 0, refs["tax"].ids)],
                        },
                    )
                ],
            }
        )

    def rows(table, ids):
        env.cr.execute(f"SELECT id, row_to_json(t)::text FROM {table} t WHERE id = ANY(%s)", [list(ids)])
        return {row_id: json.loads(row) for row_id, row in env.cr.fetchall()}

    try:
        with env.cr.savepoint():
            invoice = new_invoice("out_invoice")
            credited = new_invoice("out_invoice")
            (invoice | credited).action_post()
            payment = (
                env["account.payment.register"]
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create({"payment_date": today, "journal_id": refs["bank_journal"].id})
                ._create_payments()
            )
            refund = new_invoice("out_refund", reversed_entry=credited)
            refund.action_post()  # posting a reversal reconciles it with the reversed invoice
            env.flush_all()
            if invoice.payment_state != "paid" or credited.payment_state != "reversed":
                raise RuntimeError(f"unexpected template states: {invoice.payment_state}, {credited.payment_state}")

            liquidity, counterpart, _writeoff = payment._seek_for_lines()
            roles = {
                "inv_product": invoice.line_ids.filtered(lambda line: line.display_type == "product"),
                "inv_tax": invoice.line_ids.filtered(lambda line: line.display_type == "tax"),
                "inv_receivable": invoice.line_ids.filtered(lambda line: line.display_type == "payment_term"),
                "ref_product": refund.line_ids.filtered(lambda line: line.display_type == "product"),
                "ref_tax": refund.line_ids.filtered(lambda line: line.display_type == "tax"),
                "ref_receivable": refund.line_ids.filtered(lambda line: line.display_type == "payment_term"),
                "pay_liquidity": liquidity,
                "pay_counterpart": counterpart,
            }
            for role, line in roles.items():
                if len(line) != 1:
                    raise RuntimeError(f"template {role}: expected one line, got {len(line)}")
            line_rows = rows("account_move_line", [line.id for line in roles.values()])
            move_rows = rows("account_move", [invoice.id, refund.id, payment.move_id.id])
            captured["account_move"] = {
                "invoice": move_rows[invoice.id],
                "refund": move_rows[refund.id],
                "payment": move_rows[payment.move_id.id],
            }
            captured["account_move_line"] = {role: line_rows[line.id] for role, line in roles.items()}
            captured["account_payment"] = {"payment": rows("account_payment", payment.ids)[payment.id]}
            captured["line_taxes"] = {role: line.tax_ids.ids for role, line in roles.items()}
            captured["line_tags"] = {role: line.tax_tag_ids.ids for role, line in roles.items()}
            captured["payment_label"] = liquidity.name.replace(invoice.name, "{}")
            captured["prefixes"] = {
                "invoice": (invoice.sequence_prefix, len(invoice.name) - len(invoice.sequence_prefix)),
                "refund": (refund.sequence_prefix, len(refund.name) - len(refund.sequence_prefix)),
                "payment": (payment.move_id.sequence_prefix, len(payment.name) - len(payment.move_id.sequence_prefix)),
            }
            captured["date"] = today
            captured["journals"] = {
                "invoice": invoice.journal_id.id,
                "refund": refund.journal_id.id,
                "payment": payment.journal_id.id,
            }
            raise _RollbackTemplates
    except _RollbackTemplates:
        pass
    env.clear()  # the cache still holds the rolled-back records
    for table in ("account_move", "account_move_line", "account_payment"):
        _install_templates(env.cr, table, captured[table])
    return captured


# --------------------------------------------------------------------------
# The plan: every invoice, credit note and payment, computed in Python
# --------------------------------------------------------------------------


def plan_documents(rng, refs, customers, invoice_count, days):
    """Draw invoices and their outcomes; return plain dicts with amounts in cents."""
    today = refs["today"]
    company_currency, foreign = refs["company_currency"], refs["foreign_currency"]
    tax_percent = Decimal(str(refs["tax"].amount))
    products = refs["products"]
    # A few customers buy much more than others (log-normal activity weights).
    activity = [rng.lognormvariate(0, 1) for _ in customers]
    cumulative, total = [], 0.0
    for weight in activity:
        total += weight
        cumulative.append(total)

    def make_line(product_index, target_cents):
        quantity = rng.choice([1, 1, 1, 1, 2, 3, 5, 10])
        price_unit = max(100, round(target_cents / quantity))
        subtotal = quantity * price_unit
        return {
            "product": products[product_index],
            "quantity": quantity,
            "price_unit": price_unit,
            "subtotal": subtotal,
            "tax": round_half_up(Decimal(subtotal) * tax_percent / 100),
        }

    invoices, refunds, payments = [], [], []
    progress = Progress("planning invoices", invoice_count)
    for _index in range(invoice_count):
        customer = rng.choices(customers, cum_weights=cumulative)[0]
        term, term_days = customer["term"]
        invoice_date = today - datetime.timedelta(days=rng.randrange(days))
        foreign_currency = rng.random() < SHARE_FOREIGN_CURRENCY
        untaxed_target = min(max(rng.lognormvariate(6.6, 1.1), 50.0), 20000.0) * 100
        if rng.random() < SHARE_TWO_LINES:
            share = rng.uniform(0.5, 0.9)
            first_product, second_product = rng.sample(range(len(products)), 2)
            lines = [
                make_line(first_product, untaxed_target * share),
                make_line(second_product, untaxed_target * (1 - share)),
            ]
        else:
            lines = [make_line(rng.randrange(len(products)), untaxed_target)]
        invoice = {
            "kind": "invoice",
            "partner": customer,
            "date": invoice_date,
            "due": invoice_date + datetime.timedelta(days=term_days),
            "term": term,
            "currency": foreign if foreign_currency else company_currency,
            "rate": refs["foreign_rate"] if foreign_currency else Decimal(1),
            "lines": lines,
        }
        compute_totals(invoice)
        invoices.append(invoice)

        days_since = (today - invoice_date).days
        outcome = rng.random()
        if outcome < SHARE_PAID:
            payments.append(_payment(invoice, invoice["total"], rng, days_since, full=True))
            if rng.random() < SHARE_UNAPPLIED_CREDIT / SHARE_PAID:
                refunds.append(_partial_refund(invoice, rng, days_since, tax_percent, reconciled=False))
        elif outcome < SHARE_PAID + SHARE_PARTIAL:
            # Customers round what they pay on account.
            share = rng.uniform(0.1, 0.9)
            unit = 100 if invoice["total"] < 100_000 else 5000
            amount = max(unit, round(invoice["total"] * share / unit) * unit)
            if amount >= invoice["total"]:
                amount = invoice["total"] // 2
            payments.append(_payment(invoice, amount, rng, days_since, full=False))
        elif outcome < SHARE_PAID + SHARE_PARTIAL + SHARE_CREDITED:
            if rng.random() < 0.5:  # the whole invoice is credited
                refunds.append(_refund(invoice, rng, days_since, [dict(line) for line in lines], reconciled=True))
            else:
                refunds.append(_partial_refund(invoice, rng, days_since, tax_percent, reconciled=True))
        progress.advance()
    return invoices, refunds, payments


def compute_totals(move):
    """Amounts of an invoice or credit note in its currency and in company currency (cents).

    Like Odoo (round per line): each line's tax is rounded, each line is
    converted to company currency and rounded, the receivable line takes the sum.
    """
    rate = move["rate"]

    def convert(cents):
        return cents if rate == 1 else round_half_up(Decimal(cents) / rate)

    move["untaxed"] = sum(line["subtotal"] for line in move["lines"])
    move["tax"] = sum(line["tax"] for line in move["lines"])
    move["total"] = move["untaxed"] + move["tax"]
    for line in move["lines"]:
        line["balance"] = convert(line["subtotal"])
    move["untaxed_company"] = sum(line["balance"] for line in move["lines"])
    move["tax_company"] = convert(move["tax"])
    move["total_company"] = move["untaxed_company"] + move["tax_company"]
    move["residual"], move["residual_company"] = move["total"], move["total_company"]


def _payment(invoice, amount, rng, days_since, full):
    company_amount = (
        invoice["total_company"]  # a full payment settles the receivable exactly: no exchange difference
        if full
        else (amount if invoice["rate"] == 1 else round_half_up(Decimal(amount) / invoice["rate"]))
    )
    return {
        "kind": "payment",
        "invoice": invoice,
        "date": invoice["date"] + datetime.timedelta(days=rng.randint(0, min(days_since, 60))),
        "amount": amount,
        "amount_company": company_amount,
        "full": full,
    }


def _refund(invoice, rng, days_since, lines, reconciled):
    """A credit note for ``invoice``, issued between the invoice date and today."""
    refund_date = invoice["date"] + datetime.timedelta(days=rng.randint(0, days_since))
    refund = {
        "kind": "refund",
        "reverses": invoice,
        "partner": invoice["partner"],
        "date": refund_date,
        "due": refund_date,  # like the reversal wizard: no payment term, due at once
        "currency": invoice["currency"],
        "rate": invoice["rate"],
        "reconciled": reconciled,
        "lines": lines,
    }
    compute_totals(refund)
    return refund


def _partial_refund(invoice, rng, days_since, tax_percent, reconciled):
    """A credit note for 10 to 50% of the invoice's first line (a discount, a returned item)."""
    first = invoice["lines"][0]
    price = max(100, round(first["subtotal"] * rng.uniform(0.1, 0.5)))
    line = {
        "product": first["product"],
        "quantity": 1,
        "price_unit": price,
        "subtotal": price,
        "tax": round_half_up(Decimal(price) * tax_percent / 100),
    }
    return _refund(invoice, rng, days_since, [line], reconciled)


# --------------------------------------------------------------------------
# Writing the plan with set-based SQL
# --------------------------------------------------------------------------

MOVE_COLUMNS = _column_list(
    "id dg_role name sequence_prefix sequence_number date invoice_date invoice_date_due partner_id "
    "commercial_partner_id partner_shipping_id invoice_partner_display_name currency_id invoice_currency_rate "
    "invoice_payment_term_id reversed_entry_id origin_payment_id ref payment_reference payment_state "
    "amount_untaxed amount_tax amount_total amount_residual amount_untaxed_signed "
    "amount_untaxed_in_currency_signed amount_tax_signed amount_total_signed amount_total_in_currency_signed "
    "amount_residual_signed"
)
LINE_COLUMNS = _column_list(
    "id dg_role move_id move_name partner_id currency_id date invoice_date date_maturity name ref product_id "
    "quantity price_unit price_subtotal price_total debit credit balance amount_currency tax_base_amount "
    "amount_residual amount_residual_currency reconciled full_reconcile_id matching_number payment_id"
)
PAYMENT_COLUMNS = _column_list(
    "id dg_role move_id name partner_id currency_id date amount amount_company_currency_signed memo state "
    "is_reconciled is_matched"
)
PARTIAL_COLUMNS = _column_list(
    "id debit_move_id credit_move_id full_reconcile_id debit_currency_id credit_currency_id company_id max_date "
    "amount debit_amount_currency credit_amount_currency create_uid write_uid create_date write_date"
)


def assign_names(env, documents, prefix_info, journal_id, template_year):
    """Number documents per year in date order, after what the journal already holds."""
    template_prefix, digits = prefix_info
    next_number = {}
    for document in sorted(documents, key=lambda doc: (doc["date"], doc["order"])):
        prefix = template_prefix.replace(str(template_year), str(document["date"].year))
        if prefix not in next_number:
            env.cr.execute(
                "SELECT COALESCE(MAX(sequence_number), 0) FROM account_move WHERE journal_id = %s"
                " AND sequence_prefix = %s",
                [journal_id, prefix],
            )
            next_number[prefix] = env.cr.fetchone()[0] + 1
        document["sequence_prefix"] = prefix
        document["sequence_number"] = next_number[prefix]
        document["name"] = f"{prefix}{next_number[prefix]:0{digits}d}"
        next_number[prefix] += 1


class RowSet:
    """The rows of every table the documents are written to, gathered before the load."""

    def __init__(self, templates, first_line_id):
        self.templates = templates
        self.next_line_id = first_line_id
        self.moves, self.lines, self.payments = [], [], []
        self.line_taxes, self.line_tags = [], []
        self.partials, self.full_reconciles, self.matched_payments = [], [], []

    def add_line(self, role, move, name, balance, amount_currency, **extra):
        """Add one account_move_line (with its template's taxes and tags); return its id."""
        line_id = self.next_line_id
        self.next_line_id += 1
        values = {
            "id": line_id,
            "dg_role": role,
            "move_id": move["id"],
            "move_name": move["name"],
            "partner_id": move["partner"]["id"],
            "currency_id": move["currency"].id,
            "date": move["date"],
            "invoice_date": move.get("invoice_date"),
            "date_maturity": None,
            "name": name,
            "ref": None,
            # Odoo stores zeros, not NULL, in the product columns of tax and receivable lines.
            "product_id": None,
            "quantity": "0",
            "price_unit": "0",
            "price_subtotal": "0",
            "price_total": "0",
            "debit": money(max(balance, 0)),
            "credit": money(max(-balance, 0)),
            "balance": money(balance),
            "amount_currency": money(amount_currency),
            "tax_base_amount": None,
            "amount_residual": money(0),
            "amount_residual_currency": money(0),
            "reconciled": False,
            "full_reconcile_id": None,
            "matching_number": None,
            "payment_id": None,
        }
        values.update(extra)
        self.lines.append(tuple(values[column] for column in LINE_COLUMNS))
        self.line_taxes.extend((line_id, tax_id) for tax_id in self.templates["line_taxes"][role])
        self.line_tags.extend((line_id, tag_id) for tag_id in self.templates["line_tags"][role])
        return line_id


def allocate_ids_and_names(env, templates, invoices, refunds, payments):
    """Give every planned document its database id and its number."""
    cr = env.cr
    # Invoices first, so that a credit note's reversed_entry_id points backwards.
    moves = invoices + refunds + payments
    first_move = reserve_ids(cr, "account_move", len(moves))
    for offset, move in enumerate(moves):
        move["id"] = first_move + offset
        move["order"] = offset
    first_payment = reserve_ids(cr, "account_payment", len(payments))
    for offset, payment in enumerate(payments):
        payment["payment_id"] = first_payment + offset
        payment["partner"] = payment["invoice"]["partner"]
        payment["currency"] = payment["invoice"]["currency"]
    template_year = templates["date"].year
    for kind, documents in (("invoice", invoices), ("refund", refunds), ("payment", payments)):
        assign_names(env, documents, templates["prefixes"][kind], templates["journals"][kind], template_year)


def settle(env, refunds, payments):
    """Reconcile payments and credit notes with their invoice; return the settlements.

    Each payment or reconciled credit note is one partial reconcile; when it
    settles the invoice completely, a full reconcile too. The invoice's residual,
    payment state and matching number follow.
    """
    cr = env.cr
    for refund in refunds:
        refund["payment_state"] = "not_paid"
        if refund["reconciled"]:  # a reconciled credit note is used up entirely
            refund["amount"], refund["amount_company"] = refund["total"], refund["total_company"]
            refund["full"] = refund["total"] == refund["reverses"]["total"]
            refund["residual"] = refund["residual_company"] = 0
            refund["payment_state"] = "paid"
    settlements = payments + [refund for refund in refunds if refund["reconciled"]]
    first_partial = reserve_ids(cr, "account_partial_reconcile", len(settlements))
    next_full = reserve_ids(cr, "account_full_reconcile", sum(1 for s in settlements if s["full"]))
    for offset, settlement in enumerate(settlements):
        invoice = settlement.get("invoice") or settlement["reverses"]
        settlement["partial_id"] = first_partial + offset
        settlement["full_id"] = None
        if settlement["full"]:
            settlement["full_id"] = next_full
            next_full += 1
            invoice["residual"] = invoice["residual_company"] = 0
            invoice["full_id"] = settlement["full_id"]
            invoice["matching_number"] = str(settlement["full_id"])
            # Odoo calls an invoice settled only by credit notes 'reversed'.
            invoice["payment_state"] = "reversed" if settlement["kind"] == "refund" else "paid"
        else:
            invoice["residual"] -= settlement["amount"]
            invoice["residual_company"] -= settlement["amount_company"]
            invoice["matching_number"] = f"P{settlement['partial_id']}"
            invoice["payment_state"] = "partial"
        settlement["matching_number"] = invoice["matching_number"]
    return settlements


def add_invoice_rows(rows, move, tax):
    """Rows of an invoice or credit note: its move, product lines, tax line and receivable line."""
    is_invoice = move["kind"] == "invoice"
    sign = -1 if is_invoice else 1  # product and tax lines are credits on invoices, debits on credit notes
    prefix = "inv_" if is_invoice else "ref_"
    partner = move["partner"]
    move["invoice_date"] = move["date"]
    for line in move["lines"]:
        rows.add_line(
            prefix + "product",
            move,
            line["product"].name,
            sign * line["balance"],
            sign * line["subtotal"],
            product_id=line["product"].id,
            quantity=line["quantity"],
            price_unit=money(line["price_unit"]),
            price_subtotal=money(line["subtotal"]),
            price_total=money(line["subtotal"] + line["tax"]),
        )
    rows.add_line(
        prefix + "tax",
        move,
        tax.name,
        sign * move["tax_company"],
        sign * move["tax"],
        tax_base_amount=money(move["untaxed_company"]),
    )
    move["receivable_line"] = rows.add_line(
        prefix + "receivable",
        move,
        move["name"] if is_invoice else "",
        -sign * move["total_company"],
        -sign * move["total"],
        date_maturity=move["due"],
        amount_residual=money(-sign * move["residual_company"]),
        amount_residual_currency=money(-sign * move["residual"]),
        reconciled=move["residual"] == 0 and move["residual_company"] == 0,
        full_reconcile_id=move.get("full_id"),
        matching_number=move.get("matching_number"),
    )
    signed = -sign  # the *_signed amounts are negative on credit notes
    rows.moves.append(
        {
            "id": move["id"],
            "dg_role": move["kind"],
            "name": move["name"],
            "sequence_prefix": move["sequence_prefix"],
            "sequence_number": move["sequence_number"],
            "date": move["date"],
            "invoice_date": move["date"],
            "invoice_date_due": move["due"],
            "partner_id": partner["id"],
            "commercial_partner_id": partner["id"],
            "partner_shipping_id": partner["id"],
            "invoice_partner_display_name": partner["name"],
            "currency_id": move["currency"].id,
            "invoice_currency_rate": str(move["rate"]),
            # Like the reversal wizard: credit notes have no payment term, they are due at once.
            "invoice_payment_term_id": move["term"].id if is_invoice else None,
            "reversed_entry_id": None if is_invoice else move["reverses"]["id"],
            "origin_payment_id": None,
            "ref": None if is_invoice else f"Reversal of: {move['reverses']['name']}",
            "payment_reference": move["name"] if is_invoice else None,
            "payment_state": move.get("payment_state", "not_paid"),
            "amount_untaxed": money(move["untaxed"]),
            "amount_tax": money(move["tax"]),
            "amount_total": money(move["total"]),
            "amount_residual": money(move["residual"]),
            "amount_untaxed_signed": money(signed * move["untaxed_company"]),
            "amount_untaxed_in_currency_signed": money(signed * move["untaxed"]),
            "amount_tax_signed": money(signed * move["tax_company"]),
            "amount_total_signed": money(signed * move["total_company"]),
            "amount_total_in_currency_signed": money(signed * move["total"]),
            "amount_residual_signed": money(signed * move["residual_company"]),
        }
    )


def add_payment_rows(rows, payment, label_pattern, today):
    """Rows of a customer payment: account_payment, its entry and the entry's two lines."""
    invoice, partner = payment["invoice"], payment["partner"]
    label = label_pattern.format(invoice["name"])
    common = {
        "date_maturity": payment["date"],
        "quantity": "1",
        "ref": invoice["name"],
        "payment_id": payment["payment_id"],
    }
    rows.add_line(  # the outstanding receipt, until a bank statement matches it
        "pay_liquidity",
        payment,
        label,
        payment["amount_company"],
        payment["amount"],
        price_subtotal=money(payment["amount"]),
        price_total=money(payment["amount"]),
        amount_residual=money(payment["amount_company"]),
        amount_residual_currency=money(payment["amount"]),
        **common,
    )
    payment["counterpart_line"] = rows.add_line(
        "pay_counterpart",
        payment,
        label,
        -payment["amount_company"],
        -payment["amount"],
        price_subtotal=money(-payment["amount"]),
        price_total=money(-payment["amount"]),
        reconciled=True,
        full_reconcile_id=payment["full_id"],
        matching_number=payment["matching_number"],
        **common,
    )
    rows.moves.append(
        {
            "id": payment["id"],
            "dg_role": "payment",
            "name": payment["name"],
            "sequence_prefix": payment["sequence_prefix"],
            "sequence_number": payment["sequence_number"],
            # Odoo gives a payment entry the due date of the day it was created.
            "date": payment["date"],
            "invoice_date": None,
            "invoice_date_due": today,
            "partner_id": partner["id"],
            "commercial_partner_id": partner["id"],
            "partner_shipping_id": None,
            "invoice_partner_display_name": partner["name"],
            "currency_id": payment["currency"].id,
            "invoice_currency_rate": "0",
            "invoice_payment_term_id": None,
            "reversed_entry_id": None,
            "origin_payment_id": payment["payment_id"],
            "ref": invoice["name"],
            "payment_reference": None,
            "payment_state": "not_paid",
            "amount_untaxed": money(0),
            "amount_tax": money(0),
            "amount_total": money(payment["amount"]),
            "amount_residual": money(0),
            "amount_untaxed_signed": money(0),
            "amount_untaxed_in_currency_signed": money(0),
            "amount_tax_signed": money(0),
            "amount_total_signed": money(payment["amount_company"]),
            "amount_total_in_currency_signed": money(payment["amount"]),
            "amount_residual_signed": money(0),
        }
    )
    rows.payments.append(
        (
            payment["payment_id"],
            "payment",
            payment["id"],
            payment["name"],
            partner["id"],
            payment["currency"].id,
            payment["date"],
            money(payment["amount"]),
            money(payment["amount_company"]),
            invoice["name"],
            # Like Odoo: a payment stays 'in_process' until its invoice is fully paid.
            "paid" if payment["full"] else "in_process",
            True,
            False,
        )
    )
    rows.matched_payments.append((invoice["id"], payment["payment_id"]))


def add_reconcile_rows(rows, settlement, company_id, uid, now):
    invoice = settlement.get("invoice") or settlement["reverses"]
    credit_line = settlement.get("counterpart_line") or settlement["receivable_line"]
    currency_id = invoice["currency"].id
    rows.partials.append(
        (
            settlement["partial_id"],
            invoice["receivable_line"],
            credit_line,
            settlement["full_id"],
            currency_id,
            currency_id,
            company_id,
            max(invoice["date"], settlement["date"]),
            money(settlement["amount_company"]),
            money(settlement["amount"]),
            money(settlement["amount"]),
            uid,
            uid,
            now,
            now,
        )
    )
    if settlement["full_id"]:
        rows.full_reconciles.append((settlement["full_id"], uid, uid, now, now))


def write_documents(env, refs, templates, invoices, refunds, payments):
    """Insert the planned documents, their lines, payments and reconciliations."""
    cr, uid, now = env.cr, env.uid, _utc_now()
    allocate_ids_and_names(env, templates, invoices, refunds, payments)
    settlements = settle(env, refunds, payments)
    line_count = sum(len(move["lines"]) + 2 for move in invoices + refunds) + 2 * len(payments)
    rows = RowSet(templates, reserve_ids(cr, "account_move_line", line_count))
    progress = Progress("building rows", len(invoices) + len(refunds) + len(payments))
    for move in invoices + refunds:
        add_invoice_rows(rows, move, refs["tax"])
        progress.advance()
    for payment in payments:
        add_payment_rows(rows, payment, templates["payment_label"], refs["today"])
        progress.advance()
    for settlement in settlements:
        add_reconcile_rows(rows, settlement, refs["company"].id, uid, now)
    load_rows(cr, rows, uid, now)
    env.invalidate_all()


def load_rows(cr, rows, uid, now):
    """Write the gathered rows: COPY, or INSERT ... SELECT joining the template of each row's role."""
    steps = Progress("writing tables", 8)
    with bulk_load(cr) as triggers_off:
        copy_rows(
            cr,
            "account_full_reconcile",
            ["id", "create_uid", "write_uid", "create_date", "write_date"],
            rows.full_reconciles,
        )
        steps.advance()
        # Payments and their entries point at each other: with the foreign-key
        # triggers on, the entries' origin_payment_id has to wait for the payments.
        deferred = set() if triggers_off else {"origin_payment_id"}
        move_tuples = [tuple(row[column] for column in MOVE_COLUMNS) for row in rows.moves]
        _clone_from_templates(cr, "account_move", MOVE_COLUMNS, move_tuples, now, uid, deferred=deferred)
        steps.advance()
        _clone_from_templates(cr, "account_payment", PAYMENT_COLUMNS, rows.payments, now, uid)
        if deferred:
            cr.execute(
                "UPDATE account_move move SET origin_payment_id = generated.origin_payment_id"
                " FROM dg_account_move generated"
                " WHERE generated.id = move.id AND generated.origin_payment_id IS NOT NULL"
            )
        steps.advance()
        _clone_from_templates(cr, "account_move_line", LINE_COLUMNS, rows.lines, now, uid)
        steps.advance()
        copy_rows(cr, "account_move_line_account_tax_rel", ["account_move_line_id", "account_tax_id"], rows.line_taxes)
        copy_rows(
            cr,
            "account_account_tag_account_move_line_rel",
            ["account_move_line_id", "account_account_tag_id"],
            rows.line_tags,
        )
        steps.advance()
        copy_rows(cr, "account_partial_reconcile", PARTIAL_COLUMNS, rows.partials)
        steps.advance()
        copy_rows(cr, "account_move__account_payment", ["invoice_id", "payment_id"], rows.matched_payments)
        steps.advance()
    # Fresh statistics, or the first queries on the new data get poor plans.
    for table in (
        "account_move",
        "account_move_line",
        "account_payment",
        "account_partial_reconcile",
        "account_full_reconcile",
        "res_partner",
    ):
        cr.execute(f"ANALYZE {table}")
    steps.advance()


def _clone_from_templates(cr, table, columns, rows, now, uid, deferred=()):
    """INSERT rows into ``table``: generated ``columns`` + everything else from the template of their role."""
    generated = f"dg_{table}"
    value_columns = [column for column in columns if column != "dg_role"]
    cr.execute(f"DROP TABLE IF EXISTS {generated}")
    cr.execute(
        f"CREATE TEMP TABLE {generated} ON COMMIT DROP AS"
        f" SELECT NULL::text AS dg_role, {', '.join(value_columns)} FROM {table} LIMIT 0"
    )
    copy_rows(cr, generated, columns, rows)
    select = []
    target_columns = table_columns(cr, table)
    for column in target_columns:
        if column in deferred:
            select.append("NULL")
        elif column in value_columns:
            select.append(f"generated.{column}")
        elif column in ("create_date", "write_date"):
            select.append(cr.mogrify("%s::timestamp", [now]).decode())
        elif column in ("create_uid", "write_uid"):
            select.append(str(uid))
        else:
            select.append(f"template.{column}")
    cr.execute(
        f"INSERT INTO {table} ({', '.join(target_columns)})"
        f" SELECT {', '.join(select)} FROM {generated} generated"
        f" JOIN dg_tmpl_{table} template ON template.dg_role = generated.dg_role ORDER BY generated.id"
    )


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def _store_run(env, run):
    env["ir.config_parameter"].sudo().set_param(PARAM_KEY, json.dumps(run))


def _stored_run(env):
    value = env["ir.config_parameter"].sudo().get_param(PARAM_KEY)
    return json.loads(value) if value else None


def summarize(env, started=None):
    """Counts over the database's posted customer invoices and credit notes."""
    env.cr.execute(
        """
        SELECT COUNT(*) FILTER (WHERE move_type = 'out_invoice'),
               COUNT(*) FILTER (WHERE move_type = 'out_invoice' AND payment_state IN ('not_paid', 'partial')),
               COUNT(*) FILTER (WHERE move_type = 'out_invoice' AND payment_state = 'partial'),
               COUNT(*) FILTER (WHERE move_type = 'out_invoice' AND payment_state IN ('paid', 'in_payment')),
               COUNT(*) FILTER (WHERE move_type = 'out_invoice' AND payment_state = 'reversed'),
               COUNT(*) FILTER (WHERE move_type = 'out_refund')
          FROM account_move WHERE state = 'posted' AND move_type IN ('out_invoice', 'out_refund')
        """
    )
    invoices, open_invoices, partial, paid, reversed_, credit_notes = env.cr.fetchone()
    env.cr.execute("SELECT COUNT(*) FROM res_partner WHERE is_company AND customer_rank > 0 AND active")
    summary = {
        "customers": env.cr.fetchone()[0],
        "invoices": invoices,
        "open_invoices": open_invoices,
        "partial": partial,
        "paid": paid,
        "reversed": reversed_,
        "credit_notes": credit_notes,
    }
    if started is not None:
        summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def generate(env, customers, invoices, days=150, seed=1, today=None, reuse=False, history=False):
    """Generate ``customers`` customers and ``invoices`` posted invoices; return a summary dict.

    :param history: also payment habits per customer, payments by habit and the
        reminders, replies and opt-outs before them (generate_history.py)

    :param today: the date generated dates are relative to (default: the current date)
    :param reuse: return the stored summary if the database already holds data
        generated with the same parameters, instead of refusing
    """
    started = time.monotonic()
    params = {"customers": customers, "invoices": invoices, "days": days, "seed": seed}
    if history:
        params["history"] = True
    previous = _stored_run(env)
    if previous:
        if reuse and previous["params"] == params:
            return dict(previous["summary"], reused=True)
        raise RuntimeError(
            f"database {env.cr.dbname} already holds generated data ({previous['params']}); "
            + ("use --reuse to keep it" if previous["params"] == params else "use a fresh database")
        )
    if customers < 1 or invoices < 0 or days < 1:
        raise ValueError("need at least one customer, no negative invoice count and at least one day")
    today = today or datetime.date.today()
    rng = random.Random(seed)

    refs = prepare_reference_data(env, today)
    companies, contacts = plan_customers(rng, customers, refs)
    company_ids = insert_customers(env, companies, contacts)
    terms_by_id = {term.id: (term, term_days) for term, term_days, _weight in refs["terms"]}
    customer_plan = [
        {"id": partner_id, "name": values["name"], "term": terms_by_id[values["property_payment_term_id"]]}
        for partner_id, (_code, values) in zip(company_ids, companies, strict=True)
    ]
    templates = capture_templates(env, refs, company_ids[0])
    planned_invoices, planned_refunds, planned_payments = plan_documents(rng, refs, customer_plan, invoices, days)
    if history:
        history_rng = random.Random(seed + 7)
        generate_history.assign_habits(history_rng, customer_plan)
        planned_payments = generate_history.pay_by_habit(
            history_rng, planned_invoices, planned_refunds, planned_payments, today, _payment
        )
    write_documents(env, refs, templates, planned_invoices, planned_refunds, planned_payments)
    contacts = None
    if history:
        contacts = generate_history.insert_contacts(
            env, refs, planned_invoices, planned_payments, planned_refunds, today, history_rng, copy_rows, reserve_ids
        )

    summary = summarize(env, started)
    if contacts:
        summary["history"] = contacts
    _store_run(env, {"params": params, "today": today.isoformat(), "summary": summary})
    return summary


# --------------------------------------------------------------------------
# Consistency checks
# --------------------------------------------------------------------------

# (table, column, referenced table): references the bulk load wrote without foreign-key triggers.
REFERENCES = [
    ("account_move_line", "move_id", "account_move"),
    ("account_move_line", "partner_id", "res_partner"),
    ("account_move_line", "payment_id", "account_payment"),
    ("account_move_line", "full_reconcile_id", "account_full_reconcile"),
    ("account_move", "partner_id", "res_partner"),
    ("account_move", "commercial_partner_id", "res_partner"),
    ("account_move", "reversed_entry_id", "account_move"),
    ("account_move", "origin_payment_id", "account_payment"),
    ("account_payment", "move_id", "account_move"),
    ("account_payment", "partner_id", "res_partner"),
    ("account_partial_reconcile", "debit_move_id", "account_move_line"),
    ("account_partial_reconcile", "credit_move_id", "account_move_line"),
    ("account_partial_reconcile", "full_reconcile_id", "account_full_reconcile"),
    ("account_move__account_payment", "invoice_id", "account_move"),
    ("account_move__account_payment", "payment_id", "account_payment"),
    ("account_move_line_account_tax_rel", "account_move_line_id", "account_move_line"),
    ("res_partner", "parent_id", "res_partner"),
    ("res_partner", "commercial_partner_id", "res_partner"),
]

LEDGER_CHECKS = {
    "dangling reference": " UNION ALL ".join(
        f"SELECT '{table}.{column} = ' || source.{column} FROM {table} source"
        f" LEFT JOIN {target} target ON target.id = source.{column}"
        f" WHERE source.{column} IS NOT NULL AND target.id IS NULL"
        for table, column, target in REFERENCES
    ),
    "unbalanced move": """
        SELECT move_id::text FROM account_move_line GROUP BY move_id
        HAVING SUM(balance) != 0 OR SUM(debit) != SUM(credit)
    """,
    "line balance != debit - credit": """
        SELECT id::text FROM account_move_line WHERE balance != debit - credit OR debit < 0 OR credit < 0
    """,
    "residual differs from balance and partial reconciles": """
        WITH matched AS (
            SELECT line_id, SUM(amount) AS amount, SUM(amount_currency) AS amount_currency
              FROM (SELECT debit_move_id AS line_id, -amount AS amount, -debit_amount_currency AS amount_currency
                      FROM account_partial_reconcile
                    UNION ALL
                    SELECT credit_move_id, amount, credit_amount_currency FROM account_partial_reconcile) sides
             GROUP BY line_id
        )
        SELECT line.id::text
          FROM account_move_line line
          JOIN account_account account ON account.id = line.account_id AND account.reconcile
          LEFT JOIN matched ON matched.line_id = line.id
         WHERE line.parent_state = 'posted'
           AND (line.amount_residual != line.balance + COALESCE(matched.amount, 0)
                OR line.amount_residual_currency != line.amount_currency + COALESCE(matched.amount_currency, 0)
                OR line.reconciled != (line.amount_residual = 0 AND line.amount_residual_currency = 0))
    """,
    "fully reconciled line with a residual, or reconcile group not fully settled": """
        SELECT line.id::text FROM account_move_line line
         WHERE line.full_reconcile_id IS NOT NULL AND (line.amount_residual != 0 OR NOT line.reconciled)
        UNION ALL
        SELECT part.id::text FROM account_partial_reconcile part
          JOIN account_move_line debit ON debit.id = part.debit_move_id
          JOIN account_move_line credit ON credit.id = part.credit_move_id
         WHERE part.full_reconcile_id IS DISTINCT FROM debit.full_reconcile_id
            OR part.full_reconcile_id IS DISTINCT FROM credit.full_reconcile_id
    """,
    "invoice amounts differ from their lines": """
        SELECT move.id::text
          FROM account_move move
          JOIN account_move_line line ON line.move_id = move.id
         WHERE move.move_type IN ('out_invoice', 'out_refund', 'in_invoice', 'in_refund') AND move.state = 'posted'
         GROUP BY move.id
        HAVING move.amount_residual_signed
                   != SUM(line.amount_residual) FILTER (WHERE line.display_type = 'payment_term')
            OR move.amount_residual
                   != ABS(SUM(line.amount_residual_currency) FILTER (WHERE line.display_type = 'payment_term'))
            OR move.amount_total_signed != SUM(line.balance) FILTER (WHERE line.display_type = 'payment_term')
            OR move.amount_tax_signed != -SUM(line.balance) FILTER (WHERE line.display_type = 'tax')
            OR move.amount_untaxed_signed
                   != -COALESCE(SUM(line.balance) FILTER (WHERE line.display_type = 'product'), 0)
            OR move.amount_total != move.amount_untaxed + move.amount_tax
    """,
    "payment_state inconsistent with residual": """
        SELECT id::text FROM account_move
         WHERE move_type IN ('out_invoice', 'out_refund', 'in_invoice', 'in_refund') AND state = 'posted'
           AND NOT CASE
               WHEN amount_residual = 0 THEN payment_state IN ('paid', 'in_payment', 'reversed')
               WHEN amount_residual = amount_total THEN payment_state = 'not_paid'
               ELSE payment_state = 'partial' END
    """,
    "partner receivable differs from open invoices minus unreconciled credits": """
        WITH ledger AS (
            SELECT COALESCE(line.partner_id, 0) AS partner_id, SUM(line.amount_residual) AS amount
              FROM account_move_line line
              JOIN account_account account ON account.id = line.account_id
             WHERE account.account_type = 'asset_receivable' AND line.parent_state = 'posted'
             GROUP BY 1
        ), documents AS (
            SELECT partner_id, SUM(amount) AS amount FROM (
                SELECT COALESCE(commercial_partner_id, 0) AS partner_id, amount_residual_signed AS amount
                  FROM account_move WHERE state = 'posted' AND move_type IN ('out_invoice', 'out_refund')
                UNION ALL  -- unreconciled credits outside invoices: payments, entries
                SELECT COALESCE(line.partner_id, 0), line.amount_residual
                  FROM account_move_line line
                  JOIN account_account account ON account.id = line.account_id
                  JOIN account_move move ON move.id = line.move_id
                 WHERE account.account_type = 'asset_receivable' AND line.parent_state = 'posted'
                   AND move.move_type NOT IN ('out_invoice', 'out_refund')
            ) parts GROUP BY partner_id
        )
        SELECT COALESCE(ledger.partner_id, documents.partner_id)::text
          FROM ledger FULL JOIN documents ON documents.partner_id = ledger.partner_id
         WHERE COALESCE(ledger.amount, 0) != COALESCE(documents.amount, 0)
    """,
    "duplicate or malformed document number": """
        SELECT name FROM account_move WHERE state = 'posted'
         GROUP BY journal_id, name HAVING COUNT(*) > 1
        UNION ALL
        SELECT name FROM account_move
         WHERE state = 'posted'
           AND name != sequence_prefix || LPAD(sequence_number::text, LENGTH(name) - LENGTH(sequence_prefix), '0')
    """,
}

AMOUNT_FIELDS = [
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
    "amount_untaxed_signed",
    "amount_tax_signed",
    "amount_total_signed",
    "amount_residual_signed",
    "amount_total_in_currency_signed",
]


def check_ledger(env, orm_sample=20, seed=1):
    """Return a list of problems (empty when the ledger is consistent).

    SQL checks cover every move; the ORM checks recompute amounts and payment
    states of ``orm_sample`` random invoices, register a payment on an open
    invoice and post a new invoice (to see that numbering continues). The ORM
    checks run in a savepoint that is rolled back: they change nothing.
    """
    env.flush_all()
    problems = []
    for label, query in LEDGER_CHECKS.items():
        env.cr.execute(query)
        offenders = [row[0] for row in env.cr.fetchall()]
        if offenders:
            problems.append(f"{label}: {len(offenders)} (e.g. {', '.join(offenders[:5])})")
    if orm_sample:
        problems += _orm_checks(env, orm_sample, seed)
    return problems


class _RollbackChecks(Exception):
    """Raised to undo what the ORM checks did."""


def _orm_checks(env, sample_size, seed):
    problems = []
    env.cr.execute("SELECT id FROM account_move WHERE move_type = 'out_invoice' AND state = 'posted' ORDER BY id")
    invoice_ids = [row[0] for row in env.cr.fetchall()]
    if not invoice_ids:
        return problems
    rng = random.Random(seed)
    sample = rng.sample(invoice_ids, min(sample_size, len(invoice_ids)))
    moves = env["account.move"].browse(sample)
    try:
        with env.cr.savepoint():
            env.invalidate_all()
            stored = {move.id: {f: move[f] for f in AMOUNT_FIELDS + ["payment_state"]} for move in moves}
            env.invalidate_all()
            fields = [moves._fields[name] for name in AMOUNT_FIELDS + ["payment_state"]]
            with env.protecting(fields, moves):
                moves._compute_amount()
                moves._compute_payment_state()
                for move in moves:
                    for name, value in stored[move.id].items():
                        if move[name] != value:
                            problems.append(f"ORM recomputes {move.name}.{name} = {move[name]!r}, stored {value!r}")

            open_invoice = env["account.move"].search(
                [("id", "in", invoice_ids), ("payment_state", "in", ("not_paid", "partial"))], limit=1
            )
            if open_invoice:
                env["account.payment.register"].with_context(
                    active_model="account.move", active_ids=open_invoice.ids
                ).create({})._create_payments()
                if open_invoice.payment_state not in ("paid", "in_payment") or open_invoice.amount_residual:
                    problems.append(
                        f"registering a payment on {open_invoice.name} left it {open_invoice.payment_state}"
                        f" with {open_invoice.amount_residual} due"
                    )

            last = env["account.move"].browse(invoice_ids[-1])
            env.cr.execute(
                "SELECT name, sequence_prefix, sequence_number FROM account_move WHERE journal_id = %s"
                " AND state = 'posted' AND move_type = 'out_invoice' AND date_part('year', date) = %s"
                " ORDER BY sequence_number DESC LIMIT 1",
                [last.journal_id.id, datetime.date.today().year],
            )
            previous = env.cr.fetchone()
            new_invoice = env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": last.partner_id.id,
                    "journal_id": last.journal_id.id,
                    "invoice_date": datetime.date.today(),
                    "invoice_line_ids": [(0, 0, {"name": "Check", "quantity": 1, "price_unit": 10.0})],
                }
            )
            new_invoice.action_post()
            if previous:
                expected = f"{previous[1]}{previous[2] + 1:0{len(previous[0]) - len(previous[1])}d}"
                if new_invoice.name != expected:
                    problems.append(f"next invoice numbered {new_invoice.name}, expected {expected}")
            env.flush_all()
            raise _RollbackChecks
    except _RollbackChecks:
        pass
    except Exception as error:  # noqa: BLE001 -- whatever the ORM raises is a finding, not a crash
        problems.append(f"ORM check failed: {error!r}")
    env.clear()
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--customers", type=int, default=60)
    parser.add_argument("--invoices", type=int, default=400)
    parser.add_argument("--days", type=int, default=150, help="invoice dates spread over the last DAYS days")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=datetime.date.fromisoformat, help="anchor date (default: today)")
    parser.add_argument("--reuse", action="store_true", help="do nothing if the same data is already there")
    parser.add_argument(
        "--history", action="store_true", help="payment habits, payments by habit, reminders, replies and opt-outs"
    )
    args = parser.parse_args(argv)

    with environment(args.database) as env:
        try:
            summary = generate(
                env,
                args.customers,
                args.invoices,
                days=args.days,
                seed=args.seed,
                today=args.today,
                reuse=args.reuse,
                history=args.history,
            )
        except (RuntimeError, ValueError) as error:
            sys.stderr.write(f"ERROR: {error}\n")
            return 2
        problems = []
        if not summary.get("reused"):
            started = time.monotonic()
            problems = check_ledger(env, seed=args.seed)
            summary["check_seconds"] = round(time.monotonic() - started, 1)
            summary["check"] = "ok" if not problems else len(problems)
            _store_run(env, dict(_stored_run(env), summary=summary))
        for problem in problems:
            sys.stderr.write(f"ledger problem: {problem}\n")
    print(json.dumps(summary))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
