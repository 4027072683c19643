"""PeeringDB facilities (data centres) and the organisations that operate them.

Endpoints: ``/api/org`` and ``/api/fac``, each answering ``{"data": [...], "meta": {}}``, read
with ``depth=0`` in pages of ``limit``/``skip`` (a page shorter than ``limit`` is the last).

Incremental: the first run (and every run after ``FULL_REFRESH_DAYS`` or without a cursor) reads
everything and is a complete batch, so missing rows are marked removed. Later runs ask only for
``since=<unix seconds>``: PeeringDB then returns every object changed since, deleted ones included
with ``status: "deleted"``; those go to ``deleted_keys`` and the batch is not complete.

The cursor (``ops.source_cursors``) is ``{"since": {"fac": ts, "org": ts}, "full_refresh_at": ts}``,
plus ``"empty_since": ts`` while ``since=`` reads return nothing at all.
A parser sees payloads, not fetch times, so the next ``since`` is the newest ``updated`` stamp the
run received minus ``SINCE_OVERLAP_SECONDS``, and never earlier than the previous one. Those stamps
are PeeringDB's own clock (no skew with ours), and the overlap is longer than a full fetch lasts,
so an object changed while its page was already read is fetched again next time.

A cursor comes only from trusted stamps. A record ``updated`` later than now + ``CLOCK_MARGIN`` is
set aside (it would drag ``since`` past every later change, and ``full_refresh_at`` past every
later complete read); the cursor never moves past now + ``CLOCK_MARGIN``; and a stored cursor that
looks wrong - ahead of now, malformed, or ``since=`` reads that have returned nothing for longer
than ``FULL_REFRESH_DAYS`` - is ignored with a warning: the run reads everything again.

Records: a record the parser cannot read (not an object, a missing field, an id or coordinate
that does not convert, text where an object is) is set aside with the reason, and the rest of the
run loads; the same id twice with the same ``updated`` but different content is set aside too.
A facility set aside keeps its previous version. A set-aside record that cannot be tied to a
facility (no readable id, or an organisation) could be any row absent from the read, so a complete
read with one removes only what it lists as deleted, like a ``since=`` read (a warning says so).
A page that is not a JSON object with a ``data`` list fails the run.

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
after ``Retry-After``. The key is declared on ``SOURCE`` (``api_key``) and applied by the fetch
layer: the password of the Airflow connection ``peeringdb``, sent as ``Authorization: Api-Key
<key>`` with a 2 s delay instead of 3 s; it is never logged.
Licence: PeeringDB Acceptable Use Policy (https://www.peeringdb.com/aup): no commercial use.
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from dsrwatch.fetching import ApiKeyConnection, FetchedResponse, Fetcher
from dsrwatch.normalise.countries import to_iso3
from dsrwatch.normalise.organisations import OrganisationResolver, clean_text
from dsrwatch.sources.base import (
    ORGANISATION_ALIASES,
    ORGANISATIONS,
    ChangeGuard,
    MaxNullFraction,
    NotAfterFetch,
    OrganisationCollector,
    ParsedBatch,
    Range,
    RowCountBounds,
    SetAside,
    SourceFormatError,
    SourceSpec,
    excerpt,
    load_json,
    require,
    set_aside_on_error,
)
from dsrwatch.validation import key_text
from dsrwatch.warehouse.tables import EntityTable, RawPayload

log = logging.getLogger(__name__)

HOST = "www.peeringdb.com"
API_BASE = f"https://{HOST}/api"
ENDPOINTS = ("org", "fac")  # fetch order: organisations, then the facilities that point at them
PAGE_SIZE = 500  # PeeringDB asks for fewer, larger queries; 500 facilities are about 0.5 MB
MAX_PAGES = 1_000
SINCE_OVERLAP_SECONDS = 3_600
FULL_REFRESH_DAYS = 28  # a complete read now and then also catches anything an incremental run cannot
# A stamp later than now + this is not trusted (NotAfterFetch's margin): clocks differ a little, not by days.
CLOCK_MARGIN = timedelta(days=2)
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
    rules=(Range("latitude", -90, 90), Range("longitude", -180, 180), NotAfterFetch("created"),
           NotAfterFetch("updated")),
)  # fmt: skip
PEERINGDB_ORGANISATIONS = EntityTable(
    "core.peeringdb_organisations",
    key=("org_id",),
    columns=("name", "aka", "name_long", "website", "city", "country_iso2", "country_iso3", "created", "updated",
             "status"),
    rules=(NotAfterFetch("created"), NotAfterFetch("updated")),
)  # fmt: skip
TABLES = {"fac": FACILITIES, "org": PEERINGDB_ORGANISATIONS}

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
    api_key=ApiKeyConnection(CONNECTION_ID, header="Authorization", value="Api-Key {key}",
                             politeness_delay=KEYED_DELAY),
    fetcher_options={"backoff_base": 5.0},
    views=("analyst.data_centres",),
    # since= reads list deletions explicitly and bring a week of edits: a tighter removal bound.
    incremental_change_guard=ChangeGuard(max_removed_fraction=0.05),
    # A page of 500 records is about 0.5 MB.
    max_payload_bytes=64 * 2**20,
)


# -- fetch -------------------------------------------------------------------------------------
def _shown(value: object) -> str:
    """A value as a message quotes it: repr, cut short."""
    return excerpt(repr(value)) or ""


def _stamp_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def distrust(cursor: dict, now: float) -> str | None:
    """Why a stored cursor cannot be trusted (so the run reads everything again), or None."""
    if not isinstance(cursor, dict) or not isinstance(cursor.get("since") or {}, dict):
        return f"it is not of the form {{'since': {{...}}, 'full_refresh_at': ...}}: {_shown(cursor)}"
    limit = now + CLOCK_MARGIN.total_seconds()
    stamps = [(f"since of /api/{e}", (cursor.get("since") or {}).get(e)) for e in ENDPOINTS]
    stamps += [("full_refresh_at", cursor.get("full_refresh_at")), ("empty_since", cursor.get("empty_since"))]
    for what, value in stamps:
        if value is None:
            continue
        if not _stamp_number(value):
            return f"{what} is {_shown(value)}, not a unix time"
        if value > limit:
            return (f"{what} is {datetime.fromtimestamp(value, UTC):%Y-%m-%d %H:%M} UTC, ahead of now "
                    f"({datetime.fromtimestamp(now, UTC):%Y-%m-%d %H:%M} UTC) + {CLOCK_MARGIN.days} days")  # fmt: skip
    empty_since = cursor.get("empty_since")
    if empty_since is not None and now - empty_since > FULL_REFRESH_DAYS * 86_400:
        return (f"since= reads have returned no record at all for {(now - empty_since) / 86_400:.0f} days, longer "
                f"than the {FULL_REFRESH_DAYS}-day full-refresh period")  # fmt: skip
    return None


def fetch_plan(cursor: dict | None, now: float | None = None) -> dict[str, int | None]:
    """``since`` per endpoint for this run; None everywhere means a complete read."""
    full = dict.fromkeys(ENDPOINTS)
    if not cursor:
        return full
    now = time.time() if now is None else now
    problem = distrust(cursor, now)
    if problem:
        log.warning("peeringdb: the stored cursor looks wrong (%s); reading everything again", problem)
        return full
    since = cursor.get("since") or {}
    refreshed = cursor.get("full_refresh_at")
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


def records(body: bytes, url: str) -> list:
    """The ``data`` list of one page. A page that is not ``{"data": [...]}`` is unreadable as a
    whole (an error page, a truncated body): SourceFormatError. Its records are read one by one
    in ``parse``, where one that cannot be read is set aside."""
    doc = load_json(body, url)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise SourceFormatError(f"{url}: expected a JSON object with a 'data' list")
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
    """Organisations, then facilities, page by page: everything, or what changed since the cursor.
    The API key, if any, is the fetcher's (declared as ``SOURCE.api_key``)."""
    plan = fetch_plan(cursor, now)
    log.info("peeringdb: %s read%s", "incremental" if plan["fac"] is not None else "complete",
             "".join(f", {e} since {s}" for e, s in plan.items() if s is not None))  # fmt: skip
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
    """A query-string number (lenient: None when absent or not a number)."""
    try:
        return int(value) if value is not None and str(value).strip() else None
    except ValueError:
        return None


