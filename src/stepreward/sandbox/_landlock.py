"""Landlock for sandbox tasks: a ruleset built once in the template, applied by each task.

Standard library only (the template process imports it).
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Iterable

from stepreward.sandbox._syscalls import check, libc

__all__ = ["LandlockPolicy", "landlock_abi"]

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE_CHAR = 1 << 6
_FS_MAKE_DIR = 1 << 7
_FS_MAKE_REG = 1 << 8
_FS_MAKE_SOCK = 1 << 9
_FS_MAKE_FIFO = 1 << 10
_FS_MAKE_BLOCK = 1 << 11
_FS_MAKE_SYM = 1 << 12
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1


def landlock_abi() -> int:
    """The Landlock ABI version of this kernel, 0 when unavailable."""
    ret = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return int(ret) if ret > 0 else 0


def _fs_access_for_abi(abi: int) -> int:
    access = (1 << 13) - 1
    if abi >= 2:
        access |= _FS_REFER
    if abi >= 3:
        access |= _FS_TRUNCATE
    if abi >= 5:
        access |= _FS_IOCTL_DEV
    return access


class LandlockPolicy:
    """A Landlock ruleset built once (in the template) and applied by each task child.

    Tasks may read beneath ``read_only``, read and write ``read_write_files``, and do anything
    but execute or make devices beneath ``read_write_dirs`` (the template's own directory for
    task work dirs, which only ever holds the one task running).  TCP bind/connect and, from
    ABI 6, signals and abstract unix sockets outside the domain are denied.
    """

    def __init__(self, abi: int, read_only: Iterable[str], read_write_files: Iterable[str],
                 read_write_dirs: Iterable[str]) -> None:
        self.abi = abi
        self.handled_fs = _fs_access_for_abi(abi)
        attr_bytes = self._attr()
        attr = ctypes.create_string_buffer(attr_bytes, len(attr_bytes))
        self.ruleset_fd = check(libc.syscall(
            _SYS_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(len(attr_bytes)),
            ctypes.c_uint32(0)), "landlock_create_ruleset")
        os.set_inheritable(self.ruleset_fd, False)
        seen: set[str] = set()
        for path in read_only:
            real = os.path.realpath(path)
            if real in seen or not os.path.exists(real):
                continue
            seen.add(real)
            is_dir = os.path.isdir(real)
            self._add(_FS_READ_FILE | (_FS_READ_DIR if is_dir else 0), real)
        for path in read_write_files:
            if os.path.exists(path):
                self._add(_FS_READ_FILE | _FS_WRITE_FILE, path)
        for path in read_write_dirs:
            self._add(self.handled_fs & ~(_FS_MAKE_CHAR | _FS_MAKE_BLOCK | _FS_EXECUTE
                                          | _FS_IOCTL_DEV), path)

    def _attr(self) -> bytes:
        fields = [self.handled_fs]
        if self.abi >= 4:
            fields.append(_NET_BIND_TCP | _NET_CONNECT_TCP)
        if self.abi >= 6:
            fields.append(_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL)
        return struct.pack(f"={len(fields)}Q", *fields)

    def _add(self, access: int, path: str) -> None:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            rule = ctypes.create_string_buffer(struct.pack("=Qi", access & self.handled_fs, fd),
                                               12)
            check(libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(self.ruleset_fd),
                                 ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), rule,
                                 ctypes.c_uint32(0)), f"landlock_add_rule({path})")
        finally:
            os.close(fd)

    def restrict(self) -> None:
        """Confine the calling process (and its future children) to this ruleset."""
        check(libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(self.ruleset_fd),
                             ctypes.c_uint32(0)), "landlock_restrict_self")
