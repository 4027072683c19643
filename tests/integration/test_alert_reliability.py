"""The weekly alert under failure and concurrency: a hanging SMTP server, a full disk, two
``make run`` digests at the same moment. Real PostgreSQL, real sockets, real OS processes.

The world (a baseline, then new flags) is the one of test_weekly_alert.py.
"""

from __future__ import annotations

import email
import email.policy
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import test_weekly_alert as weekly

from dsrwatch.alerts.delivery import DigestDeliveryError, send_digest_since_last, send_weekly_digest

from helpers.db import scalar
from helpers.smtp_server import SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# test_weekly_alert.py's world, SMTP server and ledger reader; no developer alert setting leaks in
world, smtp, ledger, _no_alert_settings = weekly.world, weekly.smtp, weekly.ledger, weekly._no_alert_settings


# --- servers that misbehave -------------------------------------------------------------------------
class HangingServer:
    """Accepts TCP connections on 127.0.0.1 and never writes a byte; or, given ``script`` (a factory
    of one answer function per connection), answers each line read until the function returns
    None, then goes silent too."""

    def __init__(self, script=None):
        self.script = script
        self.connections: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections.append(conn)
            if self.script:
                thread = threading.Thread(target=self._converse, args=(conn, self.script()), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _converse(self, conn: socket.socket, script) -> None:
        conn.settimeout(0.05)
        reader, answer = b"", script(None)
        while answer is not None and not self._stop.is_set():
            if answer:
                conn.sendall(answer)
            while b"\r\n" not in reader and not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                reader += chunk
            line, _, reader = reader.partition(b"\r\n")
            answer = script(line)

    def connection_uri(self, **extra: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"disable_ssl": "true", "disable_tls": "true", **extra}.items())
        return f"smtp://127.0.0.1:{self.port}?{query}"

    def __enter__(self) -> HangingServer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()
        for conn in self.connections:
            conn.close()


def silent_after_data():
    """An SMTP conversation that takes the whole message and then never answers."""
    in_message = False

    def answer(line: bytes | None) -> bytes | None:
        nonlocal in_message
        if line is None:
            return b"220 stalls.invalid ESMTP\r\n"
        if in_message:
            return None if line == b"." else b""  # the end of the message: silence; else read on
        command = line[:4].upper()
        if command == b"DATA":
            in_message = True
            return b"354 go ahead\r\n"
        return b"250 stalls.invalid\r\n"  # EHLO, MAIL FROM, RCPT TO

    return answer


# --- 1. timeouts --------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["DSR_SMTP_TIMEOUT", "connection extra"])
def test_a_server_that_never_answers_fails_in_seconds_and_is_named(world, warehouse, monkeypatch, how):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    with HangingServer() as server:
        if how == "DSR_SMTP_TIMEOUT":
            monkeypatch.setenv("DSR_SMTP_TIMEOUT", "1")
            monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_uri())
        else:  # the smtp provider's own setting wins over DSR_SMTP_TIMEOUT
            monkeypatch.setenv("DSR_SMTP_TIMEOUT", "600")
            monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_uri(timeout="1"))
        with pytest.raises(DigestDeliveryError, match=f"127.0.0.1:{server.port}") as failure:
            send_weekly_digest(start, end)
        assert len(server.connections) == 1  # no silent reconnects (the hook's default is 5 more)
    [(status, _, _, _, attempts, error, has_sent_at)] = ledger(warehouse)
    assert (status, attempts, has_sent_at) == ("failed", 1, False)
    assert f"SMTP server 127.0.0.1:{server.port}" in error and "no answer within 1 s" in error, error
    assert "FAILED: SmtpDeliveryError: SMTP server 127.0.0.1" in failure.value.results[0].line()


def test_a_server_that_goes_silent_after_the_message_fails_in_seconds(world, warehouse, monkeypatch):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    monkeypatch.setenv("DSR_SMTP_TIMEOUT", "1")
    with HangingServer(silent_after_data) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_uri())
        with pytest.raises(DigestDeliveryError, match=f"127.0.0.1:{server.port}"):
            send_weekly_digest(start, end)
    [(status, _, _, _, _, error, _)] = ledger(warehouse)
    assert status == "failed"
    assert "sending the message" in error and "may have accepted it" in error, error


def test_smtp_timeout_setting_must_be_a_positive_number(world, monkeypatch):
    start, end = world
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://127.0.0.1:1?disable_ssl=true&disable_tls=true")
    monkeypatch.setenv("DSR_SMTP_TIMEOUT", "soon")
    with pytest.raises(DigestDeliveryError, match="DSR_SMTP_TIMEOUT='soon'"):
        send_weekly_digest(start, end)


