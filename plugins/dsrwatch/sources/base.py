"""What every source module declares, and what its parser returns.

A source module (one per source, in this package) defines:

* ``SOURCE``  - a :class:`SourceSpec`: name, hosts, licence, cadence, tables, expectations;
* ``fetch(fetcher, cursor)`` - yields :class:`~dsrwatch.fetching.FetchedResponse` objects; the
  pipeline stores each one in ``raw`` before anything parses it;
* ``parse(payloads, cursor)`` - a pure function from raw payloads to a :class:`ParsedBatch`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# The rules a spec declares, re-exported so a source module imports its whole vocabulary from here.
from dsrwatch.expectations import ChangeGuard, Expectation, MaxNullFraction, RowCountBounds  # noqa: F401
from dsrwatch.fetching import ApiKeyConnection  # noqa: F401
from dsrwatch.normalise.organisations import OrganisationResolver, Resolution
from dsrwatch.validation import NotAfterFetch, Range, SetAside, excerpt, record_key, set_aside_on_error  # noqa: F401
from dsrwatch.warehouse.tables import EntityTable

# Shared by every source: canonical organisations and each spelling that resolved to one.
# Several sources write them, so no source may mark one removed (tracks_removal=False).
ORGANISATIONS = EntityTable("core.organisations", key=("organisation_id",), columns=("name",), tracks_removal=False)
ORGANISATION_ALIASES = EntityTable(
    "core.organisation_aliases",
    key=("alias",),
    columns=("organisation_id", "match_method", "match_score", "review_candidate"),
    tracks_removal=False,
)


class SourceFormatError(ValueError):
    """The payload is not in the shape the parser knows (truncated, schema drift): fatal."""


def load_json(body: bytes, url: str) -> object:
    """Parse a JSON body, turning a decode error into a message that names the URL."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        preview = body[-80:].decode("utf-8", "replace")
        raise SourceFormatError(
            f"{url}: not valid JSON ({exc}); {len(body)} bytes, ending with {preview!r}. "
            "The payload is kept in raw.http_responses / raw.bodies for inspection."
        ) from exc


def require(record: dict, fields: tuple[str, ...], url: str) -> None:
    missing = [f for f in fields if f not in record]
    if missing:
        raise SourceFormatError(f"{url}: record is missing field(s) {missing}; the source's schema may have changed")


@dataclass(frozen=True)
class SourceSpec:
    """Everything about a source, declared once: the DAG (id, schedule, tags, docs, Asset), the
    fetch settings, the tables and the rules its loads must keep come from here."""

    name: str  # = the module name, the DAG id and the Asset's name
    title: str
    category: str  # cables | cloud | data_centres | deals | leads | reference (-> the DAG's tags and stage)
    hosts: tuple[str, ...]
    homepage: str
    licence: str
    attribution: str
    schedule: str  # cron, UTC
    tables: tuple[EntityTable, ...]
    expectations: tuple[Expectation, ...] = ()
    # What one run may change (see dsrwatch.expectations); an incremental read (deletions listed
    # explicitly) may declare its own guard, else the full read's applies.
    change_guard: ChangeGuard = ChangeGuard()
    incremental_change_guard: ChangeGuard | None = None
    politeness_delay: float = 1.0
    fetcher_options: dict = field(default_factory=dict)  # e.g. {"backoff_base": 10.0} for strict APIs
    # An optional API key (an Airflow connection's password): the fetch layer sends it as the
    # declared header and uses the declared politeness delay when there is one.
    api_key: ApiKeyConnection | None = None
    max_payload_bytes: int = 256 * 2**20
    # How old the data may get before the source counts as stale; None: twice the schedule's period.
    max_age: timedelta | None = None
    views: tuple[str, ...] = ()

    @property
    def stage(self) -> str:
        """``reference`` for the sources others are judged by (they run first in ``make run``)."""
        return "reference" if self.category == "reference" else "ingest"

    @property
    def freshness_limit(self) -> timedelta:
        """``max_age``, or twice the longest gap between two runs of the schedule (a monthly
        source: 62 days; a weekly one: 14)."""
        if self.max_age is not None:
            return self.max_age
        from croniter import croniter

        ticks = croniter(self.schedule, datetime(2026, 1, 1, tzinfo=UTC))
        moments = [ticks.get_next(datetime) for _ in range(13)]
        return 2 * max(later - earlier for earlier, later in zip(moments, moments[1:], strict=False))


@dataclass
class ParsedBatch:
    """Rows per core table (key columns first, in the table spec's order).

    ``complete`` is True when the batch holds the whole source, so rows missing from it have
    left the source; an incremental batch instead lists ``deleted_keys`` explicitly.
    """

    rows: dict[str, list[tuple]]
    entities: int
    complete: bool = True
    deleted_keys: dict[str, list[tuple]] = field(default_factory=dict)
    cursor: dict | None = None
    warnings: list[str] = field(default_factory=list)
    # Records the parser could not read (wrong shape, missing id): kept out, with the reason.
    set_aside: list[SetAside] = field(default_factory=list)


class OrganisationCollector:
    """Resolves the organisation names a parser meets and gathers the organisation/alias rows."""

    def __init__(self, resolver: OrganisationResolver | None = None):
        if resolver is None:
            from dsrwatch.reference.registry import default_resolver

            resolver = default_resolver()
        self.resolver = resolver
        self._organisations: dict[str, str] = {}
        self._aliases: dict[str, tuple] = {}

    def resolve(self, name: str) -> Resolution:
        res = self.resolver.resolve(name)
        self._organisations.setdefault(res.organisation_id, res.canonical_name)
        self._aliases.setdefault(name, (name, res.organisation_id, res.method, res.score, res.review_candidate))
        return res

    def rows(self) -> dict[str, list[tuple]]:
        return {
            ORGANISATIONS.table: sorted(self._organisations.items()),
            ORGANISATION_ALIASES.table: list(self._aliases.values()),
        }
