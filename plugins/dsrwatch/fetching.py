"""One fetch layer for every source: live, record or replay (README "Fetch modes").

* live   - a requests.Session with timeouts, retries with backoff on 429/5xx/timeouts honouring
           Retry-After, a User-Agent naming the project, a per-host politeness delay and
           conditional GET (ETag / Last-Modified). A host that has never answered this Fetcher and
           cannot be resolved or refuses the connection fails at once (:class:`HostUnreachable`):
           offline, retrying with backoff only delays the failure. Bodies are streamed and cut off
           at ``max_payload_bytes`` (:class:`PayloadTooLarge`). A source may declare an optional API
           key (:class:`ApiKeyConnection`): read from an Airflow connection, sent as a header, with
           its own politeness delay. ``get(..., retry_if=...)`` also retries a 200 whose body is
           really a "slow down" answer, with the same backoff.
* record - live, and each response body is also written under DSR_RECORD_DIR.
* replay - bodies are read from DSR_REPLAY_DIR (several directories separated by ':', searched
           in order); no network at all, and no API key is looked up. A recording that ``retry_if``
           calls a "slow down" answer is fatal (record it again).

Replay/record layout: ``DIR/<host>/<path>`` exactly as in the URL. A query string becomes part
of the file name: ``<path>?<query>``, the query kept as sent, with any '/' in it written as
``%2F`` so it stays inside one file name; a name longer than 255 bytes becomes
``<path>?sha256-<hex digest of the query>`` (see :func:`url_to_relative_path`).
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import requests
import urllib3.exceptions

from dsrwatch import airflow_adapter, config, redaction
from dsrwatch.files import write_atomic

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_FILE_NAME_BYTES = 255
# The payload cap when the source declares none; SourceSpec.max_payload_bytes has the same default.
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 2**20
READ_CHUNK_BYTES = 1 << 16


class FetchError(Exception):
    """A fetch failed; ``retryable`` tells the orchestrator whether trying later may help."""

    retryable = False


class RetryableFetchError(FetchError):
    """429, 5xx, timeouts or connection errors that outlasted our own retries."""

    retryable = True


class FatalFetchError(FetchError):
    """A 4xx answer or a malformed request: retrying will not help, a person must look."""


class ReplayFileMissing(FatalFetchError):
    """Replay mode has no recorded body for a URL the source asked for."""


class PayloadTooLarge(FatalFetchError):
    """The body is larger than the source's ``max_payload_bytes``: refused, not retried."""


class HostUnreachable(RetryableFetchError):
    """The first request to a host could not resolve its name or was refused: no retries here.

    Offline, or with a wrong host name, every retry fails the same way at once, so backing off
    only delays the failure. It stays ``retryable`` for the orchestrator: a run scheduled later
    (or an Airflow task retry) may find the network back."""


@dataclass(frozen=True)
class FetchedResponse:
    url: str
    http_status: int
    body: bytes
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    replayed_from: str | None = None
    not_modified: bool = False


# Why a 2xx answer is really the server asking us to slow down (a rate-limit notice sent with
# HTTP 200), or None when the response is a real answer. See Fetcher.get(retry_if=...).
RetryIf = Callable[[FetchedResponse], str | None]


@dataclass(frozen=True)
class ApiKeyConnection:
    """An optional API key a source declares (``SourceSpec.api_key``); the fetch layer applies it.

    The key is the password of the Airflow connection ``conn_id``; when there is one it is sent as
    header ``header`` with the value ``value`` (``{key}`` stands for the key, e.g.
    ``"Api-Key {key}"``) and, if ``politeness_delay`` is given, that per-host delay replaces the
    source's (APIs often allow keyed clients more requests). Without a key the fetch is anonymous.
    """

    conn_id: str
    header: str = "Authorization"
    value: str = "{key}"
    politeness_delay: float | None = None

    def __post_init__(self) -> None:
        if "{key}" not in self.value:
            raise ValueError(f"ApiKeyConnection({self.conn_id!r}): value {self.value!r} must contain '{{key}}'")

    def header_value(self, key: str) -> str:
        return self.value.replace("{key}", key)


