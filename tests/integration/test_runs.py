"""The run ledger under faults: a run killed mid-way is marked abandoned by the next start of its
source (a live one is left alone), and two loads of one source at once do not interleave."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from dsrwatch import ledger, pipeline

from helpers import telegeography as tg
from helpers.db import query, scalar
from helpers.runs import load_source

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

KILLED_MID_FETCH = """
import os, signal, psycopg
from dsrwatch import ledger
conn = psycopg.connect(os.environ["DSR_WAREHOUSE_URL"], autocommit=True)
print(ledger.start_run(conn, "submarine_cables", "replay", None), flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # kill -9 between the ledger row and any outcome
"""


def test_a_run_killed_mid_fetch_is_abandoned_at_the_next_start(warehouse, replay_into):
    replay_into("v1", lambda root: tg.write_replay_dir(root))
    child = subprocess.run([sys.executable, "-c", KILLED_MID_FETCH], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")})  # fmt: skip
    assert child.returncode == -9
    killed = int(child.stdout.strip())
    assert query(warehouse, "SELECT status, phase FROM ops.source_runs WHERE run_id = %s", (killed,)) == [
        ("running", "fetching")]
    summary = load_source("submarine_cables")
    assert summary.status == "succeeded"
    status, error = query(warehouse, "SELECT status, error FROM analyst.source_runs WHERE run_id = %s", (killed,))[0]
    assert status == "abandoned"
    assert error.startswith("abandoned during fetching: the run ended without recording an outcome")
    assert f"found by run {summary.run_id}" in error
    lines = [s.line() for s in pipeline.summaries(latest_per_source=True)]
    assert not any("None" in line for line in lines), lines


def test_a_live_run_is_not_abandoned(warehouse, replay_into):
    replay_into("v1", lambda root: tg.write_replay_dir(root))
    with psycopg.connect(warehouse, autocommit=True) as live:  # e.g. the scheduler's run, still fetching
        running = ledger.start_run(live, "submarine_cables", "replay", None)
        load_source("submarine_cables")
        assert scalar(warehouse, "SELECT status FROM ops.source_runs WHERE run_id = %s", (running,)) == "running"


def test_a_fetched_run_waiting_for_its_load_is_not_abandoned(warehouse, replay_into):
    replay_into("v1", lambda root: tg.write_replay_dir(root))
    waiting = pipeline.fetch_to_raw("submarine_cables")  # its connection is closed: the load task comes later
    load_source("submarine_cables")
    assert scalar(warehouse, "SELECT status FROM ops.source_runs WHERE run_id = %s", (waiting,)) == "running"
    assert pipeline.load_from_raw(waiting).status == "succeeded"


def test_two_loads_of_one_source_at_once_do_not_interleave(warehouse, replay_into):
    replay_into("v1", lambda root: tg.write_replay_dir(root))
    load_source("submarine_cables")
    replay_into("v2", lambda root: tg.write_replay_dir(root, tg.cables_v2()))
    runs = [pipeline.fetch_to_raw("submarine_cables") for _ in range(2)]
    barrier, results, errors = threading.Barrier(2), {}, []

    def load(run_id: int) -> None:
        barrier.wait()
        try:
            results[run_id] = pipeline.load_from_raw(run_id)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and {r.status for r in results.values()} == {"succeeded"}
    # one load applied v2 (one add, one change, one removal); the other found nothing left to do
    assert sorted((r.added, r.modified, r.removed) for r in results.values()) == [(0, 0, 0), (1, 1, 1)]
    assert query(warehouse, """SELECT change, count(*) FROM core.entity_changes
                                WHERE entity_table = 'core.submarine_cables' GROUP BY 1 ORDER BY 1""") == [
        ("added", 1), ("modified", 1), ("removed", 1)]  # fmt: skip


def test_a_load_that_loses_the_warehouse_changes_nothing_and_is_abandoned_next_time(warehouse, replay_into,
                                                                                   monkeypatch):  # fmt: skip
    from dsrwatch.sources import submarine_cables

    from helpers.db import table_fingerprint

    replay_into("v1", lambda root: tg.write_replay_dir(root))
    load_source("submarine_cables")
    before = table_fingerprint(warehouse)
    replay_into("v2", lambda root: tg.write_replay_dir(root, tg.cables_v2()))
    run_id = pipeline.fetch_to_raw("submarine_cables")
    parse = submarine_cables.parse

    def parse_then_lose_the_server(payloads, cursor=None):
        batch = parse(payloads, cursor)
        with psycopg.connect(warehouse, autocommit=True) as admin:  # the server drops the load's session
            admin.execute("""SELECT pg_terminate_backend(backend_pid) FROM ops.source_runs
                              WHERE run_id = %s""", (run_id,))  # fmt: skip
        return batch

    monkeypatch.setattr(submarine_cables, "parse", parse_then_lose_the_server)
    with pytest.raises(psycopg.OperationalError):
        pipeline.load_from_raw(run_id)
    assert table_fingerprint(warehouse) == before
    monkeypatch.setattr(submarine_cables, "parse", parse)
    summary = load_source("submarine_cables")
    assert (summary.added, summary.modified, summary.removed) == (1, 1, 1)
    status, error = query(warehouse, "SELECT status, error FROM ops.source_runs WHERE run_id = %s", (run_id,))[0]
    assert status == "abandoned" and error.startswith("abandoned during loading")
