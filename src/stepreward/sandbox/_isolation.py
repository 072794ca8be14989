"""Kernel isolation primitives for sandbox tasks: rlimits, uid drop, Landlock, seccomp, netns.

Standard library only: this module is imported inside the template process, which runs with
``-S`` (no site-packages) and must stay small so that forking it stays cheap.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import struct
from collections.abc import Iterable

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
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
CLONE_THREAD = 0x00010000

_MACHINE = os.uname().machine


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Call prctl(2); raise OSError on failure."""
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


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
    unshare = _libc.unshare
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
    unshare = _libc.unshare
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
    mount = _libc.mount
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
    umount2 = _libc.umount2
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


# --------------------------------------------------------------------------- landlock

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
    ret = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
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
        self.ruleset_fd = _check(_libc.syscall(
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
            _check(_libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(self.ruleset_fd),
                                 ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), rule,
                                 ctypes.c_uint32(0)), f"landlock_add_rule({path})")
        finally:
            os.close(fd)

    def restrict(self) -> None:
        """Confine the calling process (and its future children) to this ruleset."""
        _check(_libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(self.ruleset_fd),
                             ctypes.c_uint32(0)), "landlock_restrict_self")


# --------------------------------------------------------------------------- seccomp

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# Syscall numbers per architecture.  Process creation, exec, tracing, sockets, namespaces and
# kernel-attack-surface calls are denied; signals may only target the task itself.
_NR: dict[str, dict[str, int]] = {
    "x86_64": {
        "socket": 41, "connect": 42, "bind": 49, "clone": 56, "fork": 57, "vfork": 58,
        "execve": 59, "kill": 62, "ptrace": 101, "rt_sigqueueinfo": 129, "personality": 135,
        "pivot_root": 155, "chroot": 161, "acct": 163, "mount": 165, "umount2": 166,
        "swapon": 167, "swapoff": 168, "reboot": 169, "init_module": 175, "delete_module": 176,
        "tkill": 200, "tgkill": 234, "kexec_load": 246, "add_key": 248, "request_key": 249,
        "keyctl": 250, "unshare": 272, "rt_tgsigqueueinfo": 297, "perf_event_open": 298,
        "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
        "process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
        "execveat": 322, "bpf": 321, "userfaultfd": 323, "pidfd_send_signal": 424,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "clone3": 435,
        "pidfd_getfd": 438,
        # SysV IPC, POSIX message queues and memfds: shared or pinned memory outside RLIMIT_AS.
        "shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66,
        "shmdt": 67, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71,
        "semtimedop": 220, "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242,
        "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245, "memfd_create": 319,
        "memfd_secret": 447,
    },
    "aarch64": {
        "socket": 198, "connect": 203, "bind": 200, "clone": 220, "execve": 221, "kill": 129,
        "ptrace": 117, "rt_sigqueueinfo": 138, "personality": 92, "pivot_root": 41,
        "chroot": 51, "acct": 89, "mount": 40, "umount2": 39, "swapon": 224, "swapoff": 225,
        "reboot": 142, "init_module": 105, "delete_module": 106, "tkill": 130, "tgkill": 131,
        "kexec_load": 104, "add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97,
        "rt_tgsigqueueinfo": 240, "perf_event_open": 241, "name_to_handle_at": 264,
        "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270,
        "process_vm_writev": 271, "finit_module": 273, "execveat": 281, "bpf": 280,
        "userfaultfd": 282, "pidfd_send_signal": 424, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "clone3": 435, "pidfd_getfd": 438,
        "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182, "mq_timedreceive": 183,
        "mq_notify": 184, "mq_getsetattr": 185, "msgget": 186, "msgctl": 187, "msgrcv": 188,
        "msgsnd": 189, "semget": 190, "semctl": 191, "semtimedop": 192, "semop": 193,
        "shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197, "memfd_create": 279,
        "memfd_secret": 447,
    },
}
_ALWAYS_DENIED = (
    "ptrace", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "tkill", "personality", "pivot_root",
    "chroot", "acct", "mount", "umount2", "swapon", "swapoff", "reboot", "init_module",
    "delete_module", "finit_module", "kexec_load", "add_key", "request_key", "keyctl",
    "unshare", "setns", "perf_event_open", "name_to_handle_at", "open_by_handle_at",
    "process_vm_readv", "process_vm_writev", "bpf", "userfaultfd", "pidfd_send_signal",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "pidfd_getfd", "execve",
    "execveat", "socket", "connect", "bind",
)
# Denied as well; listed apart because Sandbox.isolation names them as layers of their own.
IPC_SYSCALLS = (
    "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop",
    "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
)
MEMFD_SYSCALLS = ("memfd_create", "memfd_secret")

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16  # little-endian low word of args[0]


