"""The C library handle the sandbox's kernel calls go through, and their error check.

Standard library only (the template process imports it).
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["MACHINE", "check", "libc"]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.restype = ctypes.c_int
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
MACHINE = os.uname().machine


def check(ret: int, what: str) -> int:
    """``ret``, or an OSError naming ``what`` and the C library's errno when it is negative."""
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret
