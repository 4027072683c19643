"""Send each digest exactly once: a ledger in ops.alert_digests, SMTP through Airflow, an outbox.

Protocol, per (recipient list, interval), holding the list's lock ``alert_digests:<list>``
(dsrwatch.warehouse.locks: a row lock analysts cannot take) from choosing the interval to
recording the outcome, so deliveries to one list never overlap:

1. a ``sent`` row exists -> send nothing, say so;
2. the interval ends before the first risk evaluation, or it is empty and the list does not
   want empty digests -> row ``skipped`` with the reason, send nothing;
3. otherwise upsert ``sending`` (attempts + 1) and commit; send; mark ``sent`` (``sent_at``).
   If sending fails the row becomes ``failed`` with the error and the exception propagates, so
   Airflow retries the task; the retry finds no ``sent`` row and sends.

The limit: if the SMTP server accepted the message and the warehouse then became unreachable
before step 3 finished, the row stays ``sending`` and the retry sends again - at least once in
that window. The duplicate carries the same Message-ID (derived from list and interval), which
lets mail clients and archives recognise it.

``make run``'s "since the last digest" chooses its interval under that lock: from the end of the
list's latest sent digest to now. Two runs at the same moment therefore send one email; the
second finds the first's digest sent and has nothing left to cover.

SMTP goes through the Airflow connection ``smtp_default`` (smtp provider's SmtpHook); every network
step waits at most DSR_SMTP_TIMEOUT seconds (or the connection's ``timeout`` extra) and a failure
names the server. With no such connection, or a list without recipients, the message is written
to ``<DSR_DATA_DIR>/outbox``.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage

import psycopg

from dsrwatch import airflow_adapter, config, ledger
from dsrwatch.airflow_adapter import ConnectionConfigError, smtp_hook
from dsrwatch.alerts import render
from dsrwatch.alerts.digest import Digest, read_digest, utc
from dsrwatch.alerts.settings import (
    DEFAULT_FROM,
    SMTP_CONN_ID,
    AlertSettings,
    RecipientList,
    load_settings,
    smtp_timeout,
)
from dsrwatch.warehouse import connect, ensure_schema, locks

log = logging.getLogger(__name__)


class SmtpDeliveryError(RuntimeError):
    """The SMTP server could not be reached, did not answer in time or refused the message; the
    message names the server (host:port) and what it was doing."""


class DigestDeliveryError(RuntimeError):
    """At least one list could not be sent; the others were (see ``results``). Airflow retries."""

    def __init__(self, message: str, results: list[DeliveryResult]):
        super().__init__(message)
        self.results = results


@dataclass
class DeliveryResult:
    list_name: str
    interval_start: datetime | None
    interval_end: datetime | None
    status: str  # sent | already_sent | skipped | failed
    channel: str | None = None  # smtp | outbox
    subject: str | None = None
    message_id: str | None = None
    entries: int = 0
    recipients: tuple[str, ...] = ()
    outbox_path: str | None = None
    detail: str | None = None  # why skipped, the error, refused recipients
    sent_at: datetime | None = None
    flag_ids: dict[str, list[int]] = field(default_factory=dict)

    def line(self) -> str:
        """One line for a summary: what happened to this list's digest and where it went."""
        head = f"{'weekly_alert':<18} list {self.list_name}: "
        if self.status == "sent" and self.channel == "smtp":
            return head + f"sent by SMTP to {len(self.recipients)} recipient(s): {self.subject}"
        if self.status == "sent":
            return head + f"written to the outbox {self.outbox_path}: {self.subject}"
        if self.status == "already_sent":
            sent = self.sent_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if self.sent_at else "earlier"
            return head + f"already sent {sent} ({self.message_id}); nothing sent"
        if self.status == "skipped":
            return head + f"skipped: {self.detail}"
        return head + f"FAILED: {self.detail}"

    def as_dict(self) -> dict:
        """JSON-safe (for XCom)."""
        return {
            "list_name": self.list_name, "status": self.status, "channel": self.channel, "subject": self.subject,
            "message_id": self.message_id, "entries": self.entries, "recipients": list(self.recipients),
            "outbox_path": self.outbox_path, "detail": self.detail, "flag_ids": self.flag_ids,
            "interval_start": self.interval_start.isoformat() if self.interval_start else None,
            "interval_end": self.interval_end.isoformat() if self.interval_end else None,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
        }  # fmt: skip


