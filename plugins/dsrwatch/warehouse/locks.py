"""Named locks analysts cannot take: row locks on ``ops.locks`` (migration 0008).

``take(conn, name)`` locks the row ``name`` - ``FOR UPDATE`` (exclusive) or ``FOR SHARE`` - in
the connection's current transaction; the lock ends with the transaction. The row is created on
first use, so any name works (e.g. ``source:<name>``). Analysts (role ``dsr_analyst``) have no
privilege on schema ``ops``, so unlike ``pg_advisory_lock`` they can neither take nor hold one.

A wait longer than ``timeout`` (default ``DSR_LOCK_TIMEOUT``, 600 s) raises ``LockTimeout``,
whose message names the session(s) holding the lock: pid, user, application, client, state,
since when, and the last statement.
"""

from __future__ import annotations

import psycopg
import psycopg.errors
from psycopg.pq import TransactionStatus

from dsrwatch import config

RISK_FLAGS = "risk_flags"  # the risk engine holds it exclusively; digest reads share it

_SELECT = {False: "SELECT 1 FROM ops.locks WHERE name = %s FOR UPDATE",
           True: "SELECT 1 FROM ops.locks WHERE name = %s FOR SHARE"}  # fmt: skip

# Who holds row ``name``: the live transaction whose xid is the row's xmax (a single locker),
# else - several sharers (a MultiXact) or a holder that just finished - every other session
# holding row locks on ops.locks. Read after the timeout, when this session no longer waits.
_HOLDERS = """
WITH row_lockers AS (
    SELECT pid FROM pg_locks
     WHERE locktype = 'relation' AND relation = 'ops.locks'::regclass AND mode = 'RowShareLock'
       AND granted AND pid <> pg_backend_pid()
), owner AS (
    SELECT l.pid FROM pg_locks l JOIN ops.locks t ON l.transactionid = t.xmax
     WHERE t.name = %s AND l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
       AND l.pid IN (SELECT pid FROM row_lockers)
)
SELECT a.pid, a.usename, a.application_name, a.client_addr::text, a.state,
       coalesce(a.xact_start, a.state_change), left(a.query, 200)
  FROM pg_stat_activity a
 WHERE a.pid IN (SELECT pid FROM owner)
    OR (NOT EXISTS (SELECT 1 FROM owner) AND a.pid IN (SELECT pid FROM row_lockers))
 ORDER BY a.pid"""


class LockTimeout(RuntimeError):
    """A named lock was not granted in time; the message names who holds it."""

    def __init__(self, message: str, name: str, holders: list[tuple]):
        super().__init__(message)
        self.name = name
        self.holders = holders  # (pid, user, application, client, state, since, query)


def timeout_seconds() -> float:
    return config.lock_timeout_seconds()


def _describe(holder: tuple) -> str:
    pid, user, application, client, state, since, query = holder
    where = f" from {client}" if client else ""
    when = f" since {since:%Y-%m-%d %H:%M:%S %Z}" if since else ""
    return (f"pid {pid} (user {user!r}, application {application or '-'!r}{where}, {state or 'unknown state'}"
            f"{when}, last statement {query!r})")  # fmt: skip


def take(conn: psycopg.Connection, name: str, *, shared: bool = False, timeout: float | None = None) -> None:
    """Lock ``name`` until the current transaction ends: exclusive, or ``shared`` (many sharers,
    no exclusive holder). Waits at most ``timeout`` seconds (default ``timeout_seconds()``), then
    raises ``LockTimeout`` naming the holder; the transaction stays usable. The session's own
    ``lock_timeout`` is restored afterwards."""
    if conn.info.transaction_status != TransactionStatus.INTRANS:
        raise RuntimeError(f"lock {name!r}: take it inside a transaction (with conn.transaction()), "
                           "or it would end with the statement")  # fmt: skip
    seconds = timeout_seconds() if timeout is None else timeout
    milliseconds = max(1, round(seconds * 1000))
    try:
        with conn.transaction():  # a savepoint: a timeout leaves the caller's transaction usable
            previous = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{milliseconds}ms",))
            if conn.execute(_SELECT[shared], (name,)).fetchone() is None:
                conn.execute("INSERT INTO ops.locks (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))
                conn.execute(_SELECT[shared], (name,))
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (previous,))
    except psycopg.errors.LockNotAvailable as exc:
        holders = conn.execute(_HOLDERS, (name,)).fetchall()
        who = "; ".join(_describe(h) for h in holders) or "a session that has finished since"
        mode = "shared" if shared else "exclusive"
        raise LockTimeout(f"lock {name!r} ({mode}) not granted within {seconds:g} s: held by {who}",
                          name, holders) from exc  # fmt: skip


__all__ = ["RISK_FLAGS", "LockTimeout", "take", "timeout_seconds"]
