"""What every route shares: one-line JSON errors, the bearer token (or, without one, loopback
names only), body-size limits enforced while the body streams in, and a per-client limit on
requests in flight.

The limits are plain ASGI middleware, so they act before FastAPI parses anything: an upload
over its limit is refused from its Content-Length, or cut off as soon as the bytes read pass
the limit; the server never reads, or stores, the rest.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import logging
import re
import sqlite3
import threading
from urllib.parse import parse_qs
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import RtstyleError, UsageError

log = logging.getLogger(__name__)


SMALL_BODY = 64 * 1024


class ApiError(Exception):
    """A client's mistake: answered with `status` and {"error": message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class ErrorBody(BaseModel):
    """What every error answers, whatever its status."""

    error: str = Field(description="what went wrong, in one line", examples=["style: unknown style 'nope'"])


def error_responses(why: dict[int | str, str]) -> dict[int | str, dict]:
    """A route's `responses=`: each status in `why`, with what it means, answered as an `ErrorBody`."""
    return {status: {"model": ErrorBody, "description": text} for status, text in why.items()}


# What any route may answer, from the Guard or the error handlers: the routers declare these, each
# route what else it answers. "default" (any other status, a 405 say) keeps FastAPI from declaring
# its own 422 shape, which this server never sends.
ANY_ROUTE = {
    400: "a malformed request: its Host or Content-Length header, or its body",
    403: "a server without --token answers loopback names only: the Host header is not one",
    429: "too many requests in flight from this address (Retry-After)",
    500: "the server's own failure: a bug, or a data folder it may not write to (its log says more)",
    "default": "any other error",
}
TOKEN_ROUTE = {**ANY_ROUTE, 401: "missing or wrong token, on a server started with --token: send "
                                 "Authorization: Bearer TOKEN (or ?token=TOKEN)"}
JOBS_DB = {503: "the jobs database is locked by another process: try again (Retry-After)"}
DISK_FULL = {507: "the server's disk is full, or its quota used up"}


# the server's own storage failing: the operator's to fix, and the client's to know (not a bug)
STORAGE_ERRORS = {
    errno.ENOSPC: (507, "the server's disk is full"),
    errno.EDQUOT: (507, "the server's disk quota is used up"),
    errno.EACCES: (500, "the server may not write to its data folder"),
    errno.EROFS: (500, "the server's data folder is on a read-only file system"),
}


def add_error_handlers(app: FastAPI) -> None:
    """Every failure becomes {"error": "one line"}; a bug is logged with its traceback and answered
    500 without one."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message)

    @app.exception_handler(UsageError)
    async def _usage(request: Request, exc: UsageError):
        return error_response(422, str(exc))

    @app.exception_handler(RtstyleError)
    async def _rtstyle(request: Request, exc: RtstyleError):
        return error_response(422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(422, f"{where}: {first.get('msg', 'invalid request')}" if where else
                              first.get("msg", "invalid request"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error: {type(exc).__name__} (the server's log has the details)")

    @app.exception_handler(OSError)
    async def _storage(request: Request, exc: OSError):
        if exc.errno not in STORAGE_ERRORS:
            return await _bug(request, exc)
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(*STORAGE_ERRORS[exc.errno])

    @app.exception_handler(sqlite3.OperationalError)
    async def _database(request: Request, exc: sqlite3.OperationalError):
        if "locked" not in str(exc) and "busy" not in str(exc):
            return await _bug(request, exc)
        log.error("%s %s: the jobs database: %s", request.method, request.url.path, exc)
        return error_response(503, "the jobs database is locked by another process: try again later",
                              {"Retry-After": "5"})


class _Refuse:
    """Answer a request from middleware, before any route sees it."""

    def __init__(self, status: int, message: str, headers: list | None = None):
        self.status, self.body = status, json.dumps({"error": message}).encode()
        self.headers = headers or []

    async def __call__(self, send) -> None:
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"), *self.headers]})
        await send({"type": "http.response.body", "body": self.body})


class BodyTooLarge(ApiError):
    """Raised from inside a route's read of the body: the route's own error handling answers 413."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body passed the limit of {limit} bytes")


_HOST = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?")


def loopback_name(host: bytes) -> bool:
    """Whether a Host header (port or not) names this machine by a name no DNS answer can point
    elsewhere: localhost, *.localhost, 127.0.0.0/8, [::1]. Anything else, or not a well-formed
    host[:port], is not."""
    match = _HOST.fullmatch(host.decode("latin-1").strip().lower())
    if match is None or int(match["port"] or 0) > 65535:
        return False
    name = match["v6"] or match["name"].removesuffix(".")  # "localhost." is localhost, fully qualified
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: the token, the body limit of each route, and at most `per_client` requests
    in flight from one address (streams of events and MJPEG count too: they hold a worker).

    `/v1/health` is open: load balancers ask it without credentials. A server without a token is
    on loopback (the CLI binds nothing else without one) and answers only requests addressed to a
    loopback name: a web page whose own name its DNS later points at 127.0.0.1 (DNS rebinding)
    would otherwise reach it from the user's browser as if it were the same site."""

    OPEN = ("/v1/health",)

    def __init__(self, app, *, token: str | None, body_limit: Callable[[str], int], per_client: int):
        self.app, self.token, self.body_limit, self.per_client = app, token, body_limit, per_client
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        headers = dict(scope["headers"])
        if not self.token:
            hosts = [value for name, value in scope["headers"] if name == b"host"]
            if len(hosts) != 1:
                return await _Refuse(400, f"a request needs one Host header, not {len(hosts)}")(send)
            if not loopback_name(hosts[0]):
                return await _Refuse(403, f"Host {hosts[0].decode('latin-1')[:100]!r} is not a loopback name: a server "
                                          "without --token answers localhost, 127.0.0.1 and [::1] only")(send)
        if self.token and path.startswith("/v1/") and path not in self.OPEN and not self._authorised(headers, scope):
            return await _Refuse(401, "missing or wrong token: send Authorization: Bearer TOKEN",
                                 [(b"www-authenticate", b"Bearer")])(send)
        limit = self.body_limit(path)
        if not headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data"):
            limit = min(limit, SMALL_BODY)  # JSON and forms without files are read whole into memory
        try:
            length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            return await _Refuse(400, "Content-Length is not a number")(send)
        if length > limit:
            return await _Refuse(413, f"the request body is {length} bytes; the limit here is {limit}")(send)
        client = scope.get("client")[0] if scope.get("client") else "?"
        with self._lock:
            if self._in_flight.get(client, 0) >= self.per_client:
                busy = True
            else:
                busy = False
                self._in_flight[client] = self._in_flight.get(client, 0) + 1
        if busy:
            return await _Refuse(429, f"too many requests in flight from {client} (at most {self.per_client})",
                                 [(b"retry-after", b"1")])(send)
        read = 0

        async def limited_receive():
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge as exc:  # a route that did not catch it: answered here if it can be
            if not started:
                await _Refuse(exc.status, exc.message)(send)
        finally:
            with self._lock:
                self._in_flight[client] -= 1
                if not self._in_flight[client]:
                    del self._in_flight[client]

    def _authorised(self, headers: dict, scope) -> bool:
        token = self.token.encode()
        given = headers.get(b"authorization", b"")
        if given.startswith(b"Bearer ") and hmac.compare_digest(given[7:].strip(), token):
            return True
        # a browser's EventSource and <img> cannot send headers: they may carry ?token=
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return any(hmac.compare_digest(value.encode(), token) for value in query.get("token", []))