def _as_int(value: object, field: str) -> int | None:
    """A record's integer field: None when absent; anything else that is not an integer is unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise TypeError(f"{field} is {_shown(value)}, expected an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{field} is {value!r}, expected an integer")
    try:
        return int(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise ValueError(f"{field} is {_shown(value)}, expected an integer") from None


def _as_float(value: object, field: str) -> float | None:
    """A record's number (coordinates): None when absent; NaN and infinity are returned as they are, for
    the declared rules to reject with the field named; text that is not a number is unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{field} is {_shown(value)}, expected a number")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{field} is {_shown(value)}, expected a number") from None


def _text(record: dict, field: str) -> str | None:
    """A record's text field, whitespace collapsed; an object or list where text belongs is unreadable."""
    value = record.get(field)
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise TypeError(f"{field} is {_shown(value)}, expected text")
    return clean_text(value)


def _organisation_name(record: dict, field: str) -> str | None:
    """A name that is resolved to an organisation becomes a key of the shared organisation tables: a
    NUL byte or a name too long for a key makes the record unreadable (one record set aside, not one
    per table the name would reach)."""
    return key_text(_text(record, field), field)


def parse_timestamp(value: object) -> datetime | None:
    """PeeringDB's ``2010-07-29T00:00:00Z`` -> an aware datetime; None when absent or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _as_stamp(value: object, field: str) -> datetime | None:
    """A record's timestamp: None when absent; one that is not an ISO 8601 time with a zone is unreadable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"{field} is {_shown(value)}, expected an ISO 8601 timestamp")
    parsed = parse_timestamp(value)
    if parsed is None:
        raise ValueError(f"{field} is {_shown(value)}, expected an ISO 8601 timestamp with a time zone")
    return parsed


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


