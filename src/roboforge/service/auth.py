"""Optional bearer-token authentication (ROBOFORGE_API_TOKEN) as plain ASGI middleware.

With a token set, every route but `/health` answers 401 unless the request carries
`Authorization: Bearer <token>` or the dashboard's cookie. Opening `/?token=<token>` once in a
browser sets that cookie (HttpOnly, SameSite=Strict, Secure behind https) and redirects to `/`. The
cookie holds a session value, an HMAC of the token under a random key of this process, never the
token itself: it is worthless elsewhere and ends when the service restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

COOKIE = "roboforge_session"
OPEN_PATHS = ("/health",)


class BearerAuth:
    """ASGI middleware: checks the token on every HTTP request except OPEN_PATHS."""

    def __init__(self, app, token: str, secure_cookie: bool = False):
        self.app = app
        self.token = token.encode()
        self.secure_cookie = secure_cookie
        self.session = hmac.new(secrets.token_bytes(32), self.token, hashlib.sha256).hexdigest().encode()

    def _ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token)

    def _session_ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.session)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header counts as no cookie
            cookie = SimpleCookie()
        from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
        if self._ok(bearer) or self._session_ok(from_cookie):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["path"] == "/" and self._ok((query.get("token") or [None])[0]):
            await _redirect_with_cookie(send, self.session.decode(), self.secure_cookie)
            return
        await _unauthorized(send)


async def _redirect_with_cookie(send, session: str, secure: bool) -> None:
    jar = SimpleCookie()
    jar[COOKIE] = session
    jar[COOKIE]["path"] = "/"
    jar[COOKIE]["httponly"] = True
    jar[COOKIE]["samesite"] = "Strict"
    if secure:
        jar[COOKIE]["secure"] = True
    cookie = jar[COOKIE].OutputString()
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _unauthorized(send) -> None:
    body = json.dumps(
        {
            "detail": "Missing or wrong API token. Send 'Authorization: Bearer <token>' (the value of "
            "ROBOFORGE_API_TOKEN on the server); in a browser open /?token=<token> once."
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="roboforge"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
