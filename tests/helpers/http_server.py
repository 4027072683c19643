"""A real HTTP server on 127.0.0.1 whose answers are scripted per path by the test.

Usage::

    with ScriptedHTTPServer() as server:
        server.script("/a.json", Answer(503), Answer(200, body=b"{}"))
        requests.get(server.url("/a.json"))   # 503, then 200 for every later request
        server.requests_to("/a.json")[0].header("User-Agent")

Each path has a queue of answers; the last one repeats once the queue is drained, so a single
``Answer(500)`` means "always 500". A path is matched with its query string first, then without.
Unscripted paths answer 404. Every request is recorded (method, path, headers).

Teardown (``stop()`` or leaving the ``with``) shuts the server down, closes its socket and joins
the serving thread and every handler thread, so nothing leaks a ResourceWarning.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Answer:
    """One scripted answer.

    ``hold`` keeps the client waiting that many seconds before the answer (released early when
    the server stops); ``content_length`` overrides the header, e.g. to promise more bytes than
    ``body`` has and so cut the body short.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hold: float = 0.0
    content_length: int | None = None


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # a client that never sends its request cannot hang teardown

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches on
        owner = self.server.owner
        owner._record(SeenRequest("GET", self.path, tuple(self.headers.items())))
        answer = owner._next_answer(self.path)
        if answer.hold:
            owner._released.wait(answer.hold)
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            length = len(answer.body) if answer.content_length is None else answer.content_length
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if answer.status != 304:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a read timeout); nothing to tell it any more

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # handler threads are joined by server_close()
    block_on_close = True
    owner: ScriptedHTTPServer


class ScriptedHTTPServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Answer]] = {}
        self._released = threading.Event()
        self.requests: list[SeenRequest] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> ScriptedHTTPServer:
        self._httpd = _Server((LOOPBACK, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="scripted-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ScriptedHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the URL's netloc (and the record/replay host folder)."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    # -- script and observations -----------------------------------------------------------------
    def script(self, path: str, *answers: Answer) -> None:
        if not answers:
            raise ValueError("script at least one answer")
        with self._lock:
            self._scripts[path] = deque(answers)

    def requests_to(self, path: str) -> list[SeenRequest]:
        """Requests whose path (query string ignored unless ``path`` has one) equals ``path``."""
        with self._lock:
            seen = list(self.requests)
        if "?" in path:
            return [r for r in seen if r.path == path]
        return [r for r in seen if urllib.parse.urlsplit(r.path).path == path]

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_answer(self, raw_path: str) -> Answer:
        with self._lock:
            queue = self._scripts.get(raw_path) or self._scripts.get(urllib.parse.urlsplit(raw_path).path)
            if queue is None:
                return Answer(
                    404, {"Content-Type": "text/plain"}, f"nothing scripted for {raw_path}".encode()
                )
            return queue.popleft() if len(queue) > 1 else queue[0]
