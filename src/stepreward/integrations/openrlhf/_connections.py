"""What keeps ``stepreward serve`` standing under many clients: a cap on open connections (a
connection over it gets one 503 and is closed), descriptors to serve them, and one JSON line per
log event."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import Protocol, cast

__all__ = ["ACCEPT_BURST", "LINGERING", "MAX_CONNECTIONS", "RESERVED_FDS", "JsonLogs", "Refusal",
           "raise_descriptor_limit"]


class JsonLogs(logging.Formatter):
    """One JSON object per log line: time, level, event and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": round(record.created, 3), "level": record.levelname,
                "event": record.getMessage()}
        data.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[1] is not None:
            # One line per event: the exception, not its traceback (clients can send junk
            # at will; a log that grows by a traceback per bad request is its own attack).
            exc = record.exc_info[1]
            data["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return json.dumps(data)


# Descriptors kept free of connections: the sandbox's pipes, scoring, logs (256); the sockets
# asyncio accepts in one go before any of them is counted (ACCEPT_BURST); refusals waiting for
# their client to read the 503 (LINGERING, the rest are closed at once).
RESERVED_FDS = 256
ACCEPT_BURST = 128
LINGERING = 64
MAX_CONNECTIONS = 10_000


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


class Counts(Protocol):
    """What a refusal reads and counts on its server."""

    max_connections: int
    _refused: int
    _lingering: int


class Refusal(asyncio.Protocol):
    """A connection over the cap: one 503 that names the limit, then closed (within 1 s)."""

    def __init__(self, server: Counts) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast("asyncio.Transport", transport)  # a TCP server's: a full transport
        self.transport = transport
        self.server._refused += 1
        body = json.dumps({"error": f"too many connections (limit "
                                    f"{self.server.max_connections}); retry later"}).encode()
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
                        b"\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: "
                        + str(len(body)).encode() + b"\r\n\r\n" + body)
        # Half-close, so the client reads the reply even while it is still sending; a client
        # that never closes its side is cut after a second. Past LINGERING such sockets,
        # close at once: under a flood, descriptors matter more than a polite goodbye.
        if self.server._lingering < LINGERING and transport.can_write_eof():
            self.server._lingering += 1
            transport.write_eof()
            self.timer = asyncio.get_running_loop().call_later(1.0, transport.abort)
        else:
            transport.close()

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        if self.transport is not None:
            self.transport.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
            self.server._lingering -= 1
