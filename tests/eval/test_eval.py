"""stepreward eval: replayed gold and known-wrong answers, backends, reports, resuming."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from stepreward.eval import bench_items, canonical_code, pass_at_k, run_eval
from stepreward.synth import OpenAICompatible


def write_replay(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "completion": c}) + "\n" for i, c in rows))
    return path


@pytest.mark.parametrize("bench", ["cruxeval-o", "cruxeval-i", "cruxeval-trace"])
def test_gold_replay_scores_100(bench: str, shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items(bench, path=data, limit=30)
    replay = write_replay(tmp_path / "gold.jsonl",
                          [(it.id, it.sample.gold_completion()) for it in items])  # type: ignore[union-attr]
    r = run_eval(bench, tmp_path / "out", replay=replay, data=str(data), limit=30)
    assert r["pass@1"] == 100.0 and r["graded_items"] == len(items) >= 25
    assert r["unparsed_rate"] == 0.0
    assert all(v == 100.0 for v in r["accuracy_per_kind"].values())
    for name in ("results.json", "report.md", "chart.png", "completions.jsonl"):
        assert (tmp_path / "out" / name).exists()


def test_known_errors_give_exact_numbers(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items("cruxeval-o", path=data, limit=20)
    rows = []
    for k, it in enumerate(items):
        s = it.sample
        assert s is not None
        gold = s.gold_completion()
        rows.append((it.id, gold if k % 4 else s.answer_text(["assert f() == 'nope'"])))
        rows.append((it.id, gold if k % 2 else "no answer"))
    replay = write_replay(tmp_path / "mixed.jsonl", rows)
    r = run_eval("cruxeval-o", tmp_path / "out", replay=replay, data=str(data), limit=20, samples=2)
    # Per item: k%4==0 -> 0 of 2 right; k%4==2 -> 1 of 2; odd k -> 2 of 2.
    expected = [pass_at_k(2, (0 if k % 4 == 0 else 1 if k % 2 == 0 else 2), 1)
                for k in range(len(items))]
    assert r["pass@1"] == pytest.approx(100 * sum(expected) / len(items))
    assert r["pass@2"] == pytest.approx(100 * (len(items) - len(range(0, len(items), 4)))
                                        / len(items))


def test_code_benchmarks_with_canonical_solutions(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "humanevalplus" / "HumanEvalPlus.jsonl.gz"
    items = bench_items("humaneval-plus", path=data, limit=6)
    replay = write_replay(tmp_path / "canon.jsonl", [
        (it.id, f"<answer>\n```python\n{canonical_code(it.task)}\n```\n</answer>")  # type: ignore[arg-type]
        for it in items])
    r = run_eval("humaneval-plus", tmp_path / "out", replay=replay, data=str(data), limit=6)
    assert r["pass@1"] == 100.0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| pass@1 | 100.0% |" in report


@pytest.mark.parametrize("bench,rel", [("humaneval", "humanevalplus/HumanEvalPlus.jsonl.gz"),
                                       ("mbpp-plus", "mbppplus/MbppPlus.jsonl.gz")])
def test_other_code_benchmarks_gold_and_broken(bench: str, rel: str, shared_data: Path,
                                                tmp_path: Path) -> None:
    data = shared_data / rel
    items = bench_items(bench, path=data, limit=4)
    assert len(items) == 4
    rows = []
    for it in items:
        code = canonical_code(it.task)  # type: ignore[arg-type]
        rows.append((it.id, f"<answer>\n```python\n{code}\n```\n</answer>"))
        # A solution that always returns None fails every task's tests.
        broken = f"def {it.task.entry_point}(*args, **kwargs):\n    return None"  # type: ignore[union-attr]
        rows.append((it.id, f"<answer>\n```python\n{broken}\n```\n</answer>"))
    replay = write_replay(tmp_path / "r.jsonl", rows)
    r = run_eval(bench, tmp_path / "out", replay=replay, data=str(data), limit=4, samples=2)
    assert r["pass@1"] == 50.0 and r["pass@2"] == 100.0
    assert r["unparsed_rate"] == 0.0 and r["consistency"] is None
    prose = write_replay(tmp_path / "p.jsonl", [(it.id, "I would loop over it.") for it in items])
    r = run_eval(bench, tmp_path / "out2", replay=prose, data=str(data), limit=4)
    assert r["pass@1"] == 0.0 and r["unparsed_rate"] == 100.0


def test_synth_bench_gold_replay_per_level(tmp_path: Path) -> None:
    from stepreward.synth import build_dataset

    build_dataset(12, tmp_path / "ds", levels=(1, 4), seed=3, validation_fraction=0.0)
    data = tmp_path / "ds" / "train.jsonl"
    items = bench_items("synth", path=data)
    assert {it.meta["level"] for it in items} == {1, 4}
    rows = [(it.id, it.sample.gold_completion() if int(it.meta["level"]) == 1  # type: ignore[union-attr]
             else "<answer>\nwrong\n</answer>") for it in items]
    replay = write_replay(tmp_path / "r.jsonl", rows)
    r = run_eval("synth", tmp_path / "out", replay=replay, data=str(data))
    assert r["accuracy_per_level"]["1"] == 100.0
    assert r["accuracy_per_level"]["4"] == 0.0
    gold = write_replay(tmp_path / "g.jsonl",
                        [(it.id, it.sample.gold_completion()) for it in items])  # type: ignore[union-attr]
    r = run_eval("synth", tmp_path / "out2", replay=gold, data=str(data))
    assert r["pass@1"] == 100.0 and r["unparsed_rate"] == 0.0


def test_resume_after_interruption(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items("cruxeval-o", path=data, limit=10)
    replay = write_replay(tmp_path / "gold.jsonl",
                          [(it.id, it.sample.gold_completion()) for it in items])  # type: ignore[union-attr]
    out = tmp_path / "out"
    run_eval("cruxeval-o", out, replay=replay, data=str(data), limit=5)
    first = (out / "completions.jsonl").read_text().splitlines()
    r = run_eval("cruxeval-o", out, replay=replay, data=str(data), limit=10)
    lines = (out / "completions.jsonl").read_text().splitlines()
    assert lines[: len(first)] == first and len(lines) == 10  # nothing graded twice
    assert r["pass@1"] == 100.0


def test_transformers_backend_on_the_tiny_model(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from stepreward.recipe.tiny import build_tiny_model
    from stepreward.synth import TransformersGenerator

    model = build_tiny_model(tmp_path / "tiny")
    data = str(shared_data / "cruxeval" / "cruxeval.jsonl")
    gen = TransformersGenerator(str(model), batch_size=4)
    r = run_eval("cruxeval-o", tmp_path / "out", backend=gen, data=data, limit=10, samples=2,
                 max_tokens=8)
    assert r["graded_items"] == 10 and 0.0 <= r["pass@1"] <= 100.0
    rows = [json.loads(x) for x in (tmp_path / "out" / "completions.jsonl").read_text()
            .splitlines()]
    assert len(rows) == 20 and all(isinstance(x["completion"], str) for x in rows)
    # Left-padded batches give each prompt the completion it gets on its own (greedy).
    prompts = [it.prompt for it in bench_items("cruxeval-o", path=data, limit=3)]
    batched = gen.generate(prompts, 1, temperature=0.0, max_tokens=6)
    alone = [gen.generate([p], 1, temperature=0.0, max_tokens=6)[0] for p in prompts]
    assert batched == alone
    # A system turn, when given, goes through the chat template before the user's turn.
    framed = TransformersGenerator(str(model), system_prompt="Be exact.")._text("PROMPT")
    assert "Be exact." in framed and framed.index("Be exact.") < framed.index("PROMPT")
    assert "Be exact." not in gen._text("PROMPT")


def test_eval_cli_with_a_local_model(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    import subprocess
    import sys

    from stepreward.recipe.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "stepreward.cli", "eval", "--bench", "cruxeval-i",
           "--model", str(model), "--data", str(shared_data / "cruxeval" / "cruxeval.jsonl"),
           "--limit", "3", "--max-tokens", "4", "--out", str(out), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["graded_items"] == 3
    bad = subprocess.run([*cmd[:-3], "--backend", "vllm", "--out", str(tmp_path / "o2")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "vLLM" in bad.stderr


class _Fake(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, str]] = {}
    failures: ClassVar[dict[str, int]] = {}
    slow: ClassVar[set[str]] = set()
    systems: ClassVar[list[str | None]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        first = body["messages"][0]
        self.systems.append(first["content"] if first["role"] == "system" else None)
        prompt = body["messages"][-1]["content"]
        key = next((k for k in self.answers if k in prompt), "")
        if self.failures.get(key, 0) > 0:  # fail first, then succeed: the client retries
            self.failures[key] -= 1
            if key in self.slow:
                time.sleep(1.5)  # past the client's timeout: it gives up and retries
                return
            else:
                self.send_response(503)
                self.end_headers()
                return
        data = json.dumps({"choices": [{"message": {"content": self.answers.get(key, "?")}}
                                       for _ in range(body.get("n", 1))]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_backend_with_errors_slowness_and_retries(fake_server: str, shared_data: Path,
                                                         tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items("cruxeval-o", path=data, limit=3)
    calls = [it.sample.call.strip() for it in items]  # type: ignore[union-attr]
    _Fake.answers = {c: it.sample.gold_completion()  # type: ignore[union-attr]
                     for c, it in zip(calls, items, strict=True)}
    _Fake.answers[calls[2]] = "<answer>\nassert f() == 'wrong'\n</answer>"
    _Fake.failures = {calls[0]: 2, calls[1]: 1}  # two 503s; one answer too slow
    _Fake.slow = {calls[1]}
    backend = OpenAICompatible(fake_server, model="m", timeout_s=1.0, retries=3, backoff_s=0.05)
    r = run_eval("cruxeval-o", tmp_path / "out", backend=backend, data=str(data), limit=3)
    assert r["graded_items"] == 3
    assert r["pass@1"] == pytest.approx(100 * 2 / 3)
    assert _Fake.failures == {calls[0]: 0, calls[1]: 0}
    failing = OpenAICompatible(fake_server, model="m", timeout_s=1.0, retries=2, backoff_s=0.01)
    _Fake.failures = {calls[0]: 5}
    from stepreward.synth import GenerationError

    with pytest.raises(GenerationError, match="503"):
        failing.generate([items[0].prompt])


def test_generation_failure_keeps_finished_batches(shared_data: Path, tmp_path: Path) -> None:
    from stepreward.synth import GenerationError

    data = str(shared_data / "cruxeval" / "cruxeval.jsonl")
    items = {it.prompt: it for it in bench_items("cruxeval-o", path=data, limit=6)}

    class Flaky:
        calls = 0

        def generate(self, prompts, n=1, *, temperature=1.0, max_tokens=512, seed=None):  # type: ignore[no-untyped-def]
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise GenerationError("server went away", retryable=True)
            return [[items[p].sample.gold_completion()] * n for p in prompts]  # type: ignore[union-attr]

    out = tmp_path / "out"
    with pytest.raises(GenerationError):
        run_eval("cruxeval-o", out, backend=Flaky(), data=data, limit=6, batch_size=3)
    assert len((out / "completions.jsonl").read_text().splitlines()) == 3
    r = run_eval("cruxeval-o", out, backend=Flaky(), data=data, limit=6, batch_size=3)
    assert r["graded_items"] == 6 and r["pass@1"] == 100.0 and Flaky.calls == 3


@pytest.mark.parametrize(("option", "expected"), [
    ("none", None), ("recipe", "recipe"), ("Think step by step.", "Think step by step.")])
def test_eval_cli_system_prompt(option: str, expected: str | None, fake_server: str,
                                shared_data: Path, tmp_path: Path) -> None:
    """The eval prompts carry the system turn a model was trained with, when asked to."""
    from stepreward.cli import main
    from stepreward.synth._dataset import SYSTEM_PROMPT

    _Fake.answers, _Fake.failures, _Fake.slow, _Fake.systems = {}, {}, set(), []
    rc = main(["eval", "--bench", "cruxeval-o", "--endpoint", fake_server, "--model", "m",
               "--data", str(shared_data / "cruxeval" / "cruxeval.jsonl"), "--limit", "2",
               "--system-prompt", option, "--out", str(tmp_path / "out"), "--json"])
    assert rc == 0
    want = SYSTEM_PROMPT if expected == "recipe" else expected
    assert _Fake.systems == [want, want]