# --- where the warehouse stands -----------------------------------------------------------------
def first_risk_evaluation(conn: psycopg.Connection) -> datetime | None:
    """When the risk engine first evaluated anything (the first baseline); None before that."""
    first_baseline = conn.execute("SELECT min(first_evaluated_at) FROM risk.source_evaluations").fetchone()[0]
    first_run = ledger.first_evaluation_start(conn)
    return min((t for t in (first_baseline, first_run) if t is not None), default=None)


def last_sent_end(conn: psycopg.Connection, list_name: str) -> datetime | None:
    return conn.execute(
        "SELECT max(interval_end) FROM ops.alert_digests WHERE list_name = %s AND status = 'sent'",
        (list_name,),
    ).fetchone()[0]


# --- SMTP and outbox ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    kind: str  # smtp | outbox
    sender: str
    conn_id: str | None = None
    reason: str = ""  # why the outbox


def resolve_channel(recipients: RecipientList, conn_id: str = SMTP_CONN_ID) -> Channel:
    """SMTP when the list has recipients and the connection exists; else the outbox."""
    # Only "not defined" falls back: any other lookup failure propagates and the task retries,
    # rather than quietly filing a digest its readers should have received.
    connection = airflow_adapter.connection(conn_id)
    sender = (connection.extra_dejson.get("from_email") if connection else None) or DEFAULT_FROM
    if not recipients.to:
        return Channel("outbox", sender, reason="the list has no recipients")
    if connection is None:
        return Channel(
            "outbox", sender, reason=f"no Airflow connection {conn_id!r} (AIRFLOW_CONN_{conn_id.upper()})"
        )
    return Channel("smtp", sender, conn_id=conn_id)


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _smtp_failure(hook, conn_id: str, stage: str, exc: Exception) -> str:
    """E.g. "SMTP server mail.example.org:25: no answer within 30 s while connecting (AirflowException:
    Unable to connect to smtp server <- SMTPServerDisconnected: Connection unexpectedly closed: timed out)"."""
    if isinstance(exc, ConnectionConfigError):
        return str(exc)
    where = f"SMTP server {hook.address}" if hook.smtp_connection else f"SMTP connection {conn_id!r}"
    causes = list(_chain(exc))
    timed_out = any(isinstance(e, TimeoutError) or "timed out" in str(e) for e in causes)
    what = f"no answer within {hook.timeout:g} s" if timed_out and hook.smtp_connection else "failed"
    message = f"{where}: {what} while {stage}"
    if stage == "sending the message" and (timed_out or any(isinstance(e, smtplib.SMTPServerDisconnected)
                                                            for e in causes)):  # fmt: skip
        message += "; the server may have accepted it (a retry sends it again, same Message-ID)"
    return message + " (" + " <- ".join(f"{type(e).__name__}: {e}" for e in causes) + ")"


def send_smtp(message: EmailMessage, recipients: tuple[str, ...], sender: str, conn_id: str,
              timeout: float | None = None) -> dict:  # fmt: skip
    """Send a prebuilt message through the smtp provider's hook; returns refused recipients.

    Connecting, the greeting, each command and the message each wait at most ``timeout`` seconds
    (default: the connection's ``timeout`` extra, else DSR_SMTP_TIMEOUT); any failure raises
    SmtpDeliveryError naming the server."""
    hook = smtp_hook(conn_id, smtp_timeout() if timeout is None else timeout)
    stage = "connecting"
    try:
        hook.get_conn()  # connects, STARTTLS and login as the connection's extras say
        # The hook sends only messages it builds itself (one HTML part); for a prebuilt MIME tree
        # the provider offers no public accessor to its smtplib client (3.2.0), hence _smtp_client.
        client = hook._smtp_client
        stage = "sending the message"
        refused = client.send_message(message, from_addr=sender, to_addrs=list(recipients))
        try:
            client.quit()
        except OSError:  # accepted already; a failing QUIT does not unsend it
            log.debug("SMTP QUIT failed after the message was accepted", exc_info=True)
        return refused
    except Exception as exc:
        raise SmtpDeliveryError(_smtp_failure(hook, conn_id, stage, exc)) from exc
    finally:
        if hook._smtp_client is not None:
            hook._smtp_client.close()
            hook._smtp_client = None


