"""The run ledgers, ``ops.source_runs`` and ``ops.risk_evaluations``: every statement on them lives here.

A run moves through phases (fetching -> fetched -> loading) and ends in one status: succeeded,
failed, skipped, quarantined (its load broke an expectation or the change guard and was rolled
back) or abandoned (it died without recording an outcome; the next start of its source says so).
Each phase records the database backend that carries it, so a run whose backend is gone is known
to be dead rather than slow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import psycopg

# A fetched run waits for its load task; after this long without one it is abandoned.
FETCHED_RUN_PATIENCE = "1 day"


@dataclass(frozen=True)
class RunRow:
    run_id: int
    source: str
    status: str
    fetch_mode: str
    requests: int
    error: str | None


def start_run(conn: psycopg.Connection, source: str, fetch_mode: str, airflow_run_id: str | None) -> int:
    return conn.execute(
        """INSERT INTO ops.source_runs (source, fetch_mode, airflow_run_id, phase, backend_pid, backend_started_at)
           SELECT %s, %s, %s, 'fetching', pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()
           RETURNING run_id""",
        (source, fetch_mode, airflow_run_id),
    ).fetchone()[0]


def declare_sources(conn: psycopg.Connection, specs) -> None:
    """Refresh what each source declares about itself (schedule, freshness limit) in ops."""
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO ops.source_declarations (source, title, schedule, max_age) VALUES (%s, %s, %s, %s)
               ON CONFLICT (source) DO UPDATE SET title = EXCLUDED.title, schedule = EXCLUDED.schedule,
                   max_age = EXCLUDED.max_age, updated_at = now()
               WHERE (ops.source_declarations.title, ops.source_declarations.schedule, ops.source_declarations.max_age)
                     IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.schedule, EXCLUDED.max_age)""",
            [(s.name, s.title, s.schedule, s.freshness_limit) for s in specs],
        )
        # Tables one source alone writes (shared ones have no removal or a scope column).
        cur.executemany(
            """INSERT INTO ops.source_tables (table_name, source) VALUES (%s, %s)
               ON CONFLICT (table_name) DO UPDATE SET source = EXCLUDED.source
               WHERE ops.source_tables.source IS DISTINCT FROM EXCLUDED.source""",
            [(t.table, s.name) for s in specs for t in s.tables if t.tracks_removal and not t.scope_column],
        )


FRESHNESS_COLUMNS = ("source", "last_success_at", "age", "max_age", "is_stale", "last_run_id", "last_status",
                     "last_error")  # fmt: skip


def freshness(conn: psycopg.Connection) -> list[dict]:
    """One dict per declared source (ops.source_freshness), in name order."""
    rows = conn.execute(f"SELECT {', '.join(FRESHNESS_COLUMNS)} FROM ops.source_freshness ORDER BY source").fetchall()  # noqa: S608
    return [dict(zip(FRESHNESS_COLUMNS, row, strict=True)) for row in rows]


def enter_phase(conn: psycopg.Connection, run_id: int, phase: str) -> None:
    """Record the phase and the backend of ``conn`` as the one carrying the run."""
    conn.execute(
        """UPDATE ops.source_runs r SET phase = %s, backend_pid = a.pid, backend_started_at = a.backend_start
             FROM pg_stat_activity a WHERE a.pid = pg_backend_pid() AND r.run_id = %s""",
        (phase, run_id),
    )


def finish_run(conn: psycopg.Connection, run_id: int, status: str, error: str | None = None, *,
               details: dict | None = None, **columns) -> None:  # fmt: skip
    """End a run: its status, error and counters (column names are the ledger's own)."""
    assignments = "".join(f", {name} = %({name})s" for name in columns)
    conn.execute(
        f"""UPDATE ops.source_runs SET status = %(status)s, error = %(error)s, phase = NULL,
                   finished_at = clock_timestamp(), details = details || %(details)s::jsonb{assignments}
             WHERE run_id = %(run_id)s""",  # noqa: S608 - column names are ours
        {"status": status, "error": error, "run_id": run_id, "details": json.dumps(details or {}), **columns},
    )


def record_fetch(conn: psycopg.Connection, run_id: int, requests: int, bytes_fetched: int) -> None:
    conn.execute(
        """UPDATE ops.source_runs SET fetched_at = clock_timestamp(), requests = %s, bytes_fetched = %s,
                  phase = 'fetched' WHERE run_id = %s""",
        (requests, bytes_fetched, run_id),
    )


