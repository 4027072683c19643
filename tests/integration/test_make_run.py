"""``python -m dsrwatch run`` end to end, in a child process as a user runs it: a quarantined load
fails its DAG without updating its Asset, the data engineers get one failure notice by SMTP, and
``accept`` then loads the run. Airflow's metadata DB is a fresh SQLite file per test."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import telegeography as tg
from helpers.db import query, scalar
from helpers.smtp_server import SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def dsrwatch(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dsrwatch", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip


@pytest.fixture
def user_env(warehouse, tmp_path):
    tg.write_replay_dir(tmp_path / "replay")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DSR_"))}
    env.update(
        PYTHONPATH=str(ROOT / "plugins"), AIRFLOW_HOME=str(tmp_path / "airflow"), DSR_WAREHOUSE_URL=warehouse,
        DSR_REPLAY_DIR=str(tmp_path / "replay"), DSR_DATA_DIR=str(tmp_path / "data"), DSR_POLITENESS_DELAY="0",
        DSR_EXPECTATIONS="enforce",
    )  # fmt: skip
    return env


def test_a_quarantined_load_notifies_the_engineers_and_leaves_the_asset_alone(user_env, warehouse, tmp_path):
    with SmtpServer() as smtp:
        user_env.update(DSR_OPS_TO="oncall@example.org", AIRFLOW_CONN_SMTP_DEFAULT=smtp.connection_uri())
        result = dsrwatch(["run", "submarine_cables"], user_env)  # 5 fixture cables: far below the real bounds
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED DAGs: submarine_cables" in result.stdout
    assert "submarine_cables   QUARANTINED (run 1): quarantined: core.submarine_cables: 5 present rows" in result.stdout
    [notice] = smtp.received
    message = notice.message
    assert notice.rcpt_tos == ["oncall@example.org"]
    assert message["Subject"].startswith("DSR Watch ops: submarine_cables.load QUARANTINED (manual__")
    body = message.get_content()
    assert "DAG submarine_cables, task load, run manual__" in body and "python -m dsrwatch accept" in body
    assert "Log: http://" in body and "/dags/submarine_cables/runs/" in body
    assert scalar(warehouse, "SELECT count(*) FROM core.submarine_cables") == 0
    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as metadata:  # the risk engine is not triggered
        assert metadata.execute("SELECT count(*) FROM asset_event").fetchone()[0] == 0

    status = dsrwatch(["status"], user_env)
    assert "submarine_cables   QUARANTINED (run 1)" in status.stdout

    accepted = dsrwatch(["accept", "1"], user_env)
    assert accepted.returncode == 0, accepted.stderr
    assert "new 5, changed 0, removed 0 (baseline)" in accepted.stdout
    assert query(warehouse, "SELECT status FROM ops.source_runs WHERE run_id = 1") == [("succeeded",)]
    again = dsrwatch(["accept", "1"], user_env)
    assert again.returncode == 2 and "is succeeded, not quarantined" in again.stderr


def test_without_smtp_the_notice_is_printed(user_env):
    result = dsrwatch(["run", "submarine_cables"], user_env)
    assert result.returncode == 1
    assert "DSR Watch ops: submarine_cables.load QUARANTINED" in result.stderr
    assert "(not mailed: no DSR_OPS_TO recipients)" in result.stderr


def test_sigterm_stops_make_run_while_it_waits_on_a_lock(user_env, warehouse):
    """A SIGTERM (or Ctrl-C) during a run stops it: the interrupted run is recorded, and no later
    DAG (risk engine, digest) runs on half a world."""
    import signal
    import time

    import psycopg

    from dsrwatch.warehouse import locks

    user_env["DSR_EXPECTATIONS"] = "warn"
    with psycopg.connect(warehouse, autocommit=True) as holder, holder.transaction():
        locks.take(holder, "source:submarine_cables")  # another run of the source is loading
        child = subprocess.Popen([sys.executable, "-m", "dsrwatch", "run", "submarine_cables", "risk_flags"],
                                 cwd=ROOT, env=user_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while not scalar(warehouse, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"):
            assert time.monotonic() < deadline and child.poll() is None, "the run never waited for the lock"
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    assert child.returncode == 130, out + err
    assert "stopped by SIGTERM after submarine_cables; the remaining DAGs did not run" in out
    assert "== risk_flags" not in out
    assert query(warehouse, "SELECT status, error LIKE 'load: KeyboardInterrupt%%' FROM ops.source_runs") == [
        ("failed", True)]