def outbox_dir():
    return config.data_dir() / "outbox"


def write_outbox(rendered: render.RenderedDigest, list_name: str, start: datetime, end: datetime) -> str:
    stem = f"{render.interval_stem(start, end)}-{render.list_slug(list_name)}"
    paths = render.write_preview(rendered, outbox_dir(), stem)
    return str(paths["eml"])


# --- the ledger ---------------------------------------------------------------------------------------
def list_lock(list_name: str) -> str:
    """The lock (dsrwatch.warehouse.locks) held while a digest for ``list_name`` is chosen and sent."""
    return f"alert_digests:{list_name}"


_KEY = "list_name = %(list)s AND interval_start = %(start)s AND interval_end = %(end)s"

_UPSERT_SENDING = """
INSERT INTO ops.alert_digests AS d (list_name, interval_start, interval_end, message_id, subject, recipients,
                                   entry_flag_ids, entries, status, channel, attempts, airflow_run_id)
VALUES (%(list)s, %(start)s, %(end)s, %(message_id)s, %(subject)s, %(recipients)s, %(flag_ids)s, %(entries)s,
        'sending', %(channel)s, 1, %(run_id)s)
ON CONFLICT (list_name, interval_start, interval_end) DO UPDATE
   SET message_id = EXCLUDED.message_id, subject = EXCLUDED.subject, recipients = EXCLUDED.recipients,
       entry_flag_ids = EXCLUDED.entry_flag_ids, entries = EXCLUDED.entries, status = 'sending',
       channel = EXCLUDED.channel, attempts = d.attempts + 1, error = NULL, skip_reason = NULL,
       airflow_run_id = EXCLUDED.airflow_run_id, updated_at = now()
 WHERE d.status <> 'sent'
RETURNING attempts"""

_UPSERT_SKIPPED = """
INSERT INTO ops.alert_digests AS d (list_name, interval_start, interval_end, message_id, subject, status,
                                   skip_reason, airflow_run_id)
VALUES (%(list)s, %(start)s, %(end)s, %(message_id)s, %(subject)s, 'skipped', %(reason)s, %(run_id)s)
ON CONFLICT (list_name, interval_start, interval_end) DO UPDATE
   SET status = 'skipped', skip_reason = EXCLUDED.skip_reason, subject = EXCLUDED.subject,
       airflow_run_id = EXCLUDED.airflow_run_id, updated_at = now()
 WHERE d.status <> 'sent'"""


