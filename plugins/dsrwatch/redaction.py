"""Secrets never reach a log line, at any level: a logging filter that masks them in every record.

Masked wherever they appear in a record's message, traceback or stack:

- known values, read from the environment when the CLI starts: the password of DSR_WAREHOUSE_URL
  and of every ``AIRFLOW_CONN_*`` connection (the PeeringDB API key of ``peeringdb``, the SMTP
  password of ``smtp_default``, ...), and the value of every variable whose name says it is a
  secret (a word PASSWORD, SECRET, TOKEN, FERNET or API_KEY in it, not ..._FILE or ..._CMD),
  also percent-encoded and in base64 (SMTP ``AUTH LOGIN``); values shorter than 4 characters are not
  masked (they would match everywhere). ``add_secret`` registers more at run time;
- credential shapes, whatever the value: ``Authorization`` header values (``Api-Key ...``,
  ``Bearer ...``), ``password=...`` / ``"password": "..."`` pairs, the password of
  ``scheme://user:password@host`` and SMTP ``AUTH`` payloads.

``install()`` runs the filter from the LogRecord factory, so it sees every record of every logger
(urllib3, requests, smtplib, psycopg, Airflow's stdlib loggers) as it is created - also after Airflow
replaces the root handlers with its own, as ``dag.test()`` does. Airflow's own structlog loggers
never make a LogRecord (at DEBUG its in-process supervisor logs ``MaskSecret(value='<the key>')``
for every connection a task reads), so ``install()`` also masks what structlog's final renderer
returns, under every configuration Airflow sets later. Output that bypasses both (print) is outside
its reach.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import traceback
import urllib.parse
from collections.abc import Iterable, Mapping

MASK = "***"
MIN_SECRET_LENGTH = 4

# Words of a variable name (split at "_") that make its value a secret, and words that make it a
# reference to one (a file, a command, a secrets backend) instead.
_SECRET_WORDS = {"PASSWORD", "PASSWD", "PASS", "PGPASSWORD", "SECRET", "TOKEN", "FERNET", "APIKEY"}
_REFERENCE_WORDS = {"FILE", "CMD", "PATH", "DIR", "BACKEND", "KWARGS"}
_SHAPES = (
    # Authorization / Proxy-Authorization header, as text or in a dict's repr: keep the scheme
    re.compile(r"""(?P<head>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:[A-Za-z][\w.-]*[ \t]+)?)"""
               r"""(?P<secret>[^\s"',;}]+)""", re.IGNORECASE),  # fmt: skip
    re.compile(r"(?P<head>\b(?:api-key|bearer)[ \t]+)(?P<secret>[A-Za-z0-9._~+/=-]{6,})", re.IGNORECASE),
    # password=..., "password": "...", api_key=..., secret: ... (conninfo strings, JSON, reprs)
    re.compile(r"""(?P<head>\b[\w.-]*(?:password|passwd|secret|api[_-]?key|token)["']?\s*[:=]\s*["']?)"""
               r"""(?P<secret>[^\s"',;&}]+)""", re.IGNORECASE),  # fmt: skip
    # scheme://user:password@host
    re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)(?P<secret>[^\s/@]+)(?=@)", re.IGNORECASE),
    # SMTP AUTH payloads (base64 of user and password)
    re.compile(r"(?P<head>\bAUTH[ \t]+(?:PLAIN|LOGIN|XOAUTH2|CRAM-MD5)[ \t]+)(?P<secret>[^\s'\"]+)", re.IGNORECASE),
)


def _connection_password(value: str) -> str | None:
    """The password of an Airflow connection given as JSON or as a URI."""
    value = value.strip()
    if value.startswith("{"):
        try:
            password = json.loads(value).get("password")
        except (ValueError, AttributeError):
            return None
        return str(password) if password else None
    return _url_password(value)


