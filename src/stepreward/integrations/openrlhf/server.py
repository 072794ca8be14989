"""``stepreward serve``: OpenRLHF's remote reward protocol over HTTP, backed by the sandbox pool.

POST any path with ``{"query": [...], "prompts": [...], "labels": [...]}``; the answer is
``{"rewards": [...], "scores": [...], "extra_logs": {...}}`` with plain numbers (an empty
batch gets empty lists): the reward of :func:`stepreward.rewards.reward_for`, the raw
correctness as ``scores`` and the fixed metric keys, as the reward file gives them.
``GET /health`` reports the state.

HTTP parsing, body limits and connection handling are aiohttp's (a maintained server that
OpenRLHF already depends on); this module adds the protocol, validation and the limits:

* body over ``max_body_bytes`` -> 413; malformed HTTP (a negative or non-numeric
  ``Content-Length``, ...) -> 400 from the parser, before any body is read;
* bad JSON or wrong field types -> 400 naming the field (never an exception text);
* more than ``max_concurrency`` batches scoring at once -> the request waits up to
  ``timeout_s`` for a slot, then 503;
* a batch past ``timeout_s`` -> 504, and its remaining samples are dropped: the worker stops
  at the next sample boundary (a sample already running ends at its own sandbox deadline),
  and its concurrency slot is freed only then, so hidden work never piles up;
* idle keep-alive connections and headers that trickle in are closed after
  ``idle_timeout_s``; a body that stalls (``idle_timeout_s`` between chunks) or trickles past
  ``timeout_s`` -> 408; a slow or idle client costs a socket, not a thread;
* more than ``max_connections`` open connections (half-open, idle or busy) -> a new one gets
  a 503 naming the limit and is closed; the soft descriptor limit is raised to the hard one
  at start, and the default cap leaves 256 descriptors for the sandbox and the scoring
  threads, so stalled clients can never starve the process of descriptors;
* SIGTERM/SIGINT: stop accepting, close idle connections, let requests in flight finish
  (up to ``grace_s``), exit 0. Every log line (asyncio's and aiohttp's included) is JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from stepreward.integrations.openrlhf import EXTRA_LOG_KEYS, extract_response, score_response
from stepreward.integrations.openrlhf._batch import parse_batch
from stepreward.integrations.openrlhf._connections import (
    ACCEPT_BURST,
    LINGERING,
    MAX_CONNECTIONS,
    RESERVED_FDS,
    JsonLogs,
    Refusal,
    raise_descriptor_limit,
)

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["RewardServer", "parse_batch", "serve"]

log = logging.getLogger("stepreward.serve")


class _TooLarge(Exception):
    """The body is over ``max_body_bytes``."""


class _SlowBody(Exception):
    """The body stalled or trickled in past the limits."""


class _Cancelled(Exception):
    """The request's deadline passed: the rest of its batch is not scored."""


def _import_aiohttp() -> Any:
    try:
        from aiohttp import web
    except ImportError as exc:  # pragma: no cover - aiohttp is a core dependency
        raise ImportError("stepreward serve needs aiohttp: pip install 'aiohttp>=3.9'") from exc
    return web


