"""Replays reproduce pass@1 from every per-sample verdict; STEPREWARD_DATA; non-literal inputs."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import stepreward as sr
from stepreward.eval import bench_items, run_eval
from stepreward.eval._harness import data_path


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "completion": c}) + "\n" for i, c in rows))
    return path


@pytest.mark.parametrize("bench", ["cruxeval-o", "cruxeval-i"])
def test_replay_uses_every_completion_and_pass1_matches_the_verdicts(
        bench: str, shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items(bench, path=data, limit=40)
    rng = random.Random(7)
    rows = []
    for it in items:
        s = it.sample
        assert s is not None
        wrong = s.answer_text(["assert f(0) == 'surely not'"])
        for _ in range(rng.randint(3, 6)):  # an uneven number of samples per item
            rows.append((it.id, rng.choice([s.gold_completion(), wrong, "no answer"])))
    replay = _write(tmp_path / "c.jsonl", rows)
    r = run_eval(bench, tmp_path / "out", replay=replay, data=str(data), limit=40)
    logged = [json.loads(line) for line in (tmp_path / "out" / "completions.jsonl").open()]
    assert len(logged) == len(rows) == r["samples_graded"]  # every completion, not the first
    by_item: dict[str, list[bool]] = {}
    for row in logged:
        by_item.setdefault(row["id"], []).append(bool(row["correct"]))
    pass1 = 100 * sum(sum(v) / len(v) for v in by_item.values()) / len(by_item)
    assert r["pass@1"] == pytest.approx(pass1)
    kind = "output" if bench == "cruxeval-o" else "input"
    assert r["accuracy_per_kind"][kind] == pytest.approx(r["pass@1"])
    unparsed = 100 * sum(
        sum(v["status"] in ("unparseable", "missing") for row in logged if row["id"] == i
            for v in row["verdicts"]) / len(by_item[i]) for i in by_item) / len(by_item)
    assert r["unparsed_rate"] == pytest.approx(unparsed) and r["unparsed_rate"] > 0
    assert r["warnings"] == []
    # samples= still caps the samples per item.
    r2 = run_eval(bench, tmp_path / "out2", replay=replay, data=str(data), limit=40, samples=1)
    assert r2["samples_graded"] == len(by_item)


def test_partial_replay_warns(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items("cruxeval-o", path=data, limit=30)
    rows = [(it.id, it.sample.gold_completion()) for it in items[:5]]  # type: ignore[union-attr]
    rows.append(("HumanEval/0", "x"))
    r = run_eval("cruxeval-o", tmp_path / "out", replay=_write(tmp_path / "c.jsonl", rows),
                 data=str(data), limit=30)
    assert r["graded_items"] == 5 and r["pass@1"] == 100.0
    assert any("covers 5 of 30 items" in w for w in r["warnings"])
    assert any("1 of its ids match no item" in w for w in r["warnings"])
    assert r["items_without_completions"] == 25 and r["unknown_completion_ids"] == 1


def test_stepreward_data_points_every_bench_at_local_copies(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPREWARD_DATA", str(shared_data))
    assert data_path("cruxeval-o") == str(shared_data / "cruxeval" / "cruxeval.jsonl")
    assert bench_items("cruxeval-o", limit=3)
    assert bench_items("humaneval-plus", limit=2)[0].id == "HumanEval/0"
    assert bench_items("humaneval", limit=1)[0].id == "HumanEval/0"
    assert bench_items("mbpp-plus", limit=1)
    monkeypatch.setenv("STEPREWARD_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no data for cruxeval-o"):
        bench_items("cruxeval-o", limit=3)


def test_stepreward_data_from_the_cli(shared_data: Path, tmp_path: Path) -> None:
    items = bench_items("cruxeval-o", path=shared_data / "cruxeval" / "cruxeval.jsonl",
                        limit=3)
    replay = _write(tmp_path / "c.jsonl",
                    [(it.id, it.sample.gold_completion()) for it in items])  # type: ignore[union-attr]
    env = {"STEPREWARD_DATA": str(shared_data), "PATH": "/usr/bin:/bin"}
    import os

    env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})
    r = subprocess.run([sys.executable, "-m", "stepreward.cli", "eval", "--bench",
                        "cruxeval-o", "--completions", str(replay), "--limit", "3", "--out",
                        str(tmp_path / "o"), "--json"], capture_output=True, text=True,
                       timeout=300, env=env, check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pass@1"] == 100.0


# Real CRUXEval calls whose arguments are not plain literals (and two of our own).
NON_LITERAL_INPUTS = [
    ("def f(d):\n    return sorted(d.items())\n", "f(dict(f = 1, h = 2, j = 3, k = 4))",
     "f({'f': 1, 'h': 2, 'j': 3, 'k': 4})"),
    ("def f(nums, fn):\n    fn(nums)\n    return nums\n",
     "f([6, 4, 2, 8, 15], (lambda x: x.reverse()))", "f([15, 8, 2, 4, 6], lambda x: None)"),
    ("def f(s):\n    return len(s)\n", "f(''.join(['A'] * 20))", "f('B' * 20)"),
    ("def f(parts, c):\n    return c.join(parts)\n",
     "f('bfreratr'.split('-'), 'n')", "f(['bfreratr'], 'x')"),
    ("def f(s):\n    return sorted(s)\n", "f(frozenset({3, 1}))", "f([1, 3])"),
    ("def f(t):\n    return t[::-1]\n", "f(tuple([1, 2]))", "f((1, 2))"),
    ("def f(x):\n    return abs(x)\n", "f(-5)", "f(5)"),
]


@pytest.mark.parametrize(("source", "call", "alternative"), NON_LITERAL_INPUTS)
def test_non_literal_original_inputs_are_asked(source: str, call: str,
                                               alternative: str) -> None:
    s = sr.build_sample(source, call, kinds=("input",))
    (q,) = s.questions
    assert q.gold_text.startswith(f"assert {call} == ")
    output = q.gold_text.split(" == ", 1)[1]
    for policy in ("literal", "execute"):
        assert sr.score(s.gold_completion(), s, policy=policy).reward == 1.0
        alt = sr.score(s.answer_text([f"assert {alternative} == {output}"]), s, policy=policy)
        assert alt.reward == 1.0, alt.verdicts
        assert sr.score(s.answer_text([f"assert f(0) == {output}"]), s,
                        policy=policy).reward == 0.0


def test_calls_outside_the_gate_get_no_input_question() -> None:
    src = "def f(x):\n    return 1\n"
    s = sr.build_sample(src, "f(1)", kinds=("input", ))
    assert s.questions
    with pytest.raises(ValueError, match="no question of the kinds input"):
        sr.build_sample(src, "f(open)", kinds=("input",))


def test_an_original_input_over_the_programs_own_globals_is_asked(shared_data: Path) -> None:
    """CRUXEval sample_258 calls ``f(thigh_o_two[:], 3, 3, 2)``: an input over one of the
    program's own variables. It gets an input question; answers may read the program's
    variables (never bind them) and are graded by running them in the sandbox."""
    rows = [json.loads(line) for line in
            (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["id"] == "sample_258")
    s = sr.build_sample(row["code"], f"f({row['input']})", kinds=("input",))
    (q,) = s.questions
    assert q.gold_text == f"assert f({row['input']}) == {row['output']}"
    for policy in ("literal", "execute"):
        assert sr.score(s.gold_completion(), s, policy=policy).reward == 1.0
        same = f"assert f([1, 2, 7, 9], 3, 3, 2) == {row['output']}"
        assert sr.score(s.answer_text([same]), s, policy=policy).reward == 1.0
        other = f"assert f(thigh_o_one[:], 3, 3, 2) == {row['output']}"
        assert sr.score(s.answer_text([other]), s, policy=policy).reward == 0.0
        rebind = f"assert f([thigh_o_two := 1][0], 3, 3, 2) == {row['output']}"
        verdict = sr.score(s.answer_text([rebind]), s, policy=policy).verdicts[0]
        assert verdict.status == "unparseable", verdict
        unknown = f"assert f(os[:], 3, 3, 2) == {row['output']}"
        assert sr.score(s.answer_text([unknown]), s, policy=policy).verdicts[0].status == \
            "unparseable"
