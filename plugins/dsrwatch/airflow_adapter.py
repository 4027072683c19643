"""The one place the package asks Airflow for something at run time, as provider hooks do:
connections and variables by id, whether code runs inside a task, and the SMTP hook. Airflow is
imported inside the functions, so importing this module is cheap. (The DAG factory,
``orchestration``, is the only other module that imports Airflow.)"""

from __future__ import annotations

import functools
import json
import os
import smtplib
import sys


class ConnectionConfigError(ValueError):
    """An Airflow connection's extras are malformed: says which connection and which extra."""


def connection(conn_id: str):
    """The Airflow connection ``conn_id`` (UI, secrets backend or AIRFLOW_CONN_<ID>), or None when
    it is not defined. Any other lookup failure propagates: a task should retry rather than act
    as if a configured connection did not exist."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def connection_from_environment(conn_id: str):
    """The connection when it is defined in the environment (AIRFLOW_CONN_<ID>), else None: such a
    lookup needs no metadata database, so it works in scripts and tests as well as in tasks."""
    if not os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return None
    return connection(conn_id)


def variable(name: str) -> str | None:
    """The Airflow Variable as text (JSON for structured values), or None when it is not set."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=None)
    return value if value is None or isinstance(value, str) else json.dumps(value)


def in_task() -> bool:
    """True inside a running Airflow task (never imports Airflow just to find out)."""
    if "airflow.sdk" not in sys.modules:
        return False
    from airflow.sdk import get_current_context

    try:
        get_current_context()
    except Exception:  # outside a task Airflow raises; which class differs between versions
        return False
    return True


@functools.cache
def _bounded_smtp_hook_class():
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    class BoundedSmtpHook(SmtpHook):
        """The provider's hook with our defaults: ``timeout`` (per network step) from the connection's
        extra, else the caller's default; no reconnect loop unless the extra ``retry_limit`` asks for
        one. The provider's default, 5 reconnects after a hang-up or a timeout, made a server that
        accepts and never answers block for 6 x 30 s; the task's retries (with backoff) do that job here."""

        def __init__(self, smtp_conn_id: str, default_timeout: float):
            super().__init__(smtp_conn_id=smtp_conn_id)
            self.default_timeout = default_timeout

        @property
        def timeout(self) -> float:
            raw = self.conn.extra_dejson.get("timeout")
            if raw in (None, ""):
                return self.default_timeout
            try:
                value = float(raw)
            except (TypeError, ValueError):
                value = 0.0
            if value <= 0:
                raise ConnectionConfigError(f"connection {self.smtp_conn_id!r}: extra timeout={raw!r} must be a "
                                            "number of seconds greater than 0")  # fmt: skip
            return value

        @property
        def smtp_retry_limit(self) -> int:
            raw = self.conn.extra_dejson.get("retry_limit")
            return 0 if raw in (None, "") else int(raw)

        @property
        def address(self) -> str:
            port = self.conn.port or (smtplib.SMTP_SSL_PORT if self.use_ssl else smtplib.SMTP_PORT)
            return f"{self.host or 'localhost'}:{port}"

    return BoundedSmtpHook


def smtp_hook(conn_id: str, default_timeout: float):
    """The smtp provider's hook for ``conn_id`` with bounded timeouts and no reconnect loop."""
    return _bounded_smtp_hook_class()(conn_id, default_timeout)