def _record_id(record: dict, url: str) -> int:
    """The id of a readable record: an object with the fields every object has, and an integer id."""
    if not isinstance(record, dict):
        raise TypeError(f"expected an object per record, got {type(record).__name__}")
    require(record, ("id", "status", "updated"), url)
    record_id = _as_int(record["id"], "id")
    if record_id is None:
        raise ValueError(f"record id {_shown(record['id'])} is not an integer")
    return record_id


def _key_of(record: object, fallback: str) -> str:
    """What to file a set-aside record under: its id when it has a usable one."""
    record_id = record.get("id") if isinstance(record, dict) else None
    if isinstance(record_id, int | str) and not isinstance(record_id, bool) and str(record_id).strip():
        return str(record_id)
    return fallback


def _entity_of(endpoint: str, record: object) -> tuple | None:
    """The facility a set-aside record names (it keeps its previous version). Organisations are not
    the run's main entity, and validation.screen keeps only main entities the parser set aside; passing
    an organisation id would keep (and drop) the facility with the same number instead. ``parse``
    keeps the others from being removed by not treating the read as complete."""
    if endpoint != "fac" or not isinstance(record, dict):
        return None
    try:
        record_id = _as_int(record.get("id"), "id")
    except (TypeError, ValueError):
        return None
    return (record_id,) if record_id is not None else None


def _readable(endpoint: str, pages: list[tuple[dict[str, str], list, str]], warnings: list[str],
              set_aside: list[SetAside]) -> dict[int, tuple[dict, str]]:  # fmt: skip
    """One readable record per id, with its page's URL; the others are set aside.

    The same id twice (a page boundary moved between requests) keeps the version with the later
    ``updated``; two different versions with the same ``updated`` contradict each other: set aside."""
    table = TABLES[endpoint].table
    versions: dict[int, list[tuple[dict, str]]] = {}
    for query, data, url in sorted(pages, key=lambda p: _int(p[0].get("skip")) or 0):
        skip = _int(query.get("skip")) or 0
        for position, record in enumerate(data, start=skip):
            with set_aside_on_error(set_aside, table, _key_of(record, f"/api/{endpoint} #{position}"), url,
                                    entity_key=_entity_of(endpoint, record)):  # fmt: skip
                versions.setdefault(_record_id(record, url), []).append((record, url))
    by_id: dict[int, tuple[dict, str]] = {}
    conflicts = 0
    for record_id, found in versions.items():
        distinct = list({json.dumps(r, sort_keys=True): (r, u) for r, u in found}.values())
        if len(distinct) > 1:
            newest = max(str(r.get("updated") or "") for r, _ in distinct)
            distinct = [(r, u) for r, u in distinct if str(r.get("updated") or "") == newest]
            if len(distinct) > 1:
                set_aside.append(SetAside(table, str(record_id), None, None,
                                          f"the source lists this key twice with different values (both updated "
                                          f"{_shown(newest)})", distinct[-1][1], _entity_of(endpoint, distinct[-1][0])))  # fmt: skip
                continue
            conflicts += 1
        by_id[record_id] = distinct[0]
    if conflicts:
        warnings.append(f"/api/{endpoint}: {conflicts} record(s) came twice with different content; kept the "
                        "latest updated")  # fmt: skip
    return by_id


