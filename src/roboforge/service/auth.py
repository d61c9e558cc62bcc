"""Optional bearer-token authentication (ROBOFORGE_API_TOKEN) as plain ASGI middleware.

With a token set, every route but `/health` answers 401 unless the request carries
`Authorization: Bearer <token>` or the dashboard's cookie. Opening `/?token=<token>` once in a
browser sets that cookie (HttpOnly, SameSite=Strict) and redirects to `/`.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

COOKIE = "roboforge_token"
OPEN_PATHS = ("/health",)


class BearerAuth:
    """ASGI middleware: checks the token on every HTTP request except OPEN_PATHS."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode()

    def _ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token)

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
        if self._ok(bearer) or self._ok(from_cookie):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["path"] == "/" and self._ok((query.get("token") or [None])[0]):
            await _redirect_with_cookie(send, self.token.decode())
            return
        await _unauthorized(send)


async def _redirect_with_cookie(send, token: str) -> None:
    jar = SimpleCookie()
    jar[COOKIE] = token
    jar[COOKIE]["path"] = "/"
    jar[COOKIE]["httponly"] = True
    jar[COOKIE]["samesite"] = "Strict"
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
