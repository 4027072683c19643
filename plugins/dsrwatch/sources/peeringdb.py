"""PeeringDB facilities (data centres) and the organisations that operate them (brief section 5).

Endpoints: ``/api/org`` and ``/api/fac``, each answering ``{"data": [...], "meta": {}}``, read
with ``depth=0`` in pages of ``limit``/``skip`` (a page shorter than ``limit`` is the last).

Incremental: the first run (and every run after ``FULL_REFRESH_DAYS`` or without a cursor) reads
everything and is a complete batch, so missing rows are marked removed. Later runs ask only for
``since=<unix seconds>``: PeeringDB then returns every object changed since, deleted ones included
with ``status: "deleted"``; those go to ``deleted_keys`` and the batch is not complete.

The cursor (``ops.source_cursors``) is ``{"since": {"fac": ts, "org": ts}, "full_refresh_at": ts}``.
A parser sees payloads, not fetch times, so the next ``since`` is the newest ``updated`` stamp the
run received minus ``SINCE_OVERLAP_SECONDS``, and never earlier than the previous one. Those stamps
are PeeringDB's own clock (no skew with ours), and the overlap is longer than a full fetch lasts,
so an object changed while its page was already read is fetched again next time.

Which facilities matter is decided in SQL (``analyst.data_centres``): every facility and
organisation is kept, the operator's name resolves through ``core.organisation_aliases``, so a
registry alias added later takes effect without a refetch. Names written to ``core.organisations``
and its aliases: every facility's ``org_name``, the names of organisations operating a facility in
the batch, and any organisation name the registry knows - not the ~30,000 network organisations
(their fuzzy near misses would flood the review list). A complete and an incremental read of the
same data record the same names, so an unchanged rerun writes nothing. An operator renamed to a
name the registry does not know keeps the organisation of its previous name in the views until
the next complete read refreshes the facility's ``org_name``.

Rate limits: 20 requests/min anonymous, 40 with an API key; 429s are retried by the fetch layer
after ``Retry-After``. The key comes from the Airflow connection ``peeringdb`` (password field)
and is sent as ``Authorization: Api-Key <key>``; it is never logged.
Licence: PeeringDB Acceptable Use Policy (https://www.peeringdb.com/aup): no commercial use.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from datetime import datetime

from dsrwatch import config
from dsrwatch.fetching import FetchedResponse, Fetcher
from dsrwatch.normalise.countries import to_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text
from dsrwatch.sources.base import (
    ORGANISATION_ALIASES,
    ORGANISATIONS,
    ChangeGuard,
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

HOST = "www.peeringdb.com"
API_BASE = f"https://{HOST}/api"
ENDPOINTS = ("org", "fac")  # fetch order: organisations, then the facilities that point at them
PAGE_SIZE = 500  # PeeringDB asks for fewer, larger queries; 500 facilities are about 0.5 MB
MAX_PAGES = 1_000
SINCE_OVERLAP_SECONDS = 3_600
FULL_REFRESH_DAYS = 28  # a complete read now and then also catches anything an incremental run cannot
CONNECTION_ID = "peeringdb"
ANONYMOUS_DELAY = 3.0  # 20 requests/min
KEYED_DELAY = 2.0  # 40 requests/min allowed; PeeringDB asks for at least two seconds between queries
# ISO 3166-1 alpha-2 codes PeeringDB uses that pycountry does not know.
ISO2_OVERRIDES = {"XK": "XKX"}

FACILITIES = EntityTable(
    "core.peeringdb_facilities",
    key=("facility_id",),
    columns=("org_id", "org_name", "name", "city", "country_iso2", "country_iso3", "latitude", "longitude",
             "created", "updated", "status", "operator_organisation_id"),
)  # fmt: skip
PEERINGDB_ORGANISATIONS = EntityTable(
    "core.peeringdb_organisations",
    key=("org_id",),
    columns=("name", "aka", "name_long", "website", "city", "country_iso2", "country_iso3", "created", "updated",
             "status"),
)  # fmt: skip

SOURCE = SourceSpec(
    name="peeringdb",
    title="PeeringDB facilities and organisations",
    category="data_centres",
    hosts=(HOST,),
    homepage="https://www.peeringdb.com/",
    licence="PeeringDB Acceptable Use Policy (https://www.peeringdb.com/aup): no commercial use",
    attribution="PeeringDB",
    schedule="40 2 * * *",  # daily 02:40 UTC: an incremental run is a few requests
    # Facilities first (the run's headline counts), organisations before the facilities' aliases use them.
    tables=(FACILITIES, PEERINGDB_ORGANISATIONS, ORGANISATIONS, ORGANISATION_ALIASES),
    expectations=(
        # About 5,850 facilities and 37,800 organisations in the 2024-10 public cache.
        RowCountBounds("core.peeringdb_facilities", 3_000, 20_000),
        RowCountBounds("core.peeringdb_organisations", 15_000, 150_000),
        MaxNullFraction("core.peeringdb_facilities", "country_iso3", 0.01),
        MaxNullFraction("core.peeringdb_facilities", "latitude", 0.15),  # 6% in the 2026 sample pages
    ),
    politeness_delay=ANONYMOUS_DELAY,
    fetcher_options={"backoff_base": 5.0},
    views=("analyst.data_centres",),
    # since= reads list deletions explicitly and bring a week of edits: a tighter removal bound.
    incremental_change_guard=ChangeGuard(max_removed_fraction=0.05),
)


# -- the API key -------------------------------------------------------------------------------
def _inside_airflow_task() -> bool:
    if "airflow.sdk" not in sys.modules:  # never import Airflow just to find out
        return False
    try:
        from airflow.sdk import get_current_context

        get_current_context()
    except Exception:
        return False
    return True


def api_key() -> str | None:
    """The password of the Airflow connection ``peeringdb``, or None to fetch anonymously.

    Looked up only when ``AIRFLOW_CONN_PEERINGDB`` is set or inside an Airflow task, so plain
    scripts and tests never import Airflow for it. The key itself is never logged.
    """
    if not os.environ.get(f"AIRFLOW_CONN_{CONNECTION_ID.upper()}") and not _inside_airflow_task():
        return None
    try:
        from airflow.sdk import Connection

        connection = Connection.get(CONNECTION_ID)
    except ImportError:
        return None
    except Exception as exc:  # not defined (the usual case), or a secrets backend that cannot answer
        level = logging.DEBUG if type(exc).__name__ == "AirflowNotFoundException" else logging.WARNING
        log.log(level, "peeringdb: no usable Airflow connection %r (%s); fetching anonymously",
                CONNECTION_ID, type(exc).__name__)  # fmt: skip
        return None
    key = (getattr(connection, "password", None) or "").strip()
    return key or None


# -- fetch -------------------------------------------------------------------------------------
def fetch_plan(cursor: dict | None, now: float | None = None) -> dict[str, int | None]:
    """``since`` per endpoint for this run; None everywhere means a complete read."""
    full = dict.fromkeys(ENDPOINTS)
    if not cursor:
        return full
    since = cursor.get("since") or {}
    refreshed = cursor.get("full_refresh_at")
    now = time.time() if now is None else now
    if refreshed is None or now - refreshed > FULL_REFRESH_DAYS * 86_400:
        return full
    if any(since.get(endpoint) is None for endpoint in ENDPOINTS):
        return full
    return {endpoint: int(since[endpoint]) for endpoint in ENDPOINTS}


def page_params(since: int | None, skip: int, limit: int | None = None) -> dict[str, int]:
    """Query parameters in the order they are sent (the replay file name depends on it)."""
    params = {"depth": 0}
    if since is not None:
        params["since"] = since
    params["limit"] = PAGE_SIZE if limit is None else limit
    params["skip"] = skip
    return params


def records(body: bytes, url: str) -> list[dict]:
    """The ``data`` list of one page, each record checked for the fields every object has."""
    doc = load_json(body, url)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise SourceFormatError(f"{url}: expected a JSON object with a 'data' list")
    for record in doc["data"]:
        if not isinstance(record, dict):
            raise SourceFormatError(f"{url}: expected an object per record, got {type(record).__name__}")
        require(record, ("id", "status", "updated"), url)
    return doc["data"]


def _pages(fetcher: Fetcher, url: str, since: int | None) -> Iterator[FetchedResponse]:
    skip = 0
    for _ in range(MAX_PAGES):
        response = fetcher.get(url, params=page_params(since, skip))
        yield response
        if len(records(response.body, response.url)) < PAGE_SIZE:
            return
        skip += PAGE_SIZE
    raise SourceFormatError(f"{url}: still full pages after {MAX_PAGES} pages of {PAGE_SIZE}; is limit ignored?")


def fetch(
    fetcher: Fetcher, cursor: dict | None = None, *, base_url: str = API_BASE, now: float | None = None
) -> Iterator[FetchedResponse]:
    """Organisations, then facilities, page by page: everything, or what changed since the cursor."""
    key = api_key()
    if key:
        fetcher.headers = {**fetcher.headers, "Authorization": f"Api-Key {key}"}
        fetcher.politeness_delay = config.politeness_delay_seconds(KEYED_DELAY)
    plan = fetch_plan(cursor, now)
    log.info("peeringdb: %s read%s, %s", "incremental" if plan["fac"] is not None else "complete",
             "".join(f", {e} since {s}" for e, s in plan.items() if s is not None),
             "with the API key of connection peeringdb" if key else "anonymous")  # fmt: skip
    for endpoint in ENDPOINTS:
        yield from _pages(fetcher, f"{base_url}/{endpoint}", plan[endpoint])


# -- parse -------------------------------------------------------------------------------------
def _endpoint_and_query(url: str) -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    endpoint = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if endpoint not in ENDPOINTS:
        raise SourceFormatError(f"{url}: not a PeeringDB {'/'.join(ENDPOINTS)} page")
    return endpoint, dict(urllib.parse.parse_qsl(parts.query))


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _float(value: object) -> float | None:
    try:
        return float(value) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def parse_timestamp(value: object) -> datetime | None:
    """PeeringDB's ``2010-07-29T00:00:00Z`` -> an aware datetime; None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def iso3_of(iso2: str | None) -> str | None:
    if not iso2:
        return None
    return ISO2_OVERRIDES.get(iso2) or (to_iso3(iso2) if len(iso2) == 2 else None)


