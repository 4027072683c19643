"""Country names as sources spell them -> ISO 3166-1 alpha-3, via pycountry.

Sources use short or older names that pycountry does not know; those are listed explicitly in
NAME_OVERRIDES (checked first) so every mapping is visible and reviewable.
"""

from __future__ import annotations

from functools import cache

import pycountry

# Source spelling (case-insensitive) -> ISO3. Add a line here when a load warns of an unknown name.
NAME_OVERRIDES: dict[str, str] = {
    "brunei": "BRN",
    "cape verde": "CPV",
    "congo, dem. rep.": "COD",
    "democratic republic of the congo": "COD",
    "dr congo": "COD",
    "congo, rep.": "COG",
    "republic of the congo": "COG",
    "micronesia": "FSM",
    "russia": "RUS",
    "saint martin": "MAF",
    "sint maarten": "SXM",
    "turkey": "TUR",
    "virgin islands (u.k.)": "VGB",
    "virgin islands (u.s.)": "VIR",
    "kosovo": "XKX",  # not in ISO 3166; the user-assigned code used by the EU and World Bank
    "hong kong": "HKG",
    "macau": "MAC",
    "macao": "MAC",
    "ivory coast": "CIV",
    "swaziland": "SWZ",
    "laos": "LAO",
    "north korea": "PRK",
    "east timor": "TLS",
    "the gambia": "GMB",
    "the bahamas": "BHS",
    "bolivia": "BOL",
    "venezuela": "VEN",
    "tanzania": "TZA",
    "moldova": "MDA",
    "palestine": "PSE",
    "west bank and gaza": "PSE",
    "vatican": "VAT",
    "china (people's republic of)": "CHN",
    # World Bank spellings
    "cote d'ivoire": "CIV",
    "gambia, the": "GMB",
    "egypt, arab rep.": "EGY",
    "yemen, rep.": "YEM",
    "hong kong sar, china": "HKG",
    "macao sar, china": "MAC",
    "people's republic of china": "CHN",
}

# Codes that are not ISO 3166 but that sources use for real places.
EXTRA_NAMES = {"XKX": "Kosovo"}
EXTRA_ALPHA2 = {"XK": "XKX"}


@cache
def to_iso3(name: str | None) -> str | None:
    """ISO3 for a country name, alpha-2 or alpha-3 code; None when unknown (callers report it)."""
    if name is None:
        return None
    key = name.strip()
    if not key:
        return None
    override = NAME_OVERRIDES.get(key.casefold())
    if override:
        return override
    if key.upper() in EXTRA_NAMES:
        return key.upper()
    if key.upper() in EXTRA_ALPHA2:
        return EXTRA_ALPHA2[key.upper()]
    try:
        return pycountry.countries.lookup(key).alpha_3
    except LookupError:
        return None


# Places in Hong Kong and Macau that sources file under "China". They are separate ISO 3166
# entries and separate jurisdictions, and patterns treat them as outside the mainland.
SAR_PLACES: dict[str, str] = {
    "hong kong": "HKG",
    "cape d'aguilar": "HKG",
    "chung hom kok": "HKG",
    "deep water bay": "HKG",
    "lantau island": "HKG",
    "tong fuk": "HKG",
    "tseung kwan o": "HKG",
    "macau": "MAC",
    "macao": "MAC",
    "taipa": "MAC",
}


def place_iso3(place: str | None, country: str | None) -> str | None:
    """ISO3 of a place (a landing station, a metro) in ``country``, correcting Hong Kong and Macau
    places that a source files under China; otherwise ``to_iso3(country)``."""
    sar = SAR_PLACES.get((place or "").replace("\u2019", "'").strip().casefold())
    if sar and (country or "").strip().casefold() in ("", "china", "hong kong", "macau", "macao"):
        return sar
    return to_iso3(country)


@cache
def iso3_name(iso3: str) -> str:
    """A readable name for an ISO3 code (common name where pycountry has one)."""
    if iso3 in EXTRA_NAMES:
        return EXTRA_NAMES[iso3]
    country = pycountry.countries.get(alpha_3=iso3)
    if country is None:
        return iso3
    return getattr(country, "common_name", None) or country.name
