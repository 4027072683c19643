"""The weekly alert email end to end: real PostgreSQL, real risk engine, real SMTP server (aiosmtpd).

World (tests/helpers/worlds.py, ``digest_world``): reference seeds, regimes and the v1 cables
evaluated once (the baseline); then a second cable version adds two PRC-linked cables (one named
like an XSS probe), makes PEACE state-owned (PRC_OWNER rises from low to high) and drops China
Unicom from SAIL (its PRC_OWNER resolves), and the engine runs again. The digest of the interval
between the two evaluations is what we send.
"""

from __future__ import annotations

import csv
import email
import email.policy
import importlib.util
import io
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from dsrwatch.alerts import delivery, render
from dsrwatch.alerts.delivery import (
    DigestDeliveryError,
    run_weekly_alert,
    send_digest_since_last,
    send_weekly_digest,
)
from dsrwatch.alerts.digest import collect
from dsrwatch.alerts.settings import load_settings
from dsrwatch.risk import engine
from dsrwatch.warehouse import connect

from helpers import telegeography as tg
from helpers import worlds
from helpers.db import query, scalar
from helpers.runs import load_source
from helpers.smtp_server import SmtpServer, free_port
from helpers.worlds import XSS_NAME, db_now

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERT_ENV = ("DSR_ALERT_TO", "DSR_ALERT_LISTS", "DSR_ALERT_SEND_EMPTY", "DSR_ALERT_CRON",
             "AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_VAR_DSR_ALERT_LISTS")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_alert_settings(monkeypatch):
    """No developer setting (recipients, SMTP connection, Variable) leaks into these tests."""
    for name in ALERT_ENV:
        monkeypatch.delenv(name, raising=False)


world = worlds.digest_world  # baseline, then v2 evaluated; (interval_start, interval_end)


@pytest.fixture
def smtp(monkeypatch):
    with SmtpServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_uri())
        yield server


def lists_env(monkeypatch, *lists: dict) -> None:
    monkeypatch.setenv("DSR_ALERT_LISTS", json.dumps(list(lists)))


def ledger(url: str, list_name: str = "default") -> list[tuple]:
    sql = """SELECT status, channel, message_id, entry_flag_ids, attempts, error, sent_at IS NOT NULL
               FROM ops.alert_digests WHERE list_name = %s ORDER BY interval_start"""
    return query(url, sql, (list_name,))


def parts_tree(part) -> object:
    """The MIME tree as nested (content type, [children]) for structure assertions."""
    if part.is_multipart():
        return (part.get_content_type(), [parts_tree(p) for p in part.iter_parts()])
    return part.get_content_type()


def find(message, content_type: str):
    return next(p for p in message.walk() if p.get_content_type() == content_type)


