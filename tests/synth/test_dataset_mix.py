"""build_dataset's data mix and difficulty control: equal level shares in every split, O/I
rows in the RL set, the policy-model window and the solver upper bound, against scripted
models behind a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

import stepreward as sr
from stepreward.synth import OpenAICompatible, build_dataset


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _program_and_call(prompt: str) -> tuple[str, str]:
    block = prompt.split("Program:\n", 1)[1].split("\n\nCall: ", 1)
    source = "\n".join(re.sub(r"^\s*\d+ \| ?", "", line) for line in block[0].splitlines())
    call = block[1].split("\n", 1)[0].strip()
    return source + "\n", call


def policy_passes(source: str, call: str, n: int) -> int:
    """How many of n answers the scripted policy model gets right (fixed per program)."""
    return int(hashlib.sha256(f"{source}|{call}".encode()).hexdigest()[:6], 16) % (n + 1)


def solver_solves(source: str, call: str) -> bool:
    return int(hashlib.sha256(f"solver|{source}|{call}".encode()).hexdigest()[:6], 16) % 4 != 0


class _Models(BaseHTTPRequestHandler):
    """Two scripted models: ``policy`` is right on policy_passes() of its n answers,
    ``solver`` on all of them when solver_solves(); gold values come from the sandbox."""

    calls: ClassVar[list[dict[str, Any]]] = []
    sandbox: ClassVar[sr.Sandbox | None] = None

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        n = int(body.get("n", 1))
        source, call = _program_and_call(prompt)
        self.calls.append({"model": body["model"], "n": n,
                           "temperature": body.get("temperature"),
                           "source": source, "call": call})
        result = sr.trace(source, call, sandbox=self.sandbox).result
        gold = f"<answer>\nassert {call} == {result.repr if result else None}\n</answer>"
        wrong = "<reasoning>no idea</reasoning>\n<answer>\nassert 0 == 1\n</answer>"
        if body["model"] == "policy":
            k = policy_passes(source, call, n)
        else:
            k = n if solver_solves(source, call) else 0
        texts = [gold if i < k else wrong for i in range(n)]
        data = json.dumps({"choices": [{"index": i, "message": {"role": "assistant",
                                                                 "content": t}}
                                       for i, t in enumerate(texts)]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def models(sandbox: sr.Sandbox) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    _Models.calls = []
    _Models.sandbox = sandbox
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_levels_have_equal_shares_in_every_split(sandbox: sr.Sandbox, tmp_path: Path) -> None:
    # Before: 31/31/27/14/8/9 of 120 RL rows, and the harder programs went to SFT.
    report = build_dataset(120, tmp_path, levels=(1, 2, 3, 4, 5, 6), seed=0, sft=30,
                           validation_fraction=0.05, sandbox=sandbox)
    train, valid, sft = (_read(tmp_path / f"{s}.jsonl") for s in ("train", "validation", "sft"))
    assert Counter(r["level"] for r in train) == dict.fromkeys(range(1, 7), 19)
    assert Counter(r["level"] for r in valid) == dict.fromkeys(range(1, 7), 1)
    assert Counter(r["level"] for r in sft) == dict.fromkeys(range(1, 7), 10)
    assert Counter((r["level"], r["task"]) for r in sft) == {
        (lv, t): 5 for lv in range(1, 7) for t in ("output", "input")}
    assert report.per_level == dict.fromkeys(range(1, 7), 20) and not report.shortfall
    programs = [{r["program_id"] for r in rows} for rows in (train, valid, sft)]
    assert not programs[0] & programs[1] and not programs[2] & (programs[0] | programs[1])
    # Uneven totals differ by at most one row between levels.
    report = build_dataset(20, tmp_path / "b", levels=(2, 4, 6), seed=1, sandbox=sandbox,
                           validation_fraction=0.0)
    assert sorted(report.per_level.values()) == [6, 7, 7]


def test_input_prediction_rows_are_mixed_into_rl(sandbox: sr.Sandbox, tmp_path: Path) -> None:
    build_dataset(48, tmp_path, levels=(1, 3, 5), seed=3, input_share=0.375,
                  validation_fraction=0.0, sandbox=sandbox)
    train = _read(tmp_path / "train.jsonl")
    mix = Counter((r["level"], r["rl_kind"]) for r in train)
    # floor(16 * 0.375) = 6 O/I rows per level, spread through the rows.
    assert mix == {(lv, k): c for lv in (1, 3, 5) for k, c in (("oi", 6), ("io_mixed", 10))}
    for row in train:
        sample = sr.Sample.from_row(row["label"])
        kinds = {q.kind for q in sample.questions}
        assert kinds == {"input"} if row["rl_kind"] == "oi" else "input" not in kinds
        assert sr.score(sample.gold_completion(), row, sandbox=sandbox).reward == 1.0
        assert row["messages"][0]["role"] == "system"
    oi_positions = [i for i, r in enumerate(train) if r["rl_kind"] == "oi"]
    assert oi_positions[0] < len(train) // 2 < oi_positions[-1]


def test_policy_window_and_solver_bound(models: str, sandbox: sr.Sandbox,
                                        tmp_path: Path) -> None:
    policy = OpenAICompatible(models, model="policy")
    solver = OpenAICompatible(models, model="solver")
    report = build_dataset(24, tmp_path, levels=(1, 3), seed=5, sft=4, sandbox=sandbox,
                           difficulty=policy, solver=solver, validation_fraction=0.0)
    train, sft = _read(tmp_path / "train.jsonl"), _read(tmp_path / "sft.jsonl")
    assert len(train) == 24 and len(sft) == 8 and not report.shortfall
    for row in train + sft:
        # The recorded pass count is the scripted one, inside the window k <= 3 of n = 10.
        assert row["pass_n"] == 10
        assert row["pass_count"] == policy_passes(row.get("source") or json.loads(
            row["sample"])["source"], row.get("call") or json.loads(row["sample"])["call"], 10)
        assert row["pass_count"] <= 3
        assert row["solver_pass_count"] == 1 and row["upper_bound"] == "solver"
    assert report.rejects["too easy for the policy model (passes > 3 of 10)"] > 0
    assert report.rejects["not solved by the solver (upper bound)"] > 0
    assert sum(report.pass_counts.values()) == 32 and max(report.pass_counts) <= 3
    # The method's sampling settings reach the server: 10 at T=1.0, then 1 at T=0.6,
    # and the solver only sees what the policy window kept.
    pol = [c for c in _Models.calls if c["model"] == "policy"]
    sol = [c for c in _Models.calls if c["model"] == "solver"]
    assert {(c["n"], c["temperature"]) for c in pol} == {(10, 1.0)}
    assert {(c["n"], c["temperature"]) for c in sol} == {(1, 0.6)}
    assert all(policy_passes(c["source"], c["call"], 10) <= 3 for c in sol)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["difficulty"]["max_pass"] == 3 and summary["upper_bound"] == "solver"


def test_narration_bound_and_deterministic_filters(models: str, sandbox: sr.Sandbox,
                                                   tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"levels": (2,), "seed": 7, "sandbox": sandbox,
                              "validation_fraction": 0.0, "solver": "narration"}
    build_dataset(8, tmp_path / "a", difficulty=OpenAICompatible(models, model="policy"),
                  **kwargs)
    build_dataset(8, tmp_path / "b", difficulty=OpenAICompatible(models, model="policy"),
                  **kwargs)
    a = (tmp_path / "a" / "train.jsonl").read_bytes()
    assert a == (tmp_path / "b" / "train.jsonl").read_bytes()
    rows = _read(tmp_path / "a" / "train.jsonl")
    assert {r["upper_bound"] for r in rows} == {"narration"}
    assert all(r["solver_pass_count"] is None and r["pass_count"] <= 3 for r in rows)
    # Without bounds the columns are there and empty.
    build_dataset(4, tmp_path / "c", levels=(1,), sandbox=sandbox)
    row = _read(tmp_path / "c" / "train.jsonl")[0]
    assert row["pass_count"] is None and row["upper_bound"] is None


def test_misuse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="solver"):
        build_dataset(2, tmp_path, solver="teacher")
    with pytest.raises(TypeError, match="generate"):
        build_dataset(2, tmp_path, difficulty="http://x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="input_share"):
        build_dataset(2, tmp_path, input_share=1.5)
    with pytest.raises(ValueError, match="levels"):
        build_dataset(2, tmp_path, levels=(9,))


def test_synth_command_with_difficulty_control(models: str, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "stepreward.cli", "synth", "--n", "8",
                        "--levels", "1,3", "--seed", "2", "--validation", "0",
                        "--input-share", "0.5", "--difficulty-endpoint", models,
                        "--difficulty-model", "policy", "--solver-endpoint", models,
                        "--solver-model", "solver", "--out", str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["per_split"]["train"] == {"1": 4, "3": 4}
    assert max(int(k) for k in out["pass_counts"]) <= 3
    rows = _read(tmp_path / "train.jsonl")
    assert Counter(r["rl_kind"] for r in rows) == {"oi": 4, "io_mixed": 4}
    assert all(r["solver_pass_count"] == 1 for r in rows)
    r = subprocess.run([sys.executable, "-m", "stepreward.cli", "synth", "--n", "2",
                        "--solver-endpoint", models, "--verify-narration",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2 and "not both" in r.stderr


def test_recipe_data_stage_applies_the_configured_bounds(models: str, tmp_path: Path) -> None:
    import yaml

    from stepreward.recipe import dataset_options, run_recipe

    root = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((root / "integrations" / "trl" / "tiny-cpu.yaml").read_text())
    cfg["data"].update(n=12, sft=2, levels=[1, 2], validation_fraction=0.0, input_share=0.25,
                       difficulty={"endpoint": models, "model": "policy", "n": 10,
                                   "max_pass": 3, "temperature": 1.0},
                       solver={"endpoint": models, "model": "solver", "n": 1,
                               "temperature": 0.6})
    for key in ("sft_answers", "compact_prompts", "max_answer_chars"):  # the demo's extras
        cfg["data"].pop(key, None)
    cfg["data"]["code"] = {"source": "synth", "n": 4, "levels": [2, 3]}
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    summary = run_recipe(config, stages=("data",), out_dir=tmp_path / "run")
    assert summary["data"]["samples"] == 12 and summary["data"]["code_tasks"] == 4
    rows = _read(tmp_path / "run" / "data" / "train.jsonl")
    assert all(r["pass_count"] <= 3 and r["solver_pass_count"] == 1 for r in rows)
    assert Counter(r["rl_kind"] for r in rows) == {"oi": 2, "io_mixed": 10}
    assert {c["model"] for c in _Models.calls} == {"policy", "solver"}
    tasks = _read(tmp_path / "run" / "data" / "code_tasks.jsonl")
    assert {t["source"] for t in tasks} == {"synth"}
    # The paper config turns both bounds on, with the method's settings.
    paper = yaml.safe_load((root / "integrations" / "trl" / "paper-7b.yaml").read_text())
    opts = dataset_options(paper["data"])
    assert (opts["difficulty"].model, opts["difficulty_filter"].n,
            opts["difficulty_filter"].max_pass) == ("Qwen2.5-Coder-7B-Instruct", 10, 3)
    assert (opts["solver"].model, opts["solver_filter"].n,
            opts["solver_filter"].temperature) == ("QwQ-32B", 1, 0.6)
    assert opts["input_share"] == 0.375
    with pytest.raises(ValueError, match="endpoint"):
        dataset_options({"difficulty": {"model": "x"}})
    with pytest.raises(ValueError, match="narration"):
        dataset_options({"solver": "teacher"})
