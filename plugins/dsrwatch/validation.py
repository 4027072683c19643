"""Record validation between parse and load: a bad record is set aside, the rest of the batch loads.

Every row a parser produces is checked against its table's column types as PostgreSQL declares
them (text without NUL and of bounded size, integers in range, finite numbers, real booleans and
dates, no NULL where the column forbids it) and against the ranges its table declares
(coordinates, years, dates no later than the fetch). A row that fails is set aside with the field,
an excerpt of the value and the rule broken; its entity keeps its previous version: it is neither
updated nor marked removed. Parsers set aside records they cannot read at all the same way
(``ParsedBatch.set_aside``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

# Key columns and names may be indexed: a B-tree entry holds at most ~2,700 bytes.
MAX_KEY_BYTES = 1_000
MAX_NAME_BYTES = 2_000
MAX_TEXT_BYTES = 1_000_000
EXCERPT_CHARS = 120
INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
# Dates a record may carry: the years PostgreSQL and every source here can mean.
EARLIEST_YEAR, LATEST_YEAR = 1700, 2200


@dataclass(frozen=True)
class SetAside:
    """One record kept out of the load, and why."""

    table: str
    record_key: str
    field: str | None
    value: str | None
    reason: str
    url: str | None = None
    # The main entity (key of the source's first table) left as it was, if known.
    entity_key: tuple | None = None

    def message(self, source: str) -> str:
        where = f" ({self.url})" if self.url else ""
        field = f", field {self.field} = {self.value!r}" if self.field else ""
        return f"{source}{where}: record {self.record_key} in {self.table} set aside{field}: {self.reason}"


def excerpt(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + f"... ({len(text)} chars)"


@dataclass(frozen=True)
class Range:
    """``column`` lies in [minimum, maximum] (numbers, years, coordinates)."""

    column: str
    minimum: float
    maximum: float

    def problem(self, value: object, fetched_at: datetime) -> str | None:
        if isinstance(value, int | float) and not self.minimum <= value <= self.maximum:
            return f"outside {self.minimum}..{self.maximum}"
        return None


@dataclass(frozen=True)
class NotAfterFetch:
    """A date or timestamp no later than the fetch (plus ``margin``): a record dated in the future
    is wrong, and would drag an incremental cursor past every later record."""

    column: str
    margin: timedelta = timedelta(days=2)

    def problem(self, value: object, fetched_at: datetime) -> str | None:
        limit = fetched_at + self.margin
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return f"in the future (after {limit:%Y-%m-%d %H:%M} UTC)" if moment > limit else None
        if isinstance(value, date):
            return f"in the future (after {limit:%Y-%m-%d})" if value > limit.date() else None
        return None


Rule = Range | NotAfterFetch


def column_types(conn: psycopg.Connection, table: str) -> dict[str, tuple]:
    """{column: (data_type, is_nullable, numeric_precision, numeric_scale, character_maximum_length)}."""
    schema, name = table.split(".")
    rows = conn.execute(
        """SELECT column_name, data_type, is_nullable = 'YES', numeric_precision, numeric_scale,
                  character_maximum_length
             FROM information_schema.columns WHERE table_schema = %s AND table_name = %s""",
        (schema, name),
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _type_problem(column: str, value: object, declared: tuple, is_key: bool) -> str | None:
    data_type, nullable, precision, scale, max_length = declared
    if value is None:
        return None if nullable else "missing (the column is NOT NULL)"
    if data_type == "jsonb":
        content = getattr(value, "obj", value)  # psycopg's Jsonb wrapper, or a plain value
        return "contains a NUL character" if "\\u0000" in json.dumps(content, default=str) else None
    if data_type in ("text", "character varying", "character"):
        if not isinstance(value, str):
            return f"expected text, got {type(value).__name__}"
        if "\x00" in value:
            return "contains a NUL byte"
        if max_length is not None and len(value) > max_length:
            return f"{len(value)} characters long, the column holds {max_length}"
        size = len(value.encode("utf-8", "surrogatepass"))
        limit = MAX_KEY_BYTES if is_key else MAX_NAME_BYTES if column == "name" or column.endswith("_name") else MAX_TEXT_BYTES
        if size > limit:
            return f"{size} bytes long, at most {limit} allowed"
        if is_key and "|" in value:
            return "a key may not contain '|' (it separates key columns in the change history)"
        return None
    if data_type in INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an integer, got {type(value).__name__}"
        bound = INT_RANGES[data_type]
        return None if -bound <= value < bound else f"out of the {data_type} range"
    if data_type in ("numeric", "double precision", "real"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {type(value).__name__}"
        if isinstance(value, float) and not math.isfinite(value):
            return "not a finite number (NaN or infinity)"
        if data_type == "numeric" and precision is not None and abs(value) >= 10 ** (precision - (scale or 0)):
            return f"too large for numeric({precision},{scale})"
        return None
    if data_type == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, got {type(value).__name__}"
    if data_type == "date" or data_type.startswith("timestamp"):
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value) if data_type.startswith("timestamp") else date.fromisoformat(value)
            except ValueError:
                return "not an ISO date"
        if not isinstance(value, date):
            return f"expected a date, got {type(value).__name__}"
        return None if EARLIEST_YEAR <= value.year <= LATEST_YEAR else f"year outside {EARLIEST_YEAR}..{LATEST_YEAR}"
    return None


def _as_date(value: object) -> object:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _first_per_entity(records: Sequence[SetAside]) -> list[SetAside]:
    """The first reason for each entity a parser set aside (one record may be listed, and broken,
    several times), with NUL in a record key written \\x00 (the ledger is PostgreSQL text)."""
    seen: set[tuple] = set()
    kept = []
    for record in records:
        if record.entity_key is not None:
            if record.entity_key in seen:
                continue
            seen.add(record.entity_key)
        kept.append(replace(record, record_key=record.record_key.replace("\x00", "\\x00")))
    return kept


def screen(conn: psycopg.Connection, spec, batch, fetched_at: datetime):
    """(batch without its bad rows, with every SetAside in ``batch.set_aside``; {table: keys to keep
    as they were} for the merge): see the module docstring. ``spec`` is the source's SourceSpec;
    parts of an entity with a bad row are set aside with it."""
    set_aside = _first_per_entity(batch.set_aside)
    main = spec.tables[0]
    bad_entities: set[tuple] = {s.entity_key for s in set_aside if s.entity_key is not None}
    bad_rows: dict[str, set[int]] = {}
    repeats: dict[str, set[int]] = {}
    for table in spec.tables:
        rows = batch.rows.get(table.table, [])
        if not rows:
            continue
        declared = column_types(conn, table.table)
        columns = table.all_columns
        keys = set(table.key)
        rules = [(columns.index(rule.column), rule) for rule in table.rules]
        n_entity = len(table.entity_columns) if table.entity_columns else len(table.key) if table is main else 0
        seen: dict[tuple, int] = {}
        for position, row in enumerate(rows):
            problem = None
            for column, value in zip(columns, row, strict=True):
                reason = _type_problem(column, value, declared[column], column in keys)
                if reason:
                    problem = (column, value, reason)
                    break
            if problem is None:
                for index, rule in rules:
                    reason = rule.problem(_as_date(row[index]), fetched_at)
                    if reason:
                        problem = (rule.column, row[index], reason)
                        break
            key = tuple(row[: len(table.key)])
            if problem is None and key in seen:
                first = seen[key]
                if tuple(rows[first]) == tuple(row):
                    repeats.setdefault(table.table, set()).add(position)  # an exact repeat: keep one
                    continue
                problem = (None, None, "the source lists this key twice with different values")
                bad_rows.setdefault(table.table, set()).add(first)
            seen.setdefault(key, position)
            if problem is None:
                continue
            column, value, reason = problem
            bad_rows.setdefault(table.table, set()).add(position)
            entity = tuple(row[:n_entity]) if n_entity else None
            if entity is not None:
                if entity in bad_entities:
                    continue  # one record per entity: its first broken rule
                bad_entities.add(entity)
            set_aside.append(SetAside(table.table, record_key(*key), column, excerpt(value), reason,
                                      entity_key=entity))  # fmt: skip
    # Every row of an entity with a bad row stays out: the entity keeps its previous version whole.
    cleaned = {}
    for table in spec.tables:
        rows = batch.rows.get(table.table, [])
        n_entity = len(table.entity_columns) if table.entity_columns else len(table.key) if table is main else 0
        drop = bad_rows.get(table.table, set()) | repeats.get(table.table, set())
        cleaned[table.table] = [row for position, row in enumerate(rows) if position not in drop
                                and not (n_entity and tuple(row[:n_entity]) in bad_entities)]  # fmt: skip
    kept = {}
    for table in spec.tables:
        n_entity = len(table.entity_columns) if table.entity_columns else len(table.key) if table is main else 0
        if n_entity and bad_entities:
            kept[table.table] = sorted(bad_entities, key=repr)
        elif not n_entity:
            # An independent row set aside (a landing point, an organisation) keeps its previous version.
            keys = [tuple(batch.rows[table.table][p][: len(table.key)]) for p in bad_rows.get(table.table, ())]
            if keys:
                kept[table.table] = keys
    return replace(batch, rows={**batch.rows, **cleaned}, set_aside=set_aside), kept


def key_text(value: str | None, what: str) -> str | None:
    """``value`` unchanged if it can be a key of the shared tables (an organisation name becomes one
    in core.organisations and core.organisation_aliases); else ValueError, so the one record that
    carries it is set aside - not one record per table the name would reach."""
    if value is None:
        return None
    if "\x00" in value:
        raise ValueError(f"{what} {excerpt(repr(value))} contains a NUL byte")
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise ValueError(f"{what} is {size} bytes long, at most {MAX_KEY_BYTES} allowed for a key")
    return value


def record_key(*parts: object) -> str:
    """A record's key as text for the ledger: parts joined by '|', NUL written \\x00, at most 200 chars."""
    return "|".join("" if p is None else str(p) for p in parts).replace("\x00", "\\x00")[:200]


# What a parser meets in a record of the wrong shape: a list where an object was expected, a
# missing field, a number that will not convert.
UNREADABLE = (TypeError, KeyError, ValueError, AttributeError, OverflowError, IndexError)


@contextmanager
def set_aside_on_error(set_aside: list[SetAside], table: str, key: object, url: str | None,
                       entity_key: tuple | None = None) -> Iterator[None]:  # fmt: skip
    """Parse one record inside this block: if it cannot be read, it is set aside (with the error
    and where it came from) and parsing goes on with the next. Rows the block appended before the
    error are dropped with their entity by ``screen``."""
    try:
        yield
    except UNREADABLE as exc:
        set_aside.append(SetAside(table, record_key(key), None, None,
                                  f"unreadable record: {type(exc).__name__}: {exc}", url, entity_key))  # fmt: skip


__all__ = ["NotAfterFetch", "Range", "Rule", "SetAside", "excerpt", "key_text", "record_key", "screen",
           "set_aside_on_error"]
