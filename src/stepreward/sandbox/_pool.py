"""The trainer-side worker pool: template processes, job dispatch, verdicts and lifecycle."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Literal

from stepreward._jsonlimits import json_shape
from stepreward.sandbox._backends import backend_class
from stepreward.sandbox._isolation import remove_tree
from stepreward.sandbox._protocol import (
    DeadlineExceeded,
    ProtocolError,
    read_frame,
    read_json,
    write_json,
)
from stepreward.sandbox._template import DEFAULT_PRELOAD, EXIT_SETUP_FAILED
from stepreward.types import ExecResult, Limits

__all__ = ["WORKERS_ENV", "Sandbox", "default_workers"]

IsolationMode = Literal["full", "minimal"]

# A uid range far from login users and from the usual subordinate-uid ranges of rootless
# containers; a template's tasks run as UID_BASE + the template's pid, unique among live ones.
DEFAULT_UID_BASE = 2_000_000_000
_START_TIMEOUT_S = 60.0
_GRACE_S = 5.0
# The directory that holds the stepreward package (src/ in a checkout): this file is
# stepreward/sandbox/_pool.py under it.
_SRC_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT = (
    "import sys; sys.path.insert(0, {src!r}); "
    "from stepreward.sandbox._template import main; main()"
)


WORKERS_ENV = "STEPREWARD_WORKERS"


def default_workers(environ: Mapping[str, str] | None = None) -> int:
    """The pool size a :class:`Sandbox` gets when ``workers`` is not given.

    ``STEPREWARD_WORKERS`` when it is set; otherwise the CPUs this process may run on,
    divided among the processes of this node (``LOCAL_WORLD_SIZE``, which torchrun,
    accelerate, DeepSpeed's launcher and Ray Train set for each rank), at least 1: eight
    ranks on a 64-core node get 8 workers each, not 64. A launcher that pins each rank to
    its own CPUs already shrinks the first number; set ``STEPREWARD_WORKERS`` there.

    Example:
        >>> default_workers({"STEPREWARD_WORKERS": "3"})
        3
        >>> default_workers({"LOCAL_WORLD_SIZE": str(10**6)})
        1
    """
    env = os.environ if environ is None else environ
    raw = env.get(WORKERS_ENV, "").strip()
    if raw:
        try:
            workers = int(raw)
        except ValueError:
            workers = 0
        if workers < 1:
            raise ValueError(f"{WORKERS_ENV} must be a positive integer, got {raw!r}")
        return workers
    cpus = len(os.sched_getaffinity(0))
    try:
        ranks = int(env.get("LOCAL_WORLD_SIZE", "").strip() or 1)
    except ValueError:  # not ours to validate: the launcher's own variable
        ranks = 1
    return max(1, cpus // max(1, ranks))


class _Job:
    __slots__ = ("future", "limits", "request")

    def __init__(self, request: dict[str, Any], limits: Limits) -> None:
        self.request = request
        self.limits = limits
        self.future: Future[ExecResult] = Future()


class _Template:
    """One live template process, owned by exactly one worker thread."""

    def __init__(self, state: _State, sweep_uids: Sequence[int]) -> None:
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


class _State:
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
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
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


def _worker_loop(state: _State, ready: threading.Barrier, errors: list[BaseException]) -> None:
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


def _start_template(state: _State) -> _Template:
    with state.lock:
        sweep, state.dead_uids = state.dead_uids, []
    template = _Template(state, sweep)
    with state.lock:
        state.templates[template.proc.pid] = template
    return template


def _forget_template(state: _State, template: _Template | None, *, dead: bool) -> None:
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


def _run_job(template: _Template, job: _Job, state: _State) -> ExecResult:
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
    return _verdict(header, out, err, record, limits)


def _signal_name(num: int | None) -> str | None:
    if num is None:
        return None
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _verdict(header: dict[str, Any], out: bytes, err: bytes, record_raw: bytes,
             limits: Limits) -> ExecResult:
    """Decide the status from what the template observed; the task's record is only a claim."""
    sig = header.get("signal")
    exit_code = header.get("exit_code")
    common: dict[str, Any] = {
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "stdout_truncated": header["stdout_size"] > len(out),
        "stderr_truncated": header["stderr_size"] > len(err),
        "duration_s": float(header["duration_s"]),
        "cpu_s": float(header["cpu_s"]),
        "max_rss_mb": header["max_rss_kb"] / 1024.0,
        "exit_code": exit_code,
        "signal": _signal_name(sig),
    }
    cap = limits.max_output_bytes
    if header["stdout_size"] > cap or header["stderr_size"] > cap:
        return ExecResult(status="output_limit", **common,
                          reason=f"output exceeded {cap} bytes")
    cpu_cap = max(1, math.ceil(limits.timeout_s))
    if header["timed_out"] or sig == signal.SIGXCPU or (
            sig == signal.SIGKILL and header["cpu_s"] >= cpu_cap):
        return ExecResult(status="timeout", **common,
                          reason=f"exceeded the time limit of {limits.timeout_s:g} s")
    if "over the job's limit" in (header["record_problem"] or ""):  # ended at the cap
        return ExecResult(status="crashed", **common,
                          reason=f"the task's {header['record_problem']}")
    if header["exited"] and exit_code == EXIT_SETUP_FAILED:
        return ExecResult(status="crashed", **common,
                          reason="the sandbox could not confine the task (setup failed)")
    if header["exited"] and exit_code == 0 and header["record_problem"] is None:
        # Counted before it is decoded: a record of many small containers would cost the
        # trainer ~200 bytes and the GIL per value.
        shape = json_shape(record_raw, max_items=limits.max_result_items)
        if shape is not None:
            return ExecResult(status="crashed", **common,
                              reason=f"the result record is over the job's limits: {shape}")
        try:
            record = json.loads(record_raw)
            status = record["status"]
            if status not in ("ok", "error", "memory"):
                raise ValueError(status)
        except (ValueError, KeyError, TypeError, RecursionError, MemoryError):
            return ExecResult(status="crashed", **common, reason="malformed result record")
        etype = record.get("error_type")
        emsg = record.get("error_message")
        etype = etype if isinstance(etype, str) else None
        emsg = emsg if isinstance(emsg, str) else None
        reason = None
        if status == "error":
            reason = f"{etype}: {emsg}" if emsg else etype
        elif status == "memory":
            reason = f"exceeded the memory limit of {limits.memory_mb} MB"
        return ExecResult(status=status, error_type=etype, error_message=emsg, reason=reason,
                          value=record.get("value"), **common)
    if sig is not None:
        mem = limits.memory_mb
        if mem and sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGKILL) \
                and header["max_rss_kb"] / 1024.0 >= 0.8 * mem:
            return ExecResult(status="memory", **common,
                              reason=f"killed by {_signal_name(sig)} near the memory limit")
        return ExecResult(status="crashed", **common,
                          reason=f"the task was killed by {_signal_name(sig)}")
    problem = header["record_problem"] or "no result"
    return ExecResult(status="crashed", **common,
                      reason=f"the task exited with code {exit_code} without a valid result "
                             f"record ({problem}); it bypassed or tampered with the reporter")


