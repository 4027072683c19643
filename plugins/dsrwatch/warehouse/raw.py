"""The raw layer: every fetched payload is stored, with provenance, before anything parses it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator

import psycopg
from psycopg import sql

from dsrwatch.fetching import FetchedResponse, Validators
from dsrwatch.warehouse.loading import copy_rows
from dsrwatch.warehouse.tables import RawPayload

log = logging.getLogger(__name__)

RESPONSE_COLUMNS = (
    "run_id", "source", "url", "fetched_at", "http_status", "etag", "last_modified",
    "content_type", "sha256", "replayed_from", "not_modified",
)  # fmt: skip


class RawStore:
    """Buffers responses of one run and writes them in batches, each batch committed.

    Committing per batch means a fetch that dies half-way keeps what it already fetched.
    It also answers conditional-GET questions from earlier runs (validators, previous body).
    """

    def __init__(self, conn: psycopg.Connection, run_id: int, source: str, batch_bytes: int = 64 << 20):
        self.conn = conn
        self.run_id = run_id
        self.source = source
        self.batch_bytes = batch_bytes
        self._pending: list[FetchedResponse] = []
        self._pending_bytes = 0
        self.stored = 0
        self.bytes_stored = 0

    # conditional GET support --------------------------------------------------------------
    def validators(self, url: str) -> Validators | None:
        row = self.conn.execute(
            """SELECT etag, last_modified FROM raw.http_responses
                WHERE url = %s AND (etag IS NOT NULL OR last_modified IS NOT NULL)
                ORDER BY response_id DESC LIMIT 1""",
            (url,),
        ).fetchone()
        return Validators(etag=row[0], last_modified=row[1]) if row else None

    def previous_body(self, url: str) -> bytes:
        row = self.conn.execute(
            """SELECT b.body FROM raw.http_responses r JOIN raw.bodies b USING (sha256)
                WHERE r.url = %s ORDER BY r.response_id DESC LIMIT 1""",
            (url,),
        ).fetchone()
        if row is None:
            raise LookupError(f"server answered 304 Not Modified for {url} but raw has no earlier body")
        return bytes(row[0])

    # writing --------------------------------------------------------------------------------
    def add(self, response: FetchedResponse) -> None:
        self._pending.append(response)
        self._pending_bytes += len(response.body)
        if self._pending_bytes >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        bodies: dict[str, bytes] = {}
        rows = []
        for r in self._pending:
            digest = hashlib.sha256(r.body).hexdigest()
            bodies.setdefault(digest, r.body)
            rows.append((
                self.run_id, self.source, r.url, r.fetched_at, r.http_status, r.etag, r.last_modified,
                r.content_type, digest, r.replayed_from, r.not_modified,
            ))  # fmt: skip
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE stage_bodies (sha256 text, size_bytes integer, body bytea) ON COMMIT DROP")
            copy_rows(
                cur,
                sql.Identifier("stage_bodies"),
                ("sha256", "size_bytes", "body"),
                ((d, len(b), b) for d, b in bodies.items()),
            )
            cur.execute(
                """INSERT INTO raw.bodies (sha256, size_bytes, body)
                   SELECT sha256, size_bytes, body FROM stage_bodies ON CONFLICT (sha256) DO NOTHING"""
            )
            copy_rows(cur, sql.Identifier("raw", "http_responses"), RESPONSE_COLUMNS, rows)
            cur.execute("DROP TABLE stage_bodies")
        self.stored += len(self._pending)
        self.bytes_stored += self._pending_bytes
        log.info("raw: stored %d responses of run %d (%d so far)", len(self._pending), self.run_id, self.stored)
        self._pending.clear()
        self._pending_bytes = 0


def iter_run_payloads(conn: psycopg.Connection, run_id: int) -> Iterator[RawPayload]:
    """The bodies fetched by one run, in fetch order (304s yield the body they confirmed)."""
    with conn.cursor(name=f"raw_run_{run_id}") as cur:
        cur.itersize = 500
        cur.execute(
            """SELECT r.url, b.body, r.fetched_at FROM raw.http_responses r JOIN raw.bodies b USING (sha256)
                WHERE r.run_id = %s ORDER BY r.response_id""",
            (run_id,),
        )
        for url, body, fetched_at in cur:
            yield RawPayload(url=url, body=bytes(body), fetched_at=fetched_at)
