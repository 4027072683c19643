"""What the weekly digest reports for an interval [start, end): read from risk.* as of ``end``.

The digest reports the *net* change of the interval, from the flags' event history
(``risk.flag_events``), so the same interval always gives the same digest - a retry next week
sends what the first attempt would have sent:

* **new** - a flag first opened in the interval (``first_flagged_at`` in it) that is not part of
  a source's baseline, and still open at the end;
* **back** - a flag resolved at the start of the interval and open again at its end (reopened);
* **raised** - a flag open at both ends whose severity is higher at the end than at the start;
* **resolved** - a flag open at the start and resolved at the end (baseline flags included:
  a PRC party leaving a cable is news).

A flag that appears and disappears within the interval is not reported. Entries are entities:
one entry lists every reported flag of the entity, with the entity's countries, PRC-linked
parties and source link. Entity details are read as they are now.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg

from dsrwatch import ledger
from dsrwatch.alerts.settings import RecipientList
from dsrwatch.vocabulary import CATEGORIES, CATEGORY_LABELS, KIND_CATEGORIES, SEVERITIES
from dsrwatch.warehouse import locks

log = logging.getLogger(__name__)

CHART_WEEKS = 12
CHART_WEEK = timedelta(days=7)


def utc(moment: datetime) -> datetime:
    """A plain aware UTC datetime (Airflow hands over pendulum; naive means UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


@dataclass(frozen=True)
class FlagLine:
    """One reported flag: a pattern that matched the entity."""

    flag_id: int
    pattern_id: str
    title: str
    severity: str
    reason: str
    first_flagged_at: datetime
    change: str  # new | back | raised | resolved
    previous_severity: str | None = None
    changed_at: datetime | None = None  # when it reopened / was re-rated / resolved


@dataclass(frozen=True)
class Party:
    """A PRC-linked party of the entity, with every role it holds."""

    name: str
    roles: tuple[str, ...]
    jurisdiction: str
    ownership: str
    group_name: str | None


@dataclass(frozen=True)
class Entry:
    entity_kind: str
    entity_id: str
    name: str
    category: str
    countries: tuple[str, ...]
    country_names: tuple[str, ...]
    url: str | None
    source: str | None
    is_present: bool
    parties: tuple[Party, ...]
    flags: tuple[FlagLine, ...]

    @property
    def top_severity(self) -> str:
        return max((f.severity for f in self.flags), key=severity_rank)

    @property
    def is_back(self) -> bool:
        """Every reported flag of the entity returned (none is new)."""
        return all(f.change == "back" for f in self.flags)

    @property
    def first_seen(self) -> datetime:
        return min(f.first_flagged_at for f in self.flags)

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category.replace("_", " ").capitalize())


@dataclass(frozen=True)
class PatternNote:
    pattern_id: str
    title: str
    reasoning: str
    basis: str


