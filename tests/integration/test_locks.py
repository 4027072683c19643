"""Named locks (dsrwatch.warehouse.locks, table ops.locks): analysts can neither take nor hold them,
a wait that runs out names who holds the lock, and the risk engine and digest use them.

Before ops.locks, the engine took pg_advisory_xact_lock(hashtext('dsrwatch.risk_flags')): any login,
an analyst's included, could take that key and stall every evaluation for as long as it liked.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import psycopg
import psycopg.conninfo
import psycopg.errors
import pytest
import test_weekly_alert as weekly

from dsrwatch.alerts.delivery import send_weekly_digest
from dsrwatch.risk import engine
from dsrwatch.warehouse import locks

from helpers import worlds
from helpers.db import scalar

pytestmark = pytest.mark.integration

world = worlds.digest_world  # baseline, then v2 evaluated (tests/helpers/worlds.py)
smtp, _no_alert_settings = weekly.smtp, weekly._no_alert_settings  # test_weekly_alert's


def as_user(url: str, user: str, **params) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.update(user=user, **params)
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture
def analyst(warehouse, pg_admin_url):
    """URL of a login that is a member of dsr_analyst (roles are per cluster: a unique name)."""
    role = f"dsr_test_analyst_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN IN ROLE dsr_analyst')
    try:
        yield as_user(warehouse, role, application_name="an analyst's notebook")
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE usename = %s", (role,)):
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            admin.execute(f'DROP ROLE "{role}"')


def waiting_for_a_lock(url: str, application_name: str) -> bool:
    return bool(scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND application_name = %s", (application_name,)))  # fmt: skip


def wait_until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


# --- analysts ------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_an_analyst_holding_advisory_keys_blocks_neither_the_engine_nor_the_digest(world, warehouse, analyst,
                                                                                          monkeypatch):  # fmt: skip
    start, end = world
    monkeypatch.setenv("DSR_LOCK_TIMEOUT", "20")
    with psycopg.connect(analyst, autocommit=True) as session:  # held for as long as the session lives
        session.execute("SELECT pg_advisory_lock(hashtext('dsrwatch.risk_flags'))")
        session.execute("SELECT pg_advisory_lock_shared(hashtext('dsrwatch.risk_flags'))")
        session.execute("SELECT pg_advisory_lock(4477522), pg_advisory_lock(x'445352'::int)")  # views, migrations
        summary = engine.evaluate()
        [result] = send_weekly_digest(start, end)  # no recipients: the outbox
    assert summary.run_id and result.status == "sent"
    assert scalar(warehouse, "SELECT status FROM ops.risk_evaluations WHERE run_id = %s", (summary.run_id,)) == "succeeded"


def test_an_analyst_can_neither_read_nor_lock_ops_locks(analyst):
    with psycopg.connect(analyst, autocommit=True) as session:
        for statement in ("SELECT name FROM ops.locks",
                          "SELECT 1 FROM ops.locks WHERE name = 'risk_flags' FOR SHARE",
                          "SELECT 1 FROM ops.locks WHERE name = 'risk_flags' FOR UPDATE",
                          "LOCK TABLE ops.locks IN ROW SHARE MODE"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege), session.transaction():
                session.execute(statement)
        assert session.execute("SELECT count(*) FROM analyst.alert_digests").fetchone() == (0,)  # still an analyst


# --- the lock helper --------------------------------------------------------------------------------------
def test_shared_holders_coexist_and_an_exclusive_one_waits_for_them(warehouse):
    with (psycopg.connect(warehouse, autocommit=True) as a, psycopg.connect(warehouse, autocommit=True) as b,
          psycopg.connect(warehouse, autocommit=True) as c):  # fmt: skip
        with a.transaction(), b.transaction():
            locks.take(a, "risk_flags", shared=True)
            locks.take(b, "risk_flags", shared=True, timeout=1)  # not blocked by a
            with c.transaction(), pytest.raises(locks.LockTimeout) as timeout:
                locks.take(c, "risk_flags", timeout=0.5)
            # several sharers: both are named (the row's locker is a MultiXact)
            assert {h[0] for h in timeout.value.holders} == {a.info.backend_pid, b.info.backend_pid}
        with c.transaction():
            locks.take(c, "risk_flags", timeout=1)  # free again once both committed


def test_a_timeout_names_the_holder_and_leaves_the_transaction_usable(warehouse):
    with (psycopg.connect(warehouse, autocommit=True, application_name="nightly backfill") as holder,
          psycopg.connect(warehouse, autocommit=True) as conn):  # fmt: skip
        with holder.transaction():
            locks.take(holder, "source:cables")  # a name never used before: created on first use
            holder.execute("SELECT pg_sleep(0)")
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '7s'")
                with pytest.raises(locks.LockTimeout) as timeout:
                    locks.take(conn, "source:cables", timeout=0.5)
                message = str(timeout.value)
                assert message.startswith("lock 'source:cables' (exclusive) not granted within 0.5 s: held by ")
                assert f"pid {holder.info.backend_pid} " in message and "'nightly backfill'" in message
                assert "idle in transaction" in message and "pg_sleep(0)" in message
                # the caller's transaction goes on, with its own lock_timeout
                assert conn.execute("SHOW lock_timeout").fetchone() == ("7s",)
        with conn.transaction():
            locks.take(conn, "source:cables", timeout=1)
            assert conn.execute("SHOW lock_timeout").fetchone() == ("0",)  # restored after the wait
        assert scalar(warehouse, "SELECT count(*) FROM ops.locks WHERE name = 'source:cables'") == 1


def test_a_lock_outside_a_transaction_is_refused(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn, pytest.raises(RuntimeError, match="inside a transaction"):
        locks.take(conn, "risk_flags")


# --- the risk engine and the digest ---------------------------------------------------------------------------
def test_an_evaluation_waiting_too_long_fails_naming_the_session_in_its_way(world, warehouse, monkeypatch):
    monkeypatch.setenv("DSR_LOCK_TIMEOUT", "1")
    with (psycopg.connect(warehouse, autocommit=True, application_name="a stuck digest read") as reader,
          reader.transaction()):  # fmt: skip
        locks.take(reader, locks.RISK_FLAGS, shared=True)
        with pytest.raises(locks.LockTimeout, match=f"pid {reader.info.backend_pid} .*'a stuck digest read'"):
            engine.evaluate()
    error = scalar(warehouse, "SELECT error FROM ops.risk_evaluations ORDER BY run_id DESC LIMIT 1")
    assert error.startswith("LockTimeout: lock 'risk_flags' (exclusive) not granted within 1 s") and "stuck" in error


def test_digest_waits_for_a_running_risk_evaluation(world, warehouse, smtp, monkeypatch):
    """An evaluation that began before the interval's end but commits later is not missed: the digest
    waits for the engine's lock (ops.locks row risk_flags) before it takes its snapshot."""
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    outcome = []
    with psycopg.connect(warehouse, autocommit=True) as evaluation, evaluation.transaction():  # the engine, mid-run
        locks.take(evaluation, locks.RISK_FLAGS)
        flag_id = evaluation.execute("""UPDATE risk.flags SET resolved_at = %s
                                         WHERE entity_id = 'peace-cable' AND pattern_id = 'PRC_SUPPLIER'
                                        RETURNING flag_id""", (end - timedelta(microseconds=1),)).fetchone()[0]  # fmt: skip
        evaluation.execute("""INSERT INTO risk.flag_events (flag_id, run_id, event, severity, happened_at)
                              VALUES (%s, 0, 'resolved', 'high', %s)""", (flag_id, end - timedelta(microseconds=1)))  # fmt: skip
        sender = threading.Thread(target=lambda: outcome.append(send_weekly_digest(start, end)))
        sender.start()
        wait_until(lambda: waiting_for_a_lock(warehouse, "dsrwatch digest (risk_flags lock)"), 20)
        assert smtp.received == []
    sender.join(timeout=60)
    assert outcome and outcome[0][0].status == "sent"
    assert flag_id in outcome[0][0].flag_ids["resolved"]