class _Deliverer:
    """Delivers one digest per (list, interval) on one autocommit connection; the caller holds the
    list's lock."""

    def __init__(self, conn: psycopg.Connection, airflow_run_id: str | None, conn_id: str):
        self.conn = conn
        self.airflow_run_id = airflow_run_id
        self.conn_id = conn_id
        self._digests: dict[tuple[datetime, datetime], Digest] = {}

    def digest(self, start: datetime, end: datetime) -> Digest:
        if (start, end) not in self._digests:
            self._digests[(start, end)] = read_digest(self.conn, start, end)
        return self._digests[(start, end)]

    def deliver(self, recipients: RecipientList, start: datetime, end: datetime,
                skip_reason: str | None = None) -> DeliveryResult:  # fmt: skip
        params = {"list": recipients.name, "start": start, "end": end, "run_id": self.airflow_run_id}
        result = DeliveryResult(recipients.name, start, end, status="failed")
        result.message_id = render.message_id(recipients.name, start, end)
        row = self.conn.execute(
            f"SELECT status, subject, sent_at, channel, outbox_path, entries FROM ops.alert_digests WHERE {_KEY}",  # noqa: S608
            params,
        ).fetchone()
        if row and row[0] == "sent":
            result.status, result.subject, result.sent_at, result.channel, result.outbox_path, result.entries = (
                "already_sent", *row[1:])  # fmt: skip
            log.info("digest %s for %s already sent at %s: sending nothing", result.message_id, recipients.name, row[2])
            return result
        if row and row[0] == "sending":
            log.warning("digest %s was left 'sending' by an interrupted attempt: it may have gone out; sending "
                        "again with the same Message-ID", result.message_id)  # fmt: skip

        digest = None
        if skip_reason is None:
            digest = self.digest(start, end).for_list(recipients)
            if digest.is_empty and not recipients.send_empty:
                skip_reason = "nothing new (no empty digest for this list, nor in a one-shot make run)"
        if skip_reason:
            result.status, result.detail = "skipped", skip_reason
            self.conn.execute(_UPSERT_SKIPPED, {**params, "message_id": result.message_id, "reason": skip_reason,
                                                "subject": digest and render.subject_for(digest)})  # fmt: skip
            log.info("digest for %s, %s to %s skipped: %s", recipients.name, start, end, skip_reason)
            return result

        channel = resolve_channel(recipients, self.conn_id)
        rendered = render.build_message(digest, recipients, channel.sender)
        result.subject, result.entries, result.channel = rendered.subject, len(digest.entries), channel.kind
        result.recipients, result.flag_ids = recipients.to, digest.flag_ids()
        attempts = self.conn.execute(_UPSERT_SENDING, {
            **params, "message_id": rendered.message_id, "subject": rendered.subject,
            "recipients": json.dumps(list(recipients.to)), "flag_ids": json.dumps(result.flag_ids),
            "entries": result.entries, "channel": channel.kind,
        }).fetchone()  # fmt: skip
        if attempts is None:  # marked sent by someone else between our read and now
            result.status = "already_sent"
            return result
        try:
            if channel.kind == "smtp":
                refused = send_smtp(rendered.message, recipients.to, channel.sender, channel.conn_id)
                result.detail = f"refused by the server: {sorted(refused)}" if refused else None
            else:
                log.info("digest for %s goes to the outbox: %s", recipients.name, channel.reason)
                result.outbox_path = write_outbox(rendered, recipients.name, start, end)
                result.detail = channel.reason
        except Exception as exc:
            result.detail = f"{type(exc).__name__}: {exc}"
            self.conn.execute(
                f"UPDATE ops.alert_digests SET status = 'failed', error = %(error)s, updated_at = now() WHERE {_KEY}",  # noqa: S608
                {**params, "error": result.detail},
            )
            log.error("digest %s for %s failed (attempt %d): %s", rendered.message_id, recipients.name,
                      attempts[0], result.detail)  # fmt: skip
            raise
        result.sent_at = self.conn.execute(
            f"""UPDATE ops.alert_digests SET status = 'sent', sent_at = clock_timestamp(), outbox_path = %(path)s,
                       error = %(note)s, updated_at = now()
                 WHERE {_KEY} RETURNING sent_at""",  # noqa: S608
            {**params, "path": result.outbox_path, "note": result.detail if channel.kind == "smtp" else None},
        ).fetchone()[0]
        result.status = "sent"
        log.info("%s", result.line())
        return result


def _run(settings: AlertSettings, conn: psycopg.Connection, interval, airflow_run_id: str | None,
         conn_id: str) -> list[DeliveryResult]:  # fmt: skip
    """For each list, holding its lock: ``interval(list)`` -> (list, start, end, skip_reason), then
    deliver; raise at the end if any list failed. The lock is held on a second connection, in a
    transaction that spans the whole delivery (``conn`` commits each step on its own)."""
    deliverer = _Deliverer(conn, airflow_run_id, conn_id)
    results, failures = [], []
    with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True,
                         application_name="dsrwatch digest (recipient list lock)") as holder:  # fmt: skip
        for listed in settings.lists:
            start = end = None
            try:
                with holder.transaction():
                    locks.take(holder, list_lock(listed.name))
                    recipients, start, end, skip_reason = interval(listed)
                    if start is None or end is None:
                        result = DeliveryResult(recipients.name, start, end, "skipped", detail=skip_reason)
                    else:
                        result = deliverer.deliver(recipients, start, end, skip_reason)
            except Exception as exc:
                result = DeliveryResult(listed.name, start, end, "failed", detail=f"{type(exc).__name__}: {exc}",
                                        message_id=render.message_id(listed.name, start, end) if start and end
                                        else None)  # fmt: skip
                failures.append((listed.name, exc))
            results.append(result)
    for note in settings.notes:
        log.info("%s", note)
    if failures:
        names = ", ".join(f"{name} ({type(exc).__name__}: {exc})" for name, exc in failures)
        raise DigestDeliveryError(f"digest delivery failed for {names}; nothing recorded as sent for them",
                                  results) from failures[0][1]  # fmt: skip
    return results


