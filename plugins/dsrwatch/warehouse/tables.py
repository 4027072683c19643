"""What a source declares about its tables and hands over to the loader: kept free of psycopg, so
a DAG file can import a source's declaration without loading the database driver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg import sql

    from dsrwatch.validation import Rule


@dataclass(frozen=True)
class EntityTable:
    """A core table loaded by merge: its key, its value columns, and whether rows can leave.

    ``tracks_removal`` is False for tables shared by several sources (organisations, aliases):
    one source not mentioning a row says nothing about whether it still exists.
    ``scope_column`` makes a table shareable *with* removal: each source's rows carry its name in
    that column (which must be part of the key), and a run only removes rows of its own scope.
    """

    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    tracks_removal: bool = True
    scope_column: str | None = None
    # In a part table (a cable's parties, a deal's components): the leading key columns that name
    # the source's main entity, so a change here counts as a change of that entity.
    entity_columns: tuple[str, ...] = ()
    # Declared checks on values beyond their column types (dsrwatch.validation: Range, NotAfterFetch).
    rules: tuple[Rule, ...] = ()


    def __post_init__(self) -> None:
        if self.scope_column is not None and self.scope_column not in self.key:
            raise ValueError(f"{self.table}: {self.scope_column!r} must be part of the key {self.key}")
        if self.key[: len(self.entity_columns)] != self.entity_columns:
            raise ValueError(f"{self.table}: entity columns {self.entity_columns} must lead the key {self.key}")

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.key + self.columns

    @property
    def short_name(self) -> str:
        return self.table.split(".")[-1]

    def identifier(self) -> sql.Composable:
        from psycopg import sql

        schema, name = self.table.split(".")
        return sql.Identifier(schema, name)


@dataclass(frozen=True)
class RawPayload:
    """One stored response body, as a parser receives it; ``fetched_at`` is when it was fetched
    (the clock records in it are judged against; None in hand-made payloads)."""

    url: str
    body: bytes
    fetched_at: datetime | None = None
