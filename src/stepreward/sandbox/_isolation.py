"""Kernel isolation primitives for sandbox tasks: rlimits, uid drop, namespaces, mounts; and
Landlock (``_landlock``) and seccomp (``_seccomp``), re-exported here.

Standard library only: this module is imported inside the template process, which runs with
``-S`` (no site-packages) and must stay small so that forking it stays cheap.
"""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Iterable

from stepreward.sandbox._landlock import LandlockPolicy, landlock_abi
from stepreward.sandbox._seccomp import (
    IPC_SYSCALLS,
    MEMFD_SYSCALLS,
    PID_PLACEHOLDER,
    build_seccomp_filter,
    install_seccomp,
    patch_pid,
    seccomp_supported,
)
from stepreward.sandbox._syscalls import check, libc

__all__ = ["IPC_SYSCALLS", "MEMFD_SYSCALLS", "PID_PLACEHOLDER", "LandlockPolicy", "apply_rlimits",
           "build_seccomp_filter", "close_fds_except", "closed_ancestor", "direct_children",
           "drop_privileges", "enter_empty_netns", "enter_private_ipcns", "enter_private_mountns",
           "expose_paths", "install_seccomp", "landlock_abi", "mount_private_tmpfs", "mount_tmpfs",
           "patch_pid", "prctl", "remove_tree", "seccomp_supported", "set_child_subreaper",
           "set_dumpable", "set_no_new_privs", "set_pdeathsig", "vm_size_bytes"]

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNS = 0x00020000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Call prctl(2); raise OSError on failure."""
    return check(libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def set_pdeathsig(sig: int) -> None:
    """Deliver ``sig`` to this process when the thread that forked it exits."""
    prctl(PR_SET_PDEATHSIG, sig)


def set_child_subreaper() -> None:
    """Adopt orphaned descendants (so ``setsid`` grandchildren stay killable)."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_dumpable() -> None:
    prctl(PR_SET_DUMPABLE, 1)


def close_fds_except(low: int, keep: Iterable[int]) -> None:
    """Close every descriptor >= ``low`` except those in ``keep`` (close_range where possible)."""
    start = low
    for fd in sorted(k for k in set(keep) if k >= low):
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 20)


# --------------------------------------------------------------------------- network namespace


def enter_empty_netns() -> str | None:
    """Move this process into a new, empty network namespace (loopback down).

    Returns the way it was done ("netns" as root, "userns+netns" otherwise) or None.
    """
    unshare = libc.unshare
    unshare.argtypes = [ctypes.c_int]
    if os.geteuid() == 0 and unshare(CLONE_NEWNET) == 0:
        return "netns"
    # Unprivileged: a user namespace grants the capability to make a network namespace.
    # The uid map keeps our own uid, so files and permissions behave as before.
    uid, gid = os.geteuid(), os.getegid()
    if unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        return None
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    except OSError:
        pass
    return "userns+netns"


def _unshare(flags: int) -> bool:
    unshare = libc.unshare
    unshare.argtypes = [ctypes.c_int]
    return bool(unshare(flags) == 0)


def enter_private_ipcns() -> bool:
    """Move this process into a new, empty SysV IPC / POSIX message-queue namespace (root).

    Its children inherit it, so nothing they create is visible to the host or to other
    templates, and all of it is destroyed when the last process in it exits.
    """
    return os.geteuid() == 0 and _unshare(CLONE_NEWIPC)


def _mount(source: bytes | None, target: str, fstype: bytes | None, flags: int,
           options: bytes | None) -> bool:
    mount = libc.mount
    mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                      ctypes.c_char_p]
    return bool(mount(source, os.fsencode(target), fstype, flags, options) == 0)


def enter_private_mountns() -> bool:
    """Move this process into a new mount namespace whose mounts never propagate back (root).

    Mounts made in it exist only for this process and its children: they disappear with the
    template and its tasks even if they are SIGKILLed.
    """
    if os.geteuid() != 0 or not _unshare(CLONE_NEWNS):
        return False
    # Without this, mounts would propagate back to the host's (shared) mount tree.
    return _mount(b"none", "/", None, MS_REC | MS_PRIVATE, None)


def mount_tmpfs(path: str, size_bytes: int, inodes: int) -> bool:
    """Mount a size-limited tmpfs on ``path`` (in the private namespace entered before)."""
    opts = f"size={size_bytes},nr_inodes={inodes},mode=0711".encode()
    return _mount(b"stepreward", path, b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)


def mount_private_tmpfs(path: str, size_bytes: int, inodes: int) -> bool:
    """Mount a size-limited tmpfs on ``path`` in a new, private mount namespace (root).

    The mount exists only in this process's namespace: it disappears with the template and
    its tasks even if they are SIGKILLed, and the host sees only the empty directory below.
    """
    return enter_private_mountns() and mount_tmpfs(path, size_bytes, inodes)


