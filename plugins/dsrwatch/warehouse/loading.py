"""Set-based loading into core: COPY into a staging table, then one merge statement per table.

The merge writes only rows whose content hash changed, records every change in
``core.entity_changes`` ({column: [old, new]} for modifications), marks rows that left the source
with ``removed_at`` (never deletes) and brings back rows that return ("restored").

``last_seen_at`` is written only when a row changes, so an unchanged rerun writes nothing; the
analyst views show the source's latest successful fetch for rows still present.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

# Declared by the sources in a module without psycopg (DAG files import the declarations).
from dsrwatch.warehouse.tables import EntityTable

log = logging.getLogger(__name__)

TRACKING_COLUMNS = ("content_hash", "first_seen_at", "last_seen_at", "last_changed_at", "removed_at")


class DuplicateKeyError(ValueError):
    """A parser produced two rows with the same key for one table."""


@dataclass
class MergeCounts:
    added: int = 0
    modified: int = 0
    removed: int = 0
    restored: int = 0


def copy_rows(cur: psycopg.Cursor, table: sql.Composable, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY rows into ``table``; returns the number written."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    count = 0
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _as_jsonb(conn: psycopg.Connection, spec: EntityTable, rows: Iterable[Sequence]) -> Iterable[Sequence]:
    """Rows with the values of the table's jsonb columns wrapped for psycopg: sources hand over
    plain lists and dicts (they know nothing of the database driver)."""
    from psycopg.types.json import Jsonb

    schema, name = spec.table.split(".")
    jsonb = {r[0] for r in conn.execute(
        """SELECT column_name FROM information_schema.columns
            WHERE table_schema = %s AND table_name = %s AND data_type = 'jsonb'""", (schema, name))}  # fmt: skip
    positions = [i for i, column in enumerate(spec.all_columns) if column in jsonb]
    if not positions:
        return rows

    def wrap(row: Sequence) -> list:
        values = list(row)
        for i in positions:
            if values[i] is not None and not isinstance(values[i], Jsonb):
                values[i] = Jsonb(values[i])
        return values

    return map(wrap, rows)


def _merge_statement(spec: EntityTable, staging: sql.Identifier, deleted: sql.Identifier | None,
                     kept: sql.Identifier | None = None, kept_columns: Sequence[str] = ()) -> sql.Composed:
    """The one merge statement.

    ``diff`` keeps only staged rows that are new, changed (hash differs) or coming back, so an
    unchanged row costs one hash-join probe and no write. Rows leave when absent from staging,
    or, for an incremental batch (``deleted`` given), when listed in the ``deleted`` table.
    """
    ident = sql.Identifier
    target = spec.identifier()
    key_cols = sql.SQL(", ").join(map(ident, spec.key))
    all_cols = sql.SQL(", ").join(map(ident, spec.all_columns))
    # content_hash is a generated column: PostgreSQL recomputes it from the new values.
    set_values = sql.SQL("").join(sql.SQL("{0} = EXCLUDED.{0}, ").format(ident(c)) for c in spec.columns)
    s_cols = sql.SQL(", ").join(sql.SQL("s.{}").format(ident(c)) for c in spec.all_columns)
    key_match = sql.SQL(" AND ").join(sql.SQL("s.{0} = t.{0}").format(ident(k)) for k in spec.key)

    def key_text(alias: str) -> sql.Composable:
        return sql.SQL("concat_ws('|', {})").format(
            sql.SQL(", ").join(sql.SQL("{}.{}::text").format(ident(alias), ident(k)) for k in spec.key)
        )

    tracking = sql.SQL(", ").join(map(sql.Literal, TRACKING_COLUMNS))
    scope = (
        sql.SQL(" AND t.{} = %(source)s").format(ident(spec.scope_column)) if spec.scope_column else sql.SQL("")
    )
    if deleted is not None:
        leaves = sql.SQL("EXISTS (SELECT 1 FROM {deleted} s WHERE {key_match})").format(
            deleted=deleted, key_match=key_match
        )
    else:
        leaves = sql.SQL("NOT EXISTS (SELECT 1 FROM {staging} s WHERE {key_match})").format(
            staging=staging, key_match=key_match
        )
    if kept is not None:  # entities set aside by validation keep their rows as they were
        leaves = sql.SQL("{leaves} AND NOT EXISTS (SELECT 1 FROM {kept} k WHERE {match})").format(
            leaves=leaves, kept=kept,
            match=sql.SQL(" AND ").join(sql.SQL("k.{0} = t.{0}").format(ident(c)) for c in kept_columns))  # fmt: skip
    if spec.tracks_removal or deleted is not None:
        removed_cte = sql.SQL(
            """, removed AS (
                UPDATE {target} t
                   SET removed_at = now(), last_changed_at = now(),
                       last_seen_at = coalesce(%(previous_seen)s, t.last_seen_at)
                 WHERE t.removed_at IS NULL AND {leaves}{scope}
                RETURNING t.*
            )"""
        ).format(target=target, leaves=leaves, scope=scope)
        removed_count = sql.SQL("(SELECT count(*) FROM removed)")
        removed_rows = sql.SQL(
            """UNION ALL
            SELECT %(run_id)s, %(source)s, %(table)s, {key}, 'removed', NULL::jsonb, now() FROM removed r"""
        ).format(key=key_text("r"))
    else:
        removed_cte = sql.SQL("")
        removed_rows = sql.SQL("")
        removed_count = sql.SQL("0")
    return sql.SQL(
        """
        WITH diff AS (
            SELECT {s_cols}, s.content_hash,
                   t.content_hash IS NULL AS is_new, t.removed_at IS NOT NULL AS was_removed,
                   CASE WHEN t.content_hash IS NOT NULL THEN to_jsonb(t) END AS old_row
              FROM {staging} s LEFT JOIN {target} t USING ({key_cols})
             WHERE t.content_hash IS NULL OR t.removed_at IS NOT NULL OR t.content_hash <> s.content_hash
        ), upserted AS (
            INSERT INTO {target} AS t ({all_cols}, first_seen_at, last_seen_at, last_changed_at)
            SELECT {all_cols}, now(), now(), now() FROM diff
            ON CONFLICT ({key_cols}) DO UPDATE
               SET {set_values}last_seen_at = EXCLUDED.last_seen_at,
                   last_changed_at = EXCLUDED.last_changed_at, removed_at = NULL
        ){removed_cte}, history AS (
            INSERT INTO core.entity_changes
                   (run_id, source, entity_table, entity_key, change, changed_columns, changed_at)
            SELECT %(run_id)s, %(source)s, %(table)s, {diff_key},
                   CASE WHEN d.is_new THEN 'added' WHEN d.was_removed THEN 'restored' ELSE 'modified' END,
                   CASE WHEN d.is_new THEN NULL ELSE (
                       SELECT jsonb_object_agg(n.key, jsonb_build_array(o.value, n.value))
                         FROM jsonb_each(to_jsonb(d)) n JOIN jsonb_each(d.old_row) o USING (key)
                        WHERE n.value IS DISTINCT FROM o.value AND n.key NOT IN ({tracking})
                   ) END,
                   now()
              FROM diff d
             WHERE %(record_added)s OR NOT d.is_new
            {removed_rows}
        )
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new AND NOT was_removed),
               count(*) FILTER (WHERE was_removed), {removed_count}
          FROM diff
        """
    ).format(
        s_cols=s_cols,
        staging=staging,
        target=target,
        key_cols=key_cols,
        all_cols=all_cols,
        set_values=set_values,
        removed_cte=removed_cte,
        diff_key=key_text("d"),
        tracking=tracking,
        removed_rows=removed_rows,
        removed_count=removed_count,
    )


def _create_staging(cur: psycopg.Cursor, staging: sql.Identifier, spec: EntityTable) -> None:
    """A temp table (no WAL, no index) shaped like the target, computing the same content_hash."""
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING GENERATED) ON COMMIT DROP").format(
            staging, spec.identifier()
        )
    )


def _create_key_list(cur: psycopg.Cursor, table: sql.Identifier, spec: EntityTable) -> None:
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            table, sql.SQL(", ").join(map(sql.Identifier, spec.key)), spec.identifier()
        )
    )


def _copy_into_empty_target(
    conn: psycopg.Connection, spec: EntityTable, rows: Iterable[Sequence[object]], record_added: bool, **params
) -> MergeCounts:
    """First load of an empty table: nothing to compare with, so COPY straight into it.

    The same rows as the merge would insert, with the same generated hash and now() stamps; a
    duplicate key fails on the primary key. History rows only if this is not the baseline.
    """
    with conn.cursor() as cur:
        try:
            with conn.transaction():
                added = copy_rows(cur, spec.identifier(), spec.all_columns, rows)
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKeyError(
                f"{spec.table}: the batch holds a key more than once (a parser bug): {exc.diag.message_detail}"
            ) from exc
        if record_added:
            key = sql.SQL("concat_ws('|', {})").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(k)) for k in spec.key)
            )
            cur.execute(
                sql.SQL(
                    """INSERT INTO core.entity_changes
                              (run_id, source, entity_table, entity_key, change, changed_columns, changed_at)
                       SELECT %(run_id)s, %(source)s, %(table)s, {key}, 'added', NULL, now() FROM {target}
                        WHERE {in_scope}"""
                ).format(
                    key=key,
                    target=spec.identifier(),
                    in_scope=sql.SQL("{} = %(source)s").format(sql.Identifier(spec.scope_column))
                    if spec.scope_column
                    else sql.SQL("true"),
                ),
                {**params, "table": spec.table},
            )
    return MergeCounts(added=added)



def _duplicate_keys(cur: psycopg.Cursor, staging: sql.Identifier, spec: EntityTable) -> list[tuple]:
    key = sql.SQL(", ").join(map(sql.Identifier, spec.key))
    cur.execute(
        sql.SQL("SELECT {key}, count(*) FROM {staging} GROUP BY {key} HAVING count(*) > 1 LIMIT 3").format(
            key=key, staging=staging
        )
    )
    return cur.fetchall()


def merge_rows(
    conn: psycopg.Connection,
    spec: EntityTable,
    rows: Iterable[Sequence[object]],
    *,
    run_id: int,
    source: str,
    previous_seen: datetime | None,
    deleted_keys: Sequence[Sequence[object]] | None = None,
    record_added: bool = True,
    kept_keys: Sequence[Sequence[object]] = (),
) -> MergeCounts:
    """COPY ``rows`` (key columns then value columns) into staging and merge them into the table.

    A complete batch (``deleted_keys`` None) removes rows it does not contain, if the table
    tracks removal; an incremental batch removes exactly ``deleted_keys``. ``record_added`` False
    (a source's baseline load) writes no history row per added entity: everything is new then,
    and ``first_seen_at`` with the run's ``is_baseline`` already say so. ``kept_keys``: entities
    (values of the entity columns, or of the key) set aside by validation, neither updated nor removed.
    Runs inside the caller's transaction, so a failure anywhere rolls back every table.
    """
    staging = sql.Identifier(f"stage_{spec.short_name}")
    deleted = sql.Identifier(f"stage_{spec.short_name}_deleted") if deleted_keys is not None else None
    started = time.perf_counter()
    with conn.cursor() as cur:
        if spec.scope_column:
            cur.execute(
                sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {} WHERE {} = %s)").format(
                    spec.identifier(), sql.Identifier(spec.scope_column)
                ),
                (source,),
            )
        else:
            cur.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(spec.identifier()))
        target_is_empty = cur.fetchone()[0]
    rows = _as_jsonb(conn, spec, rows)
    if target_is_empty and deleted_keys is None:
        counts = _copy_into_empty_target(conn, spec, rows, record_added, run_id=run_id, source=source)
        log.info("copied %s into the empty table: %d rows in %.2fs", spec.table, counts.added,
                 time.perf_counter() - started)  # fmt: skip
        return counts
    with conn.cursor() as cur:
        _create_staging(cur, staging, spec)
        staged = copy_rows(cur, staging, spec.all_columns, rows)
        # Checked explicitly: a duplicate whose first copy is unchanged would slip past ON CONFLICT.
        duplicates = _duplicate_keys(cur, staging, spec)
        if duplicates:
            raise DuplicateKeyError(f"{spec.table}: the batch holds keys {spec.key} more than once (a parser bug), "
                                    f"e.g. {duplicates}")  # fmt: skip
        copied = time.perf_counter()
        if deleted is not None:
            _create_key_list(cur, deleted, spec)
            copy_rows(cur, deleted, spec.key, deleted_keys)
        kept, kept_columns = None, spec.key[: len(kept_keys[0])] if kept_keys else ()
        if kept_keys:
            kept = sql.Identifier(f"stage_{spec.short_name}_kept")
            cur.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                kept, sql.SQL(", ").join(map(sql.Identifier, kept_columns)), spec.identifier()))  # fmt: skip
            copy_rows(cur, kept, kept_columns, kept_keys)
        cur.execute(
            _merge_statement(spec, staging, deleted, kept, kept_columns),
            {"previous_seen": previous_seen, "run_id": run_id, "source": source,
             "table": spec.table, "record_added": record_added},
        )  # fmt: skip
        added, modified, restored, removed = cur.fetchone()
        for table in (staging, deleted, kept):
            if table is not None:
                cur.execute(sql.SQL("DROP TABLE {}").format(table))
    counts = MergeCounts(added=added, modified=modified, removed=removed, restored=restored)
    log.info(
        "merged %s: %d staged, +%d ~%d -%d (restored %d); copy %.2fs, merge %.2fs",
        spec.table, staged, added, modified, removed, restored, copied - started, time.perf_counter() - copied,
    )  # fmt: skip
    return counts
