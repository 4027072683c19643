"""Settings read from the environment, in one place.

Every setting is documented in README.md ("Settings"). Nothing here imports Airflow, so the
package stays cheap to import at DAG-parse time.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

USER_AGENT = "DSRWatch/0.1 (+https://github.com/dsrwatch/dsrwatch; open monitor of digital infrastructure)"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def data_dir() -> Path:
    """Where runtime state lives (embedded warehouse, outbox): DSR_DATA_DIR or <project>/.data."""
    return Path(_env("DSR_DATA_DIR") or PROJECT_ROOT / ".data")


def warehouse_url() -> str | None:
    """The warehouse URL from DSR_WAREHOUSE_URL, or None to use the embedded PostgreSQL."""
    return _env("DSR_WAREHOUSE_URL")


def replay_dirs() -> list[Path]:
    """DSR_REPLAY_DIR: one or more directories separated by ':', searched in order."""
    raw = _env("DSR_REPLAY_DIR")
    return [Path(p) for p in raw.split(":") if p] if raw else []


def record_dir() -> Path | None:
    raw = _env("DSR_RECORD_DIR")
    return Path(raw) if raw else None


def politeness_delay_seconds(default: float) -> float:
    """DSR_POLITENESS_DELAY overrides every source's per-host delay (tests set it to 0)."""
    raw = _env("DSR_POLITENESS_DELAY")
    return float(raw) if raw is not None else default


def expectations_enforced() -> bool:
    """DSR_EXPECTATIONS: ``enforce`` (default) quarantines a load that breaks its source's
    expectations or change guard; ``warn`` only logs and records the breach."""
    raw = (_env("DSR_EXPECTATIONS") or "enforce").lower()
    if raw not in ("enforce", "warn"):
        raise ValueError(f"DSR_EXPECTATIONS must be 'enforce' or 'warn', not {raw!r}")
    return raw == "enforce"


def positive_seconds(name: str, default: float) -> float:
    """A duration setting: seconds greater than 0, or ``default`` when unset; ValueError otherwise."""
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(f"{name}={raw!r}: give a number of seconds greater than 0")
    return value


def lock_timeout_seconds() -> float:
    """DSR_LOCK_TIMEOUT (default 600): how long a load, the risk engine or a digest waits for a
    lock (``ops.locks``) before failing with the name of the session that holds it."""
    return positive_seconds("DSR_LOCK_TIMEOUT", 600.0)


def ops_recipients() -> tuple[str, ...]:
    """DSR_OPS_TO: the data engineers' addresses (comma-separated) for failure notifications."""
    raw = _env("DSR_OPS_TO")
    return tuple(a.strip() for a in raw.split(",") if a.strip()) if raw else ()


def setting(name: str) -> str | None:
    """A DSR_* setting as text, stripped; None when unset or empty (the settings' own readers
    below, and the alert settings, go through here)."""
    return _env(name)


def flag(name: str, default: bool) -> bool:
    """A true/false setting (1/true/yes/on, 0/false/no/off); ValueError names the setting."""
    raw = (_env(name) or "").lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={raw!r}: use true or false")


def log_level(default: str) -> str:
    """DSR_LOG_LEVEL (CLI and task logs)."""
    return _env("DSR_LOG_LEVEL") or default


def task_retries() -> int:
    """DSR_TASK_RETRIES: task retries (default 3; make run sets 0)."""
    return int(_env("DSR_TASK_RETRIES") or 3)


def ui_host(default: str) -> str:
    """DSR_UI_HOST: the address ``make up`` binds the Airflow UI/API to."""
    return _env("DSR_UI_HOST") or default
