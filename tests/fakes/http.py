"""The shared base of the loopback API servers: threading, routing, request log, faults.

A `FakeServer` listens on 127.0.0.1 (port chosen by the OS) in a daemon thread. Subclasses
register routes and say how their platform formats rate-limit headers and errors; this
module owns everything that does not depend on the platform.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

JSON = dict[str, Any]


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass
class Request:
    """A received request, parsed just enough for the route handlers."""

    method: str
    url: str  # as the client addressed it: http://127.0.0.1:PORT/path?query
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route regex

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json_object(self) -> JSON | None:
        """The body as a JSON object; None when it is not one (the caller answers 400)."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def form(self) -> dict[str, list[str]]:
        """Fields of a form-urlencoded or multipart body (text fields only)."""
        if self.content_type == "application/x-www-form-urlencoded":
            return parse_qs(self.body.decode(), keep_blank_values=True)
        fields: dict[str, list[str]] = {}
        for part in self.parts():
            if part.filename is None:
                fields.setdefault(part.name, []).append(part.data.decode())
        return fields

    def parts(self) -> list[Part]:
        """The parts of a multipart/form-data body; empty for any other body."""
        if self.content_type != "multipart/form-data":
            return []
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
        parts = []
        for sub in message.iter_parts():
            name = sub.get_param("name", header="content-disposition")
            payload = sub.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                parts.append(Part(name, payload, sub.get_filename(), sub.get_content_type()))
        return parts

    def first(self, name: str) -> str | None:
        """A query parameter's first value."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status, body, {"Content-Type": "application/json; charset=utf-8"} | dict(headers or {})
    )


Handler = Callable[[Request], Response]


def sniff_mime(data: bytes) -> str | None:
    """The image type named by the file's magic bytes, as the real servers detect it."""
    signatures = {
        b"\x89PNG\r\n\x1a\n": "image/png",
        b"\xff\xd8\xff": "image/jpeg",
        b"GIF87a": "image/gif",
        b"GIF89a": "image/gif",
    }
    for magic, mime in signatures.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or GIF (None for other types)."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"GIF") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    return None


@dataclass
class Fault:
    """A scripted misbehaviour for the next `times` requests matching `method` and `path`.

    `path` is a regular expression searched in the request path (without the query);
    `method` is an HTTP verb or "*". With `when="before"` the request is not handled (nothing
    is stored); with `when="after"` it is handled (the post is stored) and its answer is then
    replaced, which models a response lost after the server acted. In both cases the server
    then sleeps `delay` seconds (long enough to make a client time out), and then either
    closes the connection without answering (`drop=True`), answers `status` with
    `body`/`headers`, or, with `status=None`, answers normally. With `skip=n` the first n
    matching requests are answered normally before the fault applies.
    """

    method: str
    path: str
    when: Literal["before", "after"] = "before"
    status: int | None = 500
    body: Any = None  # dict/list -> JSON, str/bytes as given, None -> the server's default
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    times: int = 1
    skip: int = 0  # let this many matching requests through first ("the 3rd POST fails")

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.search(self.path, path) is not None