def add_details(conn: psycopg.Connection, run_id: int, details: dict) -> None:
    conn.execute("UPDATE ops.source_runs SET details = details || %s::jsonb WHERE run_id = %s",
                 (json.dumps(details, default=str), run_id))  # fmt: skip


def details(conn: psycopg.Connection, run_id: int) -> dict:
    row = conn.execute("SELECT details FROM ops.source_runs WHERE run_id = %s", (run_id,)).fetchone()
    return row[0] if row else {}


def reopen(conn: psycopg.Connection, run_id: int) -> None:
    """A quarantined run back to running, for an operator's deliberate load (the earlier verdict is kept)."""
    conn.execute(
        """UPDATE ops.source_runs SET status = 'running', finished_at = NULL,
                  details = details || jsonb_build_object('accepted_quarantine', error), error = NULL
            WHERE run_id = %s AND status = 'quarantined'""",
        (run_id,),
    )


def run_row(conn: psycopg.Connection, run_id: int) -> RunRow:
    row = conn.execute(
        "SELECT run_id, source, status, fetch_mode, requests, error FROM ops.source_runs WHERE run_id = %s", (run_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"no source run {run_id} in ops.source_runs")
    return RunRow(*row)


def previous_success(conn: psycopg.Connection, source: str, before_run: int) -> tuple[datetime | None, dict | None]:
    """Fetch time of the last successful run before ``before_run``, and the source's cursor."""
    row = conn.execute(
        "SELECT max(fetched_at) FROM ops.source_runs WHERE source = %s AND status = 'succeeded' AND run_id < %s",
        (source, before_run),
    ).fetchone()
    cursor_row = conn.execute("SELECT cursor FROM ops.source_cursors WHERE source = %s", (source,)).fetchone()
    return row[0], (cursor_row[0] if cursor_row else None)


def fetched_at(conn: psycopg.Connection, run_id: int) -> datetime:
    """When the run's fetch ended (the clock records are judged against), or now."""
    return conn.execute("SELECT coalesce(fetched_at, clock_timestamp()) FROM ops.source_runs WHERE run_id = %s",
                        (run_id,)).fetchone()[0]  # fmt: skip


def record_set_aside(conn: psycopg.Connection, run_id: int, source: str, records: list) -> None:
    """Write the records a run set aside (``validation.SetAside``) to ops.quarantined_records."""
    if not records:
        return
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO ops.quarantined_records (run_id, source, url, record_key, field, value_excerpt, reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [(run_id, source, r.url, r.record_key, r.field, r.value, f"{r.table}: {r.reason}") for r in records],
        )


def later_success(conn: psycopg.Connection, source: str, run_id: int) -> int | None:
    """The newest successful run of ``source`` after ``run_id``, if any."""
    return conn.execute(
        "SELECT max(run_id) FROM ops.source_runs WHERE source = %s AND status = 'succeeded' AND run_id > %s",
        (source, run_id),
    ).fetchone()[0]


def save_cursor(conn: psycopg.Connection, source: str, cursor: dict, run_id: int) -> None:
    conn.execute(
        """INSERT INTO ops.source_cursors (source, cursor, run_id) VALUES (%s, %s, %s)
           ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor, run_id = EXCLUDED.run_id, updated_at = now()""",
        (source, json.dumps(cursor), run_id),
    )


def last_load_with_fingerprint(conn: psycopg.Connection, source: str, fingerprint: str) -> tuple[int, int] | None:
    """(run id, entities) of the latest successful load, if it read the same payloads with the same code."""
    row = conn.execute(
        """SELECT run_id, entities_parsed, details ->> 'input_fingerprint' FROM ops.source_runs
            WHERE source = %s AND status = 'succeeded' ORDER BY run_id DESC LIMIT 1""",
        (source,),
    ).fetchone()
    return (row[0], row[1]) if row and row[2] == fingerprint else None


def abandon_orphans(conn: psycopg.Connection, source: str, found_by: int) -> list[int]:
    """Mark runs of ``source`` that died mid-way (their backend is gone) as abandoned."""
    rows = conn.execute(
        f"""UPDATE ops.source_runs r
               SET status = 'abandoned', finished_at = clock_timestamp(),
                   error = format('abandoned during %%s: the run ended without recording an outcome '
                                  '(killed, crashed or lost its connection); found by run %%s',
                                  coalesce(r.phase, 'an unknown phase'), %(found_by)s::bigint),
                   phase = NULL
             WHERE r.source = %(source)s AND r.status = 'running' AND r.run_id <> %(found_by)s
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                WHERE a.pid = r.backend_pid AND a.backend_start = r.backend_started_at)
               AND (r.phase IS DISTINCT FROM 'fetched'
                    OR r.fetched_at < clock_timestamp() - interval '{FETCHED_RUN_PATIENCE}')
         RETURNING r.run_id""",  # noqa: S608 - a constant of this module
        {"source": source, "found_by": found_by},
    ).fetchall()
    return [r[0] for r in rows]


def latest_run_id(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT coalesce(max(run_id), 0) FROM ops.source_runs").fetchone()[0]


SUMMARY_COLUMNS = """source, run_id, status, fetch_mode, requests, entities_parsed, added, modified, removed,
                     is_baseline, extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at), error"""


def summary_rows(conn: psycopg.Connection, *, airflow_run_ids: list[str] | None = None,
                 latest_per_source: bool = False) -> list[tuple]:  # fmt: skip
    """Rows for run summaries: the runs of the given Airflow runs, or the latest run of each source."""
    if latest_per_source:
        query = f"SELECT DISTINCT ON (source) {SUMMARY_COLUMNS} FROM ops.source_runs ORDER BY source, run_id DESC"  # noqa: S608
        return conn.execute(query).fetchall()
    query = f"SELECT {SUMMARY_COLUMNS} FROM ops.source_runs WHERE airflow_run_id = ANY(%s) ORDER BY run_id"  # noqa: S608
    return conn.execute(query, (list(airflow_run_ids or []),)).fetchall()


# --- risk evaluations ------------------------------------------------------------------------------
def start_evaluation(conn: psycopg.Connection, airflow_run_id: str | None) -> int:
    return conn.execute("INSERT INTO ops.risk_evaluations (airflow_run_id) VALUES (%s) RETURNING run_id",
                        (airflow_run_id,)).fetchone()[0]  # fmt: skip


def finish_evaluation(conn: psycopg.Connection, run_id: int, *, patterns: int, matches: int, opened: int,
                      opened_baseline: int, reopened: int, severity_changed: int, resolved: int,
                      matches_per_pattern: dict) -> None:  # fmt: skip
    conn.execute(
        """UPDATE ops.risk_evaluations
              SET status = 'succeeded', finished_at = clock_timestamp(), patterns = %s, matches = %s, opened = %s,
                  opened_baseline = %s, reopened = %s, severity_changed = %s, resolved = %s,
                  details = jsonb_build_object('matches_per_pattern', %s::jsonb)
            WHERE run_id = %s""",
        (patterns, matches, opened, opened_baseline, reopened, severity_changed, resolved,
         json.dumps(matches_per_pattern), run_id),
    )  # fmt: skip


def fail_evaluation(conn: psycopg.Connection, run_id: int, error: str) -> None:
    conn.execute("UPDATE ops.risk_evaluations SET status = 'failed', finished_at = clock_timestamp(), error = %s "
                 "WHERE run_id = %s", (error, run_id))  # fmt: skip


def first_evaluation_start(conn: psycopg.Connection) -> datetime | None:
    return conn.execute("SELECT min(started_at) FROM ops.risk_evaluations WHERE status = 'succeeded'").fetchone()[0]


def evaluations_between(conn: psycopg.Connection, start: datetime, end: datetime) -> tuple[datetime | None, int]:
    """(the last successful evaluation that finished before ``end``, how many finished in [start, end))."""
    return conn.execute(
        """SELECT max(finished_at) FILTER (WHERE finished_at < %(end)s),
                  count(*) FILTER (WHERE finished_at >= %(start)s AND finished_at < %(end)s)
             FROM ops.risk_evaluations WHERE status = 'succeeded'""",
        {"start": start, "end": end},
    ).fetchone()


EVALUATION_COLUMNS = """run_id, status, patterns, matches, opened, opened_baseline, reopened, severity_changed,
                        resolved, extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at), error"""


def evaluation_rows(conn: psycopg.Connection, *, airflow_run_ids: list[str] | None = None,
                    latest: bool = False) -> list[tuple]:  # fmt: skip
    if latest:
        return conn.execute(f"SELECT {EVALUATION_COLUMNS} FROM ops.risk_evaluations ORDER BY run_id DESC LIMIT 1"  # noqa: S608
                            ).fetchall()  # fmt: skip
    return conn.execute(f"SELECT {EVALUATION_COLUMNS} FROM ops.risk_evaluations WHERE airflow_run_id = ANY(%s) "  # noqa: S608
                        "ORDER BY run_id", (list(airflow_run_ids or []),)).fetchall()  # fmt: skip
