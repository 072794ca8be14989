"""`stepreward serve` against hostile HTTP clients, over real sockets on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import stepreward as sr
from stepreward.integrations.openrlhf.server import RewardServer, parse_batch

SLOW_CODE = ("<answer>\n```python\nimport time\ndef add(a, b):\n    time.sleep(0.25)\n"
             "    return a + b\n```\n</answer>")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while b"\r\n\r\n" not in b"".join(chunks):  # the status line and headers
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def _serving(srv: RewardServer) -> Iterator[RewardServer]:
    """Serve ``srv`` on a thread for the fixture's life; it must stop cleanly."""
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    assert srv.wait_ready()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(10)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def server() -> Iterator[RewardServer]:
    yield from _serving(RewardServer("127.0.0.1", 0, workers=2, timeout_s=1.0,
                                     max_body_bytes=65536))


def _post(srv: RewardServer, body: object, timeout: float = 30) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(f"http://127.0.0.1:{srv.server_address[1]}/get_reward",
                                 data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3", b"99999999999999999999999"])
def test_malformed_content_length_gets_a_400_reply(server: RewardServer, length: bytes) -> None:
    port = server.server_address[1]
    reply = _raw(port, b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Length: " + length +
                 b"\r\n\r\n" + b'{"query": []}')
    assert _status(reply) in (400, 413), reply[:200]
    assert server.errors == 0


def test_body_over_the_limit_is_413_without_reading_it_all(server: RewardServer) -> None:
    port = server.server_address[1]
    reply = _raw(port, b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
                 b"{" * 200_000)
    assert _status(reply) == 413


@pytest.mark.parametrize(("body", "field"), [
    ({"query": "not a list"}, "query"),
    ({"query": [1, 2]}, "query"),
    ({"query": ["a"], "prompts": [3]}, "prompts"),
    ({"query": ["a"], "prompts": ["p"], "labels": [7]}, "labels"),
    ({"query": ["a", "b"], "prompts": ["p"]}, "prompts"),
    ({"query": ["a"], "labels": ["x", "y"]}, "labels"),
    ([1, 2], "JSON object"),
])
def test_wrong_field_types_are_400_naming_the_field(server: RewardServer, body: object,
                                                    field: str) -> None:
    status, reply = _post(server, body)
    assert status == 400 and field in str(reply["error"])
    assert "Traceback" not in str(reply) and "Error(" not in str(reply)
    with pytest.raises(ValueError, match=field):
        parse_batch(body)


def test_deadline_cancels_the_rest_of_the_batch_and_frees_its_slot(
        server: RewardServer) -> None:
    task = sr.CodeTask(task_id="add", prompt="add", entry_point="add",
                       tests=[sr.TestCase.call("add", (1, 2), 3)])
    n = 24  # ~6 s of work at 0.25 s a sample; the deadline is 1 s
    body = {"query": [SLOW_CODE] * n, "prompts": [""] * n,
            "labels": [task.model_dump_json()] * n}
    t0 = time.monotonic()
    status, reply = _post(server, body)
    assert status == 504 and "dropped" in str(reply["error"])
    # The worker stops at the next sample boundary: well before the batch's 6 s of work.
    while server.busy_slots and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    stopped_after = time.monotonic() - t0
    assert server.busy_slots == 0
    assert stopped_after < 0.5 * n * 0.25, stopped_after
    assert _post(server, {"query": []}) == (200, {"rewards": [], "scores": [],
                                                  "extra_logs": {}})


def _start_cli(port: int, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "stepreward.cli", "serve", "--port",
                             str(port), "--workers", "1", *extra],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def test_idle_keepalive_and_slowloris_do_not_block_sigterm() -> None:
    port = _free_port()
    proc = _start_cli(port)
    threads_before = psutil.Process(proc.pid).num_threads()
    idle = socket.create_connection(("127.0.0.1", port))
    body = b'{"query": []}'
    idle.sendall(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body), body))
    assert b"200" in idle.recv(4096).split(b"\r\n")[0]  # kept alive, then idle
    slow = []
    for _ in range(40):  # slowloris: headers that never end
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /r HTTP/1.1\r\nHost: x\r\nX-a: ")
        slow.append(s)
    time.sleep(0.5)
    # Slow clients cost sockets, not threads, and the server still answers.
    assert psutil.Process(proc.pid).num_threads() <= threads_before + 4
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        assert json.load(r)["status"] == "ok"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    assert rc == 0 and time.monotonic() - t0 < 15
    for s in [idle, *slow]:
        s.close()


def test_sigterm_lets_a_request_in_flight_finish() -> None:
    port = _free_port()
    proc = _start_cli(port)
    task = sr.CodeTask(task_id="add", prompt="add", entry_point="add",
                       tests=[sr.TestCase.call("add", (1, 2), 3)])
    body = {"query": [SLOW_CODE] * 4, "prompts": [""] * 4,
            "labels": [task.model_dump_json()] * 4}
    out: dict[str, object] = {}

    def call() -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/r",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            out.update(json.load(r))

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.4)  # the request is being scored
    proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert proc.wait(timeout=30) == 0
    assert out.get("rewards") == [1.0] * 4


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stepreward.cli", *args],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


def test_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _cli("serve", "--port", str(port))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Address already in use" in r.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (("serve", "--port", "70000"), "port must be in 0-65535"),
    (("serve", "--host", "256.1.1.1", "--port", "0"), "cannot listen on 256.1.1.1"),
    (("serve", "--timeout", "0"), "timeout_s must be positive"),
])
def test_bad_serve_arguments_are_one_line(args: tuple[str, ...], needle: str) -> None:
    r = _cli(*args)
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0


