"""TeleGeography Cloud Infrastructure Map: public-cloud regions per metro.

Endpoint: ``api/service/cloud-regions.js`` - JSON despite the name, no key, no incremental query:
``{"name": "Cloud Regions", "cloud_regions": [{metro_area, country, latitude, longitude,
cloud_service_providers: [{name, cloud_region, cloud_region_name, in_service, zones}]}]}``.
Every run fetches the one file; a conditional GET keeps an unchanged map cheap.

Key: (provider, region code, metro). Quirks of the real file (January 2025 snapshot) handled here:

* a metro can be listed more than once (Beijing, Washington, ...), each copy repeating the same
  providers, sometimes with other coordinates: exact duplicates collapse; rows that disagree keep
  one variant chosen without regard to source order (in service, then most often listed, then most
  zones, then the smallest value) and the run records a warning;
* planned regions have no code (``cloud_region: null``): the key then uses the token
  ``name:<region name>`` (documented on ``core.cloud_regions.region_code``; views show NULL);
* one code can sit in two metros (Alibaba ``me-east-1`` in Dubai and Riyadh): two rows;
* codes carry stray whitespace (``"cn-south-2 "``), coordinates and zones are strings;
* Hong Kong is filed under country "China": ``country_iso3`` is HKG for the Hong Kong metro (and
  MAC for Macau), the source's ``country_name`` is kept as written.

Bad records: a region entry (one provider in one metro) that cannot be read - not an object, no
provider name, a value of the wrong type, a number or flag that will not convert - is set aside
with the reason, its region keeps its previous version, and the rest of the map loads; a metro
whose own fields cannot be read sets aside each of its regions. When a record cannot even say
which region it is (a metro or entry that is not an object), the run marks nothing removed: the
map was not read whole. Coordinates must lie on the globe (declared ranges, checked before the
load). A payload that is not the map at all (not JSON, an HTML error page, no ``cloud_regions``
list, or no readable metro in it) fails the run.

Providers resolve through the organisation registry (Alibaba Cloud, Huawei Cloud, Tencent Cloud).
Licence: no licence is stated for the endpoint; (c) TeleGeography, used for research with
attribution "TeleGeography Cloud Infrastructure Map".
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

from dsrwatch.fetching import FetchedResponse, Fetcher
from dsrwatch.normalise.countries import place_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text
from dsrwatch.sources.base import (
    ORGANISATION_ALIASES,
    ORGANISATIONS,
    MaxNullFraction,
    OrganisationCollector,
    ParsedBatch,
    Range,
    RowCountBounds,
    SetAside,
    SourceFormatError,
    SourceSpec,
    load_json,
    require,
    set_aside_on_error,
)
from dsrwatch.validation import UNREADABLE, key_text
from dsrwatch.warehouse.tables import EntityTable, RawPayload

log = logging.getLogger(__name__)

HOST = "www.cloudinfrastructuremap.com"
CLOUD_REGIONS_URL = f"https://{HOST}/api/service/cloud-regions.js"

# Key token for a region the source lists without a code (see module docstring).
NO_CODE_PREFIX = "name:"

CLOUD_REGIONS = EntityTable(
    "core.cloud_regions",
    key=("provider", "region_code", "metro"),
    columns=("region_name", "country_name", "country_iso3", "latitude", "longitude", "in_service", "zones",
             "provider_organisation_id"),
    # Availability zones: the largest region has a handful, never hundreds.
    rules=(Range("latitude", -90, 90), Range("longitude", -180, 180), Range("zones", 0, 100)),
)  # fmt: skip

SOURCE = SourceSpec(
    name="cloud_regions",
    title="TeleGeography Cloud Infrastructure Map (cloud regions)",
    category="cloud",
    hosts=(HOST,),
    homepage="https://www.cloudinfrastructuremap.com/",
    licence="(c) TeleGeography; no licence stated for the endpoint, used for research with attribution",
    attribution="TeleGeography Cloud Infrastructure Map",
    schedule="20 3 * * 1",  # weekly, Monday 03:20 UTC, ahead of the 06:00 digest
    # Organisations first: the regions reference them.
    tables=(CLOUD_REGIONS, ORGANISATIONS, ORGANISATION_ALIASES),
    expectations=(
        # January 2025: 357 provider entries in 133 metros, 307 distinct regions. A collapse (or a
        # fivefold growth) means a broken fetch or a changed format.
        RowCountBounds("core.cloud_regions", 200, 1_500),
        MaxNullFraction("core.cloud_regions", "country_iso3", 0.02),
        MaxNullFraction("core.cloud_regions", "latitude", 0.02),
    ),
    politeness_delay=1.0,
    views=("analyst.cloud_regions",),
    # The real file is 0.1 MB.
    max_payload_bytes=32 * 2**20,
)


# -- fetch -------------------------------------------------------------------------------------
def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """The one file: the whole map, every run."""
    yield fetcher.get(CLOUD_REGIONS_URL)


# -- parse -------------------------------------------------------------------------------------
def region_key_code(region_code: str | None, region_name: str | None) -> str:
    """The key's region code: the code, or ``name:<region name>`` when the source has none."""
    return region_code if region_code else f"{NO_CODE_PREFIX}{region_name or ''}"


