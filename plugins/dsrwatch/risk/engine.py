"""The risk engine: run every pattern file set-based, then move each flag through its lifecycle.

Lifecycle of a (pattern, entity) flag, all in one transaction per evaluation:
* a new match opens a flag (``opened``);
* a match that disappears resolves it (``resolved_at`` set, event ``resolved``);
* a match that returns reopens it (``resolved_at`` cleared, ``times_reopened`` + 1, ``reopened``);
* a severity change of an open flag is an event (``severity_raised`` / ``severity_lowered``).

Baseline: the first evaluation that sees entities of a source opens their flags as baseline
(``is_baseline``), so the first digest is not the whole world; so does the first evaluation of a
new pattern file, so adding a pattern does not flood the next digest. Later flags are new.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from dsrwatch import config, ledger
from dsrwatch.vocabulary import SEVERITIES
from dsrwatch.warehouse import connect, ensure_schema, locks

log = logging.getLogger(__name__)

PATTERN_DIR = config.PROJECT_ROOT / "sql" / "risk_patterns"
HEADER_FIELDS = ("id", "title", "severity", "applies_to", "basis", "reasoning")
RISK_SOURCE = "risk_flags"
_HEADER_LINE = re.compile(r"^--\s*(\w+):\s*(.+?)\s*$")


class PatternError(ValueError):
    """A pattern file is malformed or its query fails: names the file and the problem."""


@dataclass(frozen=True)
class Pattern:
    pattern_id: str
    title: str
    severity: str
    applies_to: str
    basis: str
    reasoning: str
    query: str
    file_name: str
    sha256: str


def parse_pattern(path: Path) -> Pattern:
    text = path.read_text()
    header: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        match = _HEADER_LINE.match(line)
        if match and match.group(1) in HEADER_FIELDS:
            header[match.group(1)] = match.group(2)
    missing = [f for f in HEADER_FIELDS if f not in header]
    if missing:
        raise PatternError(f"{path.name}: header lacks {missing} (see sql/risk_patterns/README.md)")
    if header["id"] != path.stem:
        raise PatternError(f"{path.name}: header id {header['id']!r} differs from the file name")
    if header["severity"] not in SEVERITIES:
        raise PatternError(f"{path.name}: severity {header['severity']!r} not in {SEVERITIES}")
    query = text.strip().rstrip(";")  # a second statement would fail in PostgreSQL, naming this file
    return Pattern(
        pattern_id=header["id"], title=header["title"], severity=header["severity"],
        applies_to=header["applies_to"], basis=header["basis"], reasoning=header["reasoning"],
        query=query, file_name=path.name, sha256=hashlib.sha256(text.encode()).hexdigest(),
    )  # fmt: skip


def load_patterns(directory: Path = PATTERN_DIR) -> list[Pattern]:
    patterns = [parse_pattern(p) for p in sorted(directory.glob("*.sql"))]
    if not patterns:
        raise PatternError(f"no pattern files in {directory}")
    return patterns


@dataclass
class EvaluationSummary:
    run_id: int
    patterns: int
    matches: int
    opened: int
    opened_baseline: int
    reopened: int
    resolved: int
    severity_changed: int
    seconds: float

    def line(self) -> str:
        return (
            f"{RISK_SOURCE:<18} {self.patterns} patterns, {self.matches} matches; opened {self.opened} "
            f"({self.opened_baseline} baseline), reopened {self.reopened}, resolved {self.resolved}, "
            f"severity changed {self.severity_changed}; {self.seconds:.1f}s -> analyst.risk_flags, analyst.entity_risk"
        )


def _collect_matches(conn: psycopg.Connection, patterns: list[Pattern]) -> dict[str, int]:
    conn.execute(
        """CREATE TEMP TABLE risk_matches (pattern_id text, entity_kind text, entity_id text, severity text,
                                            evidence jsonb) ON COMMIT DROP"""
    )
    counts = {}
    for pattern in patterns:
        started = time.perf_counter()
        # Literals, not placeholders: pattern SQL may hold '%' (LIKE), which placeholders would misread.
        statement = sql.SQL(
            """INSERT INTO risk_matches
               SELECT {pattern_id}, q.entity_kind, q.entity_id, coalesce(q.severity, {severity}), q.evidence
                 FROM ({query}) AS q"""
        ).format(
            pattern_id=sql.Literal(pattern.pattern_id),
            severity=sql.Literal(pattern.severity),
            query=sql.SQL(pattern.query),  # the pattern files are the project's own SQL
        )
        try:
            with conn.transaction():
                cur = conn.execute(statement)
        except psycopg.Error as exc:
            raise PatternError(f"{pattern.file_name}: query failed: {exc}") from exc
        counts[pattern.pattern_id] = cur.rowcount
        log.info("pattern %s: %d matches in %.2fs", pattern.pattern_id, cur.rowcount, time.perf_counter() - started)
    bad = conn.execute(
        """SELECT pattern_id, entity_kind, entity_id, severity, evidence ? 'reason' FROM risk_matches
            WHERE severity <> ALL(%s) OR entity_kind IS NULL OR entity_id IS NULL OR NOT (evidence ? 'reason')
            LIMIT 3""",
        (list(SEVERITIES),),
    ).fetchall()
    if bad:
        raise PatternError(f"pattern rows without kind/id, with an unknown severity or no evidence reason: {bad}")
    duplicated = conn.execute(
        """SELECT pattern_id, entity_kind, entity_id FROM risk_matches
            GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 3"""
    ).fetchall()
    if duplicated:
        raise PatternError(f"patterns returned an entity more than once (group by entity): {duplicated}")
    return counts


def _record_patterns(conn: psycopg.Connection, patterns: list[Pattern]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO risk.patterns (pattern_id, title, severity, applies_to, basis, reasoning, file_name, sha256)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (pattern_id) DO UPDATE SET title = EXCLUDED.title, severity = EXCLUDED.severity,
                   applies_to = EXCLUDED.applies_to, basis = EXCLUDED.basis, reasoning = EXCLUDED.reasoning,
                   file_name = EXCLUDED.file_name, sha256 = EXCLUDED.sha256, updated_at = now()
               WHERE risk.patterns.sha256 <> EXCLUDED.sha256""",
            [(p.pattern_id, p.title, p.severity, p.applies_to, p.basis, p.reasoning, p.file_name, p.sha256)
             for p in patterns],
        )  # fmt: skip


