"""Shared fixtures: a real PostgreSQL warehouse per test, replay directories, environment hygiene.

PostgreSQL: DSR_TEST_PG_URL (default: the machine's server at 127.0.0.1:5432, trust auth); if
nothing answers there, an embedded server from the pgserver wheel is started for the session.
Each test that asks for ``warehouse`` gets a fresh database cloned from a migrated template.
"""

from __future__ import annotations

import itertools
import os
import uuid

import psycopg
import pytest

DEFAULT_TEST_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DAGBAG_TIMES = pytest.StashKey[list]()
_counter = itertools.count()


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> str:
    url = os.environ.get("DSR_TEST_PG_URL", DEFAULT_TEST_PG)
    if _reachable(url):
        yield url
        return
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()


def _with_db(url: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


@pytest.fixture(scope="session")
def template_db(pg_admin_url) -> str:
    """A migrated warehouse used as CREATE DATABASE ... TEMPLATE for each test."""
    from dsrwatch.warehouse import ensure_schema

    name = f"dsr_tmpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        ensure_schema(_with_db(pg_admin_url, name))
        yield name
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse(pg_admin_url, template_db, monkeypatch) -> str:
    """URL of a fresh, migrated warehouse database; DSR_WAREHOUSE_URL points at it."""
    name = f"dsr_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    url = _with_db(pg_admin_url, name)
    monkeypatch.setenv("DSR_WAREHOUSE_URL", url)
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch, tmp_path):
    """No test sees the developer's settings; nothing waits on politeness delays."""
    for name in ("DSR_WAREHOUSE_URL", "DSR_REPLAY_DIR", "DSR_RECORD_DIR", "DSR_ALERT_TO", "AIRFLOW_CONN_DSR_WAREHOUSE",
                 "AIRFLOW_CONN_PEERINGDB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DSR_POLITENESS_DELAY", "0")
    monkeypatch.setenv("DSR_DATA_DIR", str(tmp_path / "data"))
    # Fixtures hold a few rows, far below the real sources' row-count bounds: breaches are
    # recorded, not enforced. Tests of the gate itself ask for the `enforced` fixture.
    monkeypatch.setenv("DSR_EXPECTATIONS", "warn")


@pytest.fixture
def enforced(monkeypatch):
    """Expectations and change guards quarantine breaking loads, as in production."""
    monkeypatch.setenv("DSR_EXPECTATIONS", "enforce")



@pytest.fixture
def replay_into(tmp_path, monkeypatch):
    """``replay_into(name, write)``: ``write(root)`` fills ``tmp_path/name``; DSR_REPLAY_DIR points at it."""

    def make(name, write):
        root = tmp_path / name
        write(root)
        monkeypatch.setenv("DSR_REPLAY_DIR", str(root))
        return root

    return make


@pytest.fixture
def hostile(warehouse, replay_into, monkeypatch, enforced):
    """``hostile(source, write_good, case, changed_tables=())`` for tests/hostile: runs the case and
    asserts its outcome, that other data is unchanged and that raw is kept (tests/helpers/hostile.py)."""
    from helpers.hostile import make_runner

    return make_runner(warehouse, replay_into, monkeypatch)


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 answering what each test scripts (tests/helpers/http_server.py)."""
    from helpers.http_server import ScriptedHTTPServer

    with ScriptedHTTPServer() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait a fetcher asked for, in order (pass ``sleep=sleeps.append``)."""
    return []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(DAGBAG_TIMES, None)
    if lines:
        terminalreporter.write_sep("-", "DagBag load time per DAG file")
        for line in lines:
            terminalreporter.write_line(line)
