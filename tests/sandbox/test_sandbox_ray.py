"""The Ray backend on a real local Ray cluster: same answers as the local pool, faults survived."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import stepreward as sr
from test_sandbox_hostile import CORPUS, HOSTILE_MIX

ray = pytest.importorskip("ray")

FAST = sr.Limits(timeout_s=0.3)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def rsb(cluster: None) -> Iterator[sr.Sandbox]:
    with sr.Sandbox(backend="ray", actors=2, workers_per_node=1, batch_size=16) as sb:
        yield sb


def _key(r: sr.ExecResult) -> tuple[Any, ...]:
    return (r.status, r.stdout, r.error_type, r.value, r.stdout_truncated)


def _mixed(n: int) -> tuple[list[str], list[str | None]]:
    codes: list[str] = []
    stdins: list[str | None] = []
    for i in range(n // 2):
        codes.append(f"print({i} * {i} + 1)")
        stdins.append(None)
        if i % 100 == 50:
            codes.append("while True:\n    pass")
        elif i % 7 == 3:
            codes.append("import sys\nprint(sys.stdin.read().upper())")
        else:
            codes.append(HOSTILE_MIX[i % len(HOSTILE_MIX)][0])
        stdins.append(f"line {i}" if i % 7 == 3 else None)
    return codes, stdins


def test_two_thousand_mixed_jobs_match_the_local_backend(rsb: sr.Sandbox) -> None:
    codes, stdins = _mixed(2000)
    remote = rsb.run_many(codes, stdin=stdins, limits=FAST)
    with sr.Sandbox(workers=2) as local_sb:
        local = local_sb.run_many(codes, stdin=stdins, limits=FAST)
    assert len(remote) == len(local) == 2000
    assert [_key(r) for r in remote] == [_key(r) for r in local]
    assert remote[0].stdout == "1\n" and remote[-2].stdout == f"{999 * 999 + 1}\n"
    assert sum(r.status == "timeout" for r in remote) == 10
    # Back-pressure: never more than batch_size x max_inflight_batches x actors out at once.
    assert 16 < rsb.stats["peak_inflight_jobs"] <= 16 * 2 * 2  # type: ignore[attr-defined]


def test_same_api_calls_async_rejections_and_isolation(rsb: sr.Sandbox) -> None:
    import asyncio

    assert rsb.call("math:factorial", 6).value == 720
    assert [r.value for r in rsb.call_many("math:factorial", [1, 2, 3])] == [1, 2, 6]
    assert asyncio.run(rsb.arun("print('a')")).stdout == "a\n"
    big = rsb.run("x = 12345", limits=sr.Limits(max_code_bytes=4))
    assert big.status == "rejected" and "limit" in (big.reason or "")
    assert "seccomp" in rsb.isolation and rsb.info["backend"] == "ray"
    assert rsb.workers == 2 and "ray" in repr(rsb)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_corpus_is_contained_through_ray(rsb: sr.Sandbox, name: str) -> None:
    code, allowed, limits = CORPUS[name]
    r = rsb.run(code, limits=limits)
    assert r.status in allowed, (name, r)
    assert r.value != "FORGED"
    assert r.status == "ok" or r.reason
    assert rsb.run("print(5)").stdout == "5\n"


def _actor_pids(sb: Any) -> list[int]:
    return [ray.get(a.hello.remote())["pid"] for a in sb._actors]


def test_killed_actor_loses_no_job(cluster: None) -> None:
    codes = [f"import time\ntime.sleep(0.02)\nprint({i})" for i in range(300)]
    with sr.Sandbox(backend="ray", actors=2, workers_per_node=1, batch_size=8) as sb:
        victim = sb._actors[0]  # type: ignore[attr-defined]
        killer = threading.Timer(0.5, lambda: ray.kill(victim, no_restart=True))
        killer.start()
        results = sb.run_many(codes)
        killer.join()
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(300)]
        assert all(r.status == "ok" for r in results)
        assert sb.run("print('after')").stdout == "after\n"  # the slot was refilled
        assert sb.stats["faults"] >= 1 and sb.stats["retried_jobs"] >= 1  # type: ignore[attr-defined]
        assert sb.stats["crashed_jobs"] == 0  # type: ignore[attr-defined]


def test_killed_actor_reports_crashed_when_asked(cluster: None) -> None:
    codes = [f"import time\ntime.sleep(0.02)\nprint({i})" for i in range(200)]
    with sr.Sandbox(backend="ray", actors=2, workers_per_node=1, batch_size=8,
                    on_fault="crash") as sb:
        victim = sb._actors[0]  # type: ignore[attr-defined]
        killer = threading.Timer(0.4, lambda: ray.kill(victim, no_restart=True))
        killer.start()
        results = sb.run_many(codes)
        killer.join()
    crashed = [r for r in results if r.status == "crashed"]
    assert crashed and all((r.reason or "").startswith("ray:") for r in crashed)
    assert all(r.stdout == f"{i}\n" for i, r in enumerate(results) if r.status == "ok")
    assert len(crashed) + sum(r.status == "ok" for r in results) == 200


def test_stalled_actor_does_not_hold_the_batch_past_its_deadline(cluster: None) -> None:
    with sr.Sandbox(backend="ray", actors=2, workers_per_node=1, batch_size=4,
                    grace_s=1.0) as sb:
        pid = _actor_pids(sb)[0]
        os.kill(pid, signal.SIGSTOP)  # the actor stops answering, as on a wedged node
        try:
            t0 = time.monotonic()
            results = sb.run_many([f"print({i})" for i in range(16)], limits=FAST)
            took = time.monotonic() - t0
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(16)]
    assert took < 15


def test_bad_options_are_clear_errors(cluster: None) -> None:
    with pytest.raises(ValueError, match="on_fault"):
        sr.Sandbox(backend="ray", on_fault="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        sr.Sandbox(backend="ray", batch_size=0)
    with pytest.raises(ValueError, match="backend"):
        sr.Sandbox(backend="dask")


def test_serve_with_the_ray_backend(cluster: None) -> None:
    import json
    import urllib.request

    from stepreward.integrations.openrlhf.server import RewardServer
    from stepreward.trace._api import default_sandbox

    local_default = default_sandbox()
    sample = sr.build_sample("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)",
                             kinds=("output", "state"))
    task = sr.CodeTask(task_id="add", prompt="add", entry_point="add",
                       tests=[sr.TestCase.call("add", (1, 2), 3)])
    code = "<answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
    srv = RewardServer("127.0.0.1", 0, workers=1, backend="ray")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as r:
            assert json.load(r)["backend"] == "ray"
        body = {"query": [sample.gold_completion(), sample.answer_text(["0", "0; int"]), code],
                "prompts": ["", "", ""],
                "labels": [json.dumps(sample.to_row()), json.dumps(sample.to_row()),
                           task.model_dump_json()]}
        req = urllib.request.Request(f"{url}/get_reward", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert json.load(r)["rewards"] == [1.0, 0.0, 1.0]
        assert srv.sandbox.stats["jobs"] >= 1  # type: ignore[attr-defined]
    finally:
        srv.shutdown()
        srv.server_close()
    assert default_sandbox() is local_default  # the process default is given back


def test_environment_routes_the_default_sandbox_to_ray(cluster: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from stepreward.sandbox._ray import RaySandbox

    monkeypatch.setenv("STEPREWARD_SANDBOX", "ray")
    previous = sr.set_default_sandbox(None)
    try:
        sb = sr.default_sandbox()
        assert isinstance(sb, RaySandbox)
        report = sr.run_tests("def add(a, b):\n    return a + b",
                              [sr.TestCase.call("add", (1, 2), 3),
                               sr.TestCase.call("add", (2, 2), 5)])
        assert (report.passed, report.total) == (1, 2)
        assert sb.stats["jobs"] >= 1
        sb.close()
    finally:
        sr.set_default_sandbox(previous)


def test_actors_only_on_nodes_with_the_resource(cluster: None) -> None:
    # No node of the test cluster has this resource: the count falls back to one actor,
    # which Ray cannot place, so the constructor must fail clearly rather than hang.
    with pytest.raises(RuntimeError, match="could not start 1 sandbox actor"):
        sr.Sandbox(backend="ray", workers_per_node=1,
                   actor_options={"resources": {"reward_node": 0.001}}, start_timeout_s=3)


def test_ray_going_away_answers_every_job(cluster: None) -> None:
    sb = sr.Sandbox(backend="ray", actors=1, workers_per_node=1, batch_size=4)
    try:
        boom = RuntimeError("head node lost")

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise boom

        sb._ray = type("BrokenRay", (), {"wait": staticmethod(broken),  # type: ignore[attr-defined]
                                          "get": staticmethod(broken),
                                          "kill": staticmethod(broken)})()
        results = sb.run_many([f"import time\ntime.sleep(0.05)\nprint({i})" for i in range(12)])
        assert len(results) == 12
        assert all(r.status == "crashed" and "head node lost" in (r.reason or "")
                   for r in results)
        with pytest.raises(RuntimeError, match="closed"):
            sb.run("print(1)")
    finally:
        sb._ray = ray  # type: ignore[attr-defined]
        sb._closed = False  # type: ignore[attr-defined]
        sb.close()


def test_serve_command_with_ray_backend_starts_and_stops(tmp_path: Any) -> None:
    import json
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "stepreward.cli", "serve", "--port",
                             str(port), "--backend", "ray", "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    health = json.load(r)
                    break
            except OSError:
                time.sleep(0.5)
        assert health is not None and health["backend"] == "ray", proc.stderr
        task = sr.CodeTask(task_id="add", prompt="add", entry_point="add",
                           tests=[sr.TestCase.call("add", (1, 2), 3)])
        code = "<answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
        body = {"query": [code], "prompts": [""], "labels": [task.model_dump_json()]}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/get_reward",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert json.load(r)["rewards"] == [1.0]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
