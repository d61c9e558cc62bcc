"""The request guard: plain ASGI middleware in front of every route (and of the token check).

- **Host**: only the configured names (loopback names, the bind host, `base_url`'s host,
  `--allowed-hosts`) are answered; anything else is 400, so a page on another site cannot reach the
  service through DNS rebinding.
- **Origin**: a state-changing request (POST ...) whose Origin (or Referer) is not the service's own
  is 403: no cross-site form or script can start, cancel or resume jobs.
- **Body**: at most `MAX_BODY_BYTES` (413; Content-Length and the bytes actually received, so chunked
  bodies count too), within `request_timeout_s` (408), JSON only (415), and no NaN, Infinity or
  number that overflows (422 naming the field), nested at most `MAX_JSON_DEPTH` levels.
- **Headers**: every answer carries `X-Content-Type-Options: nosniff` and `X-Frame-Options: DENY`.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any
from urllib.parse import urlsplit

from roboforge.service.config import ServiceCfg
from roboforge.service.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, depth
from roboforge.service.responses import validation_content

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALWAYS_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
_NOT_FINITE = object()
_TOO_LONG = object()
MAX_NUMBER_CHARS = 40
"""Longest number literal in a request body."""


class Rejected(Exception):
    """A request the guard answers itself: status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(status)
        self.status, self.body = status, body


def reject(status: int, detail: str) -> Rejected:
    return Rejected(status, {"detail": detail})


class RequestGuard:
    """ASGI middleware: Host, Origin, Content-Type, body size and JSON checks (see the module doc)."""

    def __init__(self, app, cfg: ServiceCfg, max_body: int = MAX_BODY_BYTES):
        self.app, self.cfg, self.max_body = app, cfg, max_body
        self.any_host = "*" in cfg.allowed_hosts
        self.names = cfg.host_names
        public = urlsplit(cfg.public_url)
        self.public_origin = f"{public.scheme}://{public.netloc}".lower()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            self.check_host(headers.get("host"))
            length = content_length(headers, self.max_body)
            if scope["method"] not in SAFE_METHODS:
                self.check_origin(scope, headers)
                body = await read_body(receive, length, self.max_body, self.cfg.request_timeout_s)
                if body is None:
                    return  # the client went away
                check_content_type(headers.get("content-type"), body)
                check_json(body)
                receive = _replay(body, receive)
        except Rejected as err:
            await send_json(send, err.status, err.body)
            return
        await self.app(scope, receive, send)

    def check_host(self, host: str | None) -> None:
        """400 unless `host` (the Host header) names this service."""
        if self.any_host:
            return
        name = host_name(host or "")
        if name not in self.names:
            allowed = ", ".join(sorted(self.names))
            raise reject(
                400,
                f"This service does not answer to host {name or '(none)'!r}; it answers to {allowed}. "
                "Start it with --allowed-hosts NAME to add names.",
            )

    def check_origin(self, scope, headers: dict[str, str]) -> None:
        """403 if the Origin (or, without one, the Referer) of a state-changing request is another site's."""
        origin = headers.get("origin")
        if origin is None and headers.get("referer"):
            parts = urlsplit(headers["referer"])
            origin = f"{parts.scheme}://{parts.netloc}"
        if origin is None:
            return  # not sent by a browser page: curl, scripts, the API's own clients
        own = {self.public_origin}
        if headers.get("host"):
            own.add(f"{scope.get('scheme', 'http')}://{headers['host']}".lower())
        if origin.strip().lower() not in own:
            raise reject(
                403,
                f"Cross-site request refused: Origin {origin[:100]!r} is not this service "
                f"({self.public_origin}). Use the dashboard of this service, or a client that sends no Origin.",
            )


def host_name(host: str) -> str:
    """'Example.org:8000' -> 'example.org', '[::1]:8000' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def content_length(headers: dict[str, str], limit: int) -> int | None:
    """The declared body size (None when not declared); 413 above `limit`, 400 when not a number."""
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise reject(400, f"Content-Length {raw[:40]!r} is not a number.") from None
    if length > limit:
        raise too_large(limit)
    return length


def too_large(limit: int) -> Rejected:
    return reject(413, f"The request body is larger than {limit // 1024} KiB; send at most {limit} bytes.")


async def read_body(receive, length: int | None, limit: int, timeout_s: float) -> bytes | None:
    """The whole body (None if the client disconnected); 413 past `limit` bytes, 408 after `timeout_s`."""
    if length == 0:
        return b""
    chunks, size = [], 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
        except asyncio.TimeoutError:
            raise reject(408, f"The request body did not arrive within {timeout_s:g} s.") from None
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def check_content_type(content_type: str | None, body: bytes) -> None:
    """415 for a state-changing request declared as anything but JSON (form posts, text/plain), or
    with a body and no Content-Type."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not media and not body:
        return
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise reject(
            415,
            f"The body must be JSON: send 'Content-Type: application/json' (got {media[:60] or 'none'!r}).",
        )


def check_json(body: bytes) -> None:
    """422 for a body that is not JSON, nests too deeply or holds NaN, Infinity or an overflowing number."""
    if not body:
        return
    too_deep = f"the body nests more than {MAX_JSON_DEPTH} levels of lists and objects."
    try:
        doc = json.loads(body, parse_constant=lambda _: _NOT_FINITE, parse_float=_float, parse_int=_int)
        if depth(doc) > MAX_JSON_DEPTH:
            raise _invalid(("body",), too_deep, "json_invalid")
    except RecursionError:
        raise _invalid(("body",), too_deep, "json_invalid") from None
    except json.JSONDecodeError as err:
        raise _invalid(
            ("body",), f"invalid JSON at character {err.pos}: {err.msg}.", "json_invalid"
        ) from None
    except ValueError as err:  # not UTF-8 and the like
        raise _invalid(("body",), f"invalid JSON: {str(err)[:100]}.", "json_invalid") from None
    found = _find_bad_number(doc, ("body",))
    if found is not None:
        loc, marker = found
        reason = (
            "NaN and infinite numbers are not allowed (JSON has none; 1e400 overflows to infinity)."
            if marker is _NOT_FINITE
            else f"numbers are at most {MAX_NUMBER_CHARS} characters long."
        )
        raise _invalid(loc, reason, "finite_number")


def _float(text: str) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        return _TOO_LONG
    value = float(text)
    return value if math.isfinite(value) else _NOT_FINITE


def _int(text: str) -> Any:
    return int(text) if len(text) <= MAX_NUMBER_CHARS else _TOO_LONG


def _find_bad_number(value: Any, loc: tuple) -> tuple[tuple, object] | None:
    if value is _NOT_FINITE or value is _TOO_LONG:
        return loc, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _find_bad_number(item, (*loc, key))
        if found is not None:
            return found
    return None


def _invalid(loc: tuple, msg: str, kind: str) -> Rejected:
    return Rejected(422, validation_content([{"type": kind, "loc": list(loc), "msg": msg, "input": None}]))


def _replay(body: bytes, receive):
    """A `receive` that yields the already-read body once, then waits on the real one (disconnects)."""
    pending = True

    async def replay():
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_headers(send):
    """A `send` that adds ALWAYS_HEADERS to the response start (unless the app set them)."""

    async def wrapped(message):
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in ALWAYS_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def send_json(send, status: int, body: dict[str, Any]) -> None:
    """Answer with a JSON body."""
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
