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
    r = run_eval("cruxeval-o", tmp_path / "out", replay=replay, data=str(data), limit=20, n=2)
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
    from stepreward.integrations.tiny import build_tiny_model
    from stepreward.synth import TransformersGenerator

    model = build_tiny_model(tmp_path / "tiny")
    r = run_eval("cruxeval-o", tmp_path / "out", backend=TransformersGenerator(str(model)),
                 data=str(shared_data / "cruxeval" / "cruxeval.jsonl"), limit=10,
                 max_tokens=8)
    assert r["graded_items"] == 10 and 0.0 <= r["pass@1"] <= 100.0


class _Fake(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, str]] = {}
    failures: ClassVar[dict[str, int]] = {}
    slow: ClassVar[set[str]] = set()

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
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