def _number(value: object, kind: type, what: str) -> float | int | None:
    """A number the source may write as a string; empty is None, anything else that will not
    convert makes the record unreadable (ValueError / TypeError, naming the field and value)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{what}: {value!r} is not a number")
    try:
        return kind(value) if isinstance(value, int | float) else kind(value.strip())
    except (ValueError, OverflowError):
        raise ValueError(f"{what}: {value!r} is not a number") from None


def _boolean(value: object, what: str = "in_service") -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().casefold() if isinstance(value, str | int) else None
    if text == "":
        return None
    flag = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text or "")
    if flag is None:
        raise ValueError(f"{what}: {value!r} is not true or false")
    return flag


def _text(value: object, what: str) -> str | None:
    """Text as the source writes it (numbers accepted as text); an object, list or flag is unreadable."""
    if value is None or isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what}: expected text, got {type(value).__name__}")
    return clean_text(value)


def _provider_name(value: object) -> str | None:
    """The provider, which also becomes an organisation and an alias (keys of shared tables): a
    name no key can hold is refused here, so the region alone is set aside, not three records."""
    return key_text(_text(value, "name"), "provider name")


def country_iso3(country_name: str | None, metro: str) -> str | None:
    """ISO3 of the metro's country; Hong Kong and Macau count as themselves, not as China."""
    return place_iso3(metro, country_name)


def _preferred(variants: Counter) -> tuple:
    """One variant among rows that disagree, independent of the order the source lists them.

    In service first, then the variant listed most often, then the most zones, then the smallest
    value (so the choice is stable when the source reorders its lists).
    """
    def rank(item: tuple[tuple, int]) -> tuple:
        values, count = item
        in_service, zones = values[5], values[6]
        return (in_service is not True, -count, -(zones or 0), tuple("" if v is None else str(v) for v in values))

    return min(variants.items(), key=rank)[0]