@dataclass(frozen=True)
class Digest:
    """Everything one message says; ``for_list`` narrows it to a recipient list's filters."""

    interval_start: datetime
    interval_end: datetime
    entries: tuple[Entry, ...]  # new and back, section order
    raised: tuple[Entry, ...]
    resolved: tuple[Entry, ...]
    # (first day of a chart week, category, severity at opening) -> new flags that week, for the chart
    weekly_new: dict[tuple[date, str, str], int]
    patterns: dict[str, PatternNote]
    attributions: tuple[str, ...]
    last_evaluation_at: datetime | None
    evaluations_in_interval: int
    open_flags: int
    list_filter: str = ""
    # Sources readers should know about: stale, or whose latest run was quarantined or failed.
    source_notes: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.entries or self.raised or self.resolved)

    def for_list(self, recipients: RecipientList) -> Digest:
        def narrow(entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
            kept = []
            for entry in entries:
                if not recipients.wants_category(entry.category):
                    continue
                flags = tuple(f for f in entry.flags if recipients.wants_severity(f.severity))
                if flags:
                    kept.append(dataclasses.replace(entry, flags=flags))
            return tuple(kept)

        weekly = {k: n for k, n in self.weekly_new.items()
                  if recipients.wants_category(k[1]) and recipients.wants_severity(k[2])}  # fmt: skip
        narrowed = dataclasses.replace(
            self, entries=narrow(self.entries), raised=narrow(self.raised), resolved=narrow(self.resolved),
            weekly_new=weekly, list_filter=recipients.filter_label,
        )  # fmt: skip
        used = {f.pattern_id for e in (*narrowed.entries, *narrowed.raised) for f in e.flags}
        return dataclasses.replace(narrowed, patterns={k: v for k, v in self.patterns.items() if k in used})

    # --- figures the templates show -------------------------------------------------------------
    @property
    def new_count(self) -> int:
        return sum(1 for e in self.entries if not e.is_back)

    @property
    def back_count(self) -> int:
        return sum(1 for e in self.entries if e.is_back)

    def counts_by_category(self) -> list[tuple[str, str, dict[str, int], int]]:
        """(category, label, {severity: entries by their top severity}, total) in section order."""
        rows = []
        for category in _category_order({e.category for e in self.entries}):
            entries = [e for e in self.entries if e.category == category]
            by_severity = Counter(e.top_severity for e in entries)
            rows.append((category, CATEGORY_LABELS.get(category, category), dict(by_severity), len(entries)))
        return rows

    def severity_totals(self) -> dict[str, int]:
        return dict(Counter(e.top_severity for e in self.entries))

    def sections(self) -> list[tuple[str, str, list[Entry]]]:
        return [(c, CATEGORY_LABELS.get(c, c), [e for e in self.entries if e.category == c])
                for c in _category_order({e.category for e in self.entries})]  # fmt: skip

    def chart_weeks(self) -> list[date]:
        """First days of the chart's weeks, oldest first (see ``chart_week_starts``)."""
        return [start.date() for start in chart_week_starts(self.interval_end)]

    def chart_series(self) -> dict[str, list[int]]:
        """{category: [new flags per chart week]} for the categories with any."""
        weeks = self.chart_weeks()
        series = {}
        for category in _category_order({k[1] for k in self.weekly_new}):
            counts = [sum(n for (w, c, _), n in self.weekly_new.items() if w == week and c == category)
                      for week in weeks]  # fmt: skip
            if any(counts):
                series[category] = counts
        return series

    def flag_ids(self) -> dict[str, list[int]]:
        ids: dict[str, list[int]] = {"new": [], "back": [], "raised": [], "resolved": []}
        for entry in (*self.entries, *self.raised, *self.resolved):
            for flag in entry.flags:
                ids[flag.change].append(flag.flag_id)
        return {k: sorted(v) for k, v in ids.items()}


def chart_week_starts(interval_end: datetime) -> list[datetime]:
    """Starts of the CHART_WEEKS seven-day weeks that end at ``interval_end``, oldest first.

    Weeks count back from the interval's end, not from calendar Mondays, so the last bar always
    holds the seven days before the end: for the Monday 06:00 digest exactly its own week, and for a
    "since the last digest" interval that ends on any weekday at any hour, everything up to that
    moment (a calendar week cut at the end once lost every flag of a Monday)."""
    end = utc(interval_end)
    return [end - CHART_WEEK * n for n in range(CHART_WEEKS, 0, -1)]


def _category_order(categories: set[str]) -> list[str]:
    return [c for c in CATEGORIES if c in categories] + sorted(categories - set(CATEGORIES))


# One row per flag with any event in the interval: its state before the start and at the end.
_TOUCHED_FLAGS = """
WITH touched AS (
    SELECT DISTINCT flag_id FROM risk.flag_events
     WHERE happened_at >= %(start)s AND happened_at < %(end)s
)
SELECT f.flag_id, f.pattern_id, f.entity_kind, f.entity_id, f.entity_name, f.is_baseline, f.first_flagged_at,
       at_start.event, at_start.severity, at_end.event, at_end.severity, at_end.happened_at,
       coalesce(evidence.evidence, f.evidence) ->> 'reason'
  FROM touched t
  JOIN risk.flags f USING (flag_id)
  CROSS JOIN LATERAL (
        SELECT e.event, e.severity, e.happened_at FROM risk.flag_events e
         WHERE e.flag_id = t.flag_id AND e.happened_at < %(end)s
         ORDER BY e.happened_at DESC, e.event_id DESC LIMIT 1) at_end
  LEFT JOIN LATERAL (
        SELECT e.event, e.severity FROM risk.flag_events e
         WHERE e.flag_id = t.flag_id AND e.happened_at < %(start)s
         ORDER BY e.happened_at DESC, e.event_id DESC LIMIT 1) at_start ON true
  LEFT JOIN LATERAL (
        SELECT e.evidence FROM risk.flag_events e
         WHERE e.flag_id = t.flag_id AND e.happened_at < %(end)s AND e.evidence IS NOT NULL
         ORDER BY e.happened_at DESC, e.event_id DESC LIMIT 1) evidence ON true
"""

_ENTITIES = """
SELECT k.entity_kind, k.entity_id, e.entity_name, e.category, e.source, e.countries, e.url, e.is_present
  FROM unnest(%(kinds)s::text[], %(ids)s::text[]) AS k(entity_kind, entity_id)
  LEFT JOIN risk.entities e ON e.entity_kind = k.entity_kind AND e.entity_id = k.entity_id
"""

_PARTIES = """
SELECT p.entity_kind, p.entity_id, p.organisation_name, p.role, p.jurisdiction, p.ownership, p.group_name
  FROM risk.prc_parties p
  JOIN unnest(%(kinds)s::text[], %(ids)s::text[]) AS k(entity_kind, entity_id)
    ON p.entity_kind = k.entity_kind AND p.entity_id = k.entity_id
 ORDER BY p.organisation_name, p.role
"""

# New (non-baseline) flags per chart week (counted back from the interval's end), by category and by severity when they opened.
_WEEKLY_NEW = """
SELECT floor(extract(epoch FROM %(end)s - f.first_flagged_at) / 604800)::int AS weeks_before_end,
       f.entity_kind, e.category,
       coalesce(o.severity, f.severity), count(*)
  FROM risk.flags f
  LEFT JOIN risk.entities e ON e.entity_kind = f.entity_kind AND e.entity_id = f.entity_id
  LEFT JOIN LATERAL (SELECT ev.severity FROM risk.flag_events ev
                      WHERE ev.flag_id = f.flag_id AND ev.event = 'opened' LIMIT 1) o ON true
 WHERE NOT f.is_baseline AND f.first_flagged_at >= %(since)s AND f.first_flagged_at < %(end)s
 GROUP BY 1, 2, 3, 4
"""

_OPEN_AT_END = """
SELECT count(*) FROM risk.flags f
 WHERE f.first_flagged_at < %(end)s
   AND (SELECT e.event FROM risk.flag_events e WHERE e.flag_id = f.flag_id AND e.happened_at < %(end)s
         ORDER BY e.happened_at DESC, e.event_id DESC LIMIT 1) <> 'resolved'
"""


def _classify(start_event, start_severity, end_event, end_severity, is_baseline) -> str | None:
    open_at_start = start_event is not None and start_event != "resolved"
    open_at_end = end_event != "resolved"
    if start_event is None and open_at_end:
        return None if is_baseline else "new"
    if start_event == "resolved" and open_at_end:
        return "back"
    if open_at_start and not open_at_end:
        return "resolved"
    if open_at_start and open_at_end and severity_rank(end_severity) > severity_rank(start_severity):
        return "raised"
    return None


def _source_note(row: dict) -> str | None:
    """"cloud_regions: stale, last loaded 2026-11-02 (data may be 14 days old at most)", or None."""
    problems = []
    if row["last_status"] in ("quarantined", "failed", "abandoned"):
        problems.append(f"latest run {row['last_status']}")
    if row["is_stale"]:
        problems.append(f"stale, last loaded {row['last_success_at']:%Y-%m-%d}" if row["last_success_at"]
                        else "no data loaded yet")  # fmt: skip
    return f"{row['source']}: {', '.join(problems)}" if problems else None


def _attribution(source: str) -> str | None:
    try:
        from dsrwatch.sources import get_source

        spec = get_source(source).SOURCE
    except Exception:  # a source known to the views but not to this code: no attribution line
        log.debug("no source module for %s", source, exc_info=True)
        return None
    return f"{spec.attribution}, {spec.licence}"


def collect(conn: psycopg.Connection, interval_start: datetime, interval_end: datetime) -> Digest:
    """Read the digest of [interval_start, interval_end) from the warehouse (read-only)."""
    from dsrwatch.normalise.countries import iso3_name

    start, end = utc(interval_start), utc(interval_end)
    if not start < end:
        raise ValueError(f"empty interval: {start.isoformat()} to {end.isoformat()}")
    params = {"start": start, "end": end}
    lines: dict[tuple[str, str], list[FlagLine]] = {}
    names: dict[tuple[str, str], str | None] = {}
    for (flag_id, pattern_id, kind, entity_id, entity_name, is_baseline, first_flagged_at, start_event,
         start_severity, end_event, end_severity, end_at, reason) in conn.execute(_TOUCHED_FLAGS, params):  # fmt: skip
        change = _classify(start_event, start_severity, end_event, end_severity, is_baseline)
        if change is None:
            continue
        lines.setdefault((kind, entity_id), []).append(FlagLine(
            flag_id=flag_id, pattern_id=pattern_id, title=pattern_id, severity=end_severity,
            reason=reason or "", first_flagged_at=first_flagged_at, change=change,
            previous_severity=start_severity if change == "raised" else None,
            changed_at=end_at if change != "new" else None,
        ))  # fmt: skip
        names[(kind, entity_id)] = entity_name

    patterns = {pid: PatternNote(pid, title, reasoning, basis) for pid, title, reasoning, basis in
                conn.execute("SELECT pattern_id, title, reasoning, basis FROM risk.patterns")}  # fmt: skip
    keys = sorted(lines)
    kinds, ids = [k for k, _ in keys], [i for _, i in keys]
    entities = {(r[0], r[1]): r[2:] for r in conn.execute(_ENTITIES, {"kinds": kinds, "ids": ids})}
    parties: dict[tuple[str, str], dict[str, dict]] = {}
    for kind, entity_id, org, role, jurisdiction, ownership, group in conn.execute(
        _PARTIES, {"kinds": kinds, "ids": ids}
    ):
        party = parties.setdefault((kind, entity_id), {}).setdefault(
            org, {"roles": [], "jurisdiction": jurisdiction, "ownership": ownership, "group": group}
        )
        if role not in party["roles"]:
            party["roles"].append(role)

    sections: dict[str, list[Entry]] = {"entries": [], "raised": [], "resolved": []}
    sources = set()
    for key in keys:
        name, category, source, countries, url, is_present = entities.get(key) or (None,) * 6
        countries = tuple(countries or ())
        category = category or KIND_CATEGORIES.get(key[0], key[0])
        if source:
            sources.add(source)
        flags = [dataclasses.replace(f, title=patterns[f.pattern_id].title if f.pattern_id in patterns
                                     else f.pattern_id) for f in lines[key]]  # fmt: skip
        entity_parties = tuple(
            Party(org, tuple(p["roles"]), p["jurisdiction"], p["ownership"], p["group"])
            for org, p in parties.get(key, {}).items()
        )
        for section, changes in (
            ("entries", ("new", "back")),
            ("raised", ("raised",)),
            ("resolved", ("resolved",)),
        ):
            chosen = tuple(sorted((f for f in flags if f.change in changes),
                                  key=lambda f: (-severity_rank(f.severity), f.title)))  # fmt: skip
            if chosen:
                sections[section].append(Entry(
                    entity_kind=key[0], entity_id=key[1], name=name or names.get(key) or key[1], category=category,
                    countries=countries, country_names=tuple(iso3_name(c) for c in countries), url=url,
                    source=source, is_present=bool(is_present) if is_present is not None else True,
                    parties=entity_parties, flags=chosen,
                ))  # fmt: skip

    def ordered(entries: list[Entry]) -> tuple[Entry, ...]:
        position = {c: i for i, c in enumerate(_category_order({e.category for e in entries}))}
        return tuple(sorted(entries, key=lambda e: (position[e.category], -severity_rank(e.top_severity),
                                                     e.name.casefold(), e.entity_id)))  # fmt: skip

    week_starts = chart_week_starts(end)
    weekly: dict[tuple[date, str, str], int] = {}
    rows = conn.execute(_WEEKLY_NEW, {"since": week_starts[0], "end": end})
    for weeks_before_end, kind, category, severity, count in rows:
        key = (week_starts[-1 - weeks_before_end].date(), category or KIND_CATEGORIES.get(kind, kind), severity)
        weekly[key] = weekly.get(key, 0) + count
    last_evaluation, evaluations = ledger.evaluations_between(conn, start, end)
    open_flags = conn.execute(_OPEN_AT_END, params).fetchone()[0]

    used = {f.pattern_id for e in (*sections["entries"], *sections["raised"]) for f in e.flags}
    source_notes = tuple(note for note in map(_source_note, ledger.freshness(conn)) if note)
    return Digest(
        interval_start=start, interval_end=end, entries=ordered(sections["entries"]),
        raised=ordered(sections["raised"]), resolved=ordered(sections["resolved"]), weekly_new=weekly,
        patterns={k: v for k, v in patterns.items() if k in used},
        attributions=tuple(a for a in (_attribution(s) for s in sorted(sources)) if a),
        last_evaluation_at=last_evaluation, evaluations_in_interval=evaluations, open_flags=open_flags,
        source_notes=source_notes,
    )  # fmt: skip


def read_digest(conn: psycopg.Connection, interval_start: datetime, interval_end: datetime) -> Digest:
    """``collect`` on one snapshot, taken once no risk evaluation is half-way through: an evaluation
    that began before the interval's end but committed later would otherwise be missed for good
    (its events carry its start time). ``conn`` must be in autocommit mode.

    The engine evaluates holding lock ``risk_flags`` (dsrwatch.warehouse.locks) exclusively; a
    second connection holds it shared while ``conn`` reads. A repeatable-read snapshot is taken
    by its first statement, so a lock taken there would be waited for with the old snapshot."""
    with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True,
                         application_name="dsrwatch digest (risk_flags lock)") as holder:
        with holder.transaction():
            locks.take(holder, locks.RISK_FLAGS, shared=True)
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return collect(conn, interval_start, interval_end)
