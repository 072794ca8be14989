"""The verifiers environment package, run by verifiers' own ``vf-eval`` in its own venv.

verifiers needs Python >= 3.11 and heavy dependencies, so it lives in a separate virtual
environment (``make .venv-vf/.installed``, or ``STEPREWARD_VF_VENV``). ``vf-eval`` loads
``stepreward-execverify``, runs its default harness (verifiers' ``null`` chat program, which
``uv`` installs on first use) against a scripted OpenAI-compatible server on loopback, and
scores with the package's ``@vf.reward``/``@vf.metric``; the test reads the traces it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stepreward.integrations.tasks import (
    GeneratedTask,
    generate_task,
    read_sample_rows,
    task_prompt,
)
from stepreward.types import Sample

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("STEPREWARD_VF_VENV", ROOT / ".venv-vf"))
SEED = 11
N_TASKS = 8
LEVELS = [1, 2, 3]
KINDS = ["output", "input", "next_statement", "state"]

pytestmark = pytest.mark.slow


def _answer(task: GeneratedTask, plan: str) -> str:
    """The scripted model's reply for ``task`` under ``plan``."""
    sample = task.sample
    gold = sample.gold_answers()
    entry = sample.entry or "f"
    if plan == "gold":
        return "Let me trace it.\n" + sample.answer_text(gold)
    if plan == "wrong":
        return sample.answer_text(["assert f(0) == 123456789" if q.kind in ("output", "input")
                                   else "print('not in the program')"
                                   if q.kind == "next_statement"
                                   else "123456789; int" for q in sample.questions])
    if plan == "hostile":
        # The call itself in place of a value, and an import smuggled in as arguments.
        return sample.answer_text([
            f"assert {sample.call} == {sample.call}" if q.kind == "output"
            else f"assert {entry}(__import__('os').system('touch /tmp/pwned')) == 0"
            if q.kind == "input" else "__import__('os')" for q in sample.questions])
    return "I would rather not say."  # no answer block


PLANS = ["gold", "wrong", "hostile", "none"]


class _Script(BaseHTTPRequestHandler):
    replies: ClassVar[dict[str, str]] = {}
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        if isinstance(user, list):
            user = "".join(part.get("text", "") for part in user)
        self.seen.append(user)
        text = self.replies.get(user, "unknown prompt")
        base = {"id": f"chatcmpl-{len(self.seen)}", "created": int(time.time()),
                "model": body.get("model", "scripted")}
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            chunks = [{"index": 0, "delta": {"role": "assistant", "content": text},
                       "finish_reason": None},
                      {"index": 0, "delta": {}, "finish_reason": "stop"}]
            for choice in chunks:
                event = {**base, "object": "chat.completion.chunk", "choices": [choice]}
                self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            tail = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            self.wfile.write(b"data: " + json.dumps(tail).encode() + b"\n\ndata: [DONE]\n\n")
            return
        out = json.dumps({**base, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text},
             "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture(scope="module")
def vf_python() -> Path:
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "vf-eval").exists():
        pytest.skip(f"no verifiers venv at {VENV} (make .venv-vf/.installed)")
    probe = subprocess.run([str(python), "-c", "import stepreward_execverify"],
                           capture_output=True, text=True)
    if probe.returncode:
        pytest.fail(f"{VENV} lacks the environment package: {probe.stderr[-400:]}")
    return python