# --- the message --------------------------------------------------------------------------------
def test_digest_goes_out_once_with_the_new_flags(world, warehouse, smtp, monkeypatch):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org, editor@example.org")
    results = send_weekly_digest(start, end, airflow_run_id="manual__test")
    assert [(r.status, r.channel) for r in results] == [("sent", "smtp")]
    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert received.mail_from == "dsr-watch@localhost"
    assert sorted(received.rcpt_tos) == ["analysts@example.org", "editor@example.org"]
    message = received.message

    # multipart/mixed > alternative(text/plain, related(text/html, image/png)) + text/csv
    assert parts_tree(message) == ("multipart/mixed", [
        ("multipart/alternative", ["text/plain", ("multipart/related", ["text/html", "image/png"])]),
        "text/csv",
    ])  # fmt: skip
    html = find(message, "text/html").get_content()
    image = find(message, "image/png")
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    assert find(message, "text/csv").get_filename().endswith(".csv")

    # headers
    new_entities = query(warehouse, """SELECT DISTINCT entity_id FROM risk.flags WHERE NOT is_baseline""")
    assert {e for (e,) in new_entities} == {"script-cable", "meridian-express"}
    assert (
        message["Subject"]
        == f"DSR Watch: 2 new risk entries, 1 raised, 1 resolved, {render.period_label(start, end)}"
    )
    assert message["Message-ID"] == render.message_id("default", start, end)
    assert message["Message-ID"].endswith("@dsrwatch.invalid>")
    assert message["List-Id"].startswith("DSR Watch digest (default) <")
    assert message["From"].addresses[0].addr_spec == "dsr-watch@localhost"
    assert message["Date"] is not None and message["Auto-Submitted"] == "auto-generated"

    # entries: exactly the new (non-baseline) flags
    new_flags = {f for (f,) in query(warehouse, "SELECT flag_id FROM risk.flags WHERE NOT is_baseline")}
    rows = list(csv.DictReader(io.StringIO(find(message, "text/csv").get_content())))
    assert {int(r["flag_id"]) for r in rows if r["section"] == "new"} == new_flags
    assert {r["entity_id"] for r in rows if r["section"] == "new"} == {"script-cable", "meridian-express"}
    assert {(r["entity_id"], r["pattern_id"], r["previous_severity"], r["severity"]) for r in rows
            if r["section"] == "raised"} == {("peace-cable", "PRC_OWNER", "low", "high")}  # fmt: skip
    assert {(r["entity_id"], r["pattern_id"]) for r in rows if r["section"] == "resolved"} == {
        ("south-atlantic-inter-link-sail", "PRC_OWNER")}  # fmt: skip
    baseline_flags = {f for (f,) in query(warehouse, "SELECT flag_id FROM risk.flags WHERE is_baseline")}
    assert not {int(r["flag_id"]) for r in rows if r["section"] == "new"} & baseline_flags
    assert all(r["reason"] and r["first_flagged_at"] for r in rows)
    assert set(rows[0]) >= {"category", "entity", "countries", "pattern", "severity", "reason", "first_flagged_at",
                            "url"}  # fmt: skip

    # what a reader sees: parties with roles, patterns with reasons, countries by name
    text = find(message, "text/plain").get_content()
    assert "Meridian Express" in text and "China Mobile" in text and "owner" in text and "supplier" in text
    assert "PRC-linked owner or operator" in text and "Kenya" in text and "Pakistan" in text
    assert "SUBMARINE CABLES (2)" in text and "SEVERITY RAISED (1)" in text and "RESOLVED (1)" in text
    assert "TeleGeography Submarine Cable Map" in text  # attribution the licence asks for

    # escaping: the cable named like a script arrives as text, and its javascript: URL is no link
    assert XSS_NAME not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower() and "javascript:" not in html
    assert XSS_NAME in text  # plain text shows it as written (nothing interprets it)

    # ledger
    [(status, channel, message_id, flag_ids, attempts, error, has_sent_at)] = ledger(warehouse)
    assert (status, channel, message_id, attempts, error, has_sent_at) == (
        "sent", "smtp", message["Message-ID"], 1, None, True)  # fmt: skip
    assert set(flag_ids["new"]) == new_flags and flag_ids["back"] == []
    assert len(flag_ids["raised"]) == 1 and len(flag_ids["resolved"]) == 1

    # exactly once: a rerun (same interval) sends nothing and says so
    again = send_weekly_digest(start, end, airflow_run_id="manual__rerun")
    assert [r.status for r in again] == ["already_sent"]
    assert len(smtp.received) == 1
    assert ledger(warehouse)[0][4] == 1  # no new attempt
    assert "already sent" in again[0].line()


def test_smtp_down_is_failed_not_sent_and_a_retry_sends_once(world, warehouse, monkeypatch):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    server = SmtpServer(port=free_port())  # not started yet: nothing listens on the port
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_uri())
    with pytest.raises(DigestDeliveryError, match="default.*ConnectionRefusedError") as failure:
        send_weekly_digest(start, end)
    assert [r.status for r in failure.value.results] == ["failed"]
    [(status, _, _, _, attempts, error, has_sent_at)] = ledger(warehouse)
    assert (status, attempts, has_sent_at) == ("failed", 1, False)
    assert "ConnectionRefusedError" in error

    with server:  # the server is back: Airflow's retry
        results = send_weekly_digest(start, end)
        assert [r.status for r in results] == ["sent"]
        assert len(server.received) == 1
        assert send_weekly_digest(start, end)[0].status == "already_sent"
        assert len(server.received) == 1
    [(status, _, _, _, attempts, error, has_sent_at)] = ledger(warehouse)
    assert (status, attempts, error, has_sent_at) == ("sent", 2, None, True)


