"""``stepreward serve``: OpenRLHF's remote reward protocol over HTTP, backed by the sandbox pool.

POST any path with ``{"query": [...], "prompts": [...], "labels": [...]}``; the answer is
``{"rewards": [...], "scores": [...], "extra_logs": {...}}`` with plain numbers (an empty
batch gets empty lists). ``GET /health`` reports the state. Requests are limited in body size,
time and concurrency; SIGTERM or SIGINT stops accepting, finishes the requests in flight,
then exits.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stepreward.integrations.openrlhf import EXTRA_LOG_KEYS, extract_response, score_one

__all__ = ["RewardServer", "serve"]

log = logging.getLogger("stepreward.serve")


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"time": round(record.created, 3), "level": record.levelname,
                "event": record.getMessage()}
        data.update(getattr(record, "fields", {}))
        return json.dumps(data)


class RewardServer(ThreadingHTTPServer):
    """The HTTP server; :meth:`score_batch` is the protocol's core."""

    daemon_threads = False  # server_close() then waits for the requests in flight
    block_on_close = True
    request_queue_size = 1024

    def __init__(self, host: str, port: int, *, workers: int | None = None,
                 max_body_bytes: int = 16 << 20, timeout_s: float = 120.0,
                 max_concurrency: int = 256, log_requests: bool = False,
                 backend: str = "local", ray_address: str | None = None,
                 ray_resource: str | None = None) -> None:
        from stepreward.sandbox._pool import Sandbox
        from stepreward.trace._api import DEFAULT_LIMITS, default_sandbox, set_default_sandbox

        if backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
        self._own_sandbox: Sandbox | None = None
        if backend == "ray":
            from stepreward.sandbox._ray import RaySandbox

            options = {"resources": {ray_resource: 0.001}} if ray_resource else None
            self._own_sandbox = RaySandbox(address=ray_address, workers_per_node=workers,
                                           limits=DEFAULT_LIMITS, actor_options=options)
        elif workers is not None:
            self._own_sandbox = Sandbox(workers=workers, limits=DEFAULT_LIMITS)
        # Rewards find their sandbox through the process default: route them all to ours.
        self._previous = (set_default_sandbox(self._own_sandbox)
                          if self._own_sandbox is not None else None)
        self.sandbox = self._own_sandbox or default_sandbox()
        try:
            super().__init__((host, port), _Handler)
        except BaseException:
            self._release_sandbox()
            raise
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.slots = threading.BoundedSemaphore(max_concurrency)
        self.pool = ThreadPoolExecutor(max_concurrency)
        self.log_requests = log_requests
        self.in_flight = 0
        self.served = 0
        self.errors = 0
        self.started = time.time()
        self.lock = threading.Lock()

    def score_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        queries = body.get("query") or body.get("queries") or []
        prompts = body.get("prompts") or []
        labels = body.get("labels") or []
        if not isinstance(queries, list):
            raise ValueError("'query' must be a list")
        rewards: list[float] = []
        logs: dict[str, list[float]] = {k: [] for k in EXTRA_LOG_KEYS}
        for i, query in enumerate(queries):
            prompt = prompts[i] if i < len(prompts) else ""
            label = labels[i] if i < len(labels) else None
            value, extra = score_one(extract_response(str(query), str(prompt or "")), label)
            rewards.append(value)
            for k in EXTRA_LOG_KEYS:
                logs[k].append(extra[k])
        if not queries:
            return {"rewards": [], "scores": [], "extra_logs": {}}
        return {"rewards": rewards, "scores": list(rewards), "extra_logs": logs}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "in_flight": self.in_flight, "served": self.served,
                "errors": self.errors, "uptime_s": round(time.time() - self.started, 1),
                "isolation": list(self.sandbox.isolation) if self.sandbox else [],
                "backend": self.sandbox.info.get("backend", "local") if self.sandbox else None}

    def _release_sandbox(self) -> None:
        if self._own_sandbox is not None:
            from stepreward.trace._api import set_default_sandbox

            set_default_sandbox(self._previous)
            self._own_sandbox.close()
            self._own_sandbox = None

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=True)
        self._release_sandbox()


class _Handler(BaseHTTPRequestHandler):
    server: RewardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # structured logs instead

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/health", "/healthz", ""):
            self._send(200, self.server.health())
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        srv = self.server
        t0 = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        if length > srv.max_body_bytes:
            self._send(413, {"error": f"body over {srv.max_body_bytes} bytes"})
            self.close_connection = True
            return
        raw = self.rfile.read(length)
        if not srv.slots.acquire(timeout=srv.timeout_s):
            self._send(503, {"error": "too many requests in flight"})
            return
        with srv.lock:
            srv.in_flight += 1
        status = 200
        try:
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            except ValueError as exc:
                status = 400
                self._send(400, {"error": f"invalid JSON: {exc}"})
                return
            future = srv.pool.submit(srv.score_batch, body)
            try:
                result = future.result(timeout=srv.timeout_s)
            except FutureTimeout:
                status = 504
                self._send(504, {"error": f"scoring took over {srv.timeout_s} s"})
                return
            except ValueError as exc:
                status = 400
                self._send(400, {"error": str(exc)})
                return
            self._send(200, result)
        except Exception as exc:
            status = 500
            with srv.lock:
                srv.errors += 1
            log.error("request failed", extra={"fields": {"error": repr(exc)}})
            try:
                self._send(500, {"error": repr(exc)})
            except OSError:
                pass
        finally:
            with srv.lock:
                srv.in_flight -= 1
                srv.served += 1
            srv.slots.release()
            if srv.log_requests:
                log.info("request", extra={"fields": {
                    "path": self.path, "status": status,
                    "ms": round((time.perf_counter() - t0) * 1000, 2)}})


def serve(host: str = "127.0.0.1", port: int = 5000, *, workers: int | None = None,
          max_body_mb: float = 16.0, timeout_s: float = 120.0, max_concurrency: int = 256,
          log_requests: bool = False, ready: threading.Event | None = None,
          backend: str = "local", ray_address: str | None = None,
          ray_resource: str | None = None) -> None:
    """Run the reward server until SIGTERM/SIGINT (then finish requests in flight and exit).

    Example:
        >>> serve("127.0.0.1", 5000)  # doctest: +SKIP
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    server = RewardServer(host, port, workers=workers, max_body_bytes=int(max_body_mb * 2**20),
                          timeout_s=timeout_s, max_concurrency=max_concurrency,
                          log_requests=log_requests, backend=backend,
                          ray_address=ray_address, ray_resource=ray_resource)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    thread.start()
    log.info("serving", extra={"fields": {"host": host, "port": server.server_address[1],
                                          "isolation": server.health()["isolation"]}})
    if ready is not None:
        ready.set()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()  # stop accepting; requests in flight go on
        server.server_close()  # waits for them
        log.info("stopped", extra={"fields": {"served": server.served}})
