"""seccomp for sandbox tasks: the BPF filter a task installs on itself (no process creation,
exec, tracing, sockets, namespaces, SysV IPC or memfd), patched with the task's own pid.

Standard library only (the template process imports it).
"""

from __future__ import annotations

import ctypes
import errno
import struct

from stepreward.sandbox._syscalls import MACHINE, check, libc

__all__ = ["IPC_SYSCALLS", "MEMFD_SYSCALLS", "PID_PLACEHOLDER", "build_seccomp_filter",
           "install_seccomp", "patch_pid", "seccomp_supported"]

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
CLONE_THREAD = 0x00010000
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
    return MACHINE in _NR and MACHINE in _AUDIT_ARCH


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
    nr = _NR[MACHINE]
    a = _Asm()
    labels: dict[str, int] = {}
    eperm = _RET_ERRNO | errno.EPERM
    a.op(_BPF_LD_W_ABS, _OFF_ARCH)
    a.op(_BPF_JEQ_K, _AUDIT_ARCH[MACHINE], 0, "kill")
    a.op(_BPF_LD_W_ABS, _OFF_NR)
    if MACHINE == "x86_64":
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
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0),
           "seccomp")
