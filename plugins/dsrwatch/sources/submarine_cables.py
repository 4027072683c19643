"""TeleGeography Submarine Cable Map, public API v3.

Endpoints: ``cable/all.json`` (index of ids), ``cable/{id}.json`` (one per cable, with landing
points, owners and suppliers as comma-separated text), ``landing-point/landing-point-geo.json``
(coordinates). The API is static JSON with no key and no incremental query: every run fetches
the whole map, and conditional GETs keep unchanged files cheap.

Keys: cable ``id`` (slug; a rename is a delete plus an add), landing point ``id``.
Licence: CC BY-NC-SA 3.0 at the 2022 snapshot; attribute "TeleGeography Submarine Cable Map".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator

from dsrwatch.fetching import FetchedResponse, Fetcher
from dsrwatch.normalise.countries import place_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text, split_party_list
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
from dsrwatch.warehouse.tables import EntityTable, RawPayload

log = logging.getLogger(__name__)

HOST = "www.submarinecablemap.com"
API_BASE = f"https://{HOST}/api/v3"
CABLE_INDEX_URL = f"{API_BASE}/cable/all.json"
LANDING_POINT_GEO_URL = f"{API_BASE}/landing-point/landing-point-geo.json"


def cable_url(cable_id: str) -> str:
    return f"{API_BASE}/cable/{cable_id}.json"


CABLES = EntityTable(
    "core.submarine_cables",
    key=("source_id",),
    columns=("name", "length_km", "rfs", "rfs_year", "is_planned", "url", "notes"),
    # The longest cable (2Africa) is 45,000 km; the first telegraph cable landed in 1850.
    rules=(Range("length_km", 0, 100_000), Range("rfs_year", 1850, 2100)),
)
LANDING_POINTS = EntityTable(
    "core.landing_points",
    key=("source_id",),
    columns=("name", "country_name", "country_iso3", "latitude", "longitude", "is_tbd"),
    rules=(Range("latitude", -90, 90), Range("longitude", -180, 180)),
)
CABLE_LANDING_POINTS = EntityTable(
    "core.cable_landing_points", key=("cable_id", "landing_point_id"), columns=(), entity_columns=("cable_id",)
)
CABLE_PARTIES = EntityTable(
    "core.cable_parties", key=("cable_id", "role", "organisation_id"), columns=("source_name",),
    entity_columns=("cable_id",),
)

SOURCE = SourceSpec(
    name="submarine_cables",
    title="TeleGeography Submarine Cable Map (API v3)",
    category="cables",
    hosts=(HOST,),
    homepage="https://www.submarinecablemap.com/",
    licence="CC BY-NC-SA 3.0 (2022 snapshot)",
    attribution="TeleGeography Submarine Cable Map",
    schedule="0 3 * * 1",  # weekly, Monday 03:00 UTC, ahead of the 06:00 digest
    # Organisations first: the parties reference them.
    tables=(CABLES, ORGANISATIONS, ORGANISATION_ALIASES, LANDING_POINTS, CABLE_LANDING_POINTS, CABLE_PARTIES),
    expectations=(
        # The 2022 map had 526 cables and ~1,400 landing points; a collapse means a broken fetch.
        RowCountBounds("core.submarine_cables", 400, 2_000),
        RowCountBounds("core.landing_points", 1_000, 5_000),
        MaxNullFraction("core.landing_points", "country_iso3", 0.01),
        MaxNullFraction("core.landing_points", "latitude", 0.01),
    ),
    politeness_delay=0.5,
    views=("analyst.submarine_cables", "analyst.landing_points", "analyst.organisations"),
    # Real files: 0.6 MB at most (cable-geo.json); a 200 MB "JSON" is refused, not parsed.
    max_payload_bytes=64 * 2**20,
)


# -- fetch -------------------------------------------------------------------------------------
def cable_ids(index_body: bytes, url: str = CABLE_INDEX_URL) -> list[str]:
    index = load_json(index_body, url)
    if not isinstance(index, list):
        raise SourceFormatError(f"{url}: expected a JSON list of cables, got {type(index).__name__}")
    ids = []
    for entry in index:
        require(entry, ("id",), url)
        ids.append(entry["id"])
    return ids


def fetch(fetcher: Fetcher, cursor: dict | None = None) -> Iterator[FetchedResponse]:
    """The index, then every cable file, then the landing-point coordinates."""
    index = fetcher.get(CABLE_INDEX_URL)
    yield index
    ids = cable_ids(index.body)
    log.info("submarine_cables: index lists %d cables", len(ids))
    for cable_id in ids:
        yield fetcher.get(cable_url(cable_id))
    yield fetcher.get(LANDING_POINT_GEO_URL)


# -- parse -------------------------------------------------------------------------------------
_LENGTH = re.compile(r"^\s*([\d,]+(?:\.\d+)?)\s*km\s*$", re.IGNORECASE)


def parse_length_km(value: object) -> float | None:
    """"21,500 km" -> 21500.0; None or unparseable -> None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _LENGTH.match(str(value))
    return float(match.group(1).replace(",", "")) if match else None


