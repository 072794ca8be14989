"""The template ("zygote") process: pre-imports, then forks one isolated child per task.

Runs as ``python -s -S -B -c ...`` in a scrubbed environment; standard library only.  The pool
talks to it over two pipes (requests in, responses out).  For each task it forks, the child
confines itself and runs the code, and the template (not the child) decides the verdict from
the exit status, the rusage, the output sizes and a result record that it treats as untrusted
data.
"""

from __future__ import annotations

import builtins
import fcntl
import gc
import importlib
import json
import math
import os
import select
import signal
import sys
import tempfile
import time
from typing import Any

from stepreward.sandbox import _isolation as iso
from stepreward.sandbox._channels import Channel, Spare, parse_record
from stepreward.sandbox._imports import (
    SYSTEM_READ_ONLY,
    NotPreloaded,
    can_read,
    import_via_fds,
    task_import_paths,
)
from stepreward.sandbox._protocol import RECORD_HEADER, ProtocolError, read_json, write_json
from stepreward.sandbox._task import (
    EXIT_SETUP_FAILED,
    Quitter,
    clear_progress,
    last_progress,
    open_progress_page,
    report_and_exit,
    report_progress,
    run_task,
)

__all__ = ["DEFAULT_PRELOAD", "EXEC_RECORD_BYTES", "EXIT_SETUP_FAILED", "Template", "main",
           "report_and_exit", "report_progress"]

# Modules imported before forking, so tasks get them for free.  Every megabyte the template
# holds costs each fork about 60 us, so this list is short; any other standard-library module
# is imported lazily by the task itself, through directory descriptors (_imports.import_via_fds).
DEFAULT_PRELOAD = (
    "abc", "bisect", "cmath", "collections", "collections.abc", "copy", "dataclasses",
    "datetime", "enum", "fractions", "functools", "heapq", "io", "itertools", "json", "math",
    "numbers", "operator", "random", "re", "string", "struct", "textwrap", "time", "traceback",
    "types", "typing", "unicodedata", "warnings",
    # stepreward's own task-side modules (standard library only), named, not imported, here.
    "stepreward.values", "stepreward.trace._child", "stepreward.codegen._child",
)
# What a plain program's record needs: its status and a short error (messages are cut to 2,000
# characters, which JSON escaping can make six times longer). Only a call's value needs more.
EXEC_RECORD_BYTES = 64 << 10
# The result pipe holds this much, so a large record crosses in a few wake-ups; output pipes
# keep the kernel's default (64 KiB).
_RESULT_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031


