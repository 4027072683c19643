"""Who may do what in the warehouse (migration 0007): logins granted dsr_analyst read the analyst views
and nothing else; logins without it cannot connect; the pipeline keeps working as a non-superuser
owner, as docker-compose runs it (docker/warehouse-init, on a private PostgreSQL 16 from pgserver)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest
from psycopg import errors

from dsrwatch import config

from helpers import telegeography as tg
from helpers.runs import load_source

pytestmark = pytest.mark.integration

HARDENING_SQL = config.PROJECT_ROOT / "sql" / "migrations" / "0007_role_hardening.sql"
INIT_SCRIPT = config.PROJECT_ROOT / "docker" / "warehouse-init" / "10-dsr-roles.sh"
CLOSED_SCHEMAS = ("raw", "core", "ops", "risk")


def as_user(url: str, user: str, dbname: str | None = None) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params.update(user=user, password="")
    if dbname:
        params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)


def harden(url: str) -> list[str]:
    """Run migration 0007's SQL on ``url``; returns the server's notices and warnings.

    The test databases are clones of a migrated template and CREATE DATABASE ... TEMPLATE does not
    copy database privileges, so the cloned database needs the (idempotent) file once more."""
    notices: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(f"{diag.severity}: {diag.message_primary}"))
        conn.execute(HARDENING_SQL.read_text())
    return notices


def public_entries(acl: str) -> list[str]:
    """The PUBLIC entries of an aclitem[] in text form ("=Tc/owner")."""
    return [item for item in acl.strip("{}").split(",") if item.startswith("=")]


def privileges_snapshot(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        datacl = conn.execute("SELECT datacl::text FROM pg_database WHERE datname = current_database()").fetchone()
        nspacl = conn.execute("SELECT nspname, nspacl::text FROM pg_namespace ORDER BY 1").fetchall()
        proacl = conn.execute("""SELECT p.oid::regprocedure::text, p.proacl::text FROM pg_proc p
                                  WHERE p.proname LIKE 'lo\\_%' ORDER BY 1""").fetchall()
    return datacl, nspacl, proacl


@pytest.fixture
def logins(pg_admin_url):
    """``logins(*in_roles)``: a new LOGIN role (a member of ``in_roles``), dropped after the test."""
    created: list[str] = []

    def make(*in_roles: str) -> str:
        name = f"dsr_test_login_{uuid.uuid4().hex[:10]}"
        member_of = f" IN ROLE {', '.join(in_roles)}" if in_roles else ""
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{name}" LOGIN{member_of}')
        created.append(name)
        return name

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def assert_analyst_only(url: str, closed_tables: list[str]) -> None:
    """What a login granted dsr_analyst can and cannot do, connected to the warehouse at ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        views = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'analyst' ORDER BY 1")]
        assert len(views) >= 10, views
        for view in views:
            conn.execute(f'SELECT * FROM analyst."{view}" LIMIT 1').fetchall()
        denied = {
            "temporary table": "CREATE TEMP TABLE scratch (x int)",
            "lo_create": "SELECT lo_create(0)",
            "lo_creat": "SELECT lo_creat(-1)",
            "lo_from_bytea": "SELECT lo_from_bytea(0, 'x'::bytea)",
            "lo_import": "SELECT lo_import('/etc/hostname')",
            "table in public": "CREATE TABLE public.scratch (x int)",
            "schema": "CREATE SCHEMA scratch",
            "view in analyst": "CREATE VIEW analyst.scratch AS SELECT 1 AS x",
        }
        for what, statement in denied.items():
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
                pytest.fail(f"an analyst could create a {what}")
        assert closed_tables, "no tables in raw, core, ops, risk?"
        for table in closed_tables:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
                pytest.fail(f"an analyst could read {table}")


def closed_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            """SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
                WHERE table_schema = ANY(%s) ORDER BY 1""", (list(CLOSED_SCHEMAS),))]


def test_analyst_reads_the_views_and_nothing_else(warehouse, logins):
    assert not [n for n in harden(warehouse) if n.startswith("WARNING")]  # a superuser closes everything
    tables = closed_tables(warehouse)
    assert {t.split(".")[0] for t in tables} == set(CLOSED_SCHEMAS)
    assert_analyst_only(as_user(warehouse, logins("dsr_analyst")), tables)


def test_only_the_pipeline_and_analysts_connect(warehouse, logins):
    harden(warehouse)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(as_user(warehouse, logins())).close()
    with psycopg.connect(as_user(warehouse, logins("dsr_analyst"))) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == psycopg.conninfo.conninfo_to_dict(
            warehouse)["dbname"]
    # the pipeline (here a superuser) still connects, loads through temporary tables, migrates
    with psycopg.connect(warehouse) as conn:
        conn.execute("CREATE TEMP TABLE staging (x int)")
    from dsrwatch.warehouse import ensure_schema

    ensure_schema(warehouse)


def test_hardening_is_idempotent(warehouse):
    harden(warehouse)
    once = privileges_snapshot(warehouse)
    harden(warehouse)
    assert privileges_snapshot(warehouse) == once
    datacl, _, large_object_functions = once
    assert "dsr_analyst=c/" in datacl[0] and not public_entries(datacl[0]), datacl
    assert large_object_functions and all(acl and not public_entries(acl) for _, acl in large_object_functions)