def test_serve_ray_without_ray_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "ray"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    r = _cli("serve", "--backend", "ray", "--port", "0", env=env)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "ray" in r.stderr


def test_run_with_a_negative_timeout_is_one_line() -> None:
    r = subprocess.run([sys.executable, "-m", "stepreward.cli", "run", "-", "--timeout", "-1"],
                       input="print(1)", capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2
    assert r.stderr.strip() == ("stepreward run: timeout_s: Input should be greater than 0 "
                                "(got -1.0)")


def _wait_reply(s: socket.socket, limit: float) -> tuple[bytes | None, float]:
    """The first bytes the server sends (b"" when it closes), or None after ``limit`` s."""
    s.settimeout(0.1)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            return s.recv(4096), time.monotonic() - t0
        except TimeoutError:
            continue
        except OSError:
            return b"", time.monotonic() - t0
    return None, time.monotonic() - t0


@pytest.fixture
def quick_idle() -> Iterator[RewardServer]:
    yield from _serving(RewardServer("127.0.0.1", 0, workers=1, timeout_s=2.0,
                                     idle_timeout_s=0.5))


@pytest.mark.parametrize("trickle", [b"", b" "])
def test_a_body_that_stalls_or_trickles_gets_a_408(quick_idle: RewardServer,
                                                   trickle: bytes) -> None:
    # Headers in full, then the body stops (or comes a byte at a time): the request must not
    # hold its connection (and shutdown) for ever.
    with socket.create_connection(("127.0.0.1", quick_idle.server_address[1])) as s:
        s.sendall(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        t0 = time.monotonic()
        reply = None
        while reply is None and time.monotonic() - t0 < 8:
            if trickle:
                try:
                    s.sendall(trickle)
                except OSError:
                    reply = b""
                    break
            reply, _ = _wait_reply(s, 0.3)
        waited = time.monotonic() - t0
    assert reply is not None and reply.startswith(b"HTTP/1.1 408"), (reply, waited)
    assert waited < 4.0  # inactivity (0.5 s) or the request deadline (2 s), whichever first
    assert quick_idle.in_flight == 0 and quick_idle.errors == 0


def test_headers_that_trickle_are_cut_after_the_idle_timeout(quick_idle: RewardServer) -> None:
    with socket.create_connection(("127.0.0.1", quick_idle.server_address[1])) as s:
        s.sendall(b"POST /r HTTP/1.1\r\nHost: x\r\nX-a: ")
        t0 = time.monotonic()
        reply = None
        while reply is None and time.monotonic() - t0 < 8:
            try:
                s.sendall(b"a")
            except OSError:
                reply = b""
                break
            reply, _ = _wait_reply(s, 0.1)
        assert reply == b"" and time.monotonic() - t0 < 4.0


def test_sigterm_with_a_stalled_body_and_bad_requests_exits_fast_and_logs_no_traceback(
        ) -> None:
    port = _free_port()
    proc = _start_cli(port, "--idle-timeout", "2")
    assert _status(_raw(port, b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
                              b"{}")) == 400
    stalled = socket.create_connection(("127.0.0.1", port))
    stalled.sendall(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    gone = socket.create_connection(("127.0.0.1", port))  # leaves in the middle of its body
    gone.sendall(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    time.sleep(0.3)
    gone.close()
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    # The stalled client may hold shutdown for its inactivity limit (2 s here), never the
    # 60 s grace of a request that is really being scored.
    rc = proc.wait(timeout=90)
    stalled.close()
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    assert rc == 0 and time.monotonic() - t0 < 10, log
    assert "Traceback" not in log, log
    for line in log.splitlines():
        json.loads(line)  # JSON lines only


def test_half_open_connections_at_the_descriptor_limit_get_a_clear_refusal() -> None:
    """1,100 stalled clients at a 1,024 descriptor limit: the server raises its soft limit,
    caps connections and refuses the rest with a 503; honest requests are answered, not
    starved, and every log line (asyncio's too) is JSON."""
    port = _free_port()
    boot = ("import resource, runpy, sys\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))\n"
            "sys.argv = ['stepreward', *sys.argv[1:]]\n"
            "runpy.run_module('stepreward.cli', run_name='__main__')\n")
    proc = subprocess.Popen([sys.executable, "-c", boot, "serve", "--port", str(port),
                             "--workers", "1", "--idle-timeout", "60"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    stalled: list[socket.socket] = []
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(1100):  # connect, send nothing
            stalled.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(1.0)
        t0 = time.monotonic()
        reply = _raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=8)
        assert time.monotonic() - t0 < 8
        assert _status(reply) in (200, 503), reply
        if _status(reply) == 503:
            assert b"connections" in reply
        for s in stalled:
            s.close()
        stalled = []
        time.sleep(1.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
            assert json.load(r)["status"] == "ok"
    finally:
        for s in stalled:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    for line in log.splitlines():
        json.loads(line)  # JSON lines only
    assert '"refused"' in log or "connections" in log


def test_one_client_cannot_change_anothers_rewards(server: RewardServer) -> None:
    """Two rows with one id and the same questions but another program: the server scores
    each against its own program, whichever came first (the row cache keys the whole row)."""
    good = sr.build_sample("def f(x):\n    return x + 1\n", "f(2)", kinds=("input",)).to_row()
    evil = {**good, "source": "def f(x):\n    return 3\n"}
    answer = "<answer>\nassert f(5) == 3\n</answer>"
    for label, want in ((evil, 1.0), (good, 0.0), (evil, 1.0)):
        status, body = _post(server, {"query": [answer], "prompts": [""],
                                      "labels": [json.dumps(label)]})
        assert status == 200 and body["rewards"] == [want], (label["source"], body)
