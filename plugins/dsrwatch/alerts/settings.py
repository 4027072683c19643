"""Settings of the weekly alert email: schedule, recipient lists, SMTP connection, outbox.

Cheap to import (no Airflow, no database): the DAG file reads the schedule from here at parse
time. Recipient lists are read at run time, inside the task.

Recipient lists, first found wins:

1. Airflow Variable ``dsr_alert_lists`` - a JSON list of lists;
2. environment ``DSR_ALERT_LISTS`` - the same JSON;
3. environment ``DSR_ALERT_TO`` - comma-separated addresses, one list named ``default``;
4. nothing - one list ``default`` without recipients: the digest goes to the outbox only.

A list: ``{"name": "analysts", "to": ["a@example.org"], "categories": ["cables", "deals"],
"min_severity": "high", "send_empty": false}``; only ``name`` and ``to`` are required.
``send_empty`` defaults to ``DSR_ALERT_SEND_EMPTY`` (default true).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dsrwatch import config
from dsrwatch.vocabulary import CATEGORIES, SEVERITIES

DEFAULT_CRON = "0 6 * * 1"  # Monday 06:00 UTC, after the Monday 03:00 ingests and their risk run
SMTP_CONN_ID = "smtp_default"
VARIABLE_NAME = "dsr_alert_lists"
DEFAULT_LIST = "default"
DEFAULT_FROM = "dsr-watch@localhost"
DEFAULT_SMTP_TIMEOUT = 30.0  # seconds per SMTP network step (DSR_SMTP_TIMEOUT)
SENDER_NAME = "DSR Watch"
# The project owns no mail domain; ".invalid" (RFC 6761) can never clash with a real host's
# Message-IDs. Change it here when the project has a domain of its own.
PROJECT_DOMAIN = "dsrwatch.invalid"

_LIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AlertConfigError(ValueError):
    """A recipient list is malformed: says which setting and what is wrong."""


def alert_cron() -> str:
    """DSR_ALERT_CRON (five-field cron, UTC) or Monday 06:00."""
    return config.setting("DSR_ALERT_CRON") or DEFAULT_CRON


def smtp_timeout() -> float:
    """DSR_SMTP_TIMEOUT: seconds any one SMTP network step may take - connecting, the greeting,
    each command, sending the message (default 30). A connection's ``timeout`` extra overrides it."""
    try:
        return config.positive_seconds("DSR_SMTP_TIMEOUT", DEFAULT_SMTP_TIMEOUT)
    except ValueError as exc:
        raise AlertConfigError(str(exc)) from None


def _flag(name: str, default: bool) -> bool:
    try:
        return config.flag(name, default)
    except ValueError as exc:
        raise AlertConfigError(str(exc)) from None


@dataclass(frozen=True)
class RecipientList:
    name: str
    to: tuple[str, ...] = ()
    categories: tuple[str, ...] | None = None  # None: every category
    min_severity: str | None = None  # None: every severity
    send_empty: bool = True
    origin: str = "default"  # where the list came from, for log lines

    def wants_category(self, category: str) -> bool:
        return self.categories is None or category in self.categories

    def wants_severity(self, severity: str) -> bool:
        if self.min_severity is None:
            return True
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)

    @property
    def filter_label(self) -> str:
        """One line on what the list receives ("" when everything)."""
        parts = []
        if self.categories is not None:
            parts.append(", ".join(c.replace("_", " ") for c in self.categories))
        if self.min_severity:
            parts.append(f"severity {self.min_severity} or higher")
        return "; ".join(parts)


@dataclass(frozen=True)
class AlertSettings:
    lists: tuple[RecipientList, ...]
    origin: str
    notes: list[str] = field(default_factory=list)


def _addresses(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise AlertConfigError(f"{where}: 'to' must be a list of addresses")
    addresses = tuple(a.strip() for a in value if a.strip())
    for address in addresses:
        if "@" not in address or any(c in address for c in "\r\n<>,; "):
            raise AlertConfigError(f"{where}: {address!r} is not a plain e-mail address")
    return addresses


def parse_lists(raw: str, origin: str) -> tuple[RecipientList, ...]:
    """Parse the JSON of Variable dsr_alert_lists / DSR_ALERT_LISTS, with errors that name the fix."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AlertConfigError(f"{origin} is not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise AlertConfigError(f"{origin} must be a JSON list of recipient lists")
    default_send_empty = _flag("DSR_ALERT_SEND_EMPTY", True)
    lists, seen = [], set()
    for position, item in enumerate(data):
        where = f"{origin}[{position}]"
        if not isinstance(item, dict):
            raise AlertConfigError(f"{where} must be an object with 'name' and 'to'")
        unknown = set(item) - {"name", "to", "categories", "min_severity", "send_empty"}
        if unknown:
            raise AlertConfigError(f"{where}: unknown keys {sorted(unknown)}")
        name = item.get("name")
        if not isinstance(name, str) or not _LIST_NAME.match(name):
            raise AlertConfigError(f"{where}: 'name' must be 1-64 letters, digits, '.', '_' or '-'")
        if name in seen:
            raise AlertConfigError(f"{where}: list name {name!r} appears twice")
        seen.add(name)
        categories = item.get("categories")
        if categories is not None:
            if not isinstance(categories, list) or not set(categories) <= set(CATEGORIES) or not categories:
                raise AlertConfigError(
                    f"{where}: 'categories' must be a non-empty subset of {list(CATEGORIES)}"
                )
            categories = tuple(c for c in CATEGORIES if c in categories)
        min_severity = item.get("min_severity")
        if min_severity is not None and min_severity not in SEVERITIES:
            raise AlertConfigError(f"{where}: 'min_severity' must be one of {list(SEVERITIES)}")
        send_empty = item.get("send_empty", default_send_empty)
        if not isinstance(send_empty, bool):
            raise AlertConfigError(f"{where}: 'send_empty' must be true or false")
        lists.append(RecipientList(name=name, to=_addresses(item.get("to", []), where), categories=categories,
                                   min_severity=min_severity, send_empty=send_empty, origin=origin))  # fmt: skip
    return tuple(lists)


def _variable_lists() -> str | None:
    """The Airflow Variable, when Airflow can tell (env AIRFLOW_VAR_*, metadata DB, secrets backend)."""
    from dsrwatch import airflow_adapter

    return airflow_adapter.variable(VARIABLE_NAME)


def load_settings() -> AlertSettings:
    """The recipient lists in force now (see the module docstring for the order)."""
    raw = _variable_lists()
    if raw and raw.strip():
        return AlertSettings(parse_lists(raw, f"Variable {VARIABLE_NAME}"), f"Variable {VARIABLE_NAME}")
    raw = config.setting("DSR_ALERT_LISTS")
    if raw:
        return AlertSettings(parse_lists(raw, "DSR_ALERT_LISTS"), "DSR_ALERT_LISTS")
    send_empty = _flag("DSR_ALERT_SEND_EMPTY", True)
    raw = config.setting("DSR_ALERT_TO")
    if raw:
        to = _addresses(raw, "DSR_ALERT_TO")
        return AlertSettings((RecipientList(DEFAULT_LIST, to, send_empty=send_empty, origin="DSR_ALERT_TO"),),
                             "DSR_ALERT_TO")  # fmt: skip
    return AlertSettings(
        (RecipientList(DEFAULT_LIST, (), send_empty=send_empty, origin="no recipients"),),
        "no recipients",
        ["no recipients configured (Variable dsr_alert_lists, DSR_ALERT_LISTS, DSR_ALERT_TO): outbox only"],
    )
