"""TeleGeography Cloud Infrastructure Map: public-cloud regions per metro (brief section 5).

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
    RowCountBounds,
    SourceFormatError,
    SourceSpec,
    load_json,
    require,
)
from dsrwatch.warehouse.loading import EntityTable
from dsrwatch.warehouse.raw import RawPayload

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
)


# -- fetch -------------------------------------------------------------------------------------
def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """The one file: the whole map, every run."""
    yield fetcher.get(CLOUD_REGIONS_URL)


# -- parse -------------------------------------------------------------------------------------
def region_key_code(region_code: str | None, region_name: str | None) -> str:
    """The key's region code: the code, or ``name:<region name>`` when the source has none."""
    return region_code if region_code else f"{NO_CODE_PREFIX}{region_name or ''}"


def _number(value: object, kind: type, what: str, warnings: list[str]) -> float | int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        warnings.append(f"{what}: {value!r} is not a number")
        return None
    try:
        return kind(value) if isinstance(value, int | float) else kind(str(value).strip())
    except ValueError:
        warnings.append(f"{what}: {value!r} is not a number")
        return None


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().casefold()
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text)


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
    candidates: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    unknown_countries: set[str] = set()
    for metro_doc in doc["cloud_regions"]:
        if not isinstance(metro_doc, dict):
            raise SourceFormatError(f"{url}: expected an object per metro, got {type(metro_doc).__name__}")
        require(metro_doc, ("metro_area", "country", "cloud_service_providers"), url)
        metro = clean_text(metro_doc["metro_area"])
        if metro is None:
            warnings.append(f"a metro without a name was skipped ({len(metro_doc['cloud_service_providers'] or [])} regions)")
            continue
        country = clean_text(metro_doc["country"])
        iso3 = country_iso3(country, metro)
        if country and iso3 is None:
            unknown_countries.add(country)
        latitude = _number(metro_doc.get("latitude"), float, f"{metro}: latitude", warnings)
        longitude = _number(metro_doc.get("longitude"), float, f"{metro}: longitude", warnings)
        for provider_doc in metro_doc["cloud_service_providers"] or []:
            require(provider_doc, ("name",), url)
            provider = clean_text(provider_doc["name"])
            if provider is None:
                warnings.append(f"{metro}: a region without a provider name was skipped")
                continue
            region_name = clean_text(provider_doc.get("cloud_region_name"))
            code = region_key_code(clean_text(provider_doc.get("cloud_region")), region_name)
            zones = _number(provider_doc.get("zones"), int, f"{provider} {code} ({metro}): zones", warnings)
            values = (region_name, country, iso3, latitude, longitude, _boolean(provider_doc.get("in_service")), zones)
            candidates[(provider, code, metro)][values] += 1

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
    return ParsedBatch(rows={CLOUD_REGIONS.table: rows, **organisations.rows()}, entities=len(rows), warnings=warnings)