def test_interrupted_attempt_left_sending_is_sent_again_with_the_same_message_id(world, warehouse, smtp,
                                                                                  monkeypatch):  # fmt: skip
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    with connect(warehouse, autocommit=True) as conn:
        conn.execute("""INSERT INTO ops.alert_digests (list_name, interval_start, interval_end, message_id, status,
                                                       channel, attempts)
                        VALUES ('default', %s, %s, 'x', 'sending', 'smtp', 1)""", (start, end))  # fmt: skip
    assert [r.status for r in send_weekly_digest(start, end)] == ["sent"]
    assert len(smtp.received) == 1
    assert ledger(warehouse)[0][:2] == ("sent", "smtp") and ledger(warehouse)[0][4] == 2


# (The digest waiting for a running risk evaluation is tested in test_locks.py.)


# --- empty weeks, filters, outbox, skips ----------------------------------------------------------
def test_empty_week_is_a_short_nothing_new_message(world, warehouse, smtp, monkeypatch):
    _, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    later = db_now(warehouse)  # nothing was evaluated since the world was built
    [result] = send_weekly_digest(end, later)
    assert result.status == "sent" and result.entries == 0
    message = smtp.received[0].message
    assert message["Subject"] == f"DSR Watch: nothing new, {render.period_label(end, later)}"
    assert parts_tree(message) == ("multipart/alternative", ["text/plain", "text/html"])
    assert "Nothing new" in find(message, "text/plain").get_content()
    html = find(message, "text/html").get_content()
    assert "Nothing new" in html and "flags are open in total" in html


def test_empty_week_sends_nothing_when_send_empty_is_false(world, warehouse, smtp, monkeypatch):
    _, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    monkeypatch.setenv("DSR_ALERT_SEND_EMPTY", "false")
    [result] = send_weekly_digest(end, db_now(warehouse))
    assert result.status == "skipped" and "no empty digest for this list" in result.detail
    assert smtp.received == []
    assert ledger(warehouse)[0][0] == "skipped"


def test_lists_filter_by_category_and_minimum_severity(world, warehouse, smtp, monkeypatch):
    start, end = world
    lists_env(
        monkeypatch,
        {"name": "everything", "to": ["all@example.org"]},
        {"name": "severe", "to": ["severe@example.org"], "min_severity": "high"},
        {
            "name": "datacentres",
            "to": ["dc@example.org"],
            "categories": ["data_centres"],
            "send_empty": False,
        },
        {"name": "dc-weekly", "to": ["dc2@example.org"], "categories": ["data_centres"]},
    )
    results = {r.list_name: r for r in send_weekly_digest(start, end)}
    assert {n: r.status for n, r in results.items()} == {
        "everything": "sent", "severe": "sent", "datacentres": "skipped", "dc-weekly": "sent"}  # fmt: skip
    by_rcpt = {m.rcpt_tos[0]: m.message for m in smtp.received}
    assert set(by_rcpt) == {"all@example.org", "severe@example.org", "dc2@example.org"}

    def flag_rows(message):
        return list(csv.DictReader(io.StringIO(find(message, "text/csv").get_content())))

    all_rows = flag_rows(by_rcpt["all@example.org"])
    severe_rows = flag_rows(by_rcpt["severe@example.org"])
    assert {r["severity"] for r in all_rows} > {"high"}  # medium flags exist ...
    assert severe_rows and {r["severity"] for r in severe_rows} <= {
        "high",
        "critical",
    }  # ... and are filtered
    assert {r["flag_id"] for r in severe_rows} < {r["flag_id"] for r in all_rows}
    assert "severity high or higher" in find(by_rcpt["severe@example.org"], "text/plain").get_content()
    assert by_rcpt["dc2@example.org"]["Subject"].startswith("DSR Watch: nothing new")
    assert by_rcpt["all@example.org"]["Message-ID"] != by_rcpt["severe@example.org"]["Message-ID"]


