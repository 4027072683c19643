"""Failure notifications for the data engineers: a task that fails for good (retries spent, or a
fatal error such as a quarantined load) mails ``DSR_OPS_TO`` through the smtp provider, naming the
DAG, task, run, error and log link. Without recipients or an SMTP connection the notice is printed
and logged instead, so ``make run`` shows it either way. Installed as every DAG's task-level
``on_failure_callback`` (a DAG-level SMTP notifier fails under ``dag.test()``)."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from dsrwatch import config

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
ERROR_CHARS = 2_000


@dataclass(frozen=True)
class FailureNotice:
    dag_id: str
    task_id: str
    run_id: str
    try_number: int | None
    error: str
    log_url: str | None

    @property
    def kind(self) -> str:
        return "QUARANTINED" if "quarantined" in self.error else "FAILED"

    def subject(self) -> str:
        return f"DSR Watch ops: {self.dag_id}.{self.task_id} {self.kind} ({self.run_id})"

    def text(self) -> str:
        lines = [f"{self.kind}: DAG {self.dag_id}, task {self.task_id}, run {self.run_id}"
                 + (f", try {self.try_number}" if self.try_number else ""), "",
                 "Error:", self.error[:ERROR_CHARS], ""]  # fmt: skip
        if self.kind == "QUARANTINED":
            lines += ["The warehouse is as it was and the payloads are kept in raw. If the change is real,",
                      "accept the run (python -m dsrwatch accept RUN_ID, or trigger the DAG with",
                      '{"accept_run_id": RUN_ID}); otherwise wait for the source to recover.', ""]  # fmt: skip
        if self.log_url:
            lines.append(f"Log: {self.log_url}")
        lines.append("State of every source: make status (or analyst.source_runs / ops.source_freshness).")
        return "\n".join(lines)

    def message(self, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = self.subject()
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message["Message-ID"] = make_msgid(domain="dsrwatch.invalid")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(self.text())
        return message


def notice_from_context(context) -> FailureNotice:
    ti = context["ti"]
    error = context.get("exception")
    return FailureNotice(
        dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, try_number=getattr(ti, "try_number", None),
        error=f"{type(error).__name__}: {error}" if error is not None else "unknown error (see the log)",
        log_url=getattr(ti, "log_url", None),
    )  # fmt: skip


def deliver(notice: FailureNotice, conn_id: str = SMTP_CONN_ID) -> str:
    """Mail the notice, or print it when there is nowhere to mail it; returns what was done."""
    from dsrwatch.airflow_adapter import connection as airflow_connection
    from dsrwatch.alerts.delivery import SmtpDeliveryError, send_smtp

    recipients = config.ops_recipients()
    connection = airflow_connection(conn_id) if recipients else None
    if recipients and connection is not None:
        sender = connection.extra_dejson.get("from_email") or "dsr-watch@localhost"
        try:
            send_smtp(notice.message(sender, recipients), recipients, sender, conn_id)
            log.warning("failure notice sent to %s: %s", ", ".join(recipients), notice.subject())
            return "sent"
        except SmtpDeliveryError as exc:  # a notice must never hide the failure it reports
            log.error("failure notice could not be mailed (%s); printing it", exc)
    why = "no DSR_OPS_TO recipients" if not recipients else f"no Airflow connection {conn_id!r}"
    print(f"\n--- {notice.subject()} (not mailed: {why})\n{notice.text()}\n---", file=sys.stderr, flush=True)
    return "printed"


def notify_engineers(context) -> None:
    """on_failure_callback: never raises (Airflow would only log it, and the task failed already)."""
    try:
        deliver(notice_from_context(context))
    except Exception:
        log.exception("failure notice could not be delivered")
