"""The Ray backend of :class:`Sandbox`: job batches run by actors that each hold a local pool."""

from __future__ import annotations

import itertools
import math
import os
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Literal

from stepreward.sandbox._backends import register_backend
from stepreward.sandbox._pool import Sandbox, _preflight
from stepreward.types import ExecResult, Limits

__all__ = ["RaySandbox"]

OnFault = Literal["retry", "crash"]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError("Sandbox(backend='ray') needs Ray: pip install 'stepreward[ray]'") \
            from None
    return ray


class _PoolActorImpl:
    """Body of the Ray actor: one local :class:`Sandbox` per actor, jobs run in batches."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.sandbox = Sandbox(**kwargs)

    def hello(self) -> dict[str, Any]:
        return {"isolation": list(self.sandbox.isolation), "info": self.sandbox.info,
                "pid": os.getpid(), "workers": self.sandbox.workers}

    def run_batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        futures = [self.sandbox._submit(dict(r), Limits(**r["limits"])) for r in requests]
        return [f.result().model_dump() for f in futures]

    def close(self) -> None:
        self.sandbox.close()


class _Batch:
    __slots__ = ("actor", "attempt", "deadline", "jobs", "ref")

    def __init__(self, jobs: list[tuple[dict[str, Any], Future[ExecResult]]], actor: int,
                 attempt: int, deadline: float, ref: Any) -> None:
        self.jobs, self.actor, self.attempt, self.deadline, self.ref = (jobs, actor, attempt,
                                                                        deadline, ref)


class RaySandbox(Sandbox):
    """:class:`Sandbox` whose jobs run on Ray actors, each holding a local pool.

    Created by ``Sandbox(backend="ray", ...)``; same methods, statuses and input order. Jobs are
    grouped into batches of ``batch_size``; at most ``max_inflight_batches`` per actor are in
    the object store at once, so a huge ``run_many`` waits on the driver instead of flooding
    it. A batch whose actor dies, or that runs past its deadline (the jobs' own timeouts plus a
    grace period; the actor is then killed and replaced), is sent once more to another actor
    (``on_fault="retry"``) or its jobs are reported ``crashed`` with the reason
    (``on_fault="crash"``).

    Example:
        >>> with Sandbox(backend="ray", actors=2, workers_per_node=1) as sb:  # doctest: +SKIP
        ...     [r.stdout for r in sb.run_many(["print(1)", "print(2)"])]
        ['1\\n', '2\\n']
    """

    def __init__(self, workers: int | None = None, limits: Limits | None = None, *,
                 backend: str = "ray", address: str | None = None,
                 workers_per_node: int | None = None, actors: int | None = None,
                 batch_size: int = 32, max_inflight_batches: int = 2,
                 on_fault: OnFault = "retry", grace_s: float = 30.0,
                 actor_options: dict[str, Any] | None = None, start_timeout_s: float = 120.0,
                 **local: Any) -> None:
        ray = _import_ray()
        if limits is None:
            limits = Limits()
        if not isinstance(limits, Limits):
            raise ValueError(f"limits must be a stepreward.Limits, got {type(limits).__name__}")
        if on_fault not in ("retry", "crash"):
            raise ValueError(f"on_fault must be 'retry' or 'crash', got {on_fault!r}")
        for name, v in (("batch_size", batch_size), ("max_inflight_batches",
                                                      max_inflight_batches)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        per_node = workers_per_node or workers or os.cpu_count() or 1
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                     include_dashboard=False)
            self._owns_ray = address is None
        else:
            self._owns_ray = False
        if actors is None:
            wanted = (actor_options or {}).get("resources") or {}
            actors = max(1, sum(1 for n in ray.nodes() if n.get("Alive") and all(
                n.get("Resources", {}).get(k, 0) >= v for k, v in wanted.items())))
        self._ray = ray
        self._limits_default = limits
        self._per_node = per_node
        self._batch_size = batch_size
        self._window = max_inflight_batches
        self._on_fault = on_fault
        self._grace = grace_s
        self._local_kwargs = {"workers": per_node, "limits": limits, **local}
        options = {"num_cpus": 0, "scheduling_strategy": "SPREAD", **(actor_options or {})}
        self._actor_cls = ray.remote(**options)(_PoolActorImpl)
        self._actors: list[Any] = [self._new_actor() for _ in range(actors)]
        try:
            hellos = ray.get([a.hello.remote() for a in self._actors], timeout=start_timeout_s)
        except Exception as exc:
            for a in self._actors:
                ray.kill(a, no_restart=True)
            if self._owns_ray:
                ray.shutdown()
            raise RuntimeError(
                f"could not start {actors} sandbox actor(s) within {start_timeout_s:g} s "
                f"({type(exc).__name__}: {str(exc)[:300]}); check that the cluster has nodes "
                f"matching actor_options={actor_options!r}") from None
        self._hello = hellos[0]
        self._ids = itertools.count()
        self._stats = {"batches": 0, "jobs": 0, "faults": 0, "retried_jobs": 0,
                       "crashed_jobs": 0, "peak_inflight_jobs": 0}
        self._owner = os.getpid()
        self._closed = False
        self._queue: queue.Queue[tuple[dict[str, Any], Future[ExecResult]] | None] = \
            queue.Queue()
        self._thread = threading.Thread(target=self._dispatch, name="stepreward-ray-dispatch",
                                        daemon=True)
        self._thread.start()

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self._local_kwargs)

    # ------------------------------------------------------------------ properties

    @property
    def isolation(self) -> tuple[str, ...]:
        return tuple(self._hello["isolation"])

    @property
    def workers(self) -> int:
        return self._per_node * len(self._actors)

    @property
    def limits(self) -> Limits:
        return self._limits_default

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def info(self) -> dict[str, Any]:
        return {**self._hello["info"], "backend": "ray", "actors": len(self._actors)}

    @property
    def stats(self) -> dict[str, int]:
        """Counters: batches and jobs completed by actors, faults, retried and crashed jobs,
        and the most jobs ever out with the actors at once (the back-pressure bound)."""
        return dict(self._stats)

    # ------------------------------------------------------------------ submission

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Sandbox is closed")
        if os.getpid() != self._owner:
            raise RuntimeError("a Sandbox cannot be used in a forked child; create one there")

    def _submit(self, request: dict[str, Any], limits: Limits) -> Future[ExecResult]:
        self._check_open()
        request["id"] = next(self._ids)
        request["limits"] = limits.model_dump()
        future: Future[ExecResult] = Future()
        rejected = _preflight(request, limits)
        if rejected is not None:
            future.set_result(rejected)
        else:
            self._queue.put((request, future))
        return future

    # ------------------------------------------------------------------ dispatch

    def _deadline(self, jobs: list[tuple[dict[str, Any], Future[ExecResult]]]) -> float:
        longest = max(float(r["limits"]["timeout_s"]) for r, _ in jobs)
        rounds = math.ceil(len(jobs) / self._per_node)
        return time.monotonic() + rounds * (longest + 1.0) + self._grace

    def _send(self, jobs: list[tuple[dict[str, Any], Future[ExecResult]]], actor: int,
              attempt: int) -> _Batch:
        ref = self._actors[actor].run_batch.remote([r for r, _ in jobs])
        return _Batch(jobs, actor, attempt, self._deadline(jobs), ref)

    def _note_peak(self, inflight: list[_Batch]) -> None:
        out = sum(len(b.jobs) for b in inflight)
        self._stats["peak_inflight_jobs"] = max(self._stats["peak_inflight_jobs"], out)

    def _fault(self, batch: _Batch, why: str, inflight: list[_Batch]) -> None:
        # Replace the actor: a dead one cannot serve, a stuck one may hold workers forever.
        try:
            self._ray.kill(self._actors[batch.actor], no_restart=True)
        except Exception:  # already gone is fine
            pass
        self._actors[batch.actor] = self._new_actor()
        self._stats["faults"] += 1
        if self._on_fault == "retry" and batch.attempt == 0:
            self._stats["retried_jobs"] += len(batch.jobs)
            target = (batch.actor + 1) % len(self._actors)
            inflight.append(self._send(batch.jobs, target, 1))
            return
        for _, fut in batch.jobs:
            if not fut.done():
                self._stats["crashed_jobs"] += 1
                fut.set_result(ExecResult(status="crashed", reason=f"ray: {why}"))

    def _dispatch(self) -> None:
        inflight: list[_Batch] = []
        try:
            self._dispatch_loop(inflight)
        except BaseException as exc:
            # Ray itself failed (shut down under us, lost the head node): answer every job
            # rather than leave callers waiting on futures nobody will complete.
            why = f"ray: the dispatcher stopped ({type(exc).__name__}: {str(exc)[:200]})"
            self._closed = True
            pending = [fut for b in inflight for _, fut in b.jobs]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    pending.append(item[1])
            for fut in pending:
                if not fut.done():
                    self._stats["crashed_jobs"] += 1
                    fut.set_result(ExecResult(status="crashed", reason=why))

    def _dispatch_loop(self, inflight: list[_Batch]) -> None:
        rr = itertools.count()
        stopping = False
        while not (stopping and not inflight):
            capacity = self._window * len(self._actors) - len(inflight)
            if capacity > 0 and not stopping:
                jobs: list[tuple[dict[str, Any], Future[ExecResult]]] = []
                try:
                    first = self._queue.get(timeout=0.002 if inflight else 0.05)
                    if first is None:
                        stopping = True
                    else:
                        jobs.append(first)
                        while len(jobs) < self._batch_size:
                            nxt = self._queue.get_nowait()
                            if nxt is None:
                                stopping = True
                                break
                            jobs.append(nxt)
                except queue.Empty:
                    pass
                if jobs:
                    # The least busy actor takes the batch; ties go round-robin.
                    load = [sum(b.actor == i for b in inflight) for i in range(len(self._actors))]
                    start = next(rr)
                    order = sorted(range(len(load)),
                                   key=lambda i: (load[i], (i - start) % len(load)))
                    inflight.append(self._send(jobs, order[0], 0))
                    self._note_peak(inflight)
                    continue
            if not inflight:
                continue
            ready, _ = self._ray.wait([b.ref for b in inflight], num_returns=1, timeout=0.01)
            ready_set = set(ready)
            now = time.monotonic()
            for b in list(inflight):
                if b.ref in ready_set:
                    inflight.remove(b)
                    try:
                        rows = self._ray.get(b.ref)
                    except Exception as exc:  # actor death, node loss, OOM kill
                        self._fault(b, f"{type(exc).__name__}: {str(exc)[:200]}", inflight)
                        continue
                    for (_, fut), row in zip(b.jobs, rows, strict=True):
                        fut.set_result(ExecResult.model_validate(row))
                    self._stats["batches"] += 1
                    self._stats["jobs"] += len(rows)
                elif now > b.deadline:
                    inflight.remove(b)
                    self._fault(b, "the batch ran past its deadline; its actor was replaced",
                                inflight)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=60)
        for a in self._actors:
            try:
                self._ray.get(a.close.remote(), timeout=10)
            except Exception:  # an actor that is gone has nothing to close
                pass
            try:
                self._ray.kill(a, no_restart=True)
            except Exception:
                pass
        if self._owns_ray:
            self._ray.shutdown()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (f"Sandbox(backend='ray', actors={len(self._actors)}, "
                f"workers_per_node={self._per_node}, {state})")


register_backend("ray", RaySandbox)