def test_outbox_without_smtp_connection(world, warehouse, monkeypatch, tmp_path):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    [result] = send_weekly_digest(start, end)
    assert (result.status, result.channel) == ("sent", "outbox")
    eml = Path(result.outbox_path)
    assert eml.parent == tmp_path / "data" / "outbox" and eml.name.endswith("-default.eml")
    html = eml.with_suffix(".html").read_text()
    assert eml.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert f'src="{eml.with_suffix(".png").name}"' in html and "cid:" not in html  # viewable in a browser
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "analysts@example.org" and message["Subject"].startswith("DSR Watch: 2 new")
    assert ledger(warehouse)[0][:2] == ("sent", "outbox")
    assert "outbox" in result.line() and str(eml) in result.line()


def test_no_recipients_writes_the_outbox_even_with_smtp(world, warehouse, smtp):
    start, end = world
    assert load_settings().lists[0].to == ()
    [result] = send_weekly_digest(start, end)
    assert (result.list_name, result.status, result.channel) == ("default", "sent", "outbox")
    assert smtp.received == []


def test_intervals_before_the_first_evaluation_are_skipped(world, warehouse, smtp, monkeypatch):
    start, _ = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    first = scalar(warehouse, "SELECT min(first_evaluated_at) FROM risk.source_evaluations")
    old_end = first - timedelta(hours=1)
    [result] = send_weekly_digest(old_end - timedelta(days=7), old_end)
    assert result.status == "skipped" and "before the first risk evaluation" in result.detail
    assert smtp.received == []
    assert ledger(warehouse)[0][0] == "skipped"


def test_an_interval_that_has_not_ended_is_not_sent_yet(world, warehouse, smtp, monkeypatch):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    [result] = send_weekly_digest(start, end + timedelta(days=1))
    assert result.status == "skipped" and "has not ended yet" in result.detail
    assert smtp.received == [] and ledger(warehouse)[0][0] == "skipped"


def test_since_last_digest_covers_what_follows_the_last_sent_one(world, warehouse, smtp, monkeypatch):
    _, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    [first] = send_digest_since_last(now=end)  # from the first evaluation: the baseline is not news
    assert first.status == "sent" and first.entries == 2
    first_evaluation = scalar(
        warehouse, "SELECT min(started_at) FROM ops.risk_evaluations"
    )
    assert first.interval_start <= first_evaluation
    assert first.interval_end == end
    [nothing] = send_digest_since_last(now=end)
    assert nothing.status == "skipped" and "nothing since the last digest" in nothing.detail
    later = end + timedelta(hours=2)
    [second] = send_digest_since_last(now=later)  # nothing new since: a one-shot run mails nothing
    assert second.status == "skipped" and "nothing new" in second.detail
    assert len(smtp.received) == 1


def test_reopened_flag_is_reported_as_back(world, warehouse, smtp, monkeypatch, tmp_path):
    _, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    tg.write_replay_dir(tmp_path / "back", tg.CABLES_V1)  # China Unicom owns SAIL again
    monkeypatch.setenv("DSR_REPLAY_DIR", f"{tmp_path / 'back'}:{tmp_path / 'owid'}")
    load_source("submarine_cables")
    engine.evaluate()
    later = db_now(warehouse)
    with connect(warehouse) as conn:
        digest = collect(conn, end, later)
    back = [(e.entity_id, f.pattern_id) for e in digest.entries for f in e.flags if f.change == "back"]
    assert ("south-atlantic-inter-link-sail", "PRC_OWNER") in back
    assert all(e.is_back for e in digest.entries if e.entity_id == "south-atlantic-inter-link-sail")
    [result] = send_weekly_digest(end, later)
    text = find(smtp.received[0].message, "text/plain").get_content()
    assert "[BACK, high]" in text and "back since" in text


