"""The monitor's outer defences: security headers (the Content-Security-Policy among them) on every
response, and request size limits.

:class:`Guard` wraps the whole application (outside Starlette's error handling, so that errors, 404s,
``/api/*`` and ``/static`` get the headers too):

- every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin``, a Content-Security-Policy (``frame-ancestors 'none'``) unless
  the response set its own, and, except ``/static``, ``Cache-Control: no-store``;
- a URL (path and query) over :data:`MAX_URL` bytes is answered 414, request headers over
  :data:`MAX_HEADERS` bytes 431, a body over :data:`MAX_BODY` bytes 413 (the server itself accepts
  up to :data:`SERVER_HEADER_LIMIT`, so that these get an answer instead of a closed connection).

An image of the file view is served with its own, stricter policy (:data:`IMAGE_CSP`: an SVG runs no
script and loads nothing).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "IMAGE_CSP", "MAX_BODY", "MAX_HEADERS", "MAX_URL", "SERVER_HEADER_LIMIT", "Guard", "TooLarge"]

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
#: The policy of an image the file view serves (PNG, SVG).
IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
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
