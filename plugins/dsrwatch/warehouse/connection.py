"""Resolve and open the warehouse connection.

Order: DSR_WAREHOUSE_URL, then the Airflow connection ``dsr_warehouse`` (only when Airflow can
tell us, i.e. inside a task), then an embedded PostgreSQL from the ``pgserver`` wheel whose data
lives in ``<DSR_DATA_DIR>/warehouse``.
"""

from __future__ import annotations

import logging
import urllib.parse
from functools import cache

import psycopg
import psycopg.sql

from dsrwatch import config

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "dsrwatch"
AIRFLOW_CONN_ID = "dsr_warehouse"


def _from_airflow_connection() -> str | None:
    # Environment-defined connections need no metadata DB; anything else only inside a task.
    from dsrwatch import airflow_adapter

    conn = airflow_adapter.connection_from_environment(AIRFLOW_CONN_ID)
    return conn.get_uri().replace("postgres://", "postgresql://", 1) if conn else None


@cache
def _embedded_url() -> str:
    import pgserver

    folder = config.data_dir() / "warehouse"
    folder.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(folder, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)).fetchone():
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(EMBEDDED_DATABASE)))
            log.info("created the embedded warehouse database in %s", folder)
    socket_dir = urllib.parse.quote(str(folder), safe="")
    return f"postgresql://postgres:@/{EMBEDDED_DATABASE}?host={socket_dir}"


def resolve_url() -> str:
    """The libpq URL of the warehouse (may hold a password: never log it, use describe_location)."""
    return config.warehouse_url() or _from_airflow_connection() or _embedded_url()


def describe_location(url: str | None = None) -> str:
    """A printable description of the warehouse with any password removed."""
    info = psycopg.conninfo.conninfo_to_dict(url or resolve_url())
    host = info.get("host") or "localhost"
    where = f"socket {host}" if str(host).startswith("/") else f"{host}:{info.get('port') or 5432}"
    return f"PostgreSQL database {info.get('dbname')} at {where}"


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A new psycopg connection; the caller owns the transaction (``with conn.transaction()``)."""
    return psycopg.connect(url or resolve_url(), application_name="dsrwatch", **kwargs)
