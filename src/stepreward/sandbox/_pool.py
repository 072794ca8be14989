"""The trainer-side pool, :class:`Sandbox`: its API, its size, and what it refuses before a job
reaches a worker (the worker threads and their template processes are ``_workers``, the
verdict on each run ``_verdict``)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Literal

from stepreward.sandbox._backends import backend_class
from stepreward.sandbox._workers import IsolationMode, Job, State, worker_loop
from stepreward.types import ExecResult, Limits

__all__ = ["WORKERS_ENV", "Sandbox", "default_workers"]


# A uid range far from login users and from the usual subordinate-uid ranges of rootless
# containers; a template's tasks run as UID_BASE + the template's pid, unique among live ones.
DEFAULT_UID_BASE = 2_000_000_000
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
        self._state = State(workers, limits, preload, int(hash_seed), isolation_mode, base,
                             uid_base, python, workdir_mb)
        errors: list[BaseException] = []
        ready = threading.Barrier(workers + 1)
        for i in range(workers):
            t = threading.Thread(target=worker_loop, args=(self._state, ready, errors),
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
        job = Job(request, limits)
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
