"""Wire format between the pool (trainer side) and template processes: length-prefixed frames.

Only data crosses these pipes: JSON headers and raw byte blobs, never pickle.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30
# The result record a task child writes: magic, length, JSON body.  The template accepts a
# result channel only if it holds exactly one such record and nothing else.
RECORD_MAGIC = b"SRR1"
RECORD_HEADER = struct.Struct(">4sQ")


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed frame, or went away."""


class DeadlineExceeded(Exception):
    """No complete frame arrived before the deadline."""


def write_frames(fd: int, *chunks: bytes) -> None:
    """Write each chunk as one length-prefixed frame, in a single gathered write where possible."""
    parts: list[bytes] = []
    for chunk in chunks:
        parts.append(HEADER.pack(len(chunk)))
        parts.append(chunk)
    data = memoryview(b"".join(parts))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def write_json(fd: int, obj: Any, *blobs: bytes) -> None:
    write_frames(fd, json.dumps(obj, separators=(",", ":")).encode(), *blobs)


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded
            # poll, not select: trainer processes often hold more than FD_SETSIZE descriptors.
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
            if not poller.poll(max(1, int(remaining * 1000))):
                raise DeadlineExceeded
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise ProtocolError("peer closed the pipe")
        buf += chunk
    return bytes(buf)


def read_frame(fd: int, deadline: float | None = None, limit: int = MAX_FRAME) -> bytes:
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if size > limit:
        raise ProtocolError(f"frame of {size} bytes exceeds the limit of {limit}")
    return _read_exact(fd, size, deadline)


def read_json(fd: int, deadline: float | None = None) -> Any:
    raw = read_frame(fd, deadline)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"malformed JSON frame: {exc}") from None
