"""One fetch layer for every source: live, record or replay (brief section 4).

* live   - a requests.Session with timeouts, retries with backoff on 429/5xx/timeouts honouring
           Retry-After, a User-Agent naming the project, a per-host politeness delay and
           conditional GET (ETag / Last-Modified).
* record - live, and each response body is also written under DSR_RECORD_DIR.
* replay - bodies are read from DSR_REPLAY_DIR (several directories separated by ':', searched
           in order); no network at all.

Replay/record layout: ``DIR/<host>/<path>`` exactly as in the URL. A query string becomes part
of the file name: ``<path>?<query>``, the query kept as sent, with any '/' in it written as
``%2F`` so it stays inside one file name; a name longer than 255 bytes becomes
``<path>?sha256-<hex digest of the query>`` (see :func:`url_to_relative_path`).
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import requests

from dsrwatch import config

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_FILE_NAME_BYTES = 255


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
    record when DSR_RECORD_DIR is set, else live.
    """

    replay_dirs: list[Path] = field(default_factory=config.replay_dirs)
    record_dir: Path | None = field(default_factory=config.record_dir)
    politeness_delay: float = 1.0
    max_attempts: int = 5
    backoff_base: float = 2.0
    max_wait: float = 300.0
    timeout: tuple[float, float] = (10.0, 120.0)
    headers: Mapping[str, str] = field(default_factory=dict)
    session: requests.Session | None = None
    conditional: ConditionalCache | None = None
    sleep: Callable[[float], None] = time.sleep
    requests_made: int = 0
    _last_request_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.politeness_delay = config.politeness_delay_seconds(self.politeness_delay)

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
    ) -> FetchedResponse:
        full_url = build_url(url, params)
        self.requests_made += 1
        if self.mode == "replay":
            return self._replay(full_url)
        if validators is None and self.conditional is not None:
            validators = self.conditional.validators(full_url)
        response = self._live(full_url, validators)
        if response.not_modified and self.conditional is not None:
            # The caller still needs the content: reuse the body this 304 confirms.
            response = replace(response, body=self.conditional.previous_body(full_url))
        if self.record_dir is not None and (response.body or not response.not_modified):
            target = self.record_dir / url_to_relative_path(full_url)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(response.body)
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

    def _live(self, url: str, validators: Validators | None) -> FetchedResponse:
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
                answer = self.session.get(url, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:  # timeouts, resets, bodies cut short
                problem = f"{type(exc).__name__}: {exc}"
                wait = None
            else:
                if answer.status_code not in RETRYABLE_STATUSES:
                    return self._to_response(url, answer)
                problem = f"HTTP {answer.status_code}"
                wait = _retry_after_seconds(answer.headers.get("Retry-After"), time.time())
            if attempt == self.max_attempts:
                break
            delay = min(self.max_wait, wait if wait is not None else self.backoff_base * 2 ** (attempt - 1))
            log.warning("GET %s: %s; attempt %d/%d, retrying in %.1fs", url, problem, attempt, self.max_attempts, delay)
            self.sleep(delay)
        raise RetryableFetchError(f"GET {url} failed after {self.max_attempts} attempts: {problem}")

    @staticmethod
    def _to_response(url: str, answer: requests.Response) -> FetchedResponse:
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
            snippet = answer.text[:300].replace("\n", " ")
            raise FatalFetchError(f"GET {url} answered HTTP {status}: {snippet}")
        return FetchedResponse(
            url=url,
            http_status=status,
            body=answer.content,
            fetched_at=datetime.now(UTC),
            etag=answer.headers.get("ETag"),
            last_modified=answer.headers.get("Last-Modified"),
            content_type=answer.headers.get("Content-Type"),
        )
