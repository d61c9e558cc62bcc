"""How `roboforge serve` runs uvicorn: timeouts and limits so slow or many clients cannot hold it.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but waits forever for the headers
of a request: a client that opens connections and sends a byte now and then keeps them all. The
protocol here drops a connection whose request headers are not complete within `request_timeout_s`
(the request guard bounds the body's time the same way), headers are at most `MAX_HEADER_BYTES`, and
at most `MAX_CONNECTIONS` connections are served at once (503 beyond).
"""

from __future__ import annotations

import asyncio
import errno
import socket

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from roboforge.service.config import ServiceCfg
from roboforge.utils.errors import UserInputError

MAX_HEADER_BYTES = 16 * 1024
"""Largest request line plus headers (h11's incomplete-event limit); larger is a 400."""
MAX_CONNECTIONS = 512
"""Connections served at once (uvicorn's limit_concurrency); more are answered 503."""
KEEP_ALIVE_S = 5
"""Idle keep-alive connections are closed after this many seconds."""


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, which also closes connections whose request headers come too slowly."""

    header_timeout_s: float = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request's headers are in
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request's headers get the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def protocol_class(timeout_s: float) -> type[HeaderTimeoutProtocol]:
    """HeaderTimeoutProtocol with its header timeout set."""
    return type("RoboforgeH11Protocol", (HeaderTimeoutProtocol,), {"header_timeout_s": timeout_s})


def uvicorn_config(app, cfg: ServiceCfg, log_level: str) -> uvicorn.Config:
    """uvicorn's settings for the service app."""
    return uvicorn.Config(
        app,
        log_level=log_level.lower(),
        access_log=False,
        http=protocol_class(cfg.request_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=MAX_CONNECTIONS,
        server_header=False,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port; a clear error when that is not possible."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UserInputError(f"Cannot listen on {host}:{port}: {err.strerror}. {_bind_advice(err)}") from err
    return sock


def _bind_advice(err: OSError) -> str:
    """What to change when the bind failed: the port (in use, or privileged) or the host (no such name, or
    not an address of this machine)."""
    if err.errno == errno.EADDRINUSE:
        return "Stop the program using it or pick another --port."
    if err.errno == errno.EACCES:
        return "Ports below 1024 need root; pick another --port."
    return (
        "Give --host an address of this machine: 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)."
    )
