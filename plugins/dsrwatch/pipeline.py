"""Run one source: fetch -> raw, raw -> parse -> core (one transaction), then expectations.

Each step is a function of a run id, so Airflow tasks hand over only that id: the payloads
themselves travel through the raw layer, never through XCom.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from dsrwatch.fetching import Fetcher, FetchError
from dsrwatch.sources import get_source
from dsrwatch.sources.base import MaxNullFraction, ParsedBatch, RowCountBounds, SourceSpec
from dsrwatch.warehouse import connect, describe_location, ensure_schema
from dsrwatch.warehouse.loading import MergeCounts, merge_rows
from dsrwatch.warehouse.raw import RawStore, iter_run_payloads

log = logging.getLogger(__name__)


class ExpectationFailed(AssertionError):
    """A loaded source broke one of its declared expectations (row counts, nulls)."""


class LoadFailed(RuntimeError):
    """Parsing or merging a run failed; core was rolled back and the run marked failed."""


@dataclass
class RunSummary:
    source: str
    run_id: int
    status: str
    fetch_mode: str
    requests: int = 0
    entities: int | None = None
    added: int | None = None
    modified: int | None = None
    removed: int | None = None
    is_baseline: bool | None = None
    seconds: float | None = None
    error: str | None = None
    location: str | None = None

    def line(self) -> str:
        if self.status == "skipped":
            return f"{self.source:<18} skipped: {self.error}"
        if self.status == "failed":
            return f"{self.source:<18} FAILED (run {self.run_id}): {self.error}"
        baseline = " (baseline)" if self.is_baseline else ""
        if self.fetch_mode == "engine":
            return (
                f"{self.source:<18} {self.entities} pattern matches; opened {self.added}{baseline}, "
                f"reopened or re-rated {self.modified}, resolved {self.removed}; {self.seconds:.1f}s -> {self.location}"
            )
        return (
            f"{self.source:<18} fetched {self.entities} entities in {self.requests} requests; "
            f"new {self.added}, changed {self.modified}, removed {self.removed}{baseline}; "
            f"{self.seconds:.1f}s -> {self.location}"
        )


def _finish_run(conn: psycopg.Connection, run_id: int, status: str, error: str | None = None, **columns) -> None:
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    extra = f", {assignments}" if assignments else ""
    conn.execute(
        f"UPDATE ops.source_runs SET status = %(status)s, error = %(error)s, finished_at = clock_timestamp(){extra} "  # noqa: S608 - column names are ours
        "WHERE run_id = %(run_id)s",
        {"status": status, "error": error, "run_id": run_id, **columns},
    )


def _previous_success(conn: psycopg.Connection, source: str, before_run: int) -> tuple[datetime | None, dict | None]:
    """Fetch time of the last successful run before ``before_run``, and the source's cursor."""
    row = conn.execute(
        """SELECT max(fetched_at) FROM ops.source_runs
            WHERE source = %s AND status = 'succeeded' AND run_id < %s""",
        (source, before_run),
    ).fetchone()
    cursor_row = conn.execute("SELECT cursor FROM ops.source_cursors WHERE source = %s", (source,)).fetchone()
    return row[0], (cursor_row[0] if cursor_row else None)


def fetch_to_raw(source_name: str, airflow_run_id: str | None = None) -> int:
    """Fetch a source into raw; returns the run id. A source the replay cannot serve is skipped."""
    module = get_source(source_name)
    spec: SourceSpec = module.SOURCE
    ensure_schema()
    with connect(autocommit=True) as conn:
        fetcher = Fetcher(politeness_delay=spec.politeness_delay, **spec.fetcher_options)
        run_id = conn.execute(
            "INSERT INTO ops.source_runs (source, fetch_mode, airflow_run_id) VALUES (%s, %s, %s) RETURNING run_id",
            (spec.name, fetcher.mode, airflow_run_id),
        ).fetchone()[0]
        missing_hosts = [h for h in spec.hosts if not fetcher.covers_host(h)]
        if missing_hosts:
            reason = f"replay directories hold nothing for {', '.join(missing_hosts)}"
            _finish_run(conn, run_id, "skipped", reason)
            log.warning("%s: skipped, %s", spec.name, reason)
            return run_id
        store = RawStore(conn, run_id, spec.name)
        fetcher.conditional = store
        _, cursor = _previous_success(conn, spec.name, run_id)
        log.info("%s: run %d fetching in %s mode (cursor %s)", spec.name, run_id, fetcher.mode, cursor)
        try:
            for response in module.fetch(fetcher, cursor):
                store.add(response)
                if fetcher.requests_made % 100 == 0:
                    log.info("%s: %d requests so far", spec.name, fetcher.requests_made)
        except Exception as exc:
            store.flush()  # keep what was fetched before the failure
            _finish_run(conn, run_id, "failed", f"fetch: {exc}", requests=fetcher.requests_made)
            log.error("%s: fetch failed after %d requests: %s", spec.name, fetcher.requests_made, exc)
            raise
        finally:
            fetcher.close()
        store.flush()
        conn.execute(
            "UPDATE ops.source_runs SET fetched_at = clock_timestamp(), requests = %s, bytes_fetched = %s WHERE run_id = %s",
            (fetcher.requests_made, store.bytes_stored, run_id),
        )
        log.info("%s: fetched %d responses, %d bytes", spec.name, store.stored, store.bytes_stored)
    return run_id


