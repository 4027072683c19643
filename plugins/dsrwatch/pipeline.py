"""Run one source: fetch -> raw, then raw -> parse -> core -> expectations in one transaction.

Each step is a function of a run id, so Airflow tasks hand over only that id: the payloads
themselves travel through the raw layer, never through XCom. A load that breaks its source's
expectations or change guard is rolled back and the run quarantined (see ``dsrwatch.expectations``).
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

from dsrwatch import config, ledger
from dsrwatch.expectations import RowCountBounds, Verdict
from dsrwatch.fetching import Fetcher, FetchError
from dsrwatch.sources import get_source, source_names
from dsrwatch.sources.base import ParsedBatch, SourceSpec
from dsrwatch.validation import screen
from dsrwatch.warehouse import connect, describe_location, ensure_schema, locks
from dsrwatch.warehouse.loading import MergeCounts, merge_rows
from dsrwatch.warehouse.raw import RawStore, iter_run_payloads

log = logging.getLogger(__name__)


class ExpectationFailed(AssertionError):
    """A loaded source broke one of its declared expectations (row counts, nulls)."""


class RunQuarantined(ExpectationFailed):
    """A load broke its expectations or change guard: rolled back, raw kept, run quarantined."""


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
        if self.status in ("failed", "quarantined", "abandoned", "running"):
            return f"{self.source:<18} {self.status.upper()} (run {self.run_id}): {self.error or 'in progress'}"
        baseline = " (baseline)" if self.is_baseline else ""
        return (
            f"{self.source:<18} fetched {self.entities} entities in {self.requests} requests; "
            f"new {self.added}, changed {self.modified}, removed {self.removed}{baseline}; "
            f"{self.seconds:.1f}s -> {self.location}"
        )


def fetch_to_raw(source_name: str, airflow_run_id: str | None = None) -> int:
    """Fetch a source into raw; returns the run id. A source the replay cannot serve is skipped."""
    module = get_source(source_name)
    spec: SourceSpec = module.SOURCE
    ensure_schema()
    with connect(autocommit=True) as conn:
        fetcher = Fetcher(politeness_delay=spec.politeness_delay, max_payload_bytes=spec.max_payload_bytes,
                          api_key=spec.api_key, **spec.fetcher_options)
        run_id = ledger.start_run(conn, spec.name, fetcher.mode, airflow_run_id)
        ledger.declare_sources(conn, [get_source(name).SOURCE for name in source_names()])
        for orphan in ledger.abandon_orphans(conn, spec.name, found_by=run_id):
            log.warning("%s: run %d had died without an outcome; marked abandoned", spec.name, orphan)
        missing_hosts = [h for h in spec.hosts if not fetcher.covers_host(h)]
        if missing_hosts:
            reason = f"replay directories hold nothing for {', '.join(missing_hosts)}"
            ledger.finish_run(conn, run_id, "skipped", reason)
            log.warning("%s: skipped, %s", spec.name, reason)
            return run_id
        store = RawStore(conn, run_id, spec.name)
        fetcher.conditional = store
        _, cursor = ledger.previous_success(conn, spec.name, run_id)
        log.info("%s: run %d fetching in %s mode (cursor %s)", spec.name, run_id, fetcher.mode, cursor)
        try:
            for response in module.fetch(fetcher, cursor):
                store.add(response)
                if fetcher.requests_made % 100 == 0:
                    log.info("%s: %d requests so far", spec.name, fetcher.requests_made)
        except BaseException as exc:  # Ctrl-C and SIGTERM too: the run says how it ended
            try:
                store.flush()  # keep what was fetched before the failure
            finally:
                ledger.finish_run(conn, run_id, "failed", f"fetch: {type(exc).__name__}: {exc}",
                                  requests=fetcher.requests_made)  # fmt: skip
            log.error("%s: fetch failed after %d requests: %s", spec.name, fetcher.requests_made, exc)
            raise
        finally:
            fetcher.close()
        store.flush()
        ledger.record_fetch(conn, run_id, fetcher.requests_made, store.bytes_stored)
        log.info("%s: fetched %d responses, %d bytes", spec.name, store.stored, store.bytes_stored)
    return run_id


def apply_batch(
    conn: psycopg.Connection, spec: SourceSpec, batch: ParsedBatch, run_id: int, previous_seen: datetime | None,
    kept: dict[str, list[tuple]] | None = None,
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
            kept_keys=(kept or {}).get(table.table, ()),
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
    ledger.add_details(conn, run_id, {"tables": {t: asdict(c) for t, c in per_table.items()},
                                      "warnings": batch.warnings[:50]})  # fmt: skip
    return primary


def code_fingerprint(module) -> str:
    """Digest of the code and seed data that turn payloads into rows: the source modules,
    normalisation, reference seeds and the loader. Any change to them forces a full reload."""
    package = Path(__file__).parent
    # Every source module and what parsers share (deals domain, normalisation, validation rules).
    files = [Path(module.__file__), package / "warehouse" / "loading.py", *sorted((package / "sources").glob("*.py"))]
    files += sorted((package / "normalise").glob("*.py")) + sorted((package / "reference").glob("*"))
    files += sorted((package / "deals").glob("*.py")) + [package / "validation.py", package / "warehouse" / "tables.py"]
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


def judge(conn: psycopg.Connection, spec: SourceSpec, batch: ParsedBatch, counts: MergeCounts,
          is_baseline: bool, *, enforced: bool, accepted: bool = False) -> Verdict:  # fmt: skip
    """Check the state the merge would leave, inside its transaction: the spec's expectations,
    the share of records set aside, and its change guard (on the main entity table; not on a
    baseline, which has nothing to guard)."""
    verdict = Verdict(enforced=enforced, accepted_by_operator=accepted)
    for rule in spec.expectations:
        verdict.add(rule.check(conn, spec.name))
    guard = spec.change_guard if batch.complete else (spec.incremental_change_guard or spec.change_guard)
    verdict.add(guard.check_set_aside(len(batch.set_aside), batch.entities + len(batch.set_aside)))
    if not is_baseline:
        main = spec.tables[0]
        present_after = RowCountBounds(main.table, 0, 0, main.scope_column).count(conn, spec.name)
        present_before = present_after - counts.added - counts.restored + counts.removed
        for outcome in guard.check(main.table, present_before, counts.added + counts.restored, counts.modified,
                                   counts.removed):  # fmt: skip
            verdict.add(outcome)
    return verdict


def load_from_raw(run_id: int, *, accept: bool = False) -> RunSummary:
    """Parse the payloads of ``run_id`` and merge them into core, all in one transaction, which
    commits only if the source's expectations and change guard hold (else the run is quarantined).

    ``accept``: load a quarantined run although it breaks them - an operator's deliberate decision
    that the change is real (``python -m dsrwatch accept RUN_ID``)."""
    started = time.perf_counter()
    enforced = config.expectations_enforced()
    with connect(autocommit=True) as conn:
        run = ledger.run_row(conn, run_id)
        if accept:
            _reopen_for_acceptance(conn, run)
        elif run.status != "running":
            return RunSummary(source=run.source, run_id=run_id, status=run.status, fetch_mode=run.fetch_mode,
                              error=run.error)  # fmt: skip
        module = get_source(run.source)
        spec: SourceSpec = module.SOURCE
        ledger.enter_phase(conn, run_id, "loading")
        fingerprint = input_fingerprint(conn, run_id, module)
        try:
            with conn.transaction():
                locks.take(conn, f"source:{spec.name}")  # two runs of one source never interleave
                # Read after the lock: a run that loaded meanwhile is this run's predecessor.
                previous_seen, cursor = ledger.previous_success(conn, spec.name, run_id)
                is_baseline = previous_seen is None
                same = None if accept else ledger.last_load_with_fingerprint(conn, spec.name, fingerprint)
                if same is not None:
                    # Same payloads, same code: the merge would write nothing, so skip parse and merge.
                    ledger.finish_run(conn, run_id, "succeeded", entities_parsed=same[1], added=0, modified=0,
                                      removed=0, is_baseline=False,
                                      details={"input_fingerprint": fingerprint, "unchanged_since_run": same[0]})  # fmt: skip
                    log.info("%s: run %d read the same payloads as run %d: nothing to load", spec.name, run_id,
                             same[0])  # fmt: skip
                    return _summary(spec, run_id, run, same[1], MergeCounts(), False, time.perf_counter() - started)
                batch: ParsedBatch = module.parse(iter_run_payloads(conn, run_id), cursor)
                for warning in batch.warnings[:20]:
                    log.warning("%s: %s", spec.name, warning)
                batch, kept = screen(conn, spec, batch, ledger.fetched_at(conn, run_id))
                set_aside = batch.set_aside
                for record in set_aside[:20]:
                    log.warning("%s", record.message(spec.name))
                counts = apply_batch(conn, spec, batch, run_id, previous_seen, kept)
                verdict = judge(conn, spec, batch, counts, is_baseline, enforced=enforced, accepted=accept)
                if verdict.quarantines:
                    raise _Quarantine(verdict)  # rolls the transaction back
                for breach in verdict.broken:
                    log.warning("%s run %d: %s (%s)", spec.name, run_id, breach,
                                "accepted by an operator" if accept else "DSR_EXPECTATIONS=warn: not enforced")  # fmt: skip
                if batch.cursor is not None:
                    ledger.save_cursor(conn, spec.name, batch.cursor, run_id)
                ledger.finish_run(
                    conn, run_id, "succeeded", entities_parsed=batch.entities, added=counts.added + counts.restored,
                    modified=counts.modified, removed=counts.removed, is_baseline=is_baseline,
                    details={"input_fingerprint": fingerprint, "expectations": verdict.as_details(),
                             "set_aside": len(set_aside)},
                )  # fmt: skip
                ledger.record_set_aside(conn, run_id, spec.name, set_aside)
        except _Quarantine as quarantine:
            reason = quarantine.verdict.reason()
            with conn.transaction():
                ledger.finish_run(conn, run_id, "quarantined", f"quarantined: {reason}",
                                  details={"expectations": quarantine.verdict.as_details()})  # fmt: skip
                ledger.record_set_aside(conn, run_id, spec.name, set_aside)
            message = (f"{spec.name} run {run_id} quarantined, the warehouse is as it was: {reason}. Its payloads "
                       f"are kept in raw; if the change is real, accept it with `python -m dsrwatch accept {run_id}`")  # fmt: skip
            log.error("%s", message)
            raise RunQuarantined(message) from None
        except BaseException as exc:  # Ctrl-C and SIGTERM too: the run says how it ended
            message = f"load: {type(exc).__name__}: {exc}"
            with conn.transaction():
                ledger.finish_run(conn, run_id, "failed", message)
            log.error("%s: run %d failed, core left as it was: %s", spec.name, run_id, message)
            if isinstance(exc, Exception) and not isinstance(exc, locks.LockTimeout):
                raise LoadFailed(f"{spec.name} run {run_id}: {message}") from exc
            raise
    log.info("%s run %d: %d expectations and guards hold%s", spec.name, run_id, len(verdict.passed),
             f", {len(verdict.broken)} broken but not enforced" if verdict.broken else "")  # fmt: skip
    return _summary(spec, run_id, run, batch.entities, counts, is_baseline, time.perf_counter() - started)


class _Quarantine(Exception):
    def __init__(self, verdict: Verdict):
        super().__init__(verdict.reason())
        self.verdict = verdict


def _reopen_for_acceptance(conn: psycopg.Connection, run: ledger.RunRow) -> None:
    """A quarantined run goes back to running, to be loaded with its breaches accepted."""
    if run.status != "quarantined":
        raise ValueError(f"run {run.run_id} ({run.source}) is {run.status}, not quarantined: nothing to accept")
    later = ledger.later_success(conn, run.source, run.run_id)
    if later is not None:
        raise ValueError(f"run {run.run_id} ({run.source}) is older than its successful run {later}: accepting "
                         "it would roll the source back; run the source again instead")  # fmt: skip
    ledger.reopen(conn, run.run_id)
    log.warning("%s run %d: an operator accepts it despite: %s", run.source, run.run_id, run.error)


def _summary(spec: SourceSpec, run_id: int, run: ledger.RunRow, entities: int, counts: MergeCounts,
             is_baseline: bool, seconds: float) -> RunSummary:  # fmt: skip
    summary = RunSummary(
        source=spec.name, run_id=run_id, status="succeeded", fetch_mode=run.fetch_mode, requests=run.requests,
        entities=entities, added=counts.added + counts.restored, modified=counts.modified, removed=counts.removed,
        is_baseline=is_baseline, seconds=seconds,
        location=f"{', '.join(spec.views) or spec.tables[0].table} in {describe_location()}",
    )  # fmt: skip
    log.info("%s", summary.line())
    return summary


def check_expectations(run_id: int) -> list[str]:
    """The expectations a run was loaded against (checked inside its load transaction); raises
    ExpectationFailed for a quarantined run, so a caller cannot mistake it for a good one."""
    with connect(autocommit=True) as conn:
        run = ledger.run_row(conn, run_id)
        details = ledger.details(conn, run_id).get("expectations") or {}
    if run.status == "quarantined":
        raise ExpectationFailed(f"{run.source} run {run_id} broke its expectations: " + "; ".join(details["failed"]))
    return list(details.get("passed", []))


def summaries(*, airflow_run_ids: list[str] | None = None, latest_per_source: bool = False) -> list:
    """Summaries (``.line()``) of the source runs and risk evaluations of the given Airflow runs,
    or of the latest run of each source and the latest evaluation."""
    from dsrwatch.risk.engine import EvaluationSummary

    with connect() as conn:
        rows = ledger.summary_rows(conn, airflow_run_ids=airflow_run_ids, latest_per_source=latest_per_source)
        evaluations = ledger.evaluation_rows(conn, airflow_run_ids=airflow_run_ids, latest=latest_per_source)
    location = describe_location()
    result = []
    for row in rows:
        summary = RunSummary(*row[:10], seconds=float(row[10] or 0), error=row[11])
        if summary.source in source_names():
            summary.location = f"{', '.join(get_source(summary.source).SOURCE.views)} in {location}"
        result.append(summary)
    for run_id, status, patterns, matches, opened, baseline, reopened, changed, resolved, seconds, error in evaluations:
        if status == "succeeded":
            result.append(EvaluationSummary(run_id, patterns, matches, opened, baseline, reopened, resolved, changed,
                                            float(seconds or 0)))  # fmt: skip
        else:
            result.append(RunSummary("risk_flags", run_id, status, "engine", error=error))
    return sorted(result, key=lambda s: s.run_id)


def run_source(source_name: str, airflow_run_id: str | None = None) -> RunSummary:
    """Fetch and load one source (what its DAG does), for scripts and tests."""
    return load_from_raw(fetch_to_raw(source_name, airflow_run_id))


__all__ = ["FetchError", "ExpectationFailed", "LoadFailed", "RunQuarantined", "RunSummary",
           "check_expectations", "fetch_to_raw", "load_from_raw", "run_source"]  # fmt: skip