def _check_pages(endpoint: str, pages: list[tuple[dict[str, str], list[dict], str]]) -> int | None:
    """The pages of one endpoint must run from skip 0 to a short last page; returns their since."""
    if not pages:
        raise SourceFormatError(f"run has no /api/{endpoint} page")
    sinces = {query.get("since") for query, _, _ in pages}
    if len(sinces) > 1:
        raise SourceFormatError(f"/api/{endpoint} pages of one run ask for different since values {sorted(map(str, sinces))}")
    ordered = sorted(pages, key=lambda p: _int(p[0].get("skip")) or 0)
    expected_skip = 0
    for index, (query, data, url) in enumerate(ordered):
        limit, skip = _int(query.get("limit")), _int(query.get("skip")) or 0
        if limit is None or skip != expected_skip:
            raise SourceFormatError(f"{url}: expected a page at skip={expected_skip} with a limit; pages are missing")
        last = index == len(ordered) - 1
        if last != (len(data) < limit):
            raise SourceFormatError(f"{url}: {len(data)} records with limit={limit}, but it is "
                                    f"{'the last page' if last else 'not the last page'}")  # fmt: skip
        expected_skip += limit
    since = sinces.pop()
    return _int(since) if since is not None else None


def _newest(records_: list[dict], what: str, warnings: list[str]) -> dict[int, dict]:
    """One record per id; the same id twice (a page boundary moved) keeps the latest version."""
    by_id: dict[int, dict] = {}
    conflicts = 0
    for record in records_:
        record_id = _int(record["id"])
        if record_id is None:
            raise SourceFormatError(f"{what}: record id {record['id']!r} is not an integer")
        seen = by_id.get(record_id)
        if seen is None:
            by_id[record_id] = record
            continue
        if seen != record:
            conflicts += 1
        version = (str(record.get("updated") or ""), json.dumps(record, sort_keys=True))
        if version > (str(seen.get("updated") or ""), json.dumps(seen, sort_keys=True)):
            by_id[record_id] = record
    if conflicts:
        warnings.append(f"{what}: {conflicts} record(s) came twice with different content; kept the latest updated")
    return by_id


