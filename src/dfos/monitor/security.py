"""The monitor's outer defences: security headers on every response, request size limits, and the
login rate limiter.

:class:`Guard` wraps the whole application (outside Starlette's error handling, so that errors, 404s,
``/api/*`` and ``/static`` get the headers too):

- every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin``, a Content-Security-Policy (``frame-ancestors 'none'``) unless
  the response set its own, and, except ``/static``, ``Cache-Control: no-store``;
- a URL (path and query) over :data:`MAX_URL` bytes is answered 414, request headers over
  :data:`MAX_HEADERS` bytes 431, a body over :data:`MAX_BODY` bytes 413 (the server itself accepts
  up to :data:`SERVER_HEADER_LIMIT`, so that these get an answer instead of a closed connection).

:class:`LoginLimiter`: per client address, after :attr:`~LoginLimiter.free` failed logins each
further try waits twice as long as the one before (1 s, 2 s, 4 s ... at most 15 min); all clients
together get at most :attr:`~LoginLimiter.per_minute` failures a minute.  A locked-out try is
answered 429 with ``Retry-After`` and its password is not even looked at.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY", "MAX_HEADERS", "MAX_URL", "SERVER_HEADER_LIMIT", "Guard", "LoginLimiter", "TooLarge"]

#: The longest URL (path and query string, bytes) answered normally.
MAX_URL = 16 * 1024
#: The most bytes of request headers (names and values) answered normally.
MAX_HEADERS = 32 * 1024
#: The largest request body (forms: ToDo lists, POSTIT notes, certification decisions).
MAX_BODY = 2 * 1024 * 1024
#: What the HTTP server is told to buffer for a request head (uvicorn's h11 limit).
SERVER_HEADER_LIMIT = 64 * 1024

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")
_ALWAYS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin",
           "cross-origin-opener-policy": "same-origin"}


class TooLarge(Exception):
    """A request body over :data:`MAX_BODY`."""


def _plain(status: int, text: str, extra: dict[str, str] | None = None) -> tuple[Message, Message]:
    body = (text + "\n").encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body})


class Guard:
    """ASGI wrapper: size limits before the application sees a request, security headers after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers[name] = value
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = CSP
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            for message in refusal:
                await secured(message)
            return
        await self.app(scope, self._bounded(receive), secured)

    @staticmethod
    def _refusal(scope: Scope) -> tuple[Message, Message] | None:
        url = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string", b""))
        if url > MAX_URL:
            return _plain(414, f"URL too long: {url} bytes, at most {MAX_URL}")
        size = sum(len(k) + len(v) for k, v in scope.get("headers", []))
        if size > MAX_HEADERS:
            return _plain(431, f"request headers too large: {size} bytes, at most {MAX_HEADERS}")
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return _plain(400, "bad Content-Length")
                if length > MAX_BODY:
                    return _plain(413, f"request body too large: {length} bytes, at most {MAX_BODY}")
        return None

    @staticmethod
    def _bounded(receive: Receive) -> Receive:
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY:
                    raise TooLarge(f"request body over {MAX_BODY} bytes")
            return message

        return bounded


@dataclass
class _Client:
    failures: int = 0
    last: float = 0.0
    until: float = 0.0


class LoginLimiter:
    """Failed-login accounting with an injectable monotonic clock (see the module)."""

    def __init__(self, now: Callable[[], float] = time.monotonic, free: int = 5, per_minute: int = 30,
                 longest: float = 900.0, max_clients: int = 10_000) -> None:
        self.now = now
        self.free = free
        self.per_minute = per_minute
        self.longest = longest
        self.max_clients = max_clients
        self.clients: dict[str, _Client] = {}
        self.recent: deque[float] = deque()
        self.lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before its next try (0: it may try now)."""
        now = self.now()
        with self.lock:
            while self.recent and now - self.recent[0] >= 60.0:
                self.recent.popleft()
            waits = [0.0]
            if len(self.recent) >= self.per_minute:
                waits.append(self.recent[0] + 60.0 - now)
            entry = self.clients.get(client)
            if entry is not None:
                waits.append(entry.until - now)
            return max(waits)

    def failed(self, client: str) -> None:
        now = self.now()
        with self.lock:
            self.recent.append(now)
            entry = self.clients.get(client)
            if entry is None or now - entry.last > self.longest:
                entry = _Client()
            entry.failures += 1
            entry.last = now
            if entry.failures >= self.free:
                entry.until = now + min(2.0 ** (entry.failures - self.free), self.longest)
            self.clients[client] = entry
            if len(self.clients) > self.max_clients:
                for name in sorted(self.clients, key=lambda n: self.clients[n].last)[: len(self.clients) // 2]:
                    del self.clients[name]

    def succeeded(self, client: str) -> None:
        with self.lock:
            self.clients.pop(client, None)

    @staticmethod
    def retry_after(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))