def test_bad_list_configuration_is_a_clear_error(world, monkeypatch):
    start, end = world
    monkeypatch.setenv(
        "DSR_ALERT_LISTS", json.dumps([{"name": "x", "to": ["a@example.org"], "min_severity": "dire"}])
    )
    with pytest.raises(ValueError, match=r"DSR_ALERT_LISTS\[0\]: 'min_severity' must be one of"):
        send_weekly_digest(start, end)


def test_airflow_variable_takes_precedence(world, smtp, monkeypatch):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "fallback@example.org")
    monkeypatch.setenv(
        "AIRFLOW_VAR_DSR_ALERT_LISTS", json.dumps([{"name": "from-variable", "to": ["v@example.org"]}])
    )
    [result] = send_weekly_digest(start, end)
    assert result.list_name == "from-variable" and smtp.received[0].rcpt_tos == ["v@example.org"]


# --- the Airflow side ---------------------------------------------------------------------------
def test_task_body_uses_the_data_interval_or_the_run_conf(world, warehouse, smtp, monkeypatch, capsys):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")

    class Run:
        conf: dict = {}

    out = run_weekly_alert({"data_interval_start": start, "data_interval_end": end, "dag_run": Run(),
                            "run_id": "scheduled__x"})  # fmt: skip
    assert out[0]["status"] == "sent" and out[0]["interval_end"] == end.isoformat()
    json.dumps(out)  # XCom-safe
    assert "list default: sent by SMTP" in capsys.readouterr().out
    Run.conf = {"since_last_digest": True}
    out = run_weekly_alert({"data_interval_start": start, "data_interval_end": end, "dag_run": Run()})
    assert out[0]["interval_start"] == end.isoformat()  # since the digest just sent
    assert (
        scalar(warehouse, "SELECT airflow_run_id FROM ops.alert_digests ORDER BY digest_id LIMIT 1")
        == "scheduled__x"
    )


