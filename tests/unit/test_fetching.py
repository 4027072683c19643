"""The fetch layer (plugins/dsrwatch/fetching.py): URL <-> file mapping, replay, live, record.

Live tests talk real HTTP to a scripted server on 127.0.0.1 (tests/helpers/http_server.py).
Waits go through an injected ``sleep`` that only records, so nothing actually waits and the
tests assert the exact waits the fetcher asked for.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import socket
import time
from pathlib import Path

import pytest
import requests

from dsrwatch import config
from dsrwatch.fetching import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    ApiKeyConnection,
    FatalFetchError,
    Fetcher,
    FetchError,
    HostUnreachable,
    PayloadTooLarge,
    ReplayFileMissing,
    RetryableFetchError,
    Validators,
    build_url,
    url_to_relative_path,
)
from dsrwatch.sources.base import SourceSpec

from helpers.http_server import Answer, ScriptedHTTPServer

CABLES_URL = "https://www.submarinecablemap.com/api/v3/cable/all.json"
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


# -- fixtures and fakes ---------------------------------------------------------------------------
@pytest.fixture
def make_fetcher(sleeps):
    """Build Fetchers that record their waits; every one is closed at teardown."""
    made: list[Fetcher] = []

    def make(**kwargs) -> Fetcher:
        kwargs.setdefault("sleep", sleeps.append)
        fetcher = Fetcher(**kwargs)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


@pytest.fixture
def live(make_fetcher):
    """A live-mode Fetcher whatever the environment says, with no politeness wait by default."""

    def make(**kwargs) -> Fetcher:
        kwargs.setdefault("replay_dirs", [])
        kwargs.setdefault("record_dir", None)
        kwargs.setdefault("politeness_delay", 0.0)
        return make_fetcher(**kwargs)

    return make


class NoNetworkSession(requests.Session):
    """A session that fails the test if anything tries to use the network."""

    def request(self, *args, **kwargs):
        raise AssertionError(f"replay mode touched the network: {args!r}")


class CountingSession(requests.Session):
    """A real session that counts the requests it was asked to make (one per attempt)."""

    def __init__(self):
        super().__init__()
        self.attempts = 0

    def request(self, *args, **kwargs):
        self.attempts += 1
        return super().request(*args, **kwargs)


class FakeConditional:
    """A ConditionalCache: validators and bodies from 'earlier runs', and what was asked of it."""

    def __init__(
        self, validators: dict[str, Validators] | None = None, bodies: dict[str, bytes] | None = None
    ):
        self._validators = validators or {}
        self._bodies = bodies or {}
        self.validators_asked: list[str] = []
        self.bodies_asked: list[str] = []

    def validators(self, url: str) -> Validators | None:
        self.validators_asked.append(url)
        return self._validators.get(url)

    def previous_body(self, url: str) -> bytes:
        self.bodies_asked.append(url)
        return self._bodies[url]


def _closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write(root: Path, relative: str, body: bytes) -> Path:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    return target


# -- 1. URL <-> file name ---------------------------------------------------------------------------
class TestUrlToRelativePath:
    def test_plain_path(self):
        assert url_to_relative_path("https://example.org/a/b.json") == Path("example.org/a/b.json")

    def test_shared_snapshot_layout_for_the_cable_map(self):
        assert url_to_relative_path(CABLES_URL) == Path("www.submarinecablemap.com/api/v3/cable/all.json")

    def test_query_string_is_part_of_the_file_name_in_the_order_sent(self):
        relative = url_to_relative_path("https://example.org/api/items.json?z=1&a=2&m=3")
        assert relative == Path("example.org/api/items.json?z=1&a=2&m=3")
        assert relative.name == "items.json?z=1&a=2&m=3"

    def test_slash_inside_the_query_becomes_percent_2f(self):
        relative = url_to_relative_path("https://example.org/search?path=a/b/c&x=1")
        assert relative == Path("example.org/search?path=a%2Fb%2Fc&x=1")
        assert len(relative.parts) == 2  # still one file under the host folder

    def test_dot_dot_in_a_query_cannot_climb(self):
        relative = url_to_relative_path("https://example.org/q?p=../../etc/passwd")
        assert relative.parts == ("example.org", "q?p=..%2F..%2Fetc%2Fpasswd")

    @pytest.mark.parametrize(
        "url",
        ["https://example.org/a/../../etc/passwd", "https://example.org/..", "https://example.org/../x?y=1"],
    )
    def test_dot_dot_in_the_path_is_refused(self, url):
        with pytest.raises(FatalFetchError, match="climbs out"):
            url_to_relative_path(url)

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("https://example.org", "example.org/index"),
            ("https://example.org/", "example.org/index"),
            ("https://example.org/dir/", "example.org/dir/index"),
            ("https://example.org/?page=2", "example.org/index?page=2"),
        ],
    )
    def test_directory_urls_get_an_index_file(self, url, expected):
        assert url_to_relative_path(url) == Path(expected)

    def test_port_stays_in_the_host_folder(self):
        assert url_to_relative_path("http://127.0.0.1:8080/x.json") == Path("127.0.0.1:8080/x.json")

    def test_relative_url_is_refused(self):
        with pytest.raises(FatalFetchError, match="not an absolute URL"):
            url_to_relative_path("/api/v3/cable/all.json")


class TestBuildUrl:
    def test_no_params_leaves_the_url_alone(self):
        assert build_url(CABLES_URL) == CABLES_URL
        assert build_url(CABLES_URL, {}) == CABLES_URL

    def test_params_keep_their_order(self):
        assert (
            build_url("https://example.org/s", {"z": 1, "a": "b", "m": 3})
            == "https://example.org/s?z=1&a=b&m=3"
        )

    def test_existing_query_is_extended(self):
        assert build_url("https://example.org/s?x=1", {"y": 2}) == "https://example.org/s?x=1&y=2"

    def test_slash_in_a_value_is_encoded_and_maps_to_percent_2f(self):
        url = build_url("https://example.org/s", {"path": "a/b", "q": "x y"})
        assert url == "https://example.org/s?path=a%2Fb&q=x+y"
        assert url_to_relative_path(url) == Path("example.org/s?path=a%2Fb&q=x+y")

    def test_safe_characters_are_kept(self):
        assert build_url("https://example.org/s", {"bbox": "1,2:3", "f": "$(x)"}) == (
            "https://example.org/s?bbox=1,2:3&f=$(x)"
        )


# -- 2. replay --------------------------------------------------------------------------------------
CABLES_FILE = "www.submarinecablemap.com/api/v3/cable/all.json"


@pytest.fixture
def replay_roots(tmp_path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    return first, second


class TestReplay:
    def test_reads_from_the_first_dir_that_has_the_file(self, make_fetcher, replay_roots):
        first, second = replay_roots
        target = _write(first, CABLES_FILE, b'["from first"]')
        _write(second, CABLES_FILE, b'["from second"]')
        fetcher = make_fetcher(replay_dirs=[first, second], session=NoNetworkSession())

        response = fetcher.get(CABLES_URL)

        assert response.body == b'["from first"]'
        assert response.http_status == 200
        assert response.url == CABLES_URL
        assert response.replayed_from == str(target)
        assert response.not_modified is False
        assert fetcher.requests_made == 1

    def test_falls_back_to_the_second_dir(self, make_fetcher, replay_roots):
        first, second = replay_roots
        target = _write(second, CABLES_FILE, b'["from second"]')
        fetcher = make_fetcher(replay_dirs=[first, second], session=NoNetworkSession())

        response = fetcher.get(CABLES_URL)

        assert response.body == b'["from second"]'
        assert response.replayed_from == str(target)

    def test_colon_separated_env_var_and_default_factory(self, make_fetcher, replay_roots, monkeypatch):
        first, second = replay_roots
        _write(first, "www.submarinecablemap.com/api/v3/cable/peace-cable.json", b'{"id": "peace-cable"}')
        _write(second, CABLES_FILE, b'["from second"]')
        monkeypatch.setenv("DSR_REPLAY_DIR", f"{first}:{second}")

        fetcher = make_fetcher(session=NoNetworkSession())

        assert fetcher.replay_dirs == [first, second]
        assert fetcher.mode == "replay"
        assert fetcher.get(CABLES_URL).body == b'["from second"]'
        assert fetcher.get(CABLES_URL.replace("all", "peace-cable")).body == b'{"id": "peace-cable"}'

    def test_query_params_select_the_file_with_the_query_in_its_name(self, make_fetcher, replay_roots):
        first, _ = replay_roots
        _write(first, "example.org/api/search?q=cable&path=a%2Fb&page=2", b"page two")
        _write(first, "example.org/api/search?q=cable&path=a%2Fb&page=1", b"page one")
        fetcher = make_fetcher(replay_dirs=[first], session=NoNetworkSession())

        response = fetcher.get(
            "https://example.org/api/search", params={"q": "cable", "path": "a/b", "page": 2}
        )

        assert response.body == b"page two"
        assert response.url == "https://example.org/api/search?q=cable&path=a%2Fb&page=2"

    def test_missing_file_names_the_url_and_every_path_looked_for(self, make_fetcher, replay_roots):
        first, second = replay_roots
        fetcher = make_fetcher(replay_dirs=[first, second], session=NoNetworkSession())

        with pytest.raises(ReplayFileMissing) as caught:
            fetcher.get(CABLES_URL)

        message = str(caught.value)
        assert CABLES_URL in message
        assert str(first / CABLES_FILE) in message
        assert str(second / CABLES_FILE) in message
        assert isinstance(caught.value, FatalFetchError)
        assert caught.value.retryable is False

    def test_a_directory_with_the_url_name_is_not_a_recording(self, make_fetcher, replay_roots):
        first, _ = replay_roots
        (first / CABLES_FILE).mkdir(parents=True)
        fetcher = make_fetcher(replay_dirs=[first], session=NoNetworkSession())

        with pytest.raises(ReplayFileMissing):
            fetcher.get(CABLES_URL)

    def test_covers_host(self, make_fetcher, replay_roots):
        first, second = replay_roots
        _write(second, CABLES_FILE, b"[]")
        fetcher = make_fetcher(replay_dirs=[first, second], session=NoNetworkSession())

        assert fetcher.covers_host("www.submarinecablemap.com") is True
        assert fetcher.covers_host("api.worldbank.org") is False

    def test_covers_host_is_true_for_every_host_outside_replay(self, live):
        assert live().covers_host("api.worldbank.org") is True


class TestMode:
    def test_live_when_nothing_is_set(self, make_fetcher):
        fetcher = make_fetcher()
        assert (fetcher.mode, fetcher.replay_dirs, fetcher.record_dir) == ("live", [], None)

    def test_record_when_record_dir_is_set(self, make_fetcher, tmp_path, monkeypatch):
        monkeypatch.setenv("DSR_RECORD_DIR", str(tmp_path / "rec"))
        fetcher = make_fetcher()
        assert (fetcher.mode, fetcher.record_dir) == ("record", tmp_path / "rec")

    def test_replay_wins_over_record(self, make_fetcher, tmp_path, monkeypatch):
        monkeypatch.setenv("DSR_RECORD_DIR", str(tmp_path / "rec"))
        monkeypatch.setenv("DSR_REPLAY_DIR", str(tmp_path / "rep"))
        assert make_fetcher().mode == "replay"

    def test_explicit_arguments(self, make_fetcher, tmp_path):
        assert make_fetcher(replay_dirs=[tmp_path]).mode == "replay"
        assert make_fetcher(replay_dirs=[], record_dir=tmp_path).mode == "record"
        assert make_fetcher(replay_dirs=[], record_dir=None).mode == "live"


# -- 3. live ----------------------------------------------------------------------------------------
class TestLive:
    def test_ok_response_and_user_agent(self, live, server, sleeps):
        server.script("/data.json", Answer(200, {"Content-Type": "application/json"}, b'{"ok": true}'))
        fetcher = live(headers={"Accept": "application/json"})

        response = fetcher.get(server.url("/data.json"), params={"page": 1})

        assert response.http_status == 200
        assert response.body == b'{"ok": true}'
        assert response.content_type == "application/json"
        assert response.url == server.url("/data.json?page=1")
        assert response.replayed_from is None
        [seen] = server.requests
        assert seen.path == "/data.json?page=1"
        user_agent = seen.header("User-Agent")
        assert user_agent == config.USER_AGENT
        assert "DSRWatch" in user_agent
        assert seen.header("Accept") == "application/json"
        assert seen.header("If-None-Match") is None
        assert seen.header("If-Modified-Since") is None
        assert sleeps == []

    def test_one_session_is_reused_and_closed(self, live, server):
        server.script("/a", Answer(200, body=b"a"))
        fetcher = live()
        fetcher.get(server.url("/a"))
        session = fetcher.session
        fetcher.get(server.url("/a"))
        assert fetcher.session is session
        assert fetcher.requests_made == 2
        fetcher.close()
        fetcher.close()  # closing twice is harmless

    def test_429_with_retry_after_seconds(self, live, server, sleeps):
        server.script("/a", Answer(429, {"Retry-After": "7"}), Answer(200, body=b"done"))
        fetcher = live()

        response = fetcher.get(server.url("/a"))

        assert response.body == b"done"
        assert sleeps == [7.0]
        assert len(server.requests_to("/a")) == 2

    def test_retry_after_on_a_503_is_honoured_too(self, live, server, sleeps):
        server.script("/a", Answer(503, {"Retry-After": "3"}), Answer(200, body=b"done"))
        assert live().get(server.url("/a")).body == b"done"
        assert sleeps == [3.0]

    def test_retry_after_as_an_http_date(self, live, server, sleeps):
        when = email.utils.formatdate(time.time() + 30, usegmt=True)
        server.script("/a", Answer(429, {"Retry-After": when}), Answer(200, body=b"done"))

        assert live().get(server.url("/a")).body == b"done"

        [wait] = sleeps
        assert 27.0 < wait <= 30.0

    def test_retry_after_date_in_the_past_means_no_wait(self, live, server, sleeps):
        server.script("/a", Answer(503, {"Retry-After": LAST_MODIFIED}), Answer(200, body=b"done"))
        assert live().get(server.url("/a")).body == b"done"
        assert sleeps == [0.0]

    def test_unparseable_retry_after_falls_back_to_backoff(self, live, server, sleeps):
        server.script("/a", Answer(503, {"Retry-After": "soon"}), Answer(200, body=b"done"))
        assert live(backoff_base=0.5).get(server.url("/a")).body == b"done"
        assert sleeps == [0.5]

    def test_retry_after_is_capped_by_max_wait(self, live, server, sleeps):
        server.script("/a", Answer(429, {"Retry-After": "3600"}), Answer(200, body=b"done"))
        assert live(max_wait=60.0).get(server.url("/a")).body == b"done"
        assert sleeps == [60.0]

    def test_503_twice_then_200_backs_off_exponentially(self, live, server, sleeps):
        server.script("/a", Answer(503), Answer(503), Answer(200, body=b"done"))
        fetcher = live(backoff_base=0.5, max_attempts=5)

        response = fetcher.get(server.url("/a"))

        assert response.body == b"done"
        assert sleeps == [0.5 * 2**0, 0.5 * 2**1]
        assert len(server.requests_to("/a")) == 3

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
    def test_retryable_statuses(self, live, server, sleeps, status):
        server.script("/a", Answer(status), Answer(200, body=b"done"))
        assert live(backoff_base=0.25).get(server.url("/a")).body == b"done"
        assert sleeps == [0.25]

    def test_backoff_is_capped_by_max_wait(self, live, server, sleeps):
        server.script("/a", Answer(500))
        with pytest.raises(RetryableFetchError):
            live(backoff_base=10.0, max_wait=15.0, max_attempts=4).get(server.url("/a"))
        assert sleeps == [10.0, 15.0, 15.0]

    def test_always_500_exhausts_retries(self, live, server, sleeps):
        server.script("/a", Answer(500, body=b"boom"))
        fetcher = live(backoff_base=0.5, max_attempts=3)

        with pytest.raises(RetryableFetchError) as caught:
            fetcher.get(server.url("/a"))

        message = str(caught.value)
        assert "after 3 attempts" in message
        assert "HTTP 500" in message
        assert server.url("/a") in message
        assert caught.value.retryable is True
        assert isinstance(caught.value, FetchError)
        assert len(server.requests_to("/a")) == 3
        assert sleeps == [0.5, 1.0]  # no wait after the last attempt

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
    def test_non_429_4xx_is_fatal_at_once(self, live, server, sleeps, status):
        server.script("/gone", Answer(status, {"Content-Type": "text/plain"}, b"no such\nthing"))
        fetcher = live(max_attempts=5)

        with pytest.raises(FatalFetchError) as caught:
            fetcher.get(server.url("/gone"))

        assert not isinstance(caught.value, RetryableFetchError)
        assert caught.value.retryable is False
        message = str(caught.value)
        assert f"HTTP {status}" in message
        assert server.url("/gone") in message
        assert "no such thing" in message  # a one-line snippet of the body
        assert len(server.requests_to("/gone")) == 1
        assert sleeps == []

    def test_read_timeout_is_retryable(self, live, server, sleeps):
        server.script("/slow", Answer(200, body=b"late", hold=3.0))
        fetcher = live(timeout=(2.0, 0.2), max_attempts=2, backoff_base=0.1)

        with pytest.raises(RetryableFetchError) as caught:
            fetcher.get(server.url("/slow"))

        assert "Timeout" in str(caught.value)
        assert len(server.requests_to("/slow")) == 2
        assert sleeps == [0.1]

    def test_body_cut_short_is_retryable(self, live, server, sleeps):
        # The server promises 100 bytes, sends 5 and closes the connection.
        server.script("/cut", Answer(200, body=b"trunc", content_length=100))
        fetcher = live(max_attempts=2, backoff_base=0.1)

        with pytest.raises(RetryableFetchError):
            fetcher.get(server.url("/cut"))
        assert sleeps == [0.1]


# -- 3b. a host that cannot be reached at all (offline fast-fail) ---------------------------------------
UNRESOLVABLE = "dsrwatch-offline-test.invalid"  # RFC 2606: .invalid never resolves


class TestUnreachableHost:
    """A first request that cannot resolve the host or is refused fails at once: offline, every retry
    would fail the same way and the backoff only made `make run` wait minutes before saying so."""

    def test_connection_refused_on_the_first_request_fails_at_once(self, live, sleeps):
        port = _closed_port()
        session = CountingSession()
        fetcher = live(session=session, backoff_base=0.25, max_attempts=5)
        with pytest.raises(HostUnreachable) as caught:
            fetcher.get(f"http://127.0.0.1:{port}/a.json")
        assert session.attempts == 1
        assert sleeps == []
        message = str(caught.value)
        assert f"cannot reach 127.0.0.1:{port}: connection refused" in message
        assert f"http://127.0.0.1:{port}/a.json" in message
        assert "after" not in message.split(";")[0]  # no "failed after N attempts"
        assert isinstance(caught.value, FetchError)
        # Not worth retrying within this run, but a later run (or task retry) may find the network back.
        assert caught.value.retryable is True

    def test_unresolvable_host_fails_at_once(self, live, sleeps):
        session = CountingSession()
        fetcher = live(session=session, backoff_base=0.25, max_attempts=5)
        with pytest.raises(HostUnreachable) as caught:
            fetcher.get(f"https://{UNRESOLVABLE}/api/v3/cable/all.json")
        assert session.attempts == 1
        assert sleeps == []
        assert f"cannot reach {UNRESOLVABLE}: name resolution failed (no network?)" in str(caught.value)
        assert isinstance(caught.value.__cause__, requests.ConnectionError)

    def test_every_request_to_an_unreachable_host_fails_at_once(self, live, sleeps):
        session = CountingSession()
        fetcher = live(session=session, backoff_base=0.25, max_attempts=5)

        for path in ("/a.json", "/b.json"):
            with pytest.raises(HostUnreachable):
                fetcher.get(f"https://{UNRESOLVABLE}{path}")

        assert session.attempts == 2
        assert sleeps == []

    def test_a_host_that_answered_once_and_went_away_is_retried(self, live, sleeps):
        session = CountingSession()
        fetcher = live(session=session, backoff_base=0.25, max_attempts=3)
        with ScriptedHTTPServer() as going:
            going.script("/a.json", Answer(200, body=b"once"))
            url = going.url("/a.json")
            assert fetcher.get(url).body == b"once"
        # The server is gone: its port now refuses connections.

        with pytest.raises(RetryableFetchError) as caught:
            fetcher.get(url)

        assert not isinstance(caught.value, HostUnreachable)
        assert "after 3 attempts" in str(caught.value)
        assert "ConnectionError" in str(caught.value)
        assert session.attempts == 1 + 3
        assert sleeps == [0.25, 0.5]

    def test_an_error_answer_counts_as_having_answered(self, live, server, sleeps):
        server.script("/a", Answer(503))
        session = CountingSession()
        fetcher = live(session=session, backoff_base=0.25, max_attempts=2)
        url = server.url("/a")
        with pytest.raises(RetryableFetchError, match="HTTP 503"):
            fetcher.get(url)
        assert sleeps == [0.25]

        server.stop()
        with pytest.raises(RetryableFetchError) as caught:
            fetcher.get(url)
        assert not isinstance(caught.value, HostUnreachable)
        assert session.attempts == 2 + 2

    def test_hosts_are_judged_separately(self, live, server, sleeps):
        server.script("/a", Answer(200, body=b"a"))
        fetcher = live(backoff_base=0.25, max_attempts=3)
        fetcher.get(server.url("/a"))

        with pytest.raises(HostUnreachable, match="connection refused"):
            fetcher.get(f"http://127.0.0.1:{_closed_port()}/a")
        assert sleeps == []


# -- 3c. payload size cap ---------------------------------------------------------------------------------
class TestPayloadCap:
    def test_the_default_cap_is_the_source_spec_default(self, live):
        assert live().max_payload_bytes == DEFAULT_MAX_PAYLOAD_BYTES == 256 * 2**20
        assert SourceSpec.__dataclass_fields__["max_payload_bytes"].default == DEFAULT_MAX_PAYLOAD_BYTES

    def test_content_length_over_the_cap_is_refused_without_retrying(self, live, server, sleeps):
        server.script("/big", Answer(200, body=b"x" * 5000))
        fetcher = live(max_payload_bytes=1000, max_attempts=5)

        with pytest.raises(PayloadTooLarge) as caught:
            fetcher.get(server.url("/big"))

        message = str(caught.value)
        assert server.url("/big") in message
        assert "Content-Length" in message
        assert "(1000 bytes)" in message and "(5000 bytes)" in message
        assert isinstance(caught.value, FatalFetchError)
        assert caught.value.retryable is False
        assert len(server.requests_to("/big")) == 1
        assert sleeps == []

    def test_a_body_expanding_past_the_cap_is_cut_off_while_streaming(self, live, server, sleeps):
        # 4 MiB of zeros gzip to ~4 KB: the Content-Length is far under the cap, the body is not.
        cap = 64 * 1024
        packed = gzip.compress(b"\0" * (4 * 2**20))
        assert len(packed) < cap
        server.script("/bomb", Answer(200, {"Content-Encoding": "gzip"}, packed))
        fetcher = live(max_payload_bytes=cap, max_attempts=5)

        with pytest.raises(PayloadTooLarge) as caught:
            fetcher.get(server.url("/bomb"))

        message = str(caught.value)
        assert server.url("/bomb") in message
        assert f"({cap} bytes)" in message
        assert "download aborted" in message
        read = int(message.rsplit("(", 1)[1].split()[0])  # "... after X MiB (N bytes); download aborted"
        assert cap < read <= cap + 2**16  # stopped within one chunk of the cap
        assert len(server.requests_to("/bomb")) == 1
        assert sleeps == []

    def test_a_body_of_exactly_the_cap_is_accepted(self, live, server):
        server.script("/edge", Answer(200, body=b"y" * 1000))
        assert live(max_payload_bytes=1000).get(server.url("/edge")).body == b"y" * 1000

    def test_a_big_error_page_is_still_reported_as_the_error(self, live, server):
        server.script("/gone", Answer(404, {"Content-Type": "text/plain"}, b"not here " * 2000))
        with pytest.raises(FatalFetchError, match="HTTP 404: not here") as caught:
            live(max_payload_bytes=1000).get(server.url("/gone"))
        assert not isinstance(caught.value, PayloadTooLarge)

    def test_nothing_is_recorded_when_the_cap_is_hit(self, make_fetcher, server, tmp_path):
        server.script("/big", Answer(200, body=b"x" * 5000))
        fetcher = make_fetcher(replay_dirs=[], record_dir=tmp_path / "rec", max_payload_bytes=1000)
        with pytest.raises(PayloadTooLarge):
            fetcher.get(server.url("/big"))
        assert not (tmp_path / "rec").exists()

    def test_replay_checks_the_file_size_before_reading(self, make_fetcher, replay_roots, monkeypatch):
        first, _ = replay_roots
        target = _write(first, CABLES_FILE, b"[" + b"0," * 1000 + b"0]")
        fetcher = make_fetcher(replay_dirs=[first], session=NoNetworkSession(), max_payload_bytes=1000)

        def no_reading(self):
            raise AssertionError(f"read {self} although it is over the cap")

        monkeypatch.setattr(Path, "read_bytes", no_reading)
        with pytest.raises(PayloadTooLarge) as caught:
            fetcher.get(CABLES_URL)

        message = str(caught.value)
        assert CABLES_URL in message and str(target) in message
        assert "(1000 bytes)" in message and "(2003 bytes)" in message
        assert caught.value.retryable is False

    def test_replay_under_the_cap_reads_as_before(self, make_fetcher, replay_roots):
        first, _ = replay_roots
        _write(first, CABLES_FILE, b"[1]")
        fetcher = make_fetcher(replay_dirs=[first], session=NoNetworkSession(), max_payload_bytes=3)
        assert fetcher.get(CABLES_URL).body == b"[1]"


# -- 4. politeness ----------------------------------------------------------------------------------
class TestPoliteness:
    def test_second_request_to_the_same_host_waits(self, live, server, sleeps, monkeypatch):
        monkeypatch.delenv("DSR_POLITENESS_DELAY", raising=False)
        server.script("/a", Answer(200, body=b"a"))
        server.script("/b", Answer(200, body=b"b"))
        fetcher = live(politeness_delay=1.0)

        fetcher.get(server.url("/a"))
        assert sleeps == []
        fetcher.get(server.url("/b"))

        [wait] = sleeps
        assert 0.5 < wait <= 1.0

    def test_hosts_are_timed_separately(self, live, server, sleeps, monkeypatch):
        monkeypatch.delenv("DSR_POLITENESS_DELAY", raising=False)
        server.script("/a", Answer(200, body=b"a"))
        with ScriptedHTTPServer() as other:
            other.script("/a", Answer(200, body=b"other"))
            fetcher = live(politeness_delay=1.0)

            fetcher.get(server.url("/a"))
            fetcher.get(other.url("/a"))
            assert sleeps == []
            fetcher.get(server.url("/a"))
            assert len(sleeps) == 1

    def test_env_var_overrides_the_constructor(self, live, server, sleeps, monkeypatch):
        monkeypatch.setenv("DSR_POLITENESS_DELAY", "2.5")
        server.script("/a", Answer(200, body=b"a"))
        fetcher = live(politeness_delay=0.0)
        assert fetcher.politeness_delay == 2.5

        fetcher.get(server.url("/a"))
        fetcher.get(server.url("/a"))

        [wait] = sleeps
        assert 2.0 < wait <= 2.5

    def test_env_var_zero_disables_the_delay(self, live, server, sleeps, monkeypatch):
        monkeypatch.setenv("DSR_POLITENESS_DELAY", "0")
        server.script("/a", Answer(200, body=b"a"))
        fetcher = live(politeness_delay=5.0)
        assert fetcher.politeness_delay == 0.0

        for _ in range(3):
            fetcher.get(server.url("/a"))

        assert sleeps == []


# -- 5. conditional GET -----------------------------------------------------------------------------
class TestConditionalGet:
    def test_validators_are_sent_and_a_304_reuses_the_previous_body(self, live, server):
        url = server.url("/cable/all.json?v=3")
        cache = FakeConditional(
            validators={url: Validators(etag='"abc123"', last_modified=LAST_MODIFIED)},
            bodies={url: b'["previous"]'},
        )
        server.script("/cable/all.json", Answer(304, {"ETag": '"abc123"'}))
        fetcher = live(conditional=cache)

        response = fetcher.get(server.url("/cable/all.json"), params={"v": 3})

        [seen] = server.requests
        assert seen.header("If-None-Match") == '"abc123"'
        assert seen.header("If-Modified-Since") == LAST_MODIFIED
        assert response.not_modified is True
        assert response.http_status == 304
        assert response.body == b'["previous"]'
        assert response.etag == '"abc123"'
        assert cache.validators_asked == [url]
        assert cache.bodies_asked == [url]

    def test_only_the_validators_the_cache_has_are_sent(self, live, server):
        url = server.url("/a")
        cache = FakeConditional(
            validators={url: Validators(last_modified=LAST_MODIFIED)}, bodies={url: b"old"}
        )
        server.script("/a", Answer(304))

        assert live(conditional=cache).get(url).body == b"old"

        [seen] = server.requests
        assert seen.header("If-None-Match") is None
        assert seen.header("If-Modified-Since") == LAST_MODIFIED

    def test_nothing_conditional_for_an_unknown_url(self, live, server):
        cache = FakeConditional()
        server.script("/a", Answer(200, body=b"fresh"))

        response = live(conditional=cache).get(server.url("/a"))

        assert response.body == b"fresh"
        assert response.not_modified is False
        [seen] = server.requests
        assert seen.header("If-None-Match") is None
        assert seen.header("If-Modified-Since") is None
        assert cache.bodies_asked == []

    def test_explicit_validators_win_over_the_cache(self, live, server):
        url = server.url("/a")
        cache = FakeConditional(validators={url: Validators(etag='"cached"')}, bodies={url: b"old"})
        server.script("/a", Answer(304))

        response = live(conditional=cache).get(url, validators=Validators(etag='"explicit"'))

        assert server.requests[0].header("If-None-Match") == '"explicit"'
        assert cache.validators_asked == []
        assert response.body == b"old"

    def test_changed_content_comes_back_whole_with_new_validators(self, live, server):
        url = server.url("/a")
        cache = FakeConditional(validators={url: Validators(etag='"v1"')}, bodies={url: b"old"})
        server.script("/a", Answer(200, {"ETag": '"v2"', "Last-Modified": LAST_MODIFIED}, b"new"))

        response = live(conditional=cache).get(url)

        assert server.requests[0].header("If-None-Match") == '"v1"'
        assert (response.http_status, response.body, response.not_modified) == (200, b"new", False)
        assert (response.etag, response.last_modified) == ('"v2"', LAST_MODIFIED)
        assert cache.bodies_asked == []

    def test_etag_and_last_modified_of_a_200_are_exposed(self, live, server):
        server.script("/a", Answer(200, {"ETag": 'W/"xyz"', "Last-Modified": LAST_MODIFIED}, b"body"))
        response = live().get(server.url("/a"))
        assert response.etag == 'W/"xyz"'
        assert response.last_modified == LAST_MODIFIED

    def test_no_validators_on_a_server_without_them(self, live, server):
        server.script("/a", Answer(200, body=b"body"))
        response = live().get(server.url("/a"))
        assert (response.etag, response.last_modified) == (None, None)

    def test_304_without_a_cache_is_marked_not_modified_with_no_body(self, live, server):
        server.script("/a", Answer(304, {"ETag": '"v1"'}))
        response = live().get(server.url("/a"), validators=Validators(etag='"v1"'))
        assert (response.not_modified, response.http_status, response.body) == (True, 304, b"")


# -- 6. record (and record -> replay) ---------------------------------------------------------------
class TestRecord:
    def test_body_is_written_under_host_and_path_with_the_query(
        self, make_fetcher, server, tmp_path, monkeypatch
    ):
        record_dir = tmp_path / "rec"
        monkeypatch.setenv("DSR_RECORD_DIR", str(record_dir))
        server.script(
            "/api/v3/cable/all.json", Answer(200, {"Content-Type": "application/json"}, b'["live"]')
        )
        fetcher = make_fetcher()
        assert fetcher.mode == "record"

        response = fetcher.get(server.url("/api/v3/cable/all.json"), params={"page": 2, "path": "a/b"})

        target = record_dir / server.host / "api/v3/cable/all.json?page=2&path=a%2Fb"
        assert target.read_bytes() == b'["live"]'
        assert response.body == b'["live"]'
        assert response.replayed_from is None
        assert sorted(p.relative_to(record_dir).as_posix() for p in record_dir.rglob("*") if p.is_file()) == [
            f"{server.host}/api/v3/cable/all.json?page=2&path=a%2Fb"
        ]

    def test_literal_slash_in_the_query_is_recorded_as_percent_2f(self, make_fetcher, server, tmp_path):
        server.script("/find", Answer(200, body=b"found"))
        fetcher = make_fetcher(replay_dirs=[], record_dir=tmp_path)

        fetcher.get(server.url("/find?path=x/y"))

        assert server.requests[0].path == "/find?path=x/y"
        assert (tmp_path / server.host / "find?path=x%2Fy").read_bytes() == b"found"

    def test_failed_fetch_records_nothing(self, make_fetcher, server, tmp_path):
        server.script("/missing", Answer(404, body=b"not here"))
        fetcher = make_fetcher(replay_dirs=[], record_dir=tmp_path / "rec")

        with pytest.raises(FatalFetchError):
            fetcher.get(server.url("/missing"))

        assert not (tmp_path / "rec").exists()

    def test_record_then_replay_round_trip(self, make_fetcher, server, tmp_path, monkeypatch):
        record_dir = tmp_path / "rec"
        path = "/api/v3/landing-point/landing-point-geo.json"
        params = {"fields": "id,name", "region": "asia/pacific"}
        server.script(path, Answer(200, body=b'{"type": "FeatureCollection"}'))

        monkeypatch.setenv("DSR_RECORD_DIR", str(record_dir))
        recorded = make_fetcher().get(server.url(path), params=params)
        assert len(server.requests) == 1

        monkeypatch.delenv("DSR_RECORD_DIR")
        monkeypatch.setenv("DSR_REPLAY_DIR", f"{tmp_path / 'nothing-here'}:{record_dir}")
        replayer = make_fetcher(session=NoNetworkSession())
        assert replayer.mode == "replay"
        assert replayer.covers_host(server.host) is True

        replayed = replayer.get(server.url(path), params=params)

        assert replayed.body == recorded.body == b'{"type": "FeatureCollection"}'
        assert replayed.url == recorded.url
        assert replayed.replayed_from == str(record_dir / url_to_relative_path(recorded.url))
        assert len(server.requests) == 1  # replay never reached the server

    def test_a_304_in_record_mode_still_leaves_a_replayable_recording(self, make_fetcher, server, tmp_path):
        url = server.url("/a.json")
        cache = FakeConditional(validators={url: Validators(etag='"v1"')}, bodies={url: b"previous"})
        server.script("/a.json", Answer(304, {"ETag": '"v1"'}))
        fetcher = make_fetcher(replay_dirs=[], record_dir=tmp_path, conditional=cache)

        assert fetcher.get(url).body == b"previous"

        assert (tmp_path / server.host / "a.json").read_bytes() == b"previous"


def test_a_query_too_long_for_a_file_name_is_named_by_its_digest():
    import hashlib

    query = "where=" + "x" * 400
    relative = url_to_relative_path(f"https://example.org/api/data.json?{query}")
    assert str(relative) == f"example.org/api/data.json?sha256-{hashlib.sha256(query.encode()).hexdigest()}"
    assert len(relative.name.encode()) < 255


# -- 7. a source's optional API key (SourceSpec.api_key, applied by the fetch layer) ------------------
class FakeConnection:
    """What airflow_adapter returns for a defined connection: only the password matters here."""

    def __init__(self, password: str | None):
        self.password = password


@pytest.fixture
def connections(monkeypatch):
    """Airflow connections by id, served through airflow_adapter without importing Airflow; records
    every lookup (``asked``) and every value handed to redaction.add_secret (``secrets``)."""
    from dsrwatch import airflow_adapter, redaction

    state = {"defined": {}, "asked": [], "secrets": [], "in_task": False, "fail": None}

    def lookup(conn_id):
        state["asked"].append(conn_id)
        if state["fail"] is not None:
            raise state["fail"]
        return state["defined"].get(conn_id)

    monkeypatch.setattr(airflow_adapter, "connection", lookup)
    def from_environment(conn_id):
        assert not state["in_task"], "inside a task the connection is read from Airflow itself"
        return lookup(conn_id)

    monkeypatch.setattr(airflow_adapter, "connection_from_environment", from_environment)
    monkeypatch.setattr(airflow_adapter, "in_task", lambda: state["in_task"])
    monkeypatch.setattr(redaction, "add_secret", lambda *values: state["secrets"].extend(values))
    return state


KEYED = ApiKeyConnection("example_api", header="X-Api-Key", value="Token {key}", politeness_delay=0.5)


class TestApiKey:
    def test_the_key_is_sent_as_declared_and_its_delay_replaces_the_sources(
        self, live, server, sleeps, connections, monkeypatch, caplog
    ):
        monkeypatch.delenv("DSR_POLITENESS_DELAY", raising=False)
        connections["defined"]["example_api"] = FakeConnection("  s3cret-key-42\n")
        server.script("/a", Answer(200, body=b"a"))
        caplog.set_level(logging.DEBUG)

        fetcher = live(politeness_delay=3.0, headers={"Accept": "application/json"}, api_key=KEYED)
        fetcher.get(server.url("/a"))
        fetcher.get(server.url("/a"))

        assert connections["asked"] == ["example_api"]  # once, when the fetcher is built
        assert [r.header("X-Api-Key") for r in server.requests] == ["Token s3cret-key-42"] * 2
        assert all(r.header("Accept") == "application/json" for r in server.requests)
        assert fetcher.politeness_delay == 0.5
        [wait] = sleeps
        assert 0.0 < wait <= 0.5
        assert connections["secrets"] == ["s3cret-key-42"]  # masked in every later log line
        assert "s3cret-key-42" not in caplog.text
        assert "API key of Airflow connection 'example_api' (header X-Api-Key)" in caplog.text

    def test_without_a_key_the_fetch_is_anonymous_at_the_sources_delay(
        self, live, server, sleeps, connections, monkeypatch
    ):
        monkeypatch.delenv("DSR_POLITENESS_DELAY", raising=False)
        connections["defined"]["example_api"] = FakeConnection("  ")  # defined, but no password
        server.script("/a", Answer(200, body=b"a"))

        fetcher = live(politeness_delay=3.0, api_key=KEYED)
        fetcher.get(server.url("/a"))
        fetcher.get(server.url("/a"))

        assert [r.header("X-Api-Key") for r in server.requests] == [None, None]
        assert fetcher.politeness_delay == 3.0
        [wait] = sleeps
        assert 2.5 < wait <= 3.0
        del connections["defined"]["example_api"]  # not defined at all: anonymous too
        assert live(politeness_delay=3.0, api_key=KEYED).headers == {}
        assert connections["secrets"] == []

    def test_inside_a_task_the_connection_is_read_from_airflow(self, live, server, connections):
        connections["in_task"] = True
        connections["defined"]["example_api"] = FakeConnection("s3cret-key-42")
        server.script("/a", Answer(200, body=b"a"))
        live(api_key=KEYED).get(server.url("/a"))
        assert server.requests[0].header("X-Api-Key") == "Token s3cret-key-42"

    def test_dsr_politeness_delay_still_wins(self, live, connections, monkeypatch):
        monkeypatch.setenv("DSR_POLITENESS_DELAY", "0")
        connections["defined"]["example_api"] = FakeConnection("s3cret-key-42")
        assert live(politeness_delay=3.0, api_key=KEYED).politeness_delay == 0.0

    def test_no_key_is_looked_up_in_replay_mode(self, make_fetcher, connections, tmp_path):
        connections["defined"]["example_api"] = FakeConnection("s3cret-key-42")
        fetcher = make_fetcher(replay_dirs=[tmp_path], api_key=KEYED)
        assert fetcher.mode == "replay" and fetcher.headers == {}
        assert connections["asked"] == []

    def test_a_lookup_that_fails_is_logged_and_the_fetch_goes_on_anonymously(
        self, live, server, connections, caplog
    ):
        connections["fail"] = RuntimeError("secrets backend unreachable")
        server.script("/a", Answer(200, body=b"a"))
        caplog.set_level(logging.WARNING)
        fetcher = live(api_key=KEYED)
        assert fetcher.get(server.url("/a")).body == b"a"
        assert server.requests[0].header("X-Api-Key") is None
        assert "no usable Airflow connection 'example_api' (RuntimeError)" in caplog.text

    def test_a_key_no_header_can_carry_is_not_sent_nor_logged(self, live, server, connections, caplog):
        connections["defined"]["example_api"] = FakeConnection("s3cret\r\nX-Injected: 1")
        server.script("/a", Answer(200, body=b"a"))
        caplog.set_level(logging.DEBUG)
        fetcher = live(api_key=KEYED)
        fetcher.get(server.url("/a"))
        assert server.requests[0].header("X-Api-Key") is None and server.requests[0].header("X-Injected") is None
        assert connections["secrets"] == ["s3cret\r\nX-Injected: 1"]
        assert "s3cret" not in caplog.text and "characters an HTTP header cannot carry" in caplog.text

    def test_the_declared_value_must_hold_the_key(self):
        with pytest.raises(ValueError, match=r"must contain '\{key\}'"):
            ApiKeyConnection("example_api", value="Api-Key")
        assert ApiKeyConnection("x").header_value("k") == "k"
        assert SourceSpec.__dataclass_fields__["api_key"].default is None  # sources are anonymous by default


# -- 8. body-level retries: a 200 that is really "slow down" (Fetcher.get(retry_if=...)) -------------
SLOW_DOWN = b"Slow down: one request every 5 seconds please."


def slow_down(response) -> str | None:
    return "the slow-down notice" if response.body.startswith(b"Slow down") else None


class TestRetryIf:
    def test_a_slow_down_answer_is_retried_with_the_normal_backoff(self, live, server, sleeps, caplog):
        server.script("/a", Answer(200, body=SLOW_DOWN), Answer(200, body=SLOW_DOWN), Answer(200, body=b'{"ok": 1}'))
        caplog.set_level(logging.WARNING)

        response = live(backoff_base=10.0).get(server.url("/a"), params={"q": 1}, retry_if=slow_down)

        assert response.body == b'{"ok": 1}' and response.http_status == 200
        assert sleeps == [10.0, 20.0]
        assert len(server.requests_to("/a")) == 3
        assert f"GET {server.url('/a?q=1')}: the slow-down notice; attempt 1/5, retrying in 10.0s" in caplog.text

    def test_when_attempts_run_out_the_error_is_retryable_and_names_the_url(self, live, server, sleeps):
        server.script("/a", Answer(200, body=SLOW_DOWN))

        with pytest.raises(RetryableFetchError) as caught:
            live(backoff_base=10.0).get(server.url("/a"), params={"q": 1}, retry_if=slow_down)

        assert str(caught.value) == f"GET {server.url('/a?q=1')} failed after 5 attempts: the slow-down notice"
        assert caught.value.retryable
        assert sleeps == [10.0, 20.0, 40.0, 80.0]
        assert len(server.requests_to("/a")) == 5

    def test_429s_and_slow_down_answers_share_one_budget(self, live, server, sleeps):
        server.script("/a", Answer(429), Answer(200, body=SLOW_DOWN), Answer(503), Answer(200, body=SLOW_DOWN))
        with pytest.raises(RetryableFetchError, match="failed after 4 attempts: the slow-down notice"):
            live(backoff_base=1.0, max_attempts=4).get(server.url("/a"), retry_if=slow_down)
        assert sleeps == [1.0, 2.0, 4.0] and len(server.requests_to("/a")) == 4

    def test_without_the_predicate_the_same_answer_is_returned(self, live, server, sleeps):
        server.script("/a", Answer(200, body=SLOW_DOWN))
        assert live().get(server.url("/a")).body == SLOW_DOWN
        assert sleeps == []

    def test_a_slow_down_answer_is_never_recorded(self, make_fetcher, server, tmp_path):
        server.script("/a", Answer(200, body=SLOW_DOWN), Answer(200, body=b"real"))
        fetcher = make_fetcher(replay_dirs=[], record_dir=tmp_path, politeness_delay=0.0)
        assert fetcher.get(server.url("/a"), retry_if=slow_down).body == b"real"
        assert (tmp_path / server.host / "a").read_bytes() == b"real"

        server.script("/b", Answer(200, body=SLOW_DOWN))
        with pytest.raises(RetryableFetchError):
            fetcher.get(server.url("/b"), retry_if=slow_down)
        assert not (tmp_path / server.host / "b").exists()

    def test_a_304_is_not_judged_it_confirms_a_body_accepted_before(self, live, server, sleeps):
        url = server.url("/a")
        cache = FakeConditional(validators={url: Validators(etag='"v1"')}, bodies={url: b"previous"})
        server.script("/a", Answer(304, {"ETag": '"v1"'}))
        judged = []
        response = live(conditional=cache).get(url, retry_if=lambda r: judged.append(r.http_status))
        assert response.body == b"previous" and judged == [] and sleeps == []

    def test_error_statuses_keep_their_meaning(self, live, server, sleeps):
        server.script("/a", Answer(404, body=SLOW_DOWN))
        with pytest.raises(FatalFetchError, match="HTTP 404"):
            live().get(server.url("/a"), retry_if=slow_down)
        assert sleeps == []

    def test_a_recorded_slow_down_answer_is_fatal_in_replay(self, make_fetcher, tmp_path):
        recording = _write(tmp_path, "api.example.org/a?q=1", SLOW_DOWN)
        fetcher = make_fetcher(replay_dirs=[tmp_path], session=NoNetworkSession())

        with pytest.raises(FatalFetchError) as caught:
            fetcher.get("https://api.example.org/a", params={"q": 1}, retry_if=slow_down)

        message = str(caught.value)
        assert "replay of https://api.example.org/a?q=1: the recording is the slow-down notice" in message
        assert "record it again" in message and str(recording) in message
        assert fetcher.get("https://api.example.org/a", params={"q": 1}).body == SLOW_DOWN  # no predicate: as before