# --- docker-compose: the warehouse as its init script leaves it, the pipeline as owner dsr -----------
def _pgserver_bin() -> Path:
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


@pytest.fixture
def compose_like_server(tmp_path_factory, monkeypatch):
    """A private PostgreSQL 16 (pgserver) with a database dsrwatch, as the postgres image creates it."""
    runtime = tmp_path_factory.mktemp("xdg")  # pgserver (platformdirs) warns without XDG_RUNTIME_DIR
    monkeypatch.setenv("XDG_RUNTIME_DIR", os.environ.get("XDG_RUNTIME_DIR") or str(runtime))
    import pgserver

    folder = tmp_path_factory.mktemp("pgc")  # short: the socket path must stay under 108 bytes
    with pgserver.get_server(folder, cleanup_mode="delete") as server:
        admin = server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE dsrwatch")
            conn.execute("CREATE DATABASE elsewhere")
        yield admin, str(folder)


def test_compose_init_leaves_a_non_superuser_owner_that_migrates_and_loads(compose_like_server, replay_into,
                                                                          monkeypatch):  # fmt: skip
    admin, socket_dir = compose_like_server
    env = {
        "PATH": f"{_pgserver_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
        "PGHOST": socket_dir,
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "dsrwatch",
        "DSR_WAREHOUSE_PASSWORD": "compose-secret-1",
        "DSR_ROLE_HARDENING_SQL": str(HARDENING_SQL),
    }
    result = subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "compose-secret-1" not in result.stdout + result.stderr

    owner = as_user(admin, "dsr", "dsrwatch")
    with psycopg.connect(as_user(admin, "postgres", "dsrwatch")) as conn:
        assert conn.execute("""SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword IS NOT NULL
                                 FROM pg_authid WHERE rolname = 'dsr'""").fetchone() == (False, False, False, True, True)
        assert conn.execute("SELECT datdba::regrole::text FROM pg_database WHERE datname = 'dsrwatch'").fetchone() == (
            "dsr",)

    # the whole migration chain and the views, then two loads (the second merges through a temporary table)
    monkeypatch.setenv("DSR_WAREHOUSE_URL", owner)
    from dsrwatch.warehouse import ensure_schema

    ensure_schema(owner)
    replay_into("v1", lambda root: tg.write_replay_dir(root, None))
    assert load_source("submarine_cables").status == "succeeded"
    replay_into("v2", lambda root: tg.write_replay_dir(root, tg.cables_v2()))
    assert load_source("submarine_cables").status == "succeeded"
    with psycopg.connect(owner) as conn:
        schemas = dict(conn.execute("""SELECT nspname, nspowner::regrole::text FROM pg_namespace
                                        WHERE nspname = ANY(%s)""", (["analyst", *CLOSED_SCHEMAS],)).fetchall())
    assert schemas == dict.fromkeys(["analyst", *CLOSED_SCHEMAS], "dsr")
    # run by the owner, 0007 finds the large objects already closed by the init script: no warning
    assert not [n for n in harden(owner) if n.startswith("WARNING")]

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE ROLE alice LOGIN IN ROLE dsr_analyst")
        conn.execute("CREATE ROLE mallory LOGIN")
    alice = as_user(admin, "alice", "dsrwatch")
    with psycopg.connect(alice) as conn:
        assert conn.execute("SELECT count(*) FROM analyst.submarine_cables").fetchone()[0] > 0
    assert_analyst_only(alice, closed_tables(owner))
    for user, dbname in (("mallory", "dsrwatch"), ("alice", "postgres"), ("dsr", "postgres")):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(as_user(admin, user, dbname)).close()


def test_owner_without_superuser_is_warned_about_large_objects(compose_like_server):
    """Without the init script's superuser pass, the owner closes what it can and says what is left."""
    admin, _ = compose_like_server
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE ROLE owner_only LOGIN")
        conn.execute("ALTER DATABASE elsewhere OWNER TO owner_only")
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dsr_analyst') THEN "
                     "CREATE ROLE dsr_analyst NOLOGIN; END IF; END $$")  # fmt: skip
    owner = as_user(admin, "owner_only", "elsewhere")
    warnings = [n for n in harden(owner) if n.startswith("WARNING")]
    assert len(warnings) == 1 and "large objects" in warnings[0] and "lo_create(oid)" in warnings[0], warnings
    with psycopg.connect(owner) as conn:
        datacl = conn.execute("SELECT datacl::text FROM pg_database WHERE datname = 'elsewhere'").fetchone()[0]
    assert "owner_only=CTc/owner_only" in datacl and "dsr_analyst=c/owner_only" in datacl, datacl
    assert not public_entries(datacl), datacl
    # a role that neither owns the database nor is a superuser is told why it cannot harden it
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE ROLE bystander LOGIN")
        conn.execute("GRANT CONNECT ON DATABASE elsewhere TO bystander")
    with pytest.raises(errors.RaiseException, match="neither owns database elsewhere nor is a superuser"):
        harden(as_user(admin, "bystander", "elsewhere"))