def parse(
    payloads: Iterable[RawPayload], cursor: dict | None = None, resolver: OrganisationResolver | None = None,
    *, now: datetime | None = None,
) -> ParsedBatch:
    """Raw pages of one run -> facility and organisation rows (complete, or incremental with deletions).

    ``now``: the upper bound for trusted stamps (default: when the pages were fetched, else the
    current UTC time); records ``updated`` after ``now`` + ``CLOCK_MARGIN`` are set aside and the
    cursor never moves past it."""
    pages: dict[str, list] = {endpoint: [] for endpoint in ENDPOINTS}
    fetched = []
    for payload in payloads:
        endpoint, query = _endpoint_and_query(payload.url)
        pages[endpoint].append((query, records(payload.body, payload.url), payload.url))
        fetched.append(payload.fetched_at)
    now = now or max((t for t in fetched if t is not None), default=None) or datetime.now(UTC)
    sinces = {endpoint: _check_pages(endpoint, pages[endpoint]) for endpoint in ENDPOINTS}
    incremental = {s is not None for s in sinces.values()}
    if len(incremental) > 1:
        raise SourceFormatError(f"run mixes complete and incremental reads: since per endpoint {sinces}")
    complete = read_everything = incremental == {False}
    listed = sum(len(data) for endpoint in ENDPOINTS for _, data, _ in pages[endpoint])

    warnings: list[str] = []
    set_aside: list[SetAside] = []
    received = {e: _readable(e, pages[e], warnings, set_aside) for e in ENDPOINTS}
    organisations = OrganisationCollector(resolver)
    unknown_countries: set[str] = set()
    other_statuses: dict[str, int] = {}
    newest: dict[str, datetime | None] = dict.fromkeys(ENDPOINTS)
    not_after = NotAfterFetch("updated", CLOCK_MARGIN)

    def in_future(table: str, key: int, record: dict, updated: datetime | None, url: str,
                  entity: tuple | None) -> bool:  # fmt: skip
        """A record ``updated`` in the future is set aside (filed as validation would file it): its
        stamp would become the cursor and hide every later change."""
        problem = not_after.problem(updated, now)
        if problem:
            set_aside.append(SetAside(table, str(key), "updated", excerpt(record["updated"]), problem, url, entity))
        return problem is not None

    def counted(endpoint: str, updated: datetime | None) -> None:
        if updated is not None and (newest[endpoint] is None or updated > newest[endpoint]):
            newest[endpoint] = updated

    def present(record: dict) -> bool:
        status = record.get("status")
        if not isinstance(status, str):
            raise TypeError(f"status is {_shown(status)}, expected text")
        if status != "ok" and status != "deleted":
            other_statuses[status] = other_statuses.get(status, 0) + 1
        return status == "ok"

    def country(record: dict) -> tuple[str | None, str | None]:
        iso2 = (_text(record, "country") or "").upper() or None
        iso3 = iso3_of(iso2)
        if iso2 and iso3 is None:
            unknown_countries.add(iso2)
        return iso2, iso3

    facility_rows, facility_gone, operator_ids = [], [], set()
    for facility_id, (record, url) in sorted(received["fac"].items()):
        with set_aside_on_error(set_aside, FACILITIES.table, facility_id, url, entity_key=(facility_id,)):
            updated = _as_stamp(record["updated"], "updated")
            if in_future(FACILITIES.table, facility_id, record, updated, url, (facility_id,)):
                continue
            if not present(record):
                facility_gone.append((facility_id,))
                counted("fac", updated)
                continue
            require(record, ("org_id", "name"), url)
            name = _text(record, "name")
            org_name = _organisation_name(record, "org_name")
            org_id = _as_int(record.get("org_id"), "org_id")
            iso2, iso3 = country(record)
            row = (facility_id, org_id, org_name, name, _text(record, "city"), iso2, iso3,
                   _as_float(record.get("latitude"), "latitude"), _as_float(record.get("longitude"), "longitude"),
                   _as_stamp(record.get("created"), "created"), updated, record["status"])  # fmt: skip
            if name is None:
                row = (*row[:3], f"PeeringDB facility {facility_id}", *row[4:])
                warnings.append(f"facility {facility_id} has no name")
            operator = organisations.resolve(org_name).organisation_id if org_name else None
            if org_id is not None:
                operator_ids.add(org_id)
            facility_rows.append((*row, operator))
            counted("fac", updated)

    organisation_rows, organisation_gone = [], []
    for org_id, (record, url) in sorted(received["org"].items()):
        with set_aside_on_error(set_aside, PEERINGDB_ORGANISATIONS.table, org_id, url):
            updated = _as_stamp(record["updated"], "updated")
            if in_future(PEERINGDB_ORGANISATIONS.table, org_id, record, updated, url, None):
                continue
            if not present(record):
                organisation_gone.append((org_id,))
                counted("org", updated)
                continue
            require(record, ("name",), url)
            name = _organisation_name(record, "name") or f"PeeringDB organisation {org_id}"
            iso2, iso3 = country(record)
            row = (org_id, name, _text(record, "aka"), _text(record, "name_long"), _text(record, "website"),
                   _text(record, "city"), iso2, iso3, _as_stamp(record.get("created"), "created"), updated,
                   record["status"])  # fmt: skip
            # Operators, and organisations the registry knows; not the ~30,000 other (network) organisations.
            resolution = organisations.resolver.resolve(name)
            if org_id in operator_ids or resolution.method.startswith("registry"):
                organisations.resolve(name)
            organisation_rows.append(row)
            counted("org", updated)

    # A record set aside that validation cannot keep as it was (no readable id, or an organisation: only
    # facilities, the main entity, are kept) might be any row absent from this read: a complete read
    # then removes only what it lists as deleted, like a since= read, and never a row for being absent.
    unkept = [s for s in set_aside if s.entity_key is None]
    if complete and unkept:
        complete = False
        warnings.append(f"a complete read with {len(unkept)} record(s) set aside that cannot be tied to a row kept as "
                        f"it was (e.g. {unkept[0].table} {unkept[0].record_key}): nothing is marked removed for being "
                        "absent this time")  # fmt: skip
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
        cursor=next_cursor(cursor, newest, read_everything, now, empty=not read_everything and listed == 0),
        warnings=warnings,
        set_aside=set_aside,
    )