class RewardServer:
    """The reward server: bound at construction, run by :meth:`serve_forever` (blocking).

    Construction binds the socket first, so a busy or invalid address raises ``OSError``
    before any worker starts. :meth:`shutdown` (from any thread) stops it gracefully;
    :meth:`server_close` then releases the workers. :meth:`score_batch` is the protocol's
    core, usable without HTTP.

    Example:
        >>> srv = RewardServer("127.0.0.1", 0)  # doctest: +SKIP
        >>> threading.Thread(target=srv.serve_forever).start()  # doctest: +SKIP
        >>> srv.shutdown(); srv.server_close()  # doctest: +SKIP
    """

    def __init__(self, host: str, port: int, *, workers: int | None = None,
                 max_body_bytes: int = 16 << 20, timeout_s: float = 120.0,
                 max_concurrency: int = 256, log_requests: bool = False,
                 backend: str = "local", ray_address: str | None = None,
                 ray_resource: str | None = None, idle_timeout_s: float = 15.0,
                 grace_s: float = 60.0, max_connections: int | None = None) -> None:
        from stepreward.sandbox._pool import Sandbox
        from stepreward.trace._api import DEFAULT_LIMITS, default_sandbox, set_default_sandbox

        if backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0-65535, got {port}")
        for name, value in (("max_body_bytes", max_body_bytes), ("timeout_s", timeout_s),
                            ("max_concurrency", max_concurrency),
                            ("idle_timeout_s", idle_timeout_s), ("grace_s", grace_s)):
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be positive, got {max_connections}")
        self._web = _import_aiohttp()
        # Each connection is a descriptor: past the limit accept() fails, and the sandbox
        # cannot open its pipes either. Raise the soft limit, and cap connections below it.
        fds = raise_descriptor_limit()
        self.max_connections = max_connections or min(
            MAX_CONNECTIONS, max(16, fds - RESERVED_FDS - ACCEPT_BURST - LINGERING))
        self._refused = 0
        self._lingering = 0
        # Bind before anything else starts, so a busy port is a plain OSError with nothing to
        # tear down.
        self._sock = socket.create_server((host, port), backlog=1024)
        self.server_address: tuple[str, int] = self._sock.getsockname()[:2]
        self._own_sandbox: Sandbox | None = None
        self._previous: Sandbox | None = None
        try:
            if backend == "ray":
                from stepreward.sandbox._ray import RaySandbox

                options = {"resources": {ray_resource: 0.001}} if ray_resource else None
                self._own_sandbox = RaySandbox(address=ray_address, workers_per_node=workers,
                                               limits=DEFAULT_LIMITS, actor_options=options)
            elif workers is not None:
                self._own_sandbox = Sandbox(workers=workers, limits=DEFAULT_LIMITS)
        except BaseException:
            self._sock.close()
            raise
        # Rewards find their sandbox through the process default: route them all to ours.
        if self._own_sandbox is not None:
            self._previous = set_default_sandbox(self._own_sandbox)
        self.sandbox = self._own_sandbox or default_sandbox()
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.grace_s = grace_s
        self.max_concurrency = max_concurrency
        self.pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="stepreward-score")
        self.log_requests = log_requests
        self.in_flight = 0  # requests being handled
        self.busy_slots = 0  # batches whose worker is still running (incl. timed-out ones)
        self.served = 0
        self.errors = 0
        self.timeouts = 0
        self.started = time.time()
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running = threading.Event()
        self._finished = threading.Event()
        self._closed = False

    # -- protocol -------------------------------------------------------------------------

    def score_batch(self, body: dict[str, Any],
                    cancel: threading.Event | None = None) -> dict[str, Any]:
        """Score one request body (raises ValueError for a body that breaks the protocol)."""
        queries, prompts, labels = parse_batch(body)
        if not queries:
            return {"rewards": [], "scores": [], "extra_logs": {}}
        rewards: list[float] = []
        scores: list[float] = []
        logs: dict[str, list[float]] = {k: [] for k in EXTRA_LOG_KEYS}
        for query, prompt, label in zip(queries, prompts, labels, strict=True):
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            reward, score, extra = score_response(extract_response(query, prompt), label)
            rewards.append(reward)
            scores.append(score)
            for k in EXTRA_LOG_KEYS:
                logs[k].append(extra[k])
        return {"rewards": rewards, "scores": scores, "extra_logs": logs}

    def health(self) -> dict[str, Any]:
        """The state reported by ``GET /health``."""
        return {"status": "ok", "in_flight": self.in_flight, "busy_slots": self.busy_slots,
                "served": self.served, "errors": self.errors, "timeouts": self.timeouts,
                "connections": self._connection_count(), "refused": self._refused,
                "uptime_s": round(time.time() - self.started, 1),
                "isolation": list(self.sandbox.isolation) if self.sandbox else [],
                "backend": self.sandbox.info.get("backend", "local") if self.sandbox else None}

    # -- HTTP -----------------------------------------------------------------------------

    def _json(self, status: int, payload: dict[str, Any], *,
              close: bool = False) -> web.Response:
        response: web.Response = self._web.json_response(payload, status=status)
        if close:  # the rest of the body is not read: the connection cannot be reused
            response.force_close()
        return response

    async def _read_body(self, request: web.Request) -> bytes:
        """The request body, read with the size limit, an inactivity limit (``idle_timeout_s``
        between chunks) and the request deadline (``timeout_s`` in all).

        aiohttp bounds idle connections and slow headers but not a body that stalls or
        trickles in after complete headers; such a request would hold its connection, and
        shutdown, for ever.
        """
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise _TooLarge
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        chunks: list[bytes] = []
        size = 0
        content = request.content
        while True:
            chunk = content.read_nowait()  # what has arrived already: no timer, no task
            if chunk:
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise _TooLarge
                chunks.append(chunk)
                continue
            if content.at_eof():
                return b"".join(chunks)
            wait = min(self.idle_timeout_s, deadline - loop.time())
            try:
                if wait <= 0:
                    raise asyncio.TimeoutError
                chunk = await asyncio.wait_for(request.content.readany(), wait)
            except asyncio.TimeoutError:
                raise _SlowBody(f"the body did not arrive in time ({size} bytes received; "
                                f"limits: {self.idle_timeout_s} s between chunks, "
                                f"{self.timeout_s} s in all)") from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)

    async def _get(self, request: web.Request) -> web.Response:
        return self._json(200, self.health())

    async def _post(self, request: web.Request) -> web.Response:
        t0 = time.perf_counter()
        with self.lock:
            self.in_flight += 1
        status = 500
        try:
            response = await self._handle(request)
            status = response.status
            return response
        finally:
            with self.lock:
                self.in_flight -= 1
                self.served += 1
            if self.log_requests:
                log.info("request", extra={"fields": {
                    "path": request.path, "status": status,
                    "ms": round((time.perf_counter() - t0) * 1000, 2)}})

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            raw = await self._read_body(request)
        except _TooLarge:
            return self._json(413, {"error": f"body over {self.max_body_bytes} bytes"},
                              close=True)
        except _SlowBody as exc:
            return self._json(408, {"error": str(exc)}, close=True)
        except ConnectionError:  # the client left in the middle of its body: nobody to answer
            return self._json(400, {"error": "connection lost"}, close=True)
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, RecursionError) as exc:
            return self._json(400, {"error": f"invalid JSON: {str(exc)[:200]}"})
        try:
            parse_batch(body)
        except ValueError as exc:
            return self._json(400, {"error": str(exc)})
        assert self._slots is not None  # set in _main before serving
        if self._slots.locked():  # wait for a slot (the fast path needs no timer task)
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=self.timeout_s)
            except asyncio.TimeoutError:
                return self._json(503, {"error": "too many requests in flight"})
        else:
            await self._slots.acquire()
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        with self.lock:
            self.busy_slots += 1
        try:
            future = loop.run_in_executor(self.pool, self.score_batch, body, cancel)
        except RuntimeError:  # the pool is shutting down
            self._release_slot()
            return self._json(503, {"error": "the server is shutting down"})
        # The slot belongs to the worker, not to the request: it is freed when the worker
        # really stops, also after a 504.
        future.add_done_callback(self._release_slot_in_loop)
        # asyncio.wait neither cancels the future nor needs a task of its own.
        done, _ = await asyncio.wait((future,), timeout=self.timeout_s)
        try:
            if not done:
                raise asyncio.TimeoutError
            result = future.result()
        except asyncio.TimeoutError:
            cancel.set()
            with self.lock:
                self.timeouts += 1
            return self._json(504, {"error": f"scoring took over {self.timeout_s} s; the "
                                             "rest of the batch was dropped"})
        except Exception as exc:
            with self.lock:
                self.errors += 1
            log.error("request failed", extra={"fields": {"error": repr(exc)[:1000]}})
            return self._json(500, {"error": "internal error while scoring (see the server "
                                             "log)"})
        return self._json(200, result)

    _runner: Any = None

    def _connection_count(self) -> int:
        server = getattr(self._runner, "server", None)
        if server is None:
            return 0
        connections = getattr(server, "_connections", None)
        return len(connections if connections is not None else server.connections)

    def _protocol(self) -> asyncio.BaseProtocol:
        """A new connection's protocol: aiohttp's handler, or a 503 over the cap."""
        if self._connection_count() >= self.max_connections:
            now = time.monotonic()
            if now - self._last_refusal_log > 10.0:
                self._last_refusal_log = now
                log.warning("refusing connections", extra={"fields": {
                    "limit": self.max_connections, "refused": self._refused + 1}})
            return Refusal(self)
        handler: asyncio.BaseProtocol = self._runner.server()
        return handler

    _last_refusal_log = -math.inf

    def _release_slot_in_loop(self, _: object) -> None:
        with self.lock:
            self.busy_slots -= 1
        if self._slots is not None:
            self._slots.release()

    def _release_slot(self) -> None:
        with self.lock:
            self.busy_slots -= 1
        if self._slots is not None and self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._slots.release)
            except RuntimeError:  # the loop closed meanwhile: nobody waits for slots
                pass

    _slots: asyncio.Semaphore | None = None

    async def _main(self) -> None:
        web = self._web
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._slots = asyncio.Semaphore(self.max_concurrency)
        app = web.Application(client_max_size=self.max_body_bytes)
        for path in ("/health", "/healthz", "/"):
            app.router.add_get(path, self._get)
        app.router.add_route("POST", "/{tail:.*}", self._post)
        # lingering_time: after a 413/408 aiohttp would read and drop the rest of the body
        # for up to 10 s; a short linger still lets the client see the reply.
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               keepalive_timeout=self.idle_timeout_s,
                               lingering_time=min(1.0, self.idle_timeout_s),
                               shutdown_timeout=self.grace_s)
        await runner.setup()
        self._runner = runner
        protocol = self._protocol

        class CappedSite(web.SockSite):  # type: ignore[misc,name-defined]
            """aiohttp's site, with accepted connections going through the cap."""

            async def start(site) -> None:  # the site (self is the server)
                site._runner._reg_site(site)
                site._server = await asyncio.get_running_loop().create_server(
                    protocol, sock=site._sock, backlog=site._backlog)

        site = CappedSite(runner, self._sock, backlog=ACCEPT_BURST)
        await site.start()
        self._running.set()
        try:
            await self._stop.wait()
        finally:
            # Stops accepting, closes idle keep-alive connections, waits for handlers in
            # flight (up to grace_s), then closes the rest.
            await runner.cleanup()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until :meth:`shutdown` (``poll_interval`` is accepted for compatibility)."""
        if self._closed:
            raise RuntimeError("the server is closed")
        try:
            asyncio.run(self._main())
        finally:
            self._finished.set()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Block until the server accepts requests (True) or ``timeout`` passes (False)."""
        return self._running.wait(timeout)

    def shutdown(self) -> None:
        """Stop serving: finish requests in flight, then return (safe from any thread)."""
        loop, stop = self._loop, self._stop
        if loop is None or stop is None or self._finished.is_set():
            return
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:  # the loop is already closed
            return
        self._finished.wait()

    def _release_sandbox(self) -> None:
        if self._own_sandbox is not None:
            from stepreward.trace._api import set_default_sandbox

            set_default_sandbox(self._previous)
            try:
                self._own_sandbox.close()
            except Exception as exc:  # close() must not raise into the caller's shutdown
                log.error("sandbox close failed", extra={"fields": {"error": repr(exc)}})
            self._own_sandbox = None

    def server_close(self) -> None:
        """Release the socket, the scoring threads and the sandbox (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.shutdown()
        self._sock.close()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._release_sandbox()


def serve(host: str = "127.0.0.1", port: int = 5000, *, workers: int | None = None,
          max_body_mb: float = 16.0, timeout_s: float = 120.0, max_concurrency: int = 256,
          log_requests: bool = False, ready: threading.Event | None = None,
          backend: str = "local", ray_address: str | None = None,
          ray_resource: str | None = None, idle_timeout_s: float = 15.0,
          grace_s: float = 60.0) -> None:
    """Run the reward server until SIGTERM/SIGINT (then finish requests in flight and exit).

    Raises OSError when the address cannot be bound and ValueError for bad limits, before
    anything starts.

    Example:
        >>> serve("127.0.0.1", 5000)  # doctest: +SKIP
    """
    server = RewardServer(host, port, workers=workers, max_body_bytes=int(max_body_mb * 2**20),
                          timeout_s=timeout_s, max_concurrency=max_concurrency,
                          log_requests=log_requests, backend=backend,
                          ray_address=ray_address, ray_resource=ray_resource,
                          idle_timeout_s=idle_timeout_s, grace_s=grace_s)
    # The event loop gives up the GIL on every socket call and must win it back from scoring
    # threads, which hold it for the whole switch interval (5 ms by default): with 64 requests
    # in flight the loop waited more than it worked (throughput halved against a thread per
    # connection). This process is the server's own, so a short interval is ours to set.
    sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogs())
    # Every logger reaches the root's one JSON handler: ours, aiohttp's (malformed requests),
    # asyncio's (accept errors, exceptions nobody retrieved), any library's, and warnings.
    # Nothing else writes to stderr while serving, so each line of it is one JSON object.
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, log.level, log.propagate,
             threading.excepthook, logging.raiseExceptions)
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    log.setLevel(logging.INFO)
    log.propagate = True
    for name in ("aiohttp", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    logging.raiseExceptions = False  # a log record that fails to format is dropped, not printed

    def thread_died(args: threading.ExceptHookArgs) -> None:
        log.error("thread failed", exc_info=args.exc_value,
                  extra={"fields": {"thread": getattr(args.thread, "name", None)}})

    threading.excepthook = thread_died
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        if not server.wait_ready():
            raise RuntimeError("the server did not start")
        log.info("serving", extra={"fields": {"host": host, "port": server.server_address[1],
                                              "isolation": server.health()["isolation"]}})
        if ready is not None:
            ready.set()
        while not stop.wait(0.5) and thread.is_alive():
            pass
    finally:
        server.shutdown()  # stop accepting; requests in flight finish
        server.server_close()
        log.info("stopped", extra={"fields": {"served": server.served}})
        logging.captureWarnings(False)
        (root.handlers[:], level, log_level, log.propagate, threading.excepthook,
         logging.raiseExceptions) = saved
        root.setLevel(level)
        log.setLevel(log_level)
