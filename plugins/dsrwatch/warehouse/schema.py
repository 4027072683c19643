"""Keep the warehouse schema current: Alembic migrations, then the analyst views.

Migrations (``sql/migrations``) change tables and run once each, through Alembic revisions in
``migrations/versions``. Views (``sql/views``) are repeatable: when any view file changes they
are all dropped and recreated in one transaction, in file-name order.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg.sql

from dsrwatch import config
from dsrwatch.warehouse.connection import connect, resolve_url

log = logging.getLogger(__name__)

SQL_DIR = config.PROJECT_ROOT / "sql"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VIEW_SCHEMAS = ("analyst", "risk", "ops")


def run_sql_file(name: str) -> None:
    """Execute ``sql/migrations/<name>`` inside the running Alembic migration."""
    from alembic import op

    op.execute((SQL_DIR / "migrations" / name).read_text())


def sql_file_upgrade(name: str):
    """An Alembic ``upgrade`` that runs one SQL file (what every revision here does)."""
    return lambda: run_sql_file(name)


def no_downgrade() -> None:
    raise NotImplementedError("the warehouse keeps history; restore from a backup instead")


def _at_head(url: str, cfg) -> bool:
    """True when the database already holds every migration head: no lock, no work. (Only a real
    upgrade takes the migration lock, so no other session can stall every task by holding it.)"""
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with connect(url) as conn:
        if conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()[0] is None:
            return False
        return {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")} == heads


def _upgrade(url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if _at_head(url, cfg):
        return

    # psycopg parses the URL (URL or key=value form); SQLAlchemy only wraps the connection.
    engine = create_engine("postgresql+psycopg://", creator=lambda: connect(url))
    try:
        with engine.connect() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
    finally:
        engine.dispose()


def view_files() -> list[Path]:
    return sorted((SQL_DIR / "views").glob("*.sql"))


def _apply_views(url: str) -> bool:
    files = view_files()
    digests = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    with connect(url) as conn:
        applied = dict(conn.execute("SELECT file_name, sha256 FROM ops.applied_views").fetchall())
        if applied == digests:
            return False
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(4477522)")
            for schema, view_name in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.views WHERE table_schema = ANY(%s)",
                (list(VIEW_SCHEMAS),),
            ).fetchall():
                conn.execute(
                    psycopg.sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(schema, view_name))
                )
            for f in files:
                conn.execute(f.read_text())
            conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA analyst TO dsr_analyst")
            conn.execute("DELETE FROM ops.applied_views")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO ops.applied_views (file_name, sha256) VALUES (%s, %s)", list(digests.items())
                )
    log.info("applied %d analyst view files", len(files))
    return True


def _sync_vocabulary(url: str) -> None:
    """Keep risk.severities and risk.entity_categories equal to dsrwatch.vocabulary (writes only
    when they differ)."""
    from dsrwatch import vocabulary

    tables = {"severities": (("severity", "weight", "rank"), vocabulary.severity_rows()),
              "entity_categories": (("entity_kind", "category", "label", "position"), vocabulary.category_rows())}  # fmt: skip
    with connect(url) as conn:
        for table, (columns, rows) in tables.items():
            ident = psycopg.sql.Identifier("risk", table)
            names = psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns))
            current = conn.execute(psycopg.sql.SQL("SELECT {} FROM {} ORDER BY 1").format(names, ident)).fetchall()
            if sorted(current) == sorted(rows):
                continue
            with conn.transaction():
                conn.execute(psycopg.sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(ident))
                conn.execute(psycopg.sql.SQL("DELETE FROM {}").format(ident))
                with conn.cursor() as cur:
                    cur.executemany(psycopg.sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                        ident, names, psycopg.sql.SQL(", ").join(psycopg.sql.Placeholder() * len(columns))), rows)  # fmt: skip
            log.info("risk.%s now holds %d rows from dsrwatch.vocabulary", table, len(rows))


def ensure_schema(url: str | None = None) -> None:
    """Bring the warehouse to the newest migration, vocabulary and views; cheap when already current."""
    url = url or resolve_url()
    _upgrade(url)
    _sync_vocabulary(url)
    _apply_views(url)
