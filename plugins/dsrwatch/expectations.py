"""What a source promises about its data, checked inside the load transaction before it commits.

Two kinds of rule, both declared on a source's spec:

* **expectations** on the state a load would leave: row-count bounds, null fractions. Each is an
  object that writes its own SQL, so a new kind of rule is one class here, not an edit elsewhere;
* a **change guard** on what one run may change: the share of a source's present entities that
  it may remove, modify or add. A glitching source (an index cut to a tenth, an empty file) looks
  like a mass removal; the guard stops it before analysts and readers see it.

A broken rule quarantines the run: the transaction rolls back, the raw payloads stay, and an
operator either waits for the source to recover or accepts the run (``python -m dsrwatch accept``).
``DSR_EXPECTATIONS=warn`` turns breaches into warnings for synthetic-scale benchmarks and
deliberate backfills; the run then records that it was not enforced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # psycopg loads when a rule is checked, not when a source declares one
    import psycopg
    from psycopg import sql


def _present_rows(table: str, scope_column: str | None, source: str) -> sql.Composed:
    """FROM ... WHERE for the present (not removed) rows of ``table`` that belong to ``source``."""
    from psycopg import sql

    schema, name = table.split(".")
    scope = sql.SQL("")
    if scope_column:
        scope = sql.SQL(" AND {} = {}").format(sql.Identifier(scope_column), sql.Literal(source))
    return sql.SQL("FROM {} WHERE removed_at IS NULL{}").format(sql.Identifier(schema, name), scope)


@dataclass(frozen=True)
class Outcome:
    """One rule checked: whether it holds, and a sentence that says what was measured."""

    holds: bool
    text: str


@dataclass(frozen=True)
class RowCountBounds:
    """The number of present (not removed) rows of ``table`` lies in [minimum, maximum].

    ``scope_column``: in a table several sources share, count only rows whose column names this source.
    """

    table: str
    minimum: int
    maximum: int
    scope_column: str | None = None

    def count(self, conn: psycopg.Connection, source: str) -> int:
        from psycopg import sql

        query = sql.SQL("SELECT count(*) ") + _present_rows(self.table, self.scope_column, source)
        return conn.execute(query).fetchone()[0]

    def check(self, conn: psycopg.Connection, source: str) -> Outcome:
        count = self.count(conn, source)
        return Outcome(self.minimum <= count <= self.maximum,
                       f"{self.table}: {count} present rows, expected {self.minimum}..{self.maximum}")  # fmt: skip


@dataclass(frozen=True)
class MaxNullFraction:
    """At most ``fraction`` of present rows of ``table`` may have ``column`` NULL (scoped as above)."""

    table: str
    column: str
    fraction: float = 0.0
    scope_column: str | None = None

    def check(self, conn: psycopg.Connection, source: str) -> Outcome:
        from psycopg import sql

        query = sql.SQL("SELECT count(*), count(*) FILTER (WHERE {} IS NULL) ").format(sql.Identifier(self.column))
        total, nulls = conn.execute(query + _present_rows(self.table, self.scope_column, source)).fetchone()
        share = nulls / total if total else 0.0
        return Outcome(share <= self.fraction,
                       f"{self.table}.{self.column}: {nulls}/{total} NULL, at most {self.fraction:.0%} allowed")  # fmt: skip


@dataclass(frozen=True)
class ChangeGuard:
    """How much of a source's present entities one run may change.

    Fractions are of the entities present before the run. Up to ``always_allowed`` entities may
    change whatever the fraction, so a source of a dozen rows can still lose one. A baseline
    (nothing present before) is not guarded: the row-count bounds judge it.
    """

    max_removed_fraction: float | None = 0.10  # None: no limit
    max_modified_fraction: float | None = 0.50
    max_added_fraction: float | None = 1.00
    # Records set aside by validation, as a share of the records parsed: above it the source
    # itself is broken, not a record.
    max_set_aside_fraction: float | None = 0.01
    always_allowed: int = 5

    def check_set_aside(self, set_aside: int, parsed: int) -> Outcome:
        limit = self.max_set_aside_fraction
        allowed = parsed if limit is None else max(int(limit * parsed), self.always_allowed)
        return Outcome(set_aside <= allowed, f"{set_aside} of {parsed} records set aside as invalid, at most "
                                             f"{'any' if limit is None else f'{limit:.0%}'} ({allowed}) allowed")  # fmt: skip

    def check(self, table: str, present_before: int, added: int, modified: int, removed: int) -> list[Outcome]:
        outcomes = []
        for verb, count, limit in (("remove", removed, self.max_removed_fraction),
                                   ("modify", modified, self.max_modified_fraction),
                                   ("add", added, self.max_added_fraction)):  # fmt: skip
            if limit is None:
                continue
            allowed = max(int(limit * present_before), self.always_allowed)
            outcomes.append(Outcome(count <= allowed, f"{table}: would {verb} {count} of {present_before} present "
                                                      f"entities, at most {limit:.0%} ({allowed}) allowed"))  # fmt: skip
        return outcomes


@dataclass
class Verdict:
    """Every rule a load was checked against; ``enforced`` is False under DSR_EXPECTATIONS=warn."""

    enforced: bool
    passed: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    accepted_by_operator: bool = False

    def add(self, outcome: Outcome) -> None:
        (self.passed if outcome.holds else self.broken).append(outcome.text)

    @property
    def quarantines(self) -> bool:
        return bool(self.broken) and self.enforced and not self.accepted_by_operator

    def reason(self) -> str:
        return "; ".join(self.broken)

    def as_details(self) -> dict:
        return {"passed": self.passed, "failed": self.broken, "enforced": self.enforced,
                "accepted_by_operator": self.accepted_by_operator}  # fmt: skip


Expectation = RowCountBounds | MaxNullFraction