def _as_int(value: object) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _landing_point_country_from_name(name: str | None) -> str | None:
    # Geo-only landing points carry no country; their names end in ", <Country>".
    return name.rsplit(",", 1)[-1].strip() if name and "," in name else None


def _geo_points(body: bytes, url: str) -> dict[str, dict]:
    geo = load_json(body, url)
    if not isinstance(geo, dict) or not isinstance(geo.get("features"), list):
        raise SourceFormatError(f"{url}: expected a GeoJSON FeatureCollection with 'features'")
    points: dict[str, dict] = {}
    for feature in geo["features"]:
        props = feature.get("properties") or {}
        require(props, ("id",), url)
        coords = (feature.get("geometry") or {}).get("coordinates") or [None, None]
        points[props["id"]] = {
            "name": clean_text(props.get("name")),
            "is_tbd": props.get("is_tbd"),
            "longitude": coords[0],
            "latitude": coords[1],
        }
    return points


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None
) -> ParsedBatch:
    """Raw payloads of one run -> rows for every cable table."""
    organisations = OrganisationCollector(resolver)
    bodies = {payload.url: payload.body for payload in payloads}
    if CABLE_INDEX_URL not in bodies:
        raise SourceFormatError(f"run has no {CABLE_INDEX_URL}")
    if LANDING_POINT_GEO_URL not in bodies:
        raise SourceFormatError(f"run has no {LANDING_POINT_GEO_URL}")
    index_ids = cable_ids(bodies[CABLE_INDEX_URL])
    geo = _geo_points(bodies[LANDING_POINT_GEO_URL], LANDING_POINT_GEO_URL)
    missing = [i for i in index_ids if cable_url(i) not in bodies]
    if missing:
        raise SourceFormatError(f"index lists {len(missing)} cables with no cable file, e.g. {missing[:5]}")
    warnings: list[str] = []
    set_aside: list[SetAside] = []
    cables, links, parties = [], [], {}
    landing: dict[str, dict] = {}
    unknown_countries: set[str] = set()

    for cable_id in index_ids:
        url = cable_url(cable_id)
        # One unreadable cable file is set aside (the cable keeps its previous version); the rest load.
        with set_aside_on_error(set_aside, CABLES.table, cable_id, url, entity_key=(cable_id,)):
            doc = load_json(bodies[url], url)
            if not isinstance(doc, dict):
                raise TypeError(f"expected a JSON object for one cable, got {type(doc).__name__}")
            require(doc, ("id", "name", "landing_points"), url)
            length = parse_length_km(doc.get("length"))
            if length is None and doc.get("length"):
                warnings.append(f"{cable_id}: unparseable length {doc.get('length')!r}")
            cables.append((
                cable_id, clean_text(doc["name"]), length, clean_text(doc.get("rfs")), _as_int(doc.get("rfs_year")),
                doc.get("is_planned"), clean_text(doc.get("url")), clean_text(doc.get("notes")),
            ))  # fmt: skip
            for lp in doc["landing_points"] or []:
                require(lp, ("id",), url)
                landing.setdefault(lp["id"], {"name": clean_text(lp.get("name")),
                                              "country": clean_text(lp.get("country")), "is_tbd": lp.get("is_tbd")})  # fmt: skip
                links.append((cable_id, lp["id"]))
            for role, field in (("owner", "owners"), ("supplier", "suppliers")):
                for name in split_party_list(doc.get(field)):
                    res = organisations.resolve(name)
                    key = (cable_id, role, res.organisation_id)
                    if key in parties:  # two spellings of one organisation on the same cable
                        parties[key] = (*key, f"{parties[key][3]}; {name}")
                    else:
                        parties[key] = (*key, name)

    landing_rows = []
    for lp_id in sorted(set(landing) | set(geo)):
        from_cable = landing.get(lp_id, {})
        from_geo = geo.get(lp_id, {})
        name = from_cable.get("name") or from_geo.get("name") or lp_id
        country = from_cable.get("country") or _landing_point_country_from_name(from_geo.get("name"))
        # Hong Kong and Macau stations are filed under "China" by TeleGeography ("Chung Hom Kok, China").
        iso3 = place_iso3(name.rsplit(",", 1)[0] if "," in name else name, country)
        if country and iso3 is None:
            unknown_countries.add(country)
        is_tbd = from_geo.get("is_tbd") if from_geo.get("is_tbd") is not None else from_cable.get("is_tbd")
        landing_rows.append((lp_id, name, country, iso3, from_geo.get("latitude"), from_geo.get("longitude"),
                             bool(is_tbd) if is_tbd is not None else None))  # fmt: skip
        if not from_geo:
            warnings.append(f"landing point {lp_id} has no coordinates in the geo file")
    if unknown_countries:
        warnings.append(f"unknown country names (add to normalise/countries.py): {sorted(unknown_countries)}")

    return ParsedBatch(
        rows={
            CABLES.table: cables,
            **organisations.rows(),
            LANDING_POINTS.table: landing_rows,
            CABLE_LANDING_POINTS.table: sorted(set(links)),
            CABLE_PARTIES.table: list(parties.values()),
        },
        entities=len(cables),
        warnings=warnings,
        set_aside=set_aside,
    )