def next_cursor(cursor: dict | None, newest: dict[str, datetime | None], complete: bool, now: datetime,
                empty: bool = False) -> dict:  # fmt: skip
    """``since`` per endpoint: the newest trusted ``updated`` received minus the overlap, never
    moving back - and never past now + CLOCK_MARGIN, whatever a previous cursor said."""
    limit = int((now + CLOCK_MARGIN).timestamp())
    previous = ({} if complete else (cursor or {}).get("since")) or {}
    since: dict[str, int | None] = {}
    for endpoint in ENDPOINTS:
        stamp = newest.get(endpoint)
        old = previous.get(endpoint) if isinstance(previous, dict) else None
        candidates = [int(old)] if _stamp_number(old) and old <= limit else []
        if stamp is not None:
            candidates.append(int(stamp.timestamp()) - SINCE_OVERLAP_SECONDS)
        since[endpoint] = min(max(candidates), limit) if candidates else None
    if complete:
        stamps = [s for s in newest.values() if s is not None]
        full_refresh_at = min(int(max(stamps).timestamp()), int(now.timestamp())) if stamps else None
    else:
        full_refresh_at = (cursor or {}).get("full_refresh_at")
        if not _stamp_number(full_refresh_at) or full_refresh_at > limit:
            full_refresh_at = None  # the next run reads everything
    result = {"since": since, "full_refresh_at": full_refresh_at}
    if empty:
        # A since= read that returns nothing at all (not even the overlap window) is odd; nothing for longer
        # than FULL_REFRESH_DAYS means since is wrong, and the fetch reads everything (see distrust).
        started = (cursor or {}).get("empty_since")
        result["empty_since"] = int(started) if _stamp_number(started) and started <= limit else int(now.timestamp())
    return result