def send_weekly_digest(interval_start: datetime, interval_end: datetime, airflow_run_id: str | None = None, *,
                       settings: AlertSettings | None = None, conn_id: str = SMTP_CONN_ID,
                       now: datetime | None = None) -> list[DeliveryResult]:  # fmt: skip
    """Send the digest of [interval_start, interval_end) to every recipient list, once each.

    An interval that ends before the first risk evaluation is recorded as skipped: a first
    deployment does not mail a backlog of empty weeks. So is one that has not ended yet (skips
    are not final: a later call for the same interval decides again). ``now`` defaults to the
    warehouse clock (the clock that stamps the flags).
    """
    start, end = utc(interval_start), utc(interval_end)
    ensure_schema()
    settings = settings or load_settings()
    with connect(autocommit=True) as conn:
        first = first_risk_evaluation(conn)
        now = utc(now) if now else conn.execute("SELECT clock_timestamp()").fetchone()[0]
        skip_reason = None
        if first is None:
            skip_reason = "no risk evaluation has run yet"
        elif end <= first:
            skip_reason = f"the interval ends before the first risk evaluation ({render.when(first)})"
        elif end > now:  # a digest sent early would miss what the rest of its week brings
            skip_reason = f"the interval has not ended yet (it ends {render.when(end)})"
        return _run(
            settings, conn, lambda recipients: (recipients, start, end, skip_reason), airflow_run_id, conn_id
        )


def send_digest_since_last(now: datetime | None = None, airflow_run_id: str | None = None, *,
                           settings: AlertSettings | None = None, conn_id: str = SMTP_CONN_ID) -> list[DeliveryResult]:  # fmt: skip
    """For each list, the digest from the end of its latest sent digest (or from the first risk
    evaluation) to ``now`` (default: the warehouse clock) - what ``make run`` sends.

    Unlike the weekly digest it never sends a "nothing new" message: a one-shot run after a
    baseline, or a rerun, would otherwise mail every time it is run.

    The start is read under the list's lock, which is held until the digest is recorded: two runs
    at the same moment send one email (the later one starts where the earlier one ended)."""
    ensure_schema()
    settings = settings or load_settings()
    with connect(autocommit=True) as conn:
        end = utc(now) if now else conn.execute("SELECT clock_timestamp()").fetchone()[0]
        first = first_risk_evaluation(conn)

        def interval(recipients: RecipientList):
            start = last_sent_end(conn, recipients.name) or first
            if start is None:
                return recipients, None, None, "no risk evaluation has run yet"
            if start >= end:
                reason = f"nothing since the last digest, which ended {render.when(start)}"
                return recipients, None, None, reason
            return replace(recipients, send_empty=False), start, end, None

        return _run(settings, conn, interval, airflow_run_id, conn_id)


def run_weekly_alert(context: dict) -> list[dict]:
    """The task body: the run's data interval (the week that just ended), or - when the run's conf
    says ``{"since_last_digest": true}``, as ``make run`` does - everything since each list's last
    digest. Prints one line per recipient list; raises if any list failed (Airflow retries)."""
    dag_run = context.get("dag_run")
    conf = (getattr(dag_run, "conf", None) or {}) if dag_run is not None else {}
    run_id = context.get("run_id")
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    try:
        if conf.get("since_last_digest") or start is None or end is None:
            results = send_digest_since_last(airflow_run_id=run_id)
        else:
            results = send_weekly_digest(start, end, airflow_run_id=run_id)
    except DigestDeliveryError as exc:
        for result in exc.results:
            print(result.line())
        raise
    for result in results:
        print(result.line())
    return [result.as_dict() for result in results]


__all__ = [
    "DeliveryResult", "DigestDeliveryError", "SmtpDeliveryError", "run_weekly_alert", "send_digest_since_last",
    "send_weekly_digest",
]  # fmt: skip
