"""The pool's worker threads: each owns one template process, feeds it jobs from the shared
queue, and replaces it when it dies; the state they share, which a finalizer can close."""

from __future__ import annotations

import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Literal

from stepreward.sandbox._isolation import remove_tree
from stepreward.sandbox._protocol import (
    DeadlineExceeded,
    ProtocolError,
    read_frame,
    read_json,
    write_json,
)
from stepreward.sandbox._template import DEFAULT_PRELOAD
from stepreward.sandbox._verdict import verdict
from stepreward.types import ExecResult, Limits

__all__ = ["IsolationMode", "Job", "State", "worker_loop"]

IsolationMode = Literal["full", "minimal"]

_START_TIMEOUT_S = 60.0
_GRACE_S = 5.0
# The directory that holds the stepreward package (src/ in a checkout): this file is
# stepreward/sandbox/_workers.py under it.
_SRC_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_BOOT = (
    "import sys; sys.path.insert(0, {src!r}); "
    "from stepreward.sandbox._template import main; main()"
)


class Job:
    __slots__ = ("future", "limits", "request")

    def __init__(self, request: dict[str, Any], limits: Limits) -> None:
        self.request = request
        self.limits = limits
        self.future: Future[ExecResult] = Future()


class _Template:
    """One live template process, owned by exactly one worker thread."""

    def __init__(self, state: State, sweep_uids: Sequence[int]) -> None:
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONHASHSEED": str(state.hash_seed)}
        self.proc = subprocess.Popen(
            [state.python, "-s", "-S", "-B", "-c", _BOOT.format(src=_SRC_DIR)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env,
            cwd="/", close_fds=True, start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.req_fd = self.proc.stdin.fileno()
        self.resp_fd = self.proc.stdout.fileno()
        self.uid = state.uid_base + self.proc.pid
        try:
            write_json(self.req_fd, {
                "uid": self.uid,
                "hash_seed": state.hash_seed,
                "base_dir": os.path.join(state.tmp_dir, f"w{self.proc.pid}"),
                "preload": list(state.preload),
                "isolation": state.mode,
                "sweep_uids": list(sweep_uids),
                "workdir_mb": state.workdir_mb,
                "preload_paths": state.preload_paths,
            })
            self.hello: dict[str, Any] = read_json(self.resp_fd,
                                                   time.monotonic() + _START_TIMEOUT_S)
        except (OSError, ProtocolError, DeadlineExceeded) as exc:
            self.kill()
            raise RuntimeError(f"sandbox template failed to start: {exc!r}") from None
        self.isolation: tuple[str, ...] = tuple(self.hello["isolation"])
        unreadable = self.hello.get("unreadable") or []
        if unreadable:
            self.shutdown()
            raise RuntimeError(
                f"tasks run as another uid and cannot read {unreadable[0]}"
                + (f" (and {len(unreadable) - 1} more import paths)" if len(unreadable) > 1
                   else "")
                + ": a directory above it is closed to other users and could not be bound "
                  "into the tasks' mount namespace; install Python and the packages where "
                  "other users can read them (chmod o+rx), or use isolation_mode='minimal'")

    def execute(self, request: dict[str, Any], deadline: float) -> tuple[dict[str, Any], bytes,
                                                                          bytes, bytes]:
        write_json(self.req_fd, request)
        header = read_json(self.resp_fd, deadline)
        if not isinstance(header, dict) or header.get("id") != request["id"]:
            raise ProtocolError("response does not match the request")
        stdout = read_frame(self.resp_fd, deadline)
        stderr = read_frame(self.resp_fd, deadline)
        record = read_frame(self.resp_fd, deadline)
        return header, stdout, stderr, record

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.close_pipes()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def terminate(self) -> None:
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
        except OSError:
            pass

    def shutdown(self) -> None:
        """Ask politely (EOF on its request pipe), then kill."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class State:
    """Everything the workers share; kept apart from Sandbox so a finalizer can close it."""

    def __init__(self, workers: int, limits: Limits, preload: Sequence[str], hash_seed: int,
                 mode: IsolationMode, tmp_dir: str, uid_base: int, python: str,
                 workdir_mb: int = 64) -> None:
        self.python = python
        self.workdir_mb = workdir_mb
        self.workers = workers
        self.limits = limits
        self.preload = tuple(dict.fromkeys([*DEFAULT_PRELOAD, *preload]))
        self.preload_paths = _import_roots(preload)
        self.hash_seed = hash_seed
        self.mode = mode
        self.tmp_dir = tmp_dir
        self.uid_base = uid_base
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.closed = False
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.isolation: tuple[str, ...] = ()
        self.hello: dict[str, Any] = {}
        self.owner_pid = os.getpid()
        self.ids = itertools.count(1)
        self.templates: dict[int, _Template] = {}
        self.dead_uids: list[int] = []

    def close(self) -> None:
        """Never raises: it runs from ``__exit__``, finalizers and interpreter exit."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if os.getpid() != self.owner_pid:
            return  # a forked copy of the trainer must not touch the parent's templates
        try:
            self._close()
        except BaseException as exc:
            try:
                sys.stderr.write(f"stepreward: error while closing a Sandbox: {exc!r}\n")
            except BaseException:
                pass

    def _close(self) -> None:
        # Jobs still queued get an answer instead of hanging their callers.
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None and not job.future.done():
                job.future.set_result(_CLOSED)
        for _ in self.threads:
            self.jobs.put(None)
        # SIGTERM makes a template kill its task in flight, sweep leftovers and exit; the
        # worker thread then sees end-of-file and answers that job.
        with self.lock:
            live = list(self.templates.values())
        for template in live:
            template.terminate()
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(timeout=10)
        with self.lock:
            live = list(self.templates.values())
        for template in live:
            template.kill()
        _sweep_uids(self.dead_uids)
        remove_tree(self.tmp_dir)


def _import_roots(names: Sequence[str]) -> list[str]:
    """Directories the template must search to import the third-party modules in ``names``.

    The template runs without site-packages, so it is told where each pre-loaded package
    lives (as this interpreter finds it); tasks may then read those packages and nothing
    else in the same directory.
    """
    import importlib.util

    roots: list[str] = []
    for name in names:
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top == "stepreward":
            continue
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            roots.extend(os.path.dirname(p) for p in spec.submodule_search_locations)
        elif spec.origin and os.path.isabs(spec.origin):
            roots.append(os.path.dirname(spec.origin))
    return list(dict.fromkeys(roots))


_CLOSED = ExecResult(status="crashed", reason="the Sandbox was closed before this job finished")


def _sweep_uids(uids: Sequence[int]) -> None:
    """Kill whatever still runs as the uids of templates that died abruptly (root only)."""
    if not uids or os.geteuid() != 0:
        return
    code = ("import os, sys\n"
            "for uid in map(int, sys.argv[1:]):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)\n"
            "        os.kill(-1, 9); os._exit(0)\n"
            "    os.waitpid(pid, 0)\n")
    try:
        subprocess.run([sys.executable, "-S", "-c", code, *map(str, uids)], timeout=10,
                       check=False, env={})
    except (OSError, subprocess.SubprocessError):
        pass


def worker_loop(state: State, ready: threading.Barrier, errors: list[BaseException]) -> None:
    template: _Template | None = None
    try:
        template = _start_template(state)
        state.isolation = template.isolation
        state.hello = template.hello
    except BaseException as exc:
        errors.append(exc)
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    try:
        while True:
            job = state.jobs.get()
            if job is None:
                break
            if job.future.done():
                continue
            try:
                if template is None:
                    template = _start_template(state)
                result = _run_job(template, job, state)
            except _TemplateLost as lost:
                _forget_template(state, template, dead=True)
                template = None
                result = _CLOSED if state.closed else lost.result
            except Exception as exc:  # never leave a caller without an answer
                result = ExecResult(status="crashed",
                                    reason=f"sandbox infrastructure error: {exc!r}")
                if template is not None:
                    template.kill()
                    _forget_template(state, template, dead=True)
                    template = None
            if not job.future.done():
                job.future.set_result(result)
    finally:
        if template is not None:
            template.shutdown()
            _forget_template(state, template, dead=False)


def _start_template(state: State) -> _Template:
    with state.lock:
        sweep, state.dead_uids = state.dead_uids, []
    template = _Template(state, sweep)
    with state.lock:
        state.templates[template.proc.pid] = template
    return template


def _forget_template(state: State, template: _Template | None, *, dead: bool) -> None:
    if template is None:
        return
    with state.lock:
        state.templates.pop(template.proc.pid, None)
        if dead:
            state.dead_uids.append(template.uid)


class _TemplateLost(Exception):
    def __init__(self, uid: int, result: ExecResult) -> None:
        super().__init__(result.reason)
        self.uid = uid
        self.result = result


def _run_job(template: _Template, job: Job, state: State) -> ExecResult:
    limits = job.limits
    deadline = time.monotonic() + limits.timeout_s + _GRACE_S + limits.timeout_s * 0.5
    try:
        header, out, err, record = template.execute(job.request, deadline)
    except (OSError, ProtocolError, DeadlineExceeded) as exc:
        template.kill()
        what = "stopped answering" if isinstance(exc, DeadlineExceeded) else f"failed ({exc})"
        raise _TemplateLost(template.uid, ExecResult(
            status="crashed",
            reason=f"the sandbox worker {what}; it was replaced and this job was not retried",
        )) from None
    return verdict(header, out, err, record, limits)