class Sandbox:
    """A pool of isolated Python executors: one fork per task from warm template processes.

    Each task runs in a fresh child process with resource limits, a wall-clock deadline enforced
    by killing its process tree, an empty work directory, a scrubbed environment and, where the
    host allows, an unprivileged uid, no network, Landlock and seccomp (see :attr:`isolation`).
    Safe to use from any thread and from asyncio.  ``python`` runs tasks on another
    interpreter (3.10 or newer; only its standard library is needed), e.g. to trace a program
    under several CPython versions from one trainer. ``backend="ray"`` runs the jobs on Ray
    actors across a cluster, each holding a local pool (see ``RaySandbox`` for its options).
    ``workers`` defaults to :func:`default_workers` (``STEPREWARD_WORKERS``, else the CPUs
    shared among the node's ``LOCAL_WORLD_SIZE`` ranks). ``workdir_mb`` caps each worker's
    work-dir tmpfs (disk and the RAM that files written there pin) where the host allows the
    ``workdir-tmpfs`` layer.

    Example:
        >>> with Sandbox(workers=1) as sb:
        ...     sb.run("print(6 * 7)").stdout
        '42\\n'
    """

    def __new__(cls, *args: Any, backend: str = "local", **kwargs: Any) -> Sandbox:
        if backend == "local":
            return object.__new__(cls)
        # Another backend is a subclass found by name: this module never imports one.
        klass = backend_class(backend)
        return object.__new__(klass if cls is Sandbox else cls)

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits | None = None,
        *,
        backend: Literal["local"] = "local",
        preload: Sequence[str] = (),
        hash_seed: int = 0,
        isolation_mode: IsolationMode = "full",
        require: Sequence[str] = (),
        tmp_dir: str | None = None,
        uid_base: int = DEFAULT_UID_BASE,
        python: str | None = None,
        workdir_mb: int = 64,
    ) -> None:
        if workers is None:
            workers = default_workers()
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        if limits is None:
            limits = Limits()
        if not isinstance(limits, Limits):
            raise ValueError(f"limits must be a stepreward.Limits, got {type(limits).__name__}")
        if isolation_mode not in ("full", "minimal"):
            raise ValueError(f"isolation_mode must be 'full' or 'minimal', got {isolation_mode!r}")
        if isinstance(preload, str):
            raise ValueError("preload must be a sequence of module names, not a string")
        if isinstance(workdir_mb, bool) or not isinstance(workdir_mb, int) or not (
                1 <= workdir_mb <= 1 << 20):
            raise ValueError(f"workdir_mb must be an int in [1, 1048576], got {workdir_mb!r}")
        python = python or sys.executable
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise ValueError(f"python must be an executable interpreter, got {python!r}")
        base = tempfile.mkdtemp(prefix="stepreward-", dir=tmp_dir)
        os.chmod(base, 0o711)
        self._state = _State(workers, limits, preload, int(hash_seed), isolation_mode, base,
                             uid_base, python, workdir_mb)
        errors: list[BaseException] = []
        ready = threading.Barrier(workers + 1)
        for i in range(workers):
            t = threading.Thread(target=_worker_loop, args=(self._state, ready, errors),
                                 name=f"stepreward-sandbox-{i}", daemon=True)
            self._state.threads.append(t)
            t.start()
        ready.wait()
        self._finalizer = weakref.finalize(self, self._state.close)
        if errors:
            self.close()
            raise RuntimeError(f"could not start the sandbox: {errors[0]}")
        missing = [layer for layer in require if not any(
            active == layer or active.startswith(layer + "-") for active in self.isolation)]
        if missing:
            self.close()
            raise RuntimeError(
                f"required isolation layers are not available on this host: {missing}; "
                f"active: {list(self.isolation)}")

    # ------------------------------------------------------------------ properties

    @property
    def isolation(self) -> tuple[str, ...]:
        """The isolation layers active for every task, e.g. ``("rlimits", ..., "seccomp")``."""
        return self._state.isolation

    @property
    def workers(self) -> int:
        return self._state.workers

    @property
    def limits(self) -> Limits:
        return self._state.limits

    @property
    def closed(self) -> bool:
        return self._state.closed

    @property
    def info(self) -> dict[str, Any]:
        """What the template reported: interpreter version, isolation, preload failures."""
        return dict(self._state.hello)

    # ------------------------------------------------------------------ submission

    def _check_open(self) -> None:
        if self._state.closed:
            raise RuntimeError("this Sandbox is closed")
        if os.getpid() != self._state.owner_pid:
            raise RuntimeError("a Sandbox cannot be used in a forked child; create one there")

    def _limits(self, limits: Limits | None) -> Limits:
        if limits is None:
            return self.limits
        if not isinstance(limits, Limits):
            raise ValueError(f"limits must be a stepreward.Limits, got {type(limits).__name__}")
        return limits

    def _submit(self, request: dict[str, Any], limits: Limits) -> Future[ExecResult]:
        self._check_open()
        request["id"] = next(self._state.ids)
        request["limits"] = limits.model_dump()
        job = _Job(request, limits)
        rejected = _preflight(request, limits)
        if rejected is not None:
            job.future.set_result(rejected)
        else:
            self._state.jobs.put(job)
        return job.future

    def submit(self, code: str, stdin: str | None = None, *,
               limits: Limits | None = None) -> Future[ExecResult]:
        """Queue ``code`` and return a future of its :class:`ExecResult`.

        Example:
            >>> with Sandbox(workers=1) as sb:
            ...     sb.submit("print(1)").result().stdout
            '1\\n'
        """
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if stdin is not None and not isinstance(stdin, str):
            raise TypeError(f"stdin must be a str or None, got {type(stdin).__name__}")
        return self._submit({"op": "exec", "code": code, "stdin": stdin}, self._limits(limits))

    def run(self, code: str, stdin: str | None = None, *,
            limits: Limits | None = None) -> ExecResult:
        """Run a Python program in a fresh isolated process and wait for its result.

        Never raises for a bad program: every failure is a status with a reason.

        Example:
            >>> with Sandbox(workers=1) as sb:
            ...     r = sb.run("while True: pass", limits=Limits(timeout_s=0.2))
            >>> r.status
            'timeout'
        """
        return self.submit(code, stdin, limits=limits).result()

    def run_many(self, codes: Iterable[str], *, stdin: str | Sequence[str | None] | None = None,
                 limits: Limits | None = None) -> list[ExecResult]:
        """Run many programs concurrently on all workers; results are in input order.

        ``stdin`` is one string for all programs or one entry per program.

        Example:
            >>> with Sandbox(workers=2) as sb:
            ...     [r.stdout for r in sb.run_many(["print(1)", "print(2)"])]
            ['1\\n', '2\\n']
        """
        codes = list(codes)
        if stdin is None or isinstance(stdin, str):
            stdins: list[str | None] = [stdin] * len(codes)
        else:
            stdins = list(stdin)
            if len(stdins) != len(codes):
                raise ValueError(f"got {len(stdins)} stdin entries for {len(codes)} programs")
        lim = self._limits(limits)
        futures = [self.submit(c, s, limits=lim) for c, s in zip(codes, stdins, strict=True)]
        return [f.result() for f in futures]

    async def arun(self, code: str, stdin: str | None = None, *,
                   limits: Limits | None = None) -> ExecResult:
        """Async :meth:`run`: awaits the result without blocking the event loop.

        Example:
            >>> async def main():
            ...     with Sandbox(workers=1) as sb:
            ...         return (await sb.arun("print(3)")).stdout
            >>> asyncio.run(main())
            '3\\n'
        """
        return await asyncio.wrap_future(self.submit(code, stdin, limits=limits))

    def call_submit(self, target: str, payload: Any = None, *,
                    limits: Limits | None = None) -> Future[ExecResult]:
        """Queue a call of a pre-loaded ``"module:function"`` on JSON ``payload`` in a task.

        The function's return value comes back as ``ExecResult.value`` (as JSON; what JSON
        cannot represent comes back as its repr).
        Used by the trace and test layers; the module must be in ``preload``.
        """
        if not isinstance(target, str) or ":" not in target:
            raise ValueError(f"target must be 'module:function', got {target!r}")
        return self._submit({"op": "call", "target": target, "payload": payload},
                            self._limits(limits))

    def call(self, target: str, payload: Any = None, *,
             limits: Limits | None = None) -> ExecResult:
        """Run ``module:function(payload)`` in an isolated task (see :meth:`call_submit`).

        Example:
            >>> with Sandbox(workers=1) as sb:
            ...     sb.call("math:factorial", 5).value
            120
        """
        return self.call_submit(target, payload, limits=limits).result()

    def call_many(self, target: str, payloads: Iterable[Any], *,
                  limits: Limits | None = None) -> list[ExecResult]:
        """:meth:`call` over many payloads concurrently; results in input order."""
        lim = self._limits(limits)
        futures = [self.call_submit(target, p, limits=lim) for p in payloads]
        return [f.result() for f in futures]

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop all workers and their processes. Idempotent; also runs on exit and on GC."""
        self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError("a Sandbox holds processes and cannot be pickled; create one per process")

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Sandbox(workers={self.workers}, {state}, isolation={list(self.isolation)})"


def _preflight(request: dict[str, Any], limits: Limits) -> ExecResult | None:
    """Reject jobs the pool refuses to ship, without starting a process."""
    code = request.get("code")
    if code is not None and len(code) > limits.max_code_bytes:
        return ExecResult(status="rejected",
                          reason=f"code is {len(code)} characters; the limit is "
                                 f"{limits.max_code_bytes}")
    stdin = request.get("stdin")
    if stdin is not None and len(stdin) > limits.max_stdin_bytes:
        return ExecResult(status="rejected",
                          reason=f"stdin is {len(stdin)} characters; the limit is "
                                 f"{limits.max_stdin_bytes}")
    try:
        json.dumps(request.get("payload"))
    except (TypeError, ValueError) as exc:
        return ExecResult(status="rejected", reason=f"payload is not JSON-serialisable: {exc}")
    return None