def _url_password(value: str) -> str | None:
    """The password in a libpq / SQLAlchemy / Airflow URI, or in a libpq key=value string."""
    try:
        password = urllib.parse.urlsplit(value.strip()).password
    except ValueError:
        password = None
    if password:
        return urllib.parse.unquote(password)
    match = re.search(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", value)
    if match:
        raw = match.group(1)
        return re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith("'") else raw
    return None


def _is_secret_variable(name: str) -> bool:
    words = set(name.upper().split("_"))
    named = bool(words & _SECRET_WORDS) or {"API", "KEY"} <= words
    return named and not words & _REFERENCE_WORDS


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> set[str]:
    """Every secret value the environment holds (see the module docstring)."""
    environ = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in environ.items():
        if not value:
            continue
        if name.startswith("AIRFLOW_CONN_"):
            found.add(_connection_password(value) or "")
        elif _is_secret_variable(name):
            found.add(value)
        if "://" in value or name in ("DSR_WAREHOUSE_URL", "DSR_TEST_PG_URL", "DSR_BENCH_PG_URL"):
            found.add(_url_password(value) or "")
    return {secret for secret in found if len(secret) >= MIN_SECRET_LENGTH}


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message (arguments merged in), traceback and stack; drops nothing."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Mask these values too (their percent-encoded and base64 forms included)."""
        with self._lock:
            for secret in secrets:
                if not secret or len(secret) < MIN_SECRET_LENGTH:
                    continue
                self._secrets.update({
                    secret,
                    urllib.parse.quote(secret, safe=""),
                    urllib.parse.quote_plus(secret, safe=""),
                    base64.b64encode(secret.encode()).decode(),
                })  # fmt: skip
            ordered = sorted(self._secrets, key=len, reverse=True)  # the longest first: no partial masks
            self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact(self, text: str) -> str:
        known = self._known
        if known is not None:
            text = known.sub(MASK, text)
        for shape in _SHAPES:
            text = shape.sub(lambda m: m.group("head") + (m.group("secret") if m.group("secret") == MASK else MASK),
                             text)  # fmt: skip
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it, with the raw message
            message = None
        if message is not None:
            clean = self.redact(message)
            if clean != message:
                record.msg, record.args = clean, None
                message = clean
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters render exc_info their own way (structlog's too), so a traceback that holds a
            # secret is rendered here, masked, into the message, and exc_info is dropped.
            rendered = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            clean = self.redact(rendered)
            if clean != rendered:
                head = message if message is not None else self.redact(str(record.msg))
                record.msg, record.args = f"{head}\n{clean}", None
                record.exc_info, record.exc_text = None, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _redact_rendered(secret_filter: SecretFilter, rendered):
    if isinstance(rendered, str):
        return secret_filter.redact(rendered)
    if isinstance(rendered, bytes | bytearray):  # JSON renderers
        return secret_filter.redact(bytes(rendered).decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape")
    return rendered  # handed on to a stdlib handler: the LogRecord factory masks it


def _mask_structlog_renderer(secret_filter: SecretFilter) -> None:
    """Wrap the last processor (the renderer) of structlog's current configuration, in place, so
    loggers already bound to that processor list are covered too."""
    import structlog

    processors = structlog.get_config()["processors"]
    if not processors or getattr(processors[-1], "_dsr_masks_secrets", False):
        return
    renderer = processors[-1]

    def render(logger, method_name, event_dict):
        return _redact_rendered(secret_filter, renderer(logger, method_name, event_dict))

    render._dsr_masks_secrets = True
    if isinstance(processors, list):
        processors[-1] = render
    else:
        structlog.configure(processors=[*processors[:-1], render])


def _hook_structlog(secret_filter: SecretFilter) -> None:
    """Mask structlog's output now and after every later ``structlog.configure`` (Airflow's)."""
    try:
        import structlog
    except ImportError:
        return
    for name in ("configure", "configure_once"):
        original = getattr(structlog, name)
        if getattr(original, "_dsr_masks_secrets", False):
            continue

        def configure(*args, _original=original, **kwargs):
            result = _original(*args, **kwargs)
            _mask_structlog_renderer(secret_filter)
            return result

        configure._dsr_masks_secrets = True
        setattr(structlog, name, configure)
    _mask_structlog_renderer(secret_filter)


_installed: SecretFilter | None = None
_install_lock = threading.Lock()


def install(environ: Mapping[str, str] | None = None) -> SecretFilter:
    """Filter every log record created from now on; idempotent (a second call adds the secrets)."""
    global _installed
    with _install_lock:
        if _installed is None:
            secret_filter = SecretFilter()
            previous = logging.getLogRecordFactory()

            def record_factory(*args, **kwargs) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                secret_filter.filter(record)
                return record

            logging.setLogRecordFactory(record_factory)
            _hook_structlog(secret_filter)
            _installed = secret_filter
        _installed.add(*secrets_from_environment(environ))
        return _installed


def add_secret(*secrets: str | None) -> None:
    """Mask these values in every later log record (e.g. a key read from an Airflow connection)."""
    if _installed is not None:
        _installed.add(*secrets)