class _Shutdown(BaseException):
    """Raised by the SIGTERM handler: the pool is closing."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Shutdown


class _Config:
    def __init__(self, hello: dict[str, Any]) -> None:
        self.uid: int | None = hello.get("uid")
        self.hash_seed: int = hello.get("hash_seed", 0)
        self.base_dir: str = hello["base_dir"]
        self.preload: list[str] = list(hello.get("preload", []))
        self.want_isolation: bool = hello.get("isolation", "full") == "full"
        self.sweep_uids: list[int] = [int(u) for u in hello.get("sweep_uids", [])]
        self.workdir_mb: int = int(hello.get("workdir_mb", 64))
        self.preload_paths: list[str] = [str(p) for p in hello.get("preload_paths", [])]


class Template:
    def __init__(self, cfg: _Config, req_fd: int, resp_fd: int) -> None:
        self.cfg = cfg
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.pid = os.getpid()
        self.layers: list[str] = ["rlimits", "deadline", "workdir", "env"]
        self.netns: str | None = None
        self.use_uid = False
        self.landlock: iso.LandlockPolicy | None = None
        self.use_seccomp = False
        self.ipcns_per_task = False  # fallback when seccomp cannot refuse the IPC calls
        self.has_ipcns = False
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.preload_errors: dict[str, str] = {}
        self.current: int | None = None  # pid of the task child in flight
        self.spare: Spare | None = None  # the next task's process, forked ahead of time
        self.keep_fds: list[int] = []  # descriptors every task keeps (import directories)
        self.seccomp_filters: dict[bool, bytes] = {}
        self.exposed: list[str] = []  # import paths bound past a closed directory
        self.unreadable: list[str] = []  # import paths the task uid still cannot read
        self.import_paths: list[str] = []  # what tasks import from, where it exists

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        if os.geteuid() == 0:
            # Leftovers of a template that died (its tasks ran as these uids).
            for uid in self.cfg.sweep_uids:
                self._kill_all_of_uid(uid)
        try:
            iso.set_child_subreaper()
            self.layers.append("subreaper")
        except OSError:
            pass
        # Searched for the pre-loaded third-party packages only; Landlock keeps tasks out of
        # everything else in these directories (see _task_import_paths).
        sys.path.extend(p for p in self.cfg.preload_paths if p not in sys.path)
        # Native thread pools (numpy's OpenBLAS, OpenMP, MKL) size themselves to the cores
        # when loaded: threads started in the template die at each fork, and a task that
        # restarts them counts each against its process limit (RLIMIT_NPROC under the task
        # uid), where a failed thread start can abort the library. A task is one core.
        os.environ.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                           "MKL_NUM_THREADS": "1"})
        for name in self.cfg.preload:
            try:
                importlib.import_module(name)
            except Exception as exc:
                self.preload_errors[name] = f"{type(exc).__name__}: {exc}"
        os.makedirs(self.cfg.base_dir, mode=0o711, exist_ok=True)
        os.chmod(self.cfg.base_dir, 0o711)
        if self.cfg.want_isolation:
            # A private IPC namespace: whatever gets past the seccomp refusal below (or
            # everything, without seccomp) stays out of the host's and other workers' sight.
            self.has_ipcns = iso.enter_private_ipcns()
            if self.has_ipcns:
                self.layers.append("ipcns")
            # What tasks must be able to read, as it exists before any mount hides a part of it.
            self.import_paths = [p for p in task_import_paths(self.cfg.preload)
                                 if os.path.exists(p)]
            if iso.enter_private_mountns():
                # The interpreter, stepreward and the pre-loaded packages may live below a
                # directory only their owner can enter (a 0700 home or checkout); tasks run
                # as another uid, so each is bound back at its own path, in this namespace,
                # past the closed directory (which tasks no longer see at all).
                if self.cfg.uid is not None:
                    try:
                        self.exposed = iso.expose_paths([
                            *task_import_paths(self.cfg.preload),
                            *(p for p in sys.path if p and os.path.isdir(p)),
                            self.cfg.base_dir])
                    except OSError:  # the probe below says what tasks still cannot read
                        self.exposed = []
                # Work dirs live on a tmpfs of bounded size and inode count: a task cannot
                # fill the host's disk, and the files it writes (which do not count against
                # RLIMIT_AS) are capped per worker.
                if iso.mount_tmpfs(self.cfg.base_dir, self.cfg.workdir_mb << 20,
                                   max(1024, self.cfg.workdir_mb * 256)):
                    self.layers.append("workdir-tmpfs")
            self.netns = iso.enter_empty_netns()
            if self.netns:
                self.layers.append(self.netns)
            self._probe()
        open_progress_page()
        self.vm_base = iso.vm_size_bytes()
        # Objects that exist now are never collected in children: no copy-on-write storms.
        gc.collect()
        gc.freeze()

    def _probe(self) -> None:
        """Try each confinement layer in a throwaway child and keep the ones that work."""
        abi = iso.landlock_abi()
        policy = None
        if abi:
            try:
                policy = iso.LandlockPolicy(abi, [*task_import_paths(self.cfg.preload),
                                                  *SYSTEM_READ_ONLY],
                                            [os.devnull], [self.cfg.base_dir])
            except OSError:
                policy = None
        probe_dir = tempfile.mkdtemp(prefix="probe-", dir=self.cfg.base_dir)
        uid = self.cfg.uid if os.geteuid() == 0 else None
        if uid is not None:
            os.chown(probe_dir, uid, uid)
        import_paths = self.import_paths
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            bits = 0
            try:
                os.close(report_r)
                iso.set_no_new_privs()
                if uid is not None:
                    try:
                        iso.drop_privileges(uid, uid)
                        bits |= 1
                    except OSError:
                        pass
                if policy is not None:
                    try:
                        policy.restrict()
                        bits |= 2
                    except OSError:
                        pass
                if bits & 1:  # what a task could not read, as the task would read it
                    blocked = [p for p in import_paths if not can_read(p)]
                    os.write(report_w, json.dumps(blocked[:16]).encode())
                if iso.seccomp_supported():
                    try:
                        iso.install_seccomp(iso.build_seccomp_filter(os.getpid(), allow_fork=False))
                        bits |= 4
                    except OSError:
                        pass
            finally:
                os._exit(bits)
        os.close(report_w)
        report = b""
        while chunk := os.read(report_r, 65536):
            report += chunk
        os.close(report_r)
        _, status = os.waitpid(pid, 0)
        iso.remove_tree(probe_dir)
        try:
            self.unreadable = [str(p) for p in json.loads(report or b"[]")]
        except ValueError:
            self.unreadable = []
        bits = os.waitstatus_to_exitcode(status)
        bits = bits if bits >= 0 else 0
        if bits & 1:
            self.use_uid = True
            self.layers.append("uid")
            self.keep_fds = import_via_fds()
        if bits & 2 and policy is not None:
            self.landlock = policy
            self.layers.append(f"landlock-abi{abi}")
        if bits & 4:
            self.use_seccomp = True
            self.layers += ["seccomp", "no-sysv-ipc", "no-memfd"]
            self.seccomp_filters = {
                allow: iso.build_seccomp_filter(iso.PID_PLACEHOLDER, allow_fork=allow)
                for allow in (False, True)}
        elif self.has_ipcns:
            self.ipcns_per_task = True
            self.layers.append("ipcns-per-task")


    # ------------------------------------------------------------------ loop

    def serve(self) -> None:
        write_json(self.resp_fd, {
            "pid": self.pid,
            "isolation": self.layers,
            "python": sys.version.split()[0],
            "vm_base": self.vm_base,
            "preload_errors": self.preload_errors,
            "exposed": self.exposed,
            "unreadable": self.unreadable,
        })
        signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            self.spare = self._make_spare()
            while True:
                try:
                    req = read_json(self.req_fd)
                except ProtocolError:
                    break  # the pool went away
                header, blobs = self.handle(req)
                write_json(self.resp_fd, header, *blobs)
                # Fork the next task's process now, while the pool digests this answer.
                self.spare = self._make_spare()
        except (_Shutdown, OSError):
            pass
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for pid in (self.current, self.spare.pid if self.spare else None):
                if pid is not None:
                    self._kill_task(pid)
                    try:
                        os.waitpid(pid, 0)
                    except OSError:
                        pass
            self._sweep()
            iso.remove_tree(self.cfg.base_dir)

    def _make_spare(self) -> Spare:
        """Fork a task process and confine it as far as no job is needed; it then waits."""
        # stdout, stderr and the result go through pipes that the template drains while the
        # task runs, keeping at most the job's cap of each: a file would let the task pin its
        # size in shared memory (posix_fallocate or plain writes, up to RLIMIT_FSIZE each).
        # stdin is a memfd that the task gets read-only.
        out_r, out_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        err_r, err_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        res_r, res_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        for w in (out_w, err_w, res_w):  # the task blocks on a full pipe; it never spins
            os.set_blocking(w, True)
        try:
            fcntl.fcntl(res_w, _F_SETPIPE_SZ, _RESULT_PIPE_BYTES)
        except OSError:
            pass
        in_fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
        try:
            in_ro = os.open(f"/proc/self/fd/{in_fd}", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # no /proc: the task's stdin stays writable, within RLIMIT_FSIZE
            in_ro = os.dup(in_fd)
        spare = Spare(out_r, err_r, res_r, (out_w, err_w, res_w), in_fd, in_ro,
                       work_dir=tempfile.mkdtemp(prefix="t", dir=self.cfg.base_dir))
        if self.use_uid and self.cfg.uid is not None:
            os.chown(spare.work_dir, self.cfg.uid, self.cfg.uid)
        ctl_r, spare.ctl_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # children must not inherit buffered template output
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the task child
            os.close(spare.ctl_w)
            self._child(spare, ctl_r)
        os.close(ctl_r)
        # Only the task holds the write ends: end of file on a channel means it (and whatever
        # it started) is gone. stdin is the task's to fill.
        for fd in (*spare.writers, in_fd, in_ro):
            os.close(fd)
        spare.writers = ()
        spare.in_fd = spare.in_ro = -1
        spare.pid = pid
        return spare

    def _release(self, spare: Spare) -> None:
        for fd in (spare.out_fd, spare.err_fd, spare.res_fd, spare.in_fd, spare.in_ro,
                   spare.ctl_w, *spare.writers):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        iso.remove_tree(spare.work_dir)

    def _launch(self, req: dict[str, Any]) -> Spare:
        """Hand the job to the waiting task process (forking a new one if it is gone)."""
        data = json.dumps(req, separators=(",", ":")).encode("utf-8", "surrogatepass")
        for _ in range(2):
            spare = self.spare or self._make_spare()
            self.spare = None
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(spare.ctl_w, view):]
                os.close(spare.ctl_w)
                spare.ctl_w = -1
                return spare
            except OSError:  # it died while waiting: reap it and try a fresh one
                self._kill_task(spare.pid)
                os.waitpid(spare.pid, 0)
                self._release(spare)
        raise RuntimeError("could not start a task process")

    def handle(self, req: dict[str, Any]) -> tuple[dict[str, Any], tuple[bytes, bytes, bytes]]:
        lim = req["limits"]
        max_out = int(lim["max_output_bytes"])
        max_res = int(lim["max_result_bytes"])
        if req.get("op") != "call":
            max_res = min(max_res, EXEC_RECORD_BYTES)
        timeout = float(lim["timeout_s"])
        progress_s = lim.get("progress_timeout_s")
        clear_progress()
        t0 = time.monotonic()
        spare = self._launch(req)
        pid = spare.pid
        self.current = pid
        channels = {spare.out_fd: Channel(max_out), spare.err_fd: Channel(max_out),
                    spare.res_fd: Channel(RECORD_HEADER.size + max_res)}
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = -1
        try:
            timed_out, overflow = self._watch(pid, pidfd, channels, t0, timeout,
                                              float(progress_s) if progress_s else None)
            if timed_out or overflow:
                self._kill_task(pid)
            _, status, rusage = os.wait4(pid, 0)
            self.current = None
        finally:
            if pidfd >= 0:
                os.close(pidfd)
        duration = time.monotonic() - t0
        leftovers = self._sweep()
        for fd, channel in channels.items():  # what the task wrote before it ended
            channel.drain(fd)
        out, err, res = (channels[fd] for fd in (spare.out_fd, spare.err_fd, spare.res_fd))
        record, record_problem = parse_record(res, max_res)
        self._release(spare)
        header = {
            "id": req["id"],
            "timed_out": timed_out,
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "exited": os.WIFEXITED(status),
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "duration_s": duration,
            "cpu_s": rusage.ru_utime + rusage.ru_stime,
            "max_rss_kb": rusage.ru_maxrss,
            "stdout_size": out.size,
            "stderr_size": err.size,
            "record_problem": record_problem,
            "leftover_processes": leftovers,
        }
        return header, (bytes(out.data[:max_out]), bytes(err.data[:max_out]), record or b"")

    def _watch(self, pid: int, pidfd: int, channels: dict[int, Channel], t0: float,
               timeout: float, progress_s: float | None) -> tuple[bool, bool]:
        """Wait for the task to end, draining its channels; ``(timed_out, overflow)``.

        The deadlines are the template's, outside the task: the job's ``timeout_s``, and with
        ``progress_timeout_s`` the time since the task last reported progress (a task that
        blocks or ignores its own timers is killed all the same). A channel over its cap ends
        the task at once: its verdict is decided.
        """
        poller = select.poll()
        if pidfd >= 0:
            poller.register(pidfd, select.POLLIN)
        for fd in channels:
            poller.register(fd, select.POLLIN)
        deadline = t0 + timeout
        last = t0
        check = t0 + progress_s if progress_s else math.inf
        while True:
            now = time.monotonic()
            if now >= deadline:
                return True, False
            if now >= check and progress_s is not None:
                reported = last_progress(now)
                if reported <= last:
                    return True, False
                last = reported
                check = last + progress_s
                continue
            wait = min(deadline, check) - now
            if pidfd < 0:  # kernels before 5.3: poll waitpid
                wait = min(wait, 0.002)
            events = poller.poll(max(1, math.ceil(wait * 1000)))
            for fd, _ in events:
                if fd == pidfd:
                    return False, False
                channel = channels[fd]
                if not channel.drain(fd):
                    poller.unregister(fd)
                if channel.size > channel.cap:
                    return False, True
            if pidfd < 0 and os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return False, False

    def _kill_task(self, pid: int) -> None:
        for target in (-pid, pid):  # its process group (it called setsid) and itself
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass

    def _sweep(self) -> int:
        """Kill and reap every process the task left behind; return how many there were."""
        kids = iso.direct_children(self.pid)
        if not kids:
            return 0
        count = 0
        deadline = time.monotonic() + 5.0
        while kids and time.monotonic() < deadline:
            if self.use_uid and self.cfg.uid is not None:
                self._kill_all_of_uid(self.cfg.uid)
            for kid in kids:
                for target in (-kid, kid):
                    try:
                        os.kill(target, signal.SIGKILL)
                    except OSError:
                        pass
            while True:
                try:
                    reaped, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if reaped == 0:
                    time.sleep(0.001)
                    break
                count += 1
            kids = iso.direct_children(self.pid)
        return count

    def _kill_all_of_uid(self, uid: int) -> None:
        """kill(-1) as the task's private uid: atomically hits every process of that uid."""
        helper = os.fork()
        if helper == 0:  # pragma: no cover - helper child
            try:
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)

    # ------------------------------------------------------------------ the task child

    def _child(self, spare: Spare, ctl: int) -> None:  # pragma: no cover - child
        # Everything that does not depend on the job happens before it arrives.
        try:
            os.setsid()
            if self.ipcns_per_task and not iso.enter_private_ipcns():
                os._exit(EXIT_SETUP_FAILED)
            for fd, target in zip(spare.writers, (1, 2, 3), strict=True):
                os.dup2(fd, target)
            os.chdir(spare.work_dir)
            iso.set_no_new_privs()
            if self.use_uid and self.cfg.uid is not None:
                iso.drop_privileges(self.cfg.uid, self.cfg.uid)
                # Credentials changed, so the kernel made us non-dumpable, which hides
                # /proc/self/fd from ourselves; the import directories are reached through it.
                iso.set_dumpable()
            # Armed only now: changing credentials clears the parent-death signal, so one
            # set before the uid drop would let the task outlive a SIGKILLed template.
            iso.set_pdeathsig(signal.SIGKILL)
            if os.getppid() != self.pid:
                os._exit(EXIT_SETUP_FAILED)  # the template died before the signal was armed
            if self.landlock is not None:
                self.landlock.restrict()
            iso.close_fds_except(4, [*self.keep_fds, ctl, spare.in_fd, spare.in_ro,
                                     self.devnull])
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.environ.clear()
            os.environ.update({
                "PATH": "/usr/bin:/bin", "HOME": spare.work_dir, "TMPDIR": spare.work_dir,
                "LANG": "C.UTF-8", "PYTHONHASHSEED": str(self.cfg.hash_seed),
            })
            tempfile.tempdir = spare.work_dir
            sys.meta_path.append(NotPreloaded)
            chunks = []
            while True:
                chunk = os.read(ctl, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            os.close(ctl)
            if not chunks:
                os._exit(0)  # the template went away or is shutting down
            req = json.loads(b"".join(chunks))
            if req.get("stdin") is not None:
                data = memoryview(req["stdin"].encode("utf-8", "surrogateescape"))
                while data:
                    data = data[os.write(spare.in_fd, data):]
                os.dup2(spare.in_ro, 0)  # read-only: the task cannot grow it
            else:
                os.dup2(self.devnull, 0)
            os.close(spare.in_fd)
            os.close(spare.in_ro)
            os.close(self.devnull)
            lim = req["limits"]
            iso.apply_rlimits(
                address_space=self.vm_base + int(lim["memory_mb"]) * 1024 * 1024
                if lim.get("memory_mb") else None,
                cpu_s=max(1, math.ceil(float(lim["timeout_s"]))),
                file_size=max(int(lim["max_output_bytes"]), int(lim["max_result_bytes"])) + 1,
                open_files=int(lim["max_open_files"]),
                processes=int(lim["max_processes"]) + 32 if self.use_uid else None,
            )
            if self.use_seccomp:
                iso.install_seccomp(iso.patch_pid(
                    self.seccomp_filters[int(lim["max_processes"]) > 1], os.getpid()))
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except BaseException:
            os._exit(EXIT_SETUP_FAILED)
        run_task(req)


def main() -> None:
    """Entry point of the template process (started by the pool, never by users)."""
    req_fd = os.dup(0)
    resp_fd = os.dup(1)
    # The task children must not inherit the pool's pipes as their standard streams.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    # Tasks inherit these stream objects (they write to whatever fds 0-2 are in the task).
    sys.stdin = open(0, encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      closefd=False)
    sys.__stdin__ = sys.stdin  # type: ignore[misc]
    sys.__stdout__ = sys.stdout  # type: ignore[misc]
    sys.__stderr__ = sys.stderr  # type: ignore[misc]
    os.set_inheritable(req_fd, False)
    os.set_inheritable(resp_fd, False)
    if "" in sys.path:
        sys.path.remove("")
    for name in ("exit", "quit"):
        if not hasattr(builtins, name):
            setattr(builtins, name, Quitter(name))
    iso.set_pdeathsig(signal.SIGKILL)
    hello = read_json(req_fd)
    template = Template(_Config(hello), req_fd, resp_fd)
    template.setup()
    template.serve()
