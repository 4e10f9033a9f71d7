"""A customer's time zone from its country and state, when it has none of its
own: contact hours are judged in the customer's local time, and the first
zone that pytz lists for a country can be far from most of its people
(Canada: St John's; Brazil: Noronha) or from a given state (California).

Keys are ISO country codes and Odoo's state codes (``res.country.state.code``).
"""

_US = {
    "America/New_York": "CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV",
    "America/Chicago": "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI",
    "America/Denver": "CO ID MT NM UT WY",
    "America/Phoenix": "AZ",
    "America/Los_Angeles": "CA NV OR WA",
    "America/Anchorage": "AK",
    "Pacific/Honolulu": "HI",
    "America/Puerto_Rico": "PR",
}
_CA = {
    "America/St_Johns": "NL",
    "America/Halifax": "NS NB PE",
    "America/Toronto": "ON QC",
    "America/Winnipeg": "MB",
    "America/Regina": "SK",
    "America/Edmonton": "AB NT",
    "America/Vancouver": "BC",
    "America/Whitehorse": "YT",
    "America/Iqaluit": "NU",
}
_MX = {
    "America/Tijuana": "BCN",
    "America/Mazatlan": "BCS SIN NAY",
    "America/Hermosillo": "SON",
    "America/Cancun": "ROO",
    "America/Chihuahua": "CHH",
}
_ES = {"Atlantic/Canary": "GC TF"}
_BR = {
    "America/Manaus": "AM RR RO MT MS",
    "America/Rio_Branco": "AC",
    "America/Belem": "PA AP",
    "America/Fortaleza": "CE RN PB PI MA",
    "America/Recife": "PE",
    "America/Bahia": "BA",
}

STATE_ZONES = {
    (country, state): zone
    for country, zones in (("US", _US), ("CA", _CA), ("MX", _MX), ("ES", _ES), ("BR", _BR))
    for zone, states in zones.items()
    for state in states.split()
}
# Where pytz's first zone for the country is not where most of its people live.
COUNTRY_ZONES = {
    "CA": "America/Toronto",
    "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney",
    "RU": "Europe/Moscow",
    "ID": "Asia/Jakarta",
}


def zone_for(country_code, state_code, country_zones):
    """The IANA zone for a country and state (codes may be empty); ``country_zones``
    is pytz's list for the country. None when nothing is known."""
    country = (country_code or "").upper()
    return (
        STATE_ZONES.get((country, (state_code or "").upper()))
        or COUNTRY_ZONES.get(country)
        or (country_zones[0] if country_zones else None)
    )