def _latest_updated(records_: Iterable[dict]) -> int | None:
    stamps = [parse_timestamp(r.get("updated")) for r in records_]
    stamps = [s for s in stamps if s is not None]
    return int(max(stamps).timestamp()) if stamps else None


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None
) -> ParsedBatch:
    """Raw pages of one run -> facility and organisation rows (complete, or incremental with deletions)."""
    pages: dict[str, list] = {endpoint: [] for endpoint in ENDPOINTS}
    for payload in payloads:
        endpoint, query = _endpoint_and_query(payload.url)
        pages[endpoint].append((query, records(payload.body, payload.url), payload.url))
    sinces = {endpoint: _check_pages(endpoint, pages[endpoint]) for endpoint in ENDPOINTS}
    incremental = {s is not None for s in sinces.values()}
    if len(incremental) > 1:
        raise SourceFormatError(f"run mixes complete and incremental reads: since per endpoint {sinces}")
    complete = incremental == {False}

    warnings: list[str] = []
    received = {e: _newest([r for _, data, _ in pages[e] for r in data], f"/api/{e}", warnings) for e in ENDPOINTS}
    organisations = OrganisationCollector(resolver)
    unknown_countries: set[str] = set()
    other_statuses: dict[str, int] = {}

    def present(record: dict) -> bool:
        status = record.get("status")
        if status != "ok" and status != "deleted":
            other_statuses[str(status)] = other_statuses.get(str(status), 0) + 1
        return status == "ok"

    def country(record: dict) -> tuple[str | None, str | None]:
        iso2 = (clean_text(record.get("country")) or "").upper() or None
        iso3 = iso3_of(iso2)
        if iso2 and iso3 is None:
            unknown_countries.add(iso2)
        return iso2, iso3

    facility_rows, facility_gone, operator_ids = [], [], set()
    for facility_id, record in sorted(received["fac"].items()):
        if not present(record):
            facility_gone.append((facility_id,))
            continue
        require(record, ("org_id", "name"), "/api/fac")
        name = clean_text(record.get("name"))
        if name is None:
            name = f"PeeringDB facility {facility_id}"
            warnings.append(f"facility {facility_id} has no name")
        org_name = clean_text(record.get("org_name"))
        org_id = _int(record.get("org_id"))
        operator = organisations.resolve(org_name).organisation_id if org_name else None
        if org_id is not None:
            operator_ids.add(org_id)
        iso2, iso3 = country(record)
        facility_rows.append((
            facility_id, org_id, org_name, name, clean_text(record.get("city")), iso2, iso3,
            _float(record.get("latitude")), _float(record.get("longitude")),
            parse_timestamp(record.get("created")), parse_timestamp(record.get("updated")), record["status"], operator,
        ))  # fmt: skip

    organisation_rows, organisation_gone = [], []
    for org_id, record in sorted(received["org"].items()):
        if not present(record):
            organisation_gone.append((org_id,))
            continue
        require(record, ("name",), "/api/org")
        name = clean_text(record.get("name")) or f"PeeringDB organisation {org_id}"
        # Operators, and organisations the registry knows; not the ~30,000 other (network) organisations.
        resolution = organisations.resolver.resolve(name)
        if org_id in operator_ids or resolution.method.startswith("registry"):
            organisations.resolve(name)
        iso2, iso3 = country(record)
        organisation_rows.append((
            org_id, name, clean_text(record.get("aka")), clean_text(record.get("name_long")),
            clean_text(record.get("website")), clean_text(record.get("city")), iso2, iso3,
            parse_timestamp(record.get("created")), parse_timestamp(record.get("updated")), record["status"],
        ))  # fmt: skip

    if complete and (facility_gone or organisation_gone):
        warnings.append(f"a complete read listed {len(facility_gone)} facilities and {len(organisation_gone)} "
                        "organisations that are not 'ok'; they count as removed")  # fmt: skip
    if other_statuses:
        warnings.append(f"records neither 'ok' nor 'deleted' (not public, so treated as removed): {other_statuses}")
    if unknown_countries:
        warnings.append(f"unknown country codes (add to ISO2_OVERRIDES or normalise/countries.py): "
                        f"{sorted(unknown_countries)}")  # fmt: skip

    return ParsedBatch(
        rows={FACILITIES.table: facility_rows, PEERINGDB_ORGANISATIONS.table: organisation_rows,
              **organisations.rows()},  # fmt: skip
        entities=len(facility_rows) + len(facility_gone),
        complete=complete,
        deleted_keys={} if complete else {FACILITIES.table: facility_gone, PEERINGDB_ORGANISATIONS.table: organisation_gone},
        cursor=next_cursor(cursor, received, complete),
        warnings=warnings,
    )


def next_cursor(cursor: dict | None, received: dict[str, dict[int, dict]], complete: bool) -> dict:
    """``since`` per endpoint: the newest ``updated`` received minus the overlap, never moving back."""
    previous = ({} if complete else (cursor or {}).get("since")) or {}
    since: dict[str, int | None] = {}
    for endpoint in ENDPOINTS:
        newest = _latest_updated(received[endpoint].values())
        candidates = [s for s in (previous.get(endpoint), newest - SINCE_OVERLAP_SECONDS if newest else None) if s]
        since[endpoint] = max(candidates) if candidates else None
    if complete:
        stamps = [s for s in (_latest_updated(received[e].values()) for e in ENDPOINTS) if s is not None]
        full_refresh_at = max(stamps) if stamps else None
    else:
        full_refresh_at = (cursor or {}).get("full_refresh_at")
    return {"since": since, "full_refresh_at": full_refresh_at}
