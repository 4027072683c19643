"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, recording every message it accepts."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A port nothing listens on right now (aiosmtpd cannot listen on port 0 and report it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class _Recorder:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content
            )
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """``with SmtpServer() as server: ...`` - listens on ``server.port``; ``server.received``."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._recorder = _Recorder()
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self._recorder.received

    def connection_uri(self, from_email: str = "dsr-watch@localhost") -> str:
        """AIRFLOW_CONN_SMTP_DEFAULT for this server: plain SMTP, no SSL, no STARTTLS."""
        sender = from_email.replace("@", "%40")
        return f"smtp://127.0.0.1:{self.port}?disable_ssl=true&disable_tls=true&from_email={sender}"

    def start(self) -> SmtpServer:
        self._controller = Controller(self._recorder, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