def read_api_key(conn_id: str) -> str | None:
    """The password of Airflow connection ``conn_id`` (stripped), or None to fetch anonymously.

    Looked up only inside an Airflow task or when ``AIRFLOW_CONN_<ID>`` is set, so scripts and tests
    never import Airflow for it. The key is optional, so a lookup that fails (a secrets backend that
    cannot answer, a malformed connection) is logged and the fetch goes on anonymously; so does a
    password that cannot be sent in a header. A key found is registered with
    :func:`dsrwatch.redaction.add_secret`, and never logged.
    """
    try:
        if airflow_adapter.in_task():
            found = airflow_adapter.connection(conn_id)
        else:
            found = airflow_adapter.connection_from_environment(conn_id)
    except Exception as exc:  # Airflow missing, a bad AIRFLOW_CONN_ value, a secrets backend down
        log.warning("no usable Airflow connection %r (%s); fetching without its API key", conn_id,
                    type(exc).__name__)  # fmt: skip
        return None
    key = (getattr(found, "password", None) or "").strip()
    if not key:
        return None
    redaction.add_secret(key)
    if not (key.isascii() and key.isprintable()):
        log.warning("the password of Airflow connection %r holds characters an HTTP header cannot carry; "
                    "fetching without its API key", conn_id)  # fmt: skip
        return None
    return key