class FakeServer:
    """A loopback HTTP server with routes, a request log, a fault queue and a clock.

    Subclasses call `route()` in `__init__` and implement `rate_limit_headers()`,
    `error_response()` and `too_many_requests()`.
    """

    rate_limit_window = 900.0  # seconds; subclasses set their platform's window

    def __init__(self, *, rate_limit: int = 300) -> None:
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str, str]] = []
        self.errors: list[BaseException] = []  # exceptions raised by handlers: fake bugs
        self.faults: list[Fault] = []
        self.rate_limit = rate_limit
        self._remaining = rate_limit
        self._window_ends = 0.0
        self._clock_offset = 0.0
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        httpd.daemon_threads = True
        httpd.block_on_close = False  # a fault may keep a handler asleep; do not wait for it
        self._httpd = httpd
        # a short poll interval keeps stop() (which waits for the serve loop) fast
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- clock -------------------------------------------------------------------------

    def now(self) -> float:
        """The server's clock (epoch seconds); `advance()` moves it forward."""
        return time.time() + self._clock_offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        with self.lock:
            self._clock_offset += seconds

    # -- faults and log ----------------------------------------------------------------

    def finish_processing(self) -> None:
        """Let all uploaded media finish processing now (servers keep `media` by id)."""
        with self.lock:
            for media in getattr(self, "media", {}).values():
                media.polls_left = 0

    def inject(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def inject_rate_limit(
        self, method: str = "*", path: str = ".*", *, reset_in: float = 60.0, times: int = 1
    ) -> Fault:
        """Answer the next matching request(s) with the platform's 429 and reset headers."""
        response = self.too_many_requests(self.now() + reset_in)
        return self.inject(
            Fault(
                method, path, status=429, body=response.body, headers=response.headers, times=times
            )
        )

    def count(self, method: str = "*", path_prefix: str = "/") -> int:
        with self.lock:
            return sum(
                1 for m, p, _ in self.requests if method in ("*", m) and p.startswith(path_prefix)
            )

    # -- for subclasses ----------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register `handler` for `method` and a full-match path regex (named groups)."""
        self._routes.append((method, re.compile(pattern), handler))

    def rate_limit_headers(self, limit: int, remaining: int, reset: float) -> dict[str, str]:
        raise NotImplementedError

    def error_response(self, status: int, message: str) -> Response:
        """The platform's error body for a generic `status` (404, 500, ...)."""
        raise NotImplementedError

    def too_many_requests(self, reset: float) -> Response:
        """The platform's 429 with reset headers; `reset` is epoch seconds."""
        raise NotImplementedError

    # -- dispatch (called by the request handler thread) -------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _fault_response(self, fault: Fault) -> Response:
        assert fault.status is not None
        body = fault.body
        if body is None:
            response = self.error_response(fault.status, "Injected fault")
        elif isinstance(body, dict | list):
            response = json_response(fault.status, body)
        else:
            data = body.encode() if isinstance(body, str) else bytes(body)
            response = Response(fault.status, data, {"Content-Type": "text/plain"})
        response.headers.update(fault.headers)
        return response

    def _handle(self, request: Request) -> Response:
        with self.lock:
            now = self.now()
            if now >= self._window_ends:
                self._window_ends = now + self.rate_limit_window
                self._remaining = self.rate_limit
            if self._remaining <= 0:
                return self.too_many_requests(self._window_ends)
            self._remaining -= 1
            response = self._dispatch(request)
            limits = self.rate_limit_headers(self.rate_limit, self._remaining, self._window_ends)
        for name, value in limits.items():
            response.headers.setdefault(name, value)
        return response

    def _dispatch(self, request: Request) -> Response:
        allowed = False
        path = request.path.rstrip("/") or "/"  # Rails routes accept a trailing slash
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != request.method:
                allowed = True
                continue
            request.params = match.groupdict()
            try:
                return handler(request)
            except Exception as exc:
                self.errors.append(exc)
                return self.error_response(500, f"fake server bug: {exc!r}")
        return self.error_response(405 if allowed else 404, "Not found")

    def serve(self, request: Request) -> Response | None:
        """Answer one request, applying faults; None means: drop the connection."""
        with self.lock:
            self.requests.append((request.method, request.path, urlsplit(request.url).query))
        fault = self._take_fault(request.method, request.path)
        response: Response | None = None
        if fault is None or fault.when == "after":
            response = self._handle(request)
        if fault is None:
            return response
        time.sleep(fault.delay)
        if fault.drop:
            return None
        if fault.status is None:
            return response if response is not None else self._handle(request)
        return self._fault_response(fault)


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            request = Request(
                method=self.command,
                url=f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}",
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers=CaseInsensitiveDict(self.headers.items()),
                body=body,
            )
            response = server.serve(request)
            if response is None:
                self.close_connection = True
                return
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout fault); that is the point

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(server.now() if timestamp is None else timestamp, usegmt=True)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return _Handler