@pytest.fixture(scope="module")
def tasks() -> list[GeneratedTask]:
    return [generate_task(SEED + i, LEVELS, KINDS) for i in range(N_TASKS)]


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small `stepreward synth` output, half of it input-prediction (O/I) rows."""
    out = tmp_path_factory.mktemp("synth")
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "stepreward"), "synth", "--n", "6",
                           "--levels", "1-2", "--seed", "3", "--input-share", "0.5",
                           "--out", str(out), "--format", "jsonl"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _synth_tasks(synth_dir: Path) -> list[tuple[str, GeneratedTask]]:
    """The synth rows as (row id, task) with the prompt the taskset shows."""
    out = []
    for row in read_sample_rows(synth_dir):
        sample = Sample.from_row(json.loads(row["label"]))
        sample = sample.model_copy(update={"prompt": task_prompt(sample)})
        kinds = tuple(dict.fromkeys(q.kind for q in sample.questions))
        out.append((row["id"], GeneratedTask(sample, row["level"], kinds, -1)))
    return out


@pytest.fixture(scope="module")
def server(tasks: list[GeneratedTask], synth_dir: Path) -> Iterator[str]:
    _Script.replies = {t.sample.prompt: _answer(t, PLANS[i % len(PLANS)])
                       for i, t in enumerate(tasks)}
    _Script.replies.update({t.sample.prompt: _answer(t, PLANS[i % 2])
                            for i, (_, t) in enumerate(_synth_tasks(synth_dir))})
    _Script.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Script)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _vf_eval(python: Path, base_url: str, out: Path, *extra: str) -> list[dict[str, Any]]:
    cmd = [str(python.parent / "vf-eval"), "stepreward-execverify", "--model", "scripted",
           "--client.base-url", base_url, "--client.api-key-var", "STEPREWARD_TEST_KEY",
           "--env.agent.runtime.type", "subprocess", "--no-push", "--no-rich",
           "-o", str(out), "--run.name", "t", "--env.taskset.seed", str(SEED),
           "--env.taskset.levels", json.dumps(LEVELS), "--env.taskset.kinds", json.dumps(KINDS),
           "-n", str(N_TASKS), *extra]
    env = {**os.environ, "STEPREWARD_TEST_KEY": "local"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900,
                          cwd=out)
    assert done.returncode == 0, done.stderr[-4000:]
    path = out / "t" / "traces.jsonl"
    episodes = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [trace for episode in episodes for trace in episode["traces"]]


def test_vf_eval_scores_with_the_reward_core(vf_python: Path, server: str,
                                             tasks: list[GeneratedTask], tmp_path: Path) -> None:
    traces = _vf_eval(vf_python, server, tmp_path)
    assert len(traces) == N_TASKS
    by_name = {t["task"]["data"]["name"]: t for t in traces}
    assert set(by_name) == {f"execverify-{SEED + i}" for i in range(N_TASKS)}
    for i, task in enumerate(tasks):
        trace = by_name[f"execverify-{SEED + i}"]
        plan = PLANS[i % len(PLANS)]
        # verifiers showed the prompt this process generated from the same seed, byte for byte
        assert trace["task"]["data"]["prompt"] == task.sample.prompt
        reward = trace["rewards"]["execverify"]["score"]
        metrics = trace["metrics"]
        assert reward == (1.0 if plan == "gold" else 0.0), (plan, trace["metrics"])
        assert metrics["correct"] == (1.0 if plan == "gold" else 0.0)
        assert metrics["no_answer"] == (1.0 if plan == "none" else 0.0)
        for kind in KINDS:
            asked = kind in task.kinds
            assert metrics[f"{kind}_asked"] == float(asked)
            assert metrics[f"{kind}_accuracy"] == (1.0 if asked and plan == "gold" else 0.0)
    assert not Path("/tmp/pwned").exists()
    assert all(prompt in _Script.replies for prompt in _Script.seen)


def test_vf_eval_reads_synth_files(vf_python: Path, server: str, synth_dir: Path,
                                   tmp_path: Path) -> None:
    expected = _synth_tasks(synth_dir)
    assert any("input" in t.kinds for _, t in expected), "the run needs an O/I row"
    traces = _vf_eval(vf_python, server, tmp_path, "--env.taskset.data", str(synth_dir))
    assert len(traces) == len(expected)
    by_id = {t["task"]["data"]["id"]: t for t in traces}
    for i, (row_id, task) in enumerate(expected):
        trace = by_id[row_id]
        shown = trace["task"]["data"]["prompt"]
        assert shown == task.sample.prompt
        if "input" in task.kinds:  # the call is the answer: an O/I prompt must not show it
            assert task.sample.call not in shown and "(??)" in shown
        want = 1.0 if PLANS[i % 2] == "gold" else 0.0
        assert trace["rewards"]["execverify"]["score"] == want
        assert trace["task"]["data"]["level"] == task.level


def test_bash_harness_is_refused(vf_python: Path, server: str, tmp_path: Path) -> None:
    cmd = [str(vf_python.parent / "vf-eval"), "stepreward-execverify", "--model", "scripted",
           "--client.base-url", server, "--client.api-key-var", "STEPREWARD_TEST_KEY",
           "--env.agent.runtime.type", "subprocess", "--no-push", "--no-rich",
           "-o", str(tmp_path), "--run.name", "b", "--env.taskset.seed", str(SEED),
           "--env.agent.harness.id", "bash", "-n", "1"]
    env = {**os.environ, "STEPREWARD_TEST_KEY": "local"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900,
                          cwd=tmp_path)
    text = (tmp_path / "b" / "traces.jsonl").read_text() if (
        tmp_path / "b" / "traces.jsonl").exists() else ""
    assert "lets the model run code" in done.stdout + done.stderr + text
