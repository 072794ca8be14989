"""A task process forked ahead of its job, and the channels the template reads it through:
stdout, stderr and the result record, each kept up to the job's cap."""

from __future__ import annotations

import os

from stepreward.sandbox._protocol import RECORD_HEADER, RECORD_MAGIC

__all__ = ["Channel", "Spare", "parse_record"]


class Spare:
    """A forked, confined task process waiting for its job on a pipe, and its channels."""

    __slots__ = ("ctl_w", "err_fd", "in_fd", "in_ro", "out_fd", "pid", "res_fd", "work_dir",
                 "writers")

    def __init__(self, out_fd: int, err_fd: int, res_fd: int, writers: tuple[int, ...],
                 in_fd: int, in_ro: int, work_dir: str) -> None:
        self.out_fd, self.err_fd, self.res_fd = out_fd, err_fd, res_fd  # read ends
        self.writers = writers  # stdout, stderr, result: the task's ends
        self.in_fd, self.in_ro = in_fd, in_ro
        self.work_dir = work_dir
        self.ctl_w = -1
        self.pid = -1


class Channel:
    """What the template keeps of one output channel: the first ``cap + 1`` bytes, and how
    many bytes it read in all (more than ``cap`` ends the task)."""

    __slots__ = ("cap", "data", "size")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.size = 0

    def drain(self, fd: int) -> bool:
        """Read what is there; False at end of file (every writer gone)."""
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self.size += len(chunk)
            room = self.cap + 1 - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if self.size > self.cap:
                return True


def parse_record(channel: Channel, cap: int) -> tuple[bytes | None, str | None]:
    """The JSON body of the child's single result record, or a reason why there is none."""
    size = channel.size
    if size == 0:
        return None, "missing"
    if size < RECORD_HEADER.size or size > cap + RECORD_HEADER.size:
        return None, (f"result channel holds {size} bytes" if size <= channel.cap else
                      f"result channel holds over the job's limit of {cap} bytes")
    data = bytes(channel.data)
    magic, length = RECORD_HEADER.unpack_from(data, 0)
    if magic != RECORD_MAGIC or RECORD_HEADER.size + length != size:
        return None, "result channel does not hold exactly one well-formed record"
    return data[RECORD_HEADER.size:], None