# The lifecycle, set-based. Each statement sees the effects of the previous ones.
_LIFECYCLE = {
    "baseline_sources": """
        CREATE TEMP TABLE new_sources ON COMMIT DROP AS
        SELECT DISTINCT e.source FROM risk.entities e
         WHERE NOT EXISTS (SELECT 1 FROM risk.source_evaluations s WHERE s.source = e.source)""",
    "opened": """
        WITH opened AS (
            INSERT INTO risk.flags (pattern_id, entity_kind, entity_id, entity_name, severity, evidence,
                                    first_flagged_at, last_confirmed_at, is_baseline, opened_run_id, last_run_id)
            SELECT m.pattern_id, m.entity_kind, m.entity_id, e.entity_name, m.severity, m.evidence, now(), now(),
                   -- an entity whose source is not yet known (no run since an upgrade) is not news either
                   e.source IS NULL OR e.source IN (SELECT source FROM new_sources)
                   OR m.pattern_id = ANY(%(new_patterns)s),
                   %(run_id)s, %(run_id)s
              FROM risk_matches m
              LEFT JOIN risk.entities e ON e.entity_kind = m.entity_kind AND e.entity_id = m.entity_id
             WHERE NOT EXISTS (SELECT 1 FROM risk.flags f WHERE f.pattern_id = m.pattern_id
                                  AND f.entity_kind = m.entity_kind AND f.entity_id = m.entity_id)
            RETURNING flag_id, severity, evidence, is_baseline
        ), events AS (
            INSERT INTO risk.flag_events (flag_id, run_id, event, severity, evidence, happened_at)
            SELECT flag_id, %(run_id)s, 'opened', severity, evidence, now() FROM opened
        )
        SELECT count(*), count(*) FILTER (WHERE is_baseline) FROM opened""",
    "reopened": """
        WITH reopened AS (
            UPDATE risk.flags f
               SET resolved_at = NULL, last_reopened_at = now(), times_reopened = f.times_reopened + 1,
                   last_confirmed_at = now(), severity = m.severity, evidence = m.evidence, last_run_id = %(run_id)s
              FROM risk_matches m
             WHERE f.pattern_id = m.pattern_id AND f.entity_kind = m.entity_kind AND f.entity_id = m.entity_id
               AND f.resolved_at IS NOT NULL
            RETURNING f.flag_id, f.severity, f.evidence
        ), events AS (
            INSERT INTO risk.flag_events (flag_id, run_id, event, severity, evidence, happened_at)
            SELECT flag_id, %(run_id)s, 'reopened', severity, evidence, now() FROM reopened
        )
        SELECT count(*) FROM reopened""",
    "changed": """
        WITH changed AS (
            SELECT f.flag_id, f.severity AS old_severity, m.severity, m.evidence,
                   new_w.rank - old_w.rank AS direction
              FROM risk.flags f
              JOIN risk_matches m ON f.pattern_id = m.pattern_id AND f.entity_kind = m.entity_kind
                                 AND f.entity_id = m.entity_id
              JOIN risk.severity_weights old_w ON old_w.severity = f.severity
              JOIN risk.severity_weights new_w ON new_w.severity = m.severity
             WHERE f.resolved_at IS NULL AND f.last_run_id <> %(run_id)s
               AND (f.severity <> m.severity OR f.evidence <> m.evidence)
        ), updated AS (
            UPDATE risk.flags f SET severity = c.severity, evidence = c.evidence, last_confirmed_at = now(),
                   last_run_id = %(run_id)s
              FROM changed c WHERE f.flag_id = c.flag_id
        ), events AS (
            INSERT INTO risk.flag_events (flag_id, run_id, event, severity, previous_severity, evidence, happened_at)
            SELECT flag_id, %(run_id)s, CASE WHEN direction > 0 THEN 'severity_raised' ELSE 'severity_lowered' END,
                   severity, old_severity, evidence, now()
              FROM changed WHERE direction <> 0
        )
        SELECT count(*) FILTER (WHERE direction <> 0) FROM changed""",
    "resolved": """
        WITH resolved AS (
            UPDATE risk.flags f SET resolved_at = now(), last_run_id = %(run_id)s
             WHERE f.resolved_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM risk_matches m WHERE f.pattern_id = m.pattern_id
                                  AND f.entity_kind = m.entity_kind AND f.entity_id = m.entity_id)
            RETURNING f.flag_id, f.severity
        ), events AS (
            INSERT INTO risk.flag_events (flag_id, run_id, event, severity, happened_at)
            SELECT flag_id, %(run_id)s, 'resolved', severity, now() FROM resolved
        )
        SELECT count(*) FROM resolved""",
    "evaluated_sources": """
        INSERT INTO risk.source_evaluations (source, first_evaluated_at, first_run_id)
        SELECT source, now(), %(run_id)s FROM new_sources WHERE source IS NOT NULL""",
}


