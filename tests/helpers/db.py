"""Read helpers for tests that inspect the warehouse."""

import psycopg


def query(url: str, sql: str, params=None) -> list[tuple]:
    """Run one query against a warehouse URL and return all rows."""
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(url: str, sql: str, params=None):
    return query(url, sql, params)[0][0]


def table_fingerprint(url: str) -> dict[str, int]:
    """Row counts and a content digest of every core table, to prove "nothing changed"."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'core' ORDER BY 1"
        )]
        return {
            t: conn.execute(f"SELECT count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM core.{t} x").fetchone()
            for t in tables
        }