# --- 2. a full disk -------------------------------------------------------------------------------------
@pytest.mark.parametrize("full_at", [".png", ".eml"])
def test_a_full_disk_leaves_no_partial_outbox_file_and_the_ledger_says_failed(world, warehouse, monkeypatch,
                                                                              full_at):  # fmt: skip
    """Without an SMTP connection the digest goes to the outbox; the disk fills up at the first
    file (the chart) or at the last (the message): nothing is left behind, the ledger says failed,
    and a retry with space again writes the whole message."""
    start, end = world
    real_fsync = os.fsync

    def disk_full(fd):
        if f"{full_at}." in Path(os.readlink(f"/proc/self/fd/{fd}")).name:  # write_atomic's .<name>.XXXX.part
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(DigestDeliveryError, match="No space left on device"):
        send_weekly_digest(start, end)
    outbox = Path(os.environ["DSR_DATA_DIR"]) / "outbox"
    assert sorted(p.name for p in outbox.iterdir()) == []
    [(status, channel, _, _, attempts, error, has_sent_at)] = ledger(warehouse)
    assert (status, channel, attempts, has_sent_at) == ("failed", "outbox", 1, False)
    assert "No space left on device" in error

    monkeypatch.setattr(os, "fsync", real_fsync)  # space again: Airflow's retry
    [result] = send_weekly_digest(start, end)
    assert result.status == "sent"
    assert sorted(p.suffix for p in outbox.iterdir()) == [".eml", ".html", ".png"]
    message = email.message_from_bytes(Path(result.outbox_path).read_bytes(), policy=email.policy.default)
    assert message["Message-ID"] == result.message_id and "text/csv" in [p.get_content_type() for p in message.walk()]
    assert ledger(warehouse)[0][:2] == ("sent", "outbox")


# --- 3. two make runs at the same moment -------------------------------------------------------------
CHILD = """
import json, pathlib, sys, time
from airflow.providers.smtp.hooks.smtp import SmtpHook  # noqa: F401 - warm every import first
from dsrwatch.alerts import delivery, render  # noqa: F401
barrier, me = pathlib.Path(sys.argv[1]), sys.argv[2]
(barrier / f"ready-{me}").touch()
while not (barrier / "go").exists():
    time.sleep(0.0005)
try:
    results = delivery.send_digest_since_last()
except delivery.DigestDeliveryError as exc:
    print(json.dumps([r.as_dict() for r in exc.results])); sys.exit(1)
print(json.dumps([r.as_dict() for r in results]))
"""


def test_two_make_runs_at_the_same_moment_send_one_email(world, warehouse, smtp, monkeypatch, tmp_path):
    """Two OS processes send "everything since the last digest" at the same moment: one email."""
    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])}
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(barrier), str(n)], env=env, cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (1, 2)]  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not all((barrier / f"ready-{n}").exists() for n in (1, 2)):
            assert time.monotonic() < deadline and all(c.poll() is None for c in children), "a child died early"
            time.sleep(0.01)
        (barrier / "go").touch()
        outputs = [c.communicate(timeout=120) for c in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1])[0] for out, _ in outputs]
    assert sorted(r["status"] for r in results) == ["sent", "skipped"], results
    assert len(smtp.received) == 1
    assert scalar(warehouse, "SELECT count(*) FROM ops.alert_digests WHERE status = 'sent'") == 1
    [sent] = [r for r in results if r["status"] == "sent"]
    assert smtp.received[0].message["Message-ID"] == sent["message_id"]
    # the next make run starts where the one email ended
    [again] = send_digest_since_last()
    assert again.status == "skipped" and len(smtp.received) == 1


def test_since_last_waits_for_a_send_in_progress_for_the_same_list(world, warehouse, monkeypatch):
    """The per-list lock is held from reading "the last sent digest" to marking this one sent."""
    from dsrwatch.alerts import delivery

    monkeypatch.setenv("DSR_ALERT_TO", "analysts@example.org")
    entered, release, outcome = threading.Event(), threading.Event(), []
    real_send = delivery.send_smtp

    def slow_send(*args, **kwargs):
        entered.set()
        release.wait(30)
        return real_send(*args, **kwargs)

    with SmtpServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", server.connection_uri())
        monkeypatch.setattr(delivery, "send_smtp", slow_send)
        first = threading.Thread(target=lambda: outcome.append(send_digest_since_last()))
        first.start()
        assert entered.wait(60)
        second = threading.Thread(target=lambda: outcome.append(send_digest_since_last()))
        second.start()
        for _ in range(200):  # until the second waits for the first one's list lock
            if scalar(warehouse, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the second send did not wait for the first")
        release.set()
        first.join(60)
        second.join(60)
        assert sorted(r.status for [r] in outcome) == ["sent", "skipped"]
        assert len(server.received) == 1