_FIELDS = ("region_name", "country_name", "country_iso3", "latitude", "longitude", "in_service", "zones")


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None
) -> ParsedBatch:
    """The raw cloud-regions file -> one row per (provider, region code, metro)."""
    bodies = {payload.url: payload.body for payload in payloads}
    if CLOUD_REGIONS_URL not in bodies:
        raise SourceFormatError(f"run has no {CLOUD_REGIONS_URL}")
    url = CLOUD_REGIONS_URL
    doc = load_json(bodies[url], url)
    if not isinstance(doc, dict) or not isinstance(doc.get("cloud_regions"), list):
        raise SourceFormatError(f"{url}: expected a JSON object with a 'cloud_regions' list")

    warnings: list[str] = []
    set_aside: list[SetAside] = []
    unidentified = 0  # records set aside without knowing which region they are
    candidates: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    unknown_countries: set[str] = set()
    for number, metro_doc in enumerate(doc["cloud_regions"], 1):
        # The metro's name and region list: without them its regions cannot be named.
        before = len(set_aside)
        with set_aside_on_error(set_aside, CLOUD_REGIONS.table, f"metro #{number}", url):
            if not isinstance(metro_doc, dict):
                raise TypeError(f"expected an object per metro, got {type(metro_doc).__name__}")
            require(metro_doc, ("metro_area", "country", "cloud_service_providers"), url)
            metro = _text(metro_doc["metro_area"], "metro_area")
            providers = metro_doc["cloud_service_providers"] or []
            if not isinstance(providers, list):
                raise TypeError(f"cloud_service_providers: expected a list, got {type(providers).__name__}")
        if len(set_aside) > before:
            unidentified += 1
            continue
        if metro is None:
            warnings.append(f"a metro without a name was skipped ({len(providers)} regions)")
            continue
        # The metro's own values: if they cannot be read, each of its regions is set aside with the reason.
        metro_error: Exception | None = None
        try:
            country = _text(metro_doc["country"], "country")
            iso3 = country_iso3(country, metro)
            latitude = _number(metro_doc.get("latitude"), float, "latitude")
            longitude = _number(metro_doc.get("longitude"), float, "longitude")
        except UNREADABLE as exc:
            metro_error = exc
        for position, provider_doc in enumerate(providers, 1):
            before = len(set_aside)
            with set_aside_on_error(set_aside, CLOUD_REGIONS.table, f"{metro} region #{position}", url):
                if not isinstance(provider_doc, dict):
                    raise TypeError(f"expected an object per region, got {type(provider_doc).__name__}")
                require(provider_doc, ("name",), url)
                region_name = _text(provider_doc.get("cloud_region_name"), "cloud_region_name")
                code = region_key_code(_text(provider_doc.get("cloud_region"), "cloud_region"), region_name)
                provider_text = _text(provider_doc["name"], "name")
            if len(set_aside) > before:
                unidentified += 1
                continue
            if provider_text is None:
                warnings.append(f"{metro}: a region without a provider name was skipped")
                continue
            key = (provider_text, code, metro)
            with set_aside_on_error(set_aside, CLOUD_REGIONS.table, "|".join(key), url, entity_key=key):
                if metro_error is not None:
                    raise metro_error
                _provider_name(provider_doc["name"])
                zones = _number(provider_doc.get("zones"), int, "zones")
                in_service = _boolean(provider_doc.get("in_service"))
                if country and iso3 is None:
                    unknown_countries.add(country)
                values = (region_name, country, iso3, latitude, longitude, in_service, zones)
                candidates[key][values] += 1
    if doc["cloud_regions"] and not candidates and set_aside:
        raise SourceFormatError(f"{url}: no region could be read ({len(set_aside)} set aside, e.g. "
                                f"{set_aside[0].reason}); the file's format may have changed")  # fmt: skip

    organisations = OrganisationCollector(resolver)
    rows = []
    coordinate_conflicts: dict[str, set[tuple]] = defaultdict(set)
    for key in sorted(candidates):
        variants = candidates[key]
        values = next(iter(variants)) if len(variants) == 1 else _preferred(variants)
        if len(variants) > 1:
            differing = sorted({f for v in variants for f, a, b in zip(_FIELDS, v, values, strict=True) if a != b})
            if set(differing) <= {"latitude", "longitude"}:
                coordinate_conflicts[key[2]] |= {(v[3], v[4]) for v in variants}
            else:
                shown = "; ".join(
                    ", ".join(f"{f}={v[_FIELDS.index(f)]!r}" for f in differing) for v in sorted(variants, key=str)
                )
                kept = ", ".join(f"{f}={values[_FIELDS.index(f)]!r}" for f in differing)
                warnings.append(f"{' / '.join(key)} is listed {sum(variants.values())} times with different "
                                f"values ({shown}); kept {kept}")  # fmt: skip
        organisation_id = organisations.resolve(key[0]).organisation_id
        rows.append((*key, *values, organisation_id))
    for metro, points in sorted(coordinate_conflicts.items()):
        kept = {(r[6], r[7]) for r in rows if r[2] == metro}
        warnings.append(f"metro {metro!r} is listed at {len(points)} different coordinates {sorted(points)}; "
                        f"kept {sorted(kept)}")  # fmt: skip
    codes_in_metros: dict[tuple[str, str], set[str]] = defaultdict(set)
    for provider, code, metro, *_ in rows:
        if not code.startswith(NO_CODE_PREFIX):
            codes_in_metros[(provider, code)].add(metro)
    for (provider, code), metros in sorted(codes_in_metros.items()):
        if len(metros) > 1:
            warnings.append(f"{provider} region {code} is listed in {len(metros)} metros {sorted(metros)}: one row each")
    if unknown_countries:
        warnings.append(f"unknown country names (add to normalise/countries.py): {sorted(unknown_countries)}")

    listed = sum(sum(v.values()) for v in candidates.values())
    if listed > len(rows):
        log.info("cloud_regions: %d provider entries collapsed into %d regions", listed, len(rows))
    # A record that cannot say which region it is might be any region: mark none removed this run.
    return ParsedBatch(rows={CLOUD_REGIONS.table: rows, **organisations.rows()}, entities=len(rows), warnings=warnings,
                       complete=unidentified == 0, set_aside=set_aside)  # fmt: skip