def closed_ancestor(path: str) -> str | None:
    """The topmost directory above ``path`` that other users cannot traverse (no ``o+x``).

    Example:
        >>> closed_ancestor("/") is None
        True
    """
    current = "/"
    for part in [p for p in os.path.dirname(path).split("/") if p]:
        current = os.path.join(current, part)
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None
        if not mode & 0o001:
            return current
    return None


def expose_paths(paths: Iterable[str]) -> list[str]:
    """Make each of ``paths`` reachable by any uid at its own place, in this private mount
    namespace, where a directory above it is closed to other users (a 0700 home, a
    ``mktemp -d`` checkout): the topmost closed directory gets an empty tmpfs, and each path
    is bind-mounted back at its place inside it. The rest of the closed directory is hidden
    (from this process and its children only). Returns the paths bound.
    """
    by_root: dict[str, list[str]] = {}
    for path in paths:
        real = os.path.realpath(path)
        if not os.path.exists(real):
            continue
        root = closed_ancestor(real)
        if root is not None:
            by_root.setdefault(root, []).append(real)
    bound: list[str] = []
    for root, found in by_root.items():
        keep: list[str] = []  # outermost first; a path inside a kept one comes with it
        for path in sorted(set(found)):
            if not any(path.startswith(k + os.sep) for k in keep):
                keep.append(path)
        # Held open across the mount that hides them, and bound from the descriptors.
        fds = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in keep}
        try:
            if not _mount(b"stepreward-paths", root, b"tmpfs", MS_NOSUID | MS_NODEV,
                          b"mode=0755,size=1m"):
                continue
            for path, fd in fds.items():
                if os.path.isdir(f"/proc/self/fd/{fd}"):
                    _make_dirs(path)
                else:
                    _make_dirs(os.path.dirname(path))
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
                source = os.fsencode(f"/proc/self/fd/{fd}")
                if not (_mount(source, path, None, MS_BIND | MS_REC, None)
                        or _mount(source, path, None, MS_BIND | MS_REC, None)):
                    err = ctypes.get_errno()
                    # All or nothing: a half-built skeleton would hide what it did not bind.
                    _umount_detach(root)
                    raise OSError(err, f"could not bind {path} below the closed {root}")
                bound.append(path)
        finally:
            for fd in fds.values():
                os.close(fd)
    return bound


def _umount_detach(path: str) -> None:
    umount2 = libc.umount2
    umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    umount2(os.fsencode(path), 2)  # MNT_DETACH


def _make_dirs(path: str) -> None:
    """mkdir -p with mode 0755 whatever the umask (the skeleton must be traversable)."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        os.mkdir(directory)
        os.chmod(directory, 0o755)


def remove_tree(path: str) -> bool:
    """Delete ``path`` and everything below it without recursion or following symlinks.

    ``shutil.rmtree`` recurses once per directory level (CPython 3.10-3.12), so a task that
    builds a tree a few thousand levels deep makes it raise RecursionError.  This walks with
    an explicit stack of directory descriptors, so depth costs only descriptors (closed as
    it goes) and paths never grow.  Never raises; returns whether ``path`` is gone.
    """
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.unlink(path)
        except OSError:
            pass
        return not os.path.lexists(path)
    # Each entry: (descriptor of a directory, its name in the parent).  Descriptors of the
    # ancestors are not kept open: a parent is re-opened through ".." once a child is empty.
    stack_names: list[str] = []
    fd = top
    try:
        while True:
            descend: str | None = None
            try:
                with os.scandir(fd) as it:
                    for entry in it:
                        try:
                            is_dir = entry.is_dir(follow_symlinks=False)
                        except OSError:
                            is_dir = False
                        if is_dir:
                            try:
                                os.rmdir(entry.name, dir_fd=fd)
                            except OSError:
                                descend = entry.name
                                break
                        else:
                            try:
                                os.unlink(entry.name, dir_fd=fd)
                            except FileNotFoundError:
                                pass
            except OSError:
                pass
            if descend is not None:
                try:
                    child = os.open(descend, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                    | os.O_CLOEXEC, dir_fd=fd)
                except OSError:
                    descend = None
                else:
                    os.close(fd)
                    fd = child
                    stack_names.append(descend)
                    continue
            if not stack_names:
                break
            name = stack_names.pop()
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = parent
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError:
                # Something below could not be removed: stop rather than loop forever
                # (the caller learns from the return value that the tree is still there).
                break
    except OSError:
        pass
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass
    return not os.path.lexists(path)


# --------------------------------------------------------------------------- rlimits


def apply_rlimits(
    *,
    address_space: int | None,
    cpu_s: int,
    file_size: int,
    open_files: int,
    processes: int | None,
) -> None:
    """Apply the per-task resource limits (soft == hard except CPU, which gets a SIGKILL margin)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
    if address_space is not None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def drop_privileges(uid: int, gid: int) -> None:
    """Become an unprivileged uid/gid with no supplementary groups (only possible as root)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


# --------------------------------------------------------------------------- helpers


def vm_size_bytes() -> int:
    """Virtual size of this process (what RLIMIT_AS counts)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def direct_children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads), read from /proc."""
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    return kids