def _load_dag(monkeypatch, cron: str | None = None):
    if cron:
        monkeypatch.setenv("DSR_ALERT_CRON", cron)
    spec = importlib.util.spec_from_file_location(
        "weekly_alert_dag_under_test", ROOT / "dags" / "weekly_alert.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.weekly_alert()


def test_dag_timetable_gives_the_week_that_just_ended(monkeypatch):
    from airflow.timetables.base import DataInterval, TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    dag = _load_dag(monkeypatch)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is True and dag.max_active_runs == 1 and set(dag.tags) == {"dsrwatch", "alert"}
    task = dag.get_task("send_digest")
    assert task.retries >= 1 and task.retry_exponential_backoff

    # The run at Monday 2026-11-23 06:00 UTC covers Monday 2026-11-16 06:00 to 2026-11-23 06:00.
    previous = DataInterval(datetime(2026, 11, 9, 6, tzinfo=UTC), datetime(2026, 11, 16, 6, tzinfo=UTC))
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=previous,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert (info.data_interval.start, info.data_interval.end) == (datetime(2026, 11, 16, 6, tzinfo=UTC),
                                                                   datetime(2026, 11, 23, 6, tzinfo=UTC))  # fmt: skip
    assert info.run_after == datetime(2026, 11, 23, 6, tzinfo=UTC)
    # A manual trigger on Wednesday gets the last complete week too.
    manual = dag.timetable.infer_manual_data_interval(run_after=datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert (manual.start, manual.end) == (
        datetime(2026, 11, 16, 6, tzinfo=UTC),
        datetime(2026, 11, 23, 6, tzinfo=UTC),
    )
    # First scheduled run after start_date: the first full week, not a partial one.
    first = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert first.data_interval.end - first.data_interval.start == timedelta(days=7)
    assert first.data_interval.start >= dag.start_date


def test_dag_cron_comes_from_the_environment(monkeypatch):
    from airflow.timetables.base import DataInterval, TimeRestriction

    dag = _load_dag(monkeypatch, cron="30 7 * * 5")  # Fridays 07:30 UTC
    previous = DataInterval(
        datetime(2026, 11, 13, 7, 30, tzinfo=UTC), datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    )
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=previous,
                                          restriction=TimeRestriction(dag.start_date, None, True))  # fmt: skip
    assert info.data_interval.end == datetime(2026, 11, 27, 7, 30, tzinfo=UTC)


def test_send_smtp_closes_its_connection_when_the_server_refuses(world, monkeypatch):
    """The hook is closed on every path (no ResourceWarning from a half-open socket)."""
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", SmtpServer(port=free_port()).connection_uri())
    with pytest.raises(DigestDeliveryError):
        delivery.send_weekly_digest(start, end)


# --- any weekday, any hour ----------------------------------------------------------------------
def move_warehouse_clock(url: str, delta: timedelta) -> None:
    """Move every stamp of the risk and ops schemas by ``delta``: the world as if built at another
    time (PostgreSQL's now() cannot be frozen, so the recorded times travel instead)."""
    with psycopg.connect(url) as conn:
        columns = conn.execute("""SELECT table_schema, table_name, column_name FROM information_schema.columns
                                   WHERE table_schema IN ('risk', 'ops') AND data_type = 'timestamp with time zone'
                                     AND (table_schema, table_name) IN (SELECT table_schema, table_name
                                           FROM information_schema.tables WHERE table_type = 'BASE TABLE')""").fetchall()  # fmt: skip
        tables: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in columns:
            tables.setdefault((schema, table), []).append(column)
        for (schema, table), names in tables.items():  # one UPDATE per table: its CHECKs see a whole row moved
            moves = psycopg.sql.SQL(", ").join(
                psycopg.sql.SQL("{c} = {c} + %(delta)s").format(c=psycopg.sql.Identifier(c)) for c in names)
            conn.execute(psycopg.sql.SQL("UPDATE {t} SET ").format(t=psycopg.sql.Identifier(schema, table)) + moves,
                         {"delta": delta})  # fmt: skip


WEEKDAY_ENDS = [datetime(2026, 11, 30, hour, tzinfo=UTC) + timedelta(days=day) for day in range(7) for hour in (0, 12)]


def test_chart_and_digest_hold_the_new_flags_whatever_weekday_and_hour_the_interval_ends(world, warehouse,
                                                                                          monkeypatch):  # fmt: skip
    """The Monday bug: a calendar-week chart cut at an interval ending Monday after 00:00 lost that
    Monday's flags, and the message went out without its chart. Every weekday, at 00:00 and noon,
    for the scheduled weekly digest and for make run's "since the last digest"."""
    import time_machine

    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    new_flags = scalar(warehouse, "SELECT count(*) FROM risk.flags WHERE NOT is_baseline")
    assert new_flags > 0
    for target in WEEKDAY_ENDS:
        delta = target - end
        move_warehouse_clock(warehouse, delta)
        start, end = start + delta, end + delta
        with psycopg.connect(warehouse) as conn:
            conn.execute("DELETE FROM ops.alert_digests")
        results = []
        with time_machine.travel(end, tick=False):
            with connect(warehouse) as conn:
                digest = collect(conn, start, end)
            assert digest.chart_weeks()[-1] == (end - timedelta(days=7)).date(), target
            assert sum(counts[-1] for counts in digest.chart_series().values()) == new_flags, target
            results += send_weekly_digest(end - timedelta(days=7), end, now=end)
            with psycopg.connect(warehouse) as conn:
                conn.execute("DELETE FROM ops.alert_digests")  # make run's way starts from an empty ledger too
            results += send_digest_since_last(now=end)
        for result in results:
            assert (result.status, result.entries) == ("sent", 2), (target, result.line())
            message = email.message_from_bytes(Path(result.outbox_path).read_bytes(), policy=email.policy.default)
            assert "image/png" in [p.get_content_type() for p in message.walk()], (target, result.line())
            assert message["Date"] == format_datetime(end), target