def seccomp_supported() -> bool:
    return _MACHINE in _NR and _MACHINE in _AUDIT_ARCH


class _Asm:
    """A tiny BPF assembler with forward labels (jump offsets are resolved at the end)."""

    def __init__(self) -> None:
        self.ins: list[tuple[int, object, object, int]] = []

    def op(self, code: int, k: int, jt: object = 0, jf: object = 0) -> None:
        self.ins.append((code, jt, jf, k))

    def label(self) -> int:
        return len(self.ins)

    def assemble(self, labels: dict[str, int]) -> bytes:
        out = bytearray()
        for i, (code, jt, jf, k) in enumerate(self.ins):
            def rel(target: object, i: int = i) -> int:
                if isinstance(target, str):
                    off = labels[target] - i - 1
                    if not 0 <= off < 256:
                        raise ValueError("seccomp jump out of range")
                    return off
                assert isinstance(target, int)
                return target
            out += struct.pack("=HBBI", code, rel(jt), rel(jf), k & 0xFFFFFFFF)
        return bytes(out)


PID_PLACEHOLDER = 0x7EADBEEF


def build_seccomp_filter(pid: int, *, allow_fork: bool) -> bytes:
    """Compile the task's seccomp program for the process ``pid``.

    Pass :data:`PID_PLACEHOLDER` to build once and :func:`patch_pid` per task.
    """
    nr = _NR[_MACHINE]
    a = _Asm()
    labels: dict[str, int] = {}
    eperm = _RET_ERRNO | errno.EPERM
    a.op(_BPF_LD_W_ABS, _OFF_ARCH)
    a.op(_BPF_JEQ_K, _AUDIT_ARCH[_MACHINE], 0, "kill")
    a.op(_BPF_LD_W_ABS, _OFF_NR)
    if _MACHINE == "x86_64":
        a.op(_BPF_JGE_K, 0x40000000, "kill", 0)  # x32 ABI aliases
    for name in (*_ALWAYS_DENIED, *IPC_SYSCALLS, *MEMFD_SYSCALLS):
        if name in nr:
            a.op(_BPF_JEQ_K, nr[name], "eperm", 0)
    # glibc falls back from clone3 to clone on ENOSYS, where flags can be inspected.
    a.op(_BPF_JEQ_K, nr["clone3"], "enosys", 0)
    if not allow_fork:
        for name in ("fork", "vfork"):
            if name in nr:
                a.op(_BPF_JEQ_K, nr[name], "eperm", 0)
        a.op(_BPF_JEQ_K, nr["clone"], "clone", 0)
    a.op(_BPF_JEQ_K, nr["kill"], "kill_call", 0)
    a.op(_BPF_JEQ_K, nr["tgkill"], "tgkill_call", 0)
    a.op(_BPF_RET_K, _RET_ALLOW)
    labels["clone"] = a.label()
    a.op(_BPF_LD_W_ABS, _OFF_ARG0_LO)
    a.op(_BPF_JSET_K, CLONE_THREAD, "allow", "eperm")
    labels["kill_call"] = a.label()
    a.op(_BPF_LD_W_ABS, _OFF_ARG0_LO)
    a.op(_BPF_JEQ_K, pid, "allow", 0)
    a.op(_BPF_JEQ_K, 0, "allow", "eperm")  # 0 = own process group; the task leads its own
    labels["tgkill_call"] = a.label()
    a.op(_BPF_LD_W_ABS, _OFF_ARG0_LO)
    a.op(_BPF_JEQ_K, pid, "allow", "eperm")
    labels["allow"] = a.label()
    a.op(_BPF_RET_K, _RET_ALLOW)
    labels["eperm"] = a.label()
    a.op(_BPF_RET_K, eperm)
    labels["enosys"] = a.label()
    a.op(_BPF_RET_K, _RET_ERRNO | errno.ENOSYS)
    labels["kill"] = a.label()
    a.op(_BPF_RET_K, _RET_KILL_PROCESS)
    return a.assemble(labels)


def patch_pid(program: bytes, pid: int) -> bytes:
    """Substitute the real pid into a filter built with :data:`PID_PLACEHOLDER`."""
    return program.replace(struct.pack("=I", PID_PLACEHOLDER), struct.pack("=I", pid))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: bytes) -> None:
    """Install a compiled filter on this (single-threaded) process; needs no_new_privs."""
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0),
           "seccomp")


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