@dataclass(frozen=True)
class Validators:
    """What a previous fetch of the same URL returned, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


class ConditionalCache(Protocol):
    """What earlier runs stored (the raw layer): validators to send, and the body a 304 confirms."""

    def validators(self, url: str) -> Validators | None: ...

    def previous_body(self, url: str) -> bytes: ...


def build_url(url: str, params: Mapping[str, object] | None = None) -> str:
    """The URL with ``params`` appended in the given order (the replay file name depends on it)."""
    if not params:
        return url
    query = urllib.parse.urlencode([(k, str(v)) for k, v in params.items()], safe="$,:'()")
    return f"{url}{'&' if '?' in url else '?'}{query}"


def url_to_relative_path(url: str) -> Path:
    """``https://host/a/b.json?x=1`` -> ``host/a/b.json?x=1``, the one record/replay encoding."""
    parts = urllib.parse.urlsplit(url)
    if not parts.netloc:
        raise FatalFetchError(f"not an absolute URL: {url!r}")
    path = parts.path.lstrip("/") or "index"
    if path.endswith("/"):
        path += "index"
    name = path
    if parts.query:
        name = f"{path}?{parts.query.replace('/', '%2F')}"
        if len(Path(name).name.encode()) > MAX_FILE_NAME_BYTES:
            # File systems stop at 255 bytes: a long query is named by its digest instead.
            name = f"{path}?sha256-{hashlib.sha256(parts.query.encode()).hexdigest()}"
    relative = Path(parts.netloc) / name
    if ".." in relative.parts:
        raise FatalFetchError(f"refusing a URL that climbs out of the replay directory: {url!r}")
    return relative


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB ({n} bytes)"


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it: causes, contexts, urllib3's ``reason`` and
    exceptions passed as arguments (requests wraps urllib3's MaxRetryError that way)."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        behind = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(e for e in behind if isinstance(e, BaseException))


def unreachable_reason(exc: BaseException) -> str | None:
    """Why a requests error means the host cannot be reached at all: name resolution failed or
    the connection was refused. None for anything else (timeouts, resets, TLS errors...)."""
    chain = list(_exception_chain(exc))
    where = " (at the proxy)" if any(isinstance(e, urllib3.exceptions.ProxyError) for e in chain) else ""
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in chain):
        return f"name resolution failed{where} (no network?)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"connection refused{where}"
    return None


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass
class Fetcher:
    """Fetch URLs in the mode the environment asks for; see the module docstring.

    ``mode`` is derived from the settings unless given: replay when DSR_REPLAY_DIR is set,
    record when DSR_RECORD_DIR is set, else live. ``max_payload_bytes`` caps every body
    (live: Content-Length, then the bytes streamed; replay: the file size). ``api_key``: the
    source's optional key (:class:`ApiKeyConnection`), looked up once here unless in replay mode;
    with a key, its header is added to ``headers`` and its politeness delay replaces ours.
    """

    replay_dirs: list[Path] = field(default_factory=config.replay_dirs)
    record_dir: Path | None = field(default_factory=config.record_dir)
    politeness_delay: float = 1.0
    max_attempts: int = 5
    backoff_base: float = 2.0
    max_wait: float = 300.0
    timeout: tuple[float, float] = (10.0, 120.0)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may carry an API key
    api_key: ApiKeyConnection | None = None
    session: requests.Session | None = None
    conditional: ConditionalCache | None = None
    sleep: Callable[[float], None] = time.sleep
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    requests_made: int = 0
    _last_request_at: dict[str, float] = field(default_factory=dict)
    # Hosts that sent an HTTP answer (any status) to this Fetcher: a later connection error
    # there is a blip worth retrying, not a sign that there is no network.
    _hosts_answered: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.politeness_delay = config.politeness_delay_seconds(self.politeness_delay)
        if self.api_key is not None and self.mode != "replay":
            self._use_api_key(self.api_key)

    def _use_api_key(self, declared: ApiKeyConnection) -> None:
        key = read_api_key(declared.conn_id)
        if key is None:
            log.info("no API key in Airflow connection %r: fetching anonymously, %.1fs between requests",
                     declared.conn_id, self.politeness_delay)  # fmt: skip
            return
        self.headers = {**self.headers, declared.header: declared.header_value(key)}
        if declared.politeness_delay is not None:
            self.politeness_delay = config.politeness_delay_seconds(declared.politeness_delay)
        log.info("fetching with the API key of Airflow connection %r (header %s), %.1fs between requests",
                 declared.conn_id, declared.header, self.politeness_delay)  # fmt: skip

    @property
    def mode(self) -> str:
        if self.replay_dirs:
            return "replay"
        return "record" if self.record_dir else "live"

    def covers_host(self, host: str) -> bool:
        """In replay mode: does any replay directory hold recordings for ``host``?"""
        if self.mode != "replay":
            return True
        return any((d / host).is_dir() for d in self.replay_dirs)

    def get(
        self,
        url: str,
        params: Mapping[str, object] | None = None,
        validators: Validators | None = None,
        retry_if: RetryIf | None = None,
    ) -> FetchedResponse:
        """The answer to GET ``url`` with ``params``. ``retry_if(response)`` returns why a 2xx answer
        is really a "slow down" notice (else None): live, it is retried like a 429 (same attempts
        and backoff) and, when the attempts run out, a :class:`RetryableFetchError` names the URL and
        the reason; such an answer is never recorded. In replay a recording of it is fatal."""
        full_url = build_url(url, params)
        self.requests_made += 1
        if self.mode == "replay":
            response = self._replay(full_url)
            reason = retry_if(response) if retry_if is not None else None
            if reason:
                raise FatalFetchError(f"replay of {full_url}: the recording is {reason}, not an answer to use; "
                                      f"record it again ({response.replayed_from})")  # fmt: skip
            return response
        if validators is None and self.conditional is not None:
            validators = self.conditional.validators(full_url)
        response = self._live(full_url, validators, retry_if)
        if response.not_modified and self.conditional is not None:
            # The caller still needs the content: reuse the body this 304 confirms.
            response = replace(response, body=self.conditional.previous_body(full_url))
        if self.record_dir is not None and (response.body or not response.not_modified):
            # Whole or absent; readable like any file the user saves (recordings are shared for replay).
            write_atomic(self.record_dir / url_to_relative_path(full_url), response.body, mode=0o644)
        return response

    def close(self) -> None:
        if self.session is not None:
            self.session.close()

    # -- replay -------------------------------------------------------------------------------
    def _replay(self, url: str) -> FetchedResponse:
        relative = url_to_relative_path(url)
        for directory in self.replay_dirs:
            candidate = directory / relative
            if candidate.is_file():
                size = candidate.stat().st_size
                if size > self.max_payload_bytes:
                    raise PayloadTooLarge(f"replay of {url}: {candidate} holds {_size(size)}, over the cap of "
                                          f"{_size(self.max_payload_bytes)} (max_payload_bytes)")  # fmt: skip
                return FetchedResponse(
                    url=url,
                    http_status=200,
                    body=candidate.read_bytes(),
                    fetched_at=datetime.now(UTC),
                    replayed_from=str(candidate),
                )
        looked = ", ".join(str(d / relative) for d in self.replay_dirs)
        raise ReplayFileMissing(f"replay mode has no recording of {url} (looked for: {looked})")

    # -- live ---------------------------------------------------------------------------------
    def _wait_for_host(self, host: str) -> None:
        last = self._last_request_at.get(host)
        if last is not None:
            remaining = self.politeness_delay - (time.monotonic() - last)
            if remaining > 0:
                self.sleep(remaining)
        self._last_request_at[host] = time.monotonic()

    def _live(self, url: str, validators: Validators | None, retry_if: RetryIf | None = None) -> FetchedResponse:
        if self.session is None:
            self.session = requests.Session()
        headers = {"User-Agent": config.USER_AGENT, **self.headers}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        host = urllib.parse.urlsplit(url).netloc
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            self._wait_for_host(host)
            try:
                answer = self.session.get(url, headers=headers, timeout=self.timeout, stream=True)
            except requests.RequestException as exc:  # timeouts, resets, refused, unresolvable
                reason = unreachable_reason(exc)
                if reason is not None and host not in self._hosts_answered:
                    raise HostUnreachable(f"cannot reach {host}: {reason}; GET {url} not retried, as this host "
                                          f"has never answered ({type(exc).__name__}: {exc})") from exc  # fmt: skip
                problem = f"{type(exc).__name__}: {exc}"
                wait = None
            else:
                self._hosts_answered.add(host)
                with answer:
                    if answer.status_code in RETRYABLE_STATUSES:
                        problem = f"HTTP {answer.status_code}"
                        wait = _retry_after_seconds(answer.headers.get("Retry-After"), time.time())
                    else:
                        try:
                            response = self._to_response(url, answer)
                        except requests.RequestException as exc:  # the body was cut short or stalled
                            problem = f"{type(exc).__name__}: {exc}"
                            wait = None
                        else:
                            # A 304 confirms a body accepted before: only a fresh body is judged.
                            reason = None if retry_if is None or response.not_modified else retry_if(response)
                            if not reason:
                                return response
                            problem = reason
                            wait = None
            if attempt == self.max_attempts:
                break
            delay = min(self.max_wait, wait if wait is not None else self.backoff_base * 2 ** (attempt - 1))
            log.warning("GET %s: %s; attempt %d/%d, retrying in %.1fs", url, problem, attempt, self.max_attempts, delay)
            self.sleep(delay)
        raise RetryableFetchError(f"GET {url} failed after {self.max_attempts} attempts: {problem}")

    def _read_body(self, url: str, answer: requests.Response) -> bytes:
        """The streamed body, refused as soon as it is known to exceed ``max_payload_bytes``."""
        cap = self.max_payload_bytes
        declared = answer.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > cap:
            raise PayloadTooLarge(f"GET {url}: Content-Length {_size(int(declared))} is over the cap of {_size(cap)} "
                                  "(max_payload_bytes); not downloaded")  # fmt: skip
        body = bytearray()
        for chunk in answer.iter_content(READ_CHUNK_BYTES):
            body += chunk
            if len(body) > cap:
                raise PayloadTooLarge(f"GET {url}: the body passed the cap of {_size(cap)} (max_payload_bytes) "
                                      f"after {_size(len(body))}; download aborted")  # fmt: skip
        return bytes(body)

    @staticmethod
    def _snippet(answer: requests.Response, limit: int = 300) -> str:
        """The start of an error answer's body, without downloading the rest of it."""
        head = next(answer.iter_content(4 * limit), b"")
        try:
            text = head.decode(answer.encoding or "utf-8", "replace")
        except LookupError:  # an encoding Python does not know
            text = head.decode("utf-8", "replace")
        return text[:limit].replace("\n", " ")

    def _to_response(self, url: str, answer: requests.Response) -> FetchedResponse:
        status = answer.status_code
        if status == 304:
            return FetchedResponse(
                url=url,
                http_status=304,
                body=b"",
                fetched_at=datetime.now(UTC),
                etag=answer.headers.get("ETag"),
                last_modified=answer.headers.get("Last-Modified"),
                not_modified=True,
            )
        if status >= 400:
            raise FatalFetchError(f"GET {url} answered HTTP {status}: {self._snippet(answer)}")
        return FetchedResponse(
            url=url,
            http_status=status,
            body=self._read_body(url, answer),
            fetched_at=datetime.now(UTC),
            etag=answer.headers.get("ETag"),
            last_modified=answer.headers.get("Last-Modified"),
            content_type=answer.headers.get("Content-Type"),
        )