def _run_row(conn: psycopg.Connection, run_id: int) -> dict:
    row = conn.execute(
        "SELECT source, status, fetch_mode, requests, error FROM ops.source_runs WHERE run_id = %s", (run_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"no source run {run_id} in ops.source_runs")
    return dict(zip(("source", "status", "fetch_mode", "requests", "error"), row, strict=True))


def apply_batch(
    conn: psycopg.Connection, spec: SourceSpec, batch: ParsedBatch, run_id: int, previous_seen: datetime | None
) -> MergeCounts:
    """Merge every table of a parsed batch; the caller holds the transaction."""
    # Every stamp in the run is the transaction's now(), the same across tables.
    # JIT compilation costs more than it saves on these one-off statements; hash joins of a
    # few hundred thousand keys fit in memory instead of spilling.
    conn.execute("SET LOCAL jit = off")
    conn.execute("SET LOCAL work_mem = '128MB'")
    per_table: dict[str, MergeCounts] = {}
    for table in spec.tables:
        rows = batch.rows.get(table.table, [])
        deleted = None if batch.complete else batch.deleted_keys.get(table.table, [])
        per_table[table.table] = merge_rows(
            conn, table, rows, run_id=run_id, source=spec.name,
            previous_seen=previous_seen, deleted_keys=deleted, record_added=previous_seen is not None,
        )  # fmt: skip
    primary = per_table[spec.tables[0].table]
    children = {t.table: len(t.entity_columns) for t in spec.tables if t.entity_columns}
    if children and previous_seen is not None:
        # An entity whose parts changed (a new owner, a landing point dropped) counts as changed.
        primary.modified = conn.execute(
            """SELECT count(DISTINCT k) FROM (
                   SELECT entity_key AS k FROM core.entity_changes
                    WHERE run_id = %(run)s AND entity_table = %(primary)s AND change = 'modified'
                   UNION ALL
                   SELECT array_to_string((string_to_array(c.entity_key, '|'))[1:(%(children)s::jsonb ->> c.entity_table)::int], '|')
                     FROM core.entity_changes c
                    WHERE c.run_id = %(run)s AND %(children)s::jsonb ? c.entity_table) changed
                WHERE k NOT IN (SELECT entity_key FROM core.entity_changes
                                 WHERE run_id = %(run)s AND entity_table = %(primary)s AND change <> 'modified')""",
            {"run": run_id, "primary": spec.tables[0].table, "children": json.dumps(children)},
        ).fetchone()[0]
    conn.execute(
        "UPDATE ops.source_runs SET details = details || %s::jsonb WHERE run_id = %s",
        (json.dumps({"tables": {t: asdict(c) for t, c in per_table.items()}, "warnings": batch.warnings[:50]}), run_id),
    )
    return primary


def code_fingerprint(module) -> str:
    """Digest of the code and seed data that turn payloads into rows: the source modules,
    normalisation, reference seeds and the loader. Any change to them forces a full reload."""
    package = Path(__file__).parent
    # Every source module: one may import another's tables and helpers (the deal sources do).
    files = [Path(module.__file__), package / "warehouse" / "loading.py", *sorted((package / "sources").glob("*.py"))]
    files += sorted((package / "normalise").glob("*.py")) + sorted((package / "reference").glob("*"))
    digest = hashlib.sha256()
    for f in files:
        if f.is_file():
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def input_fingerprint(conn: psycopg.Connection, run_id: int, module) -> str:
    """Digest of what a load would read: every payload's URL and sha256, plus the code."""
    digest = hashlib.sha256(code_fingerprint(module).encode())
    for url, sha in conn.execute(
        "SELECT url, sha256 FROM raw.http_responses WHERE run_id = %s ORDER BY response_id", (run_id,)
    ):
        digest.update(f"{url}\t{sha}\n".encode())
    return digest.hexdigest()


def _unchanged_since_last_load(conn: psycopg.Connection, source: str, fingerprint: str) -> tuple | None:
    """The latest successful load if it read exactly the same payloads with the same code."""
    row = conn.execute(
        """SELECT run_id, entities_parsed, details ->> 'input_fingerprint' FROM ops.source_runs
            WHERE source = %s AND status = 'succeeded' ORDER BY run_id DESC LIMIT 1""",
        (source,),
    ).fetchone()
    return row if row and row[2] == fingerprint else None


def load_from_raw(run_id: int) -> RunSummary:
    """Parse the payloads of ``run_id`` and merge them into core, all in one transaction."""
    started = time.perf_counter()
    with connect(autocommit=True) as conn:
        run = _run_row(conn, run_id)
        if run["status"] != "running":
            return RunSummary(source=run["source"], run_id=run_id, status=run["status"],
                              fetch_mode=run["fetch_mode"], error=run["error"])  # fmt: skip
        module = get_source(run["source"])
        spec: SourceSpec = module.SOURCE
        previous_seen, cursor = _previous_success(conn, spec.name, run_id)
        is_baseline = previous_seen is None
        fingerprint = input_fingerprint(conn, run_id, module)
        same = _unchanged_since_last_load(conn, spec.name, fingerprint)
        if same is not None:
            # Same payloads, same code: the merge would write nothing, so skip parse and merge.
            with conn.transaction():
                _finish_run(conn, run_id, "succeeded", entities_parsed=same[1], added=0, modified=0, removed=0,
                            is_baseline=False)  # fmt: skip
                conn.execute(
                    "UPDATE ops.source_runs SET details = details || %s::jsonb WHERE run_id = %s",
                    (json.dumps({"input_fingerprint": fingerprint, "unchanged_since_run": same[0]}), run_id),
                )
            log.info("%s: run %d read the same payloads as run %d: nothing to load", spec.name, run_id, same[0])
            return _summary(spec, run_id, run, same[1], MergeCounts(), False, time.perf_counter() - started)
        try:
            with conn.transaction():
                batch: ParsedBatch = module.parse(iter_run_payloads(conn, run_id), cursor)
                for warning in batch.warnings[:20]:
                    log.warning("%s: %s", spec.name, warning)
                counts = apply_batch(conn, spec, batch, run_id, previous_seen)
                if batch.cursor is not None:
                    conn.execute(
                        """INSERT INTO ops.source_cursors (source, cursor, run_id) VALUES (%s, %s, %s)
                           ON CONFLICT (source) DO UPDATE SET cursor = EXCLUDED.cursor,
                               run_id = EXCLUDED.run_id, updated_at = now()""",
                        (spec.name, json.dumps(batch.cursor), run_id),
                    )
                _finish_run(
                    conn, run_id, "succeeded", entities_parsed=batch.entities, added=counts.added + counts.restored,
                    modified=counts.modified, removed=counts.removed, is_baseline=is_baseline,
                )  # fmt: skip
                conn.execute(
                    "UPDATE ops.source_runs SET details = details || %s::jsonb WHERE run_id = %s",
                    (json.dumps({"input_fingerprint": fingerprint}), run_id),
                )
        except Exception as exc:
            message = f"load: {type(exc).__name__}: {exc}"
            with conn.transaction():
                _finish_run(conn, run_id, "failed", message)
            log.error("%s: run %d failed, core left as it was: %s", spec.name, run_id, message)
            raise LoadFailed(f"{spec.name} run {run_id}: {message}") from exc
    return _summary(spec, run_id, run, batch.entities, counts, is_baseline, time.perf_counter() - started)


def _summary(spec: SourceSpec, run_id: int, run: dict, entities: int, counts: MergeCounts, is_baseline: bool,
             seconds: float) -> RunSummary:  # fmt: skip
    summary = RunSummary(
        source=spec.name, run_id=run_id, status="succeeded", fetch_mode=run["fetch_mode"], requests=run["requests"],
        entities=entities, added=counts.added + counts.restored, modified=counts.modified, removed=counts.removed,
        is_baseline=is_baseline, seconds=seconds,
        location=f"{', '.join(spec.views) or spec.tables[0].table} in {describe_location()}",
    )  # fmt: skip
    log.info("%s", summary.line())
    return summary


def check_expectations(run_id: int) -> list[str]:
    """Check the source's declared expectations after a load; raise ExpectationFailed if broken."""
    with connect(autocommit=True) as conn:
        run = _run_row(conn, run_id)
        if run["status"] != "succeeded":
            log.info("run %d is %s: no expectations to check", run_id, run["status"])
            return []
        spec: SourceSpec = get_source(run["source"]).SOURCE
        problems: list[str] = []
        checked: list[str] = []
        for rule in spec.expectations:
            schema, table = rule.table.split(".")
            ident = psycopg.sql.Identifier(schema, table)
            scope = psycopg.sql.SQL("")
            if rule.scope_column:
                scope = psycopg.sql.SQL(" AND {} = {}").format(
                    psycopg.sql.Identifier(rule.scope_column), psycopg.sql.Literal(spec.name)
                )
            if isinstance(rule, RowCountBounds):
                query = psycopg.sql.SQL("SELECT count(*) FROM {} WHERE removed_at IS NULL{}").format(ident, scope)
                count = conn.execute(query).fetchone()[0]
                text = f"{rule.table}: {count} present rows, expected {rule.minimum}..{rule.maximum}"
                (problems if not rule.minimum <= count <= rule.maximum else checked).append(text)
            elif isinstance(rule, MaxNullFraction):
                query = psycopg.sql.SQL(
                    "SELECT count(*), count(*) FILTER (WHERE {col} IS NULL) FROM {tbl} WHERE removed_at IS NULL{scope}"
                ).format(col=psycopg.sql.Identifier(rule.column), tbl=ident, scope=scope)
                total, nulls = conn.execute(query).fetchone()
                fraction = nulls / total if total else 0.0
                text = f"{rule.table}.{rule.column}: {nulls}/{total} NULL, at most {rule.fraction:.0%} allowed"
                (problems if fraction > rule.fraction else checked).append(text)
        with conn.transaction():
            conn.execute(
                "UPDATE ops.source_runs SET details = details || %s::jsonb WHERE run_id = %s",
                (json.dumps({"expectations": {"passed": checked, "failed": problems}}), run_id),
            )
    if problems:
        raise ExpectationFailed(f"{spec.name} run {run_id} broke its expectations: " + "; ".join(problems))
    log.info("%s run %d: %d expectations hold", spec.name, run_id, len(checked))
    return checked


def summaries_since(first_run_id: int, latest_per_source: bool = False) -> list[RunSummary]:
    """Summaries of the runs with id >= ``first_run_id`` (the latest per source if asked)."""
    from dsrwatch.sources import source_names

    distinct = "DISTINCT ON (source)" if latest_per_source else ""
    query = f"""
        SELECT {distinct} source, run_id, status, fetch_mode, requests, entities_parsed, added, modified, removed,
               is_baseline, extract(epoch FROM finished_at - started_at), error
          FROM ops.source_runs WHERE run_id >= %s
         ORDER BY {"source, run_id DESC" if latest_per_source else "run_id"}"""  # noqa: S608 - fixed fragments
    with connect() as conn:
        rows = conn.execute(query, (first_run_id,)).fetchall()
    location = describe_location()
    summaries = []
    for row in rows:
        summary = RunSummary(*row[:10], seconds=float(row[10] or 0), error=row[11])
        if summary.source in source_names():
            views = get_source(summary.source).SOURCE.views
            summary.location = f"{', '.join(views)} in {location}"
        elif summary.fetch_mode == "engine":
            summary.location = "analyst.risk_flags, analyst.entity_risk"
        summaries.append(summary)
    return summaries


def run_source(source_name: str, airflow_run_id: str | None = None) -> RunSummary:
    """Fetch, load and check one source (what its DAG does), for scripts and tests."""
    run_id = fetch_to_raw(source_name, airflow_run_id)
    summary = load_from_raw(run_id)
    check_expectations(run_id)
    return summary


__all__ = ["FetchError", "ExpectationFailed", "LoadFailed", "RunSummary", "check_expectations",
           "fetch_to_raw", "load_from_raw", "run_source"]  # fmt: skip