def _refresh_planner_statistics(conn: psycopg.Connection) -> list[str]:
    """ANALYZE core tables changed a lot since their last ANALYZE: right after a load autovacuum
    has not caught up, and the planner would pick nested loops over hundreds of thousands of rows."""
    stale = conn.execute(
        """SELECT schemaname, relname FROM pg_stat_user_tables
            WHERE schemaname = 'core'
              AND (coalesce(last_analyze, last_autoanalyze) IS NULL OR n_mod_since_analyze > 0.1 * n_live_tup)
              AND n_live_tup + n_mod_since_analyze > 0"""
    ).fetchall()
    for schema, table in stale:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
    return [f"{schema}.{table}" for schema, table in stale]


def evaluate(airflow_run_id: str | None = None, pattern_dir: Path = PATTERN_DIR) -> EvaluationSummary:
    """Run every pattern and update risk.flags in one transaction; record the run in ops."""
    started = time.perf_counter()
    patterns = load_patterns(pattern_dir)
    ensure_schema()
    with connect(autocommit=True) as conn:
        run_id = ledger.start_evaluation(conn, airflow_run_id)
        try:
            with conn.transaction():
                conn.execute("SET LOCAL jit = off")
                # One evaluation at a time, and none while a digest reads (ops.locks: analysts can't hold it).
                locks.take(conn, locks.RISK_FLAGS)
                analysed = _refresh_planner_statistics(conn)
                if analysed:
                    log.info("analysed %s before evaluating", ", ".join(analysed))
                per_pattern = _collect_matches(conn, patterns)
                known = {row[0] for row in conn.execute("SELECT pattern_id FROM risk.patterns")}
                new_patterns = sorted({p.pattern_id for p in patterns} - known)
                _record_patterns(conn, patterns)
                params = {"run_id": run_id, "new_patterns": new_patterns}
                conn.execute(_LIFECYCLE["baseline_sources"])
                opened, opened_baseline = conn.execute(_LIFECYCLE["opened"], params).fetchone()
                reopened = conn.execute(_LIFECYCLE["reopened"], params).fetchone()[0]
                changed = conn.execute(_LIFECYCLE["changed"], params).fetchone()[0]
                resolved = conn.execute(_LIFECYCLE["resolved"], params).fetchone()[0]
                conn.execute(_LIFECYCLE["evaluated_sources"], params)
                summary = EvaluationSummary(
                    run_id=run_id, patterns=len(patterns), matches=sum(per_pattern.values()), opened=opened,
                    opened_baseline=opened_baseline, reopened=reopened, resolved=resolved,
                    severity_changed=changed, seconds=time.perf_counter() - started,
                )  # fmt: skip
                ledger.finish_evaluation(conn, run_id, patterns=len(patterns), matches=summary.matches,
                                         opened=opened, opened_baseline=opened_baseline, reopened=reopened,
                                         severity_changed=changed, resolved=resolved,
                                         matches_per_pattern=per_pattern)  # fmt: skip
        except Exception as exc:
            with conn.transaction():
                ledger.fail_evaluation(conn, run_id, f"{type(exc).__name__}: {exc}")
            log.error("risk evaluation %d failed, flags left as they were: %s", run_id, exc)
            raise
    log.info("%s", summary.line())
    return summary
