"""Synthesis: validity, constraints on the AST, levels, coverage, determinism, datasets."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import stepreward as sr
from stepreward.synth import (
    LEVELS,
    VOCABULARY,
    SynthStats,
    build_dataset,
    check_constraints,
    narrate,
    normalized_hash,
    synthesize,
)
from stepreward.values import parse_value, values_equal


@pytest.fixture(scope="module")
def items(sandbox: sr.Sandbox) -> list[object]:
    return list(synthesize(240, levels=(1, 2, 3, 4, 5, 6), seed=11, sandbox=sandbox))


def test_every_level_produces_items(items: list[object]) -> None:
    per_level: dict[int, int] = defaultdict(int)
    for it in items:
        per_level[it.level] += 1  # type: ignore[attr-defined]
    assert sorted(per_level) == [1, 2, 3, 4, 5, 6]
    assert all(n == 40 for n in per_level.values()), per_level


def test_items_reexecute_in_a_fresh_interpreter(items: list[object]) -> None:
    # Output: a plain `python -c` (no sandbox, no tracer) gives the recorded result.
    for it in items[::3]:
        code = f"{it.source}\nprint(repr({it.call}))\n"  # type: ignore[attr-defined]
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=30, env={"PYTHONHASHSEED": "0", "PATH": os.defpath},
                             check=True).stdout
        want = it.trace.result.to_python()  # type: ignore[attr-defined]
        assert values_equal(parse_value(out.strip()), want), (it.source, it.call)


def test_items_retrace_identically_in_a_new_sandbox(items: list[object]) -> None:
    with sr.Sandbox(workers=1) as fresh:
        for it in items[::6]:
            again = sr.trace(it.source, it.call, sandbox=fresh)  # type: ignore[attr-defined]
            first = it.trace  # type: ignore[attr-defined]
            assert [(s.line, s.state_after) for s in again.steps] == \
                   [(s.line, s.state_after) for s in first.steps]
            assert again.result == first.result


def test_every_constraint_is_present_in_the_ast(items: list[object]) -> None:
    for it in items:
        report = check_constraints(it.source, it.constraints)  # type: ignore[attr-defined]
        assert all(report.values()), (report, it.source)  # type: ignore[attr-defined]
        c = it.constraints  # type: ignore[attr-defined]
        assert (c.depth, c.helper) == (LEVELS[it.level]["depth"],  # type: ignore[attr-defined]
                                       LEVELS[it.level]["helper"])  # type: ignore[attr-defined]


def test_method_under_test_runs_and_every_statement_is_reachable(items: list[object]) -> None:
    import ast

    from stepreward.synth._check import method_nodes

    for it in items:
        lines = {n.lineno for n in method_nodes(ast.parse(it.source),  # type: ignore[attr-defined]
                                                it.constraints.method)}  # type: ignore[attr-defined]
        assert lines, it.source  # type: ignore[attr-defined]
        assert it.trace.status == "ok" and not it.trace.truncated  # type: ignore[attr-defined]
        assert it.trace.result.askable  # type: ignore[attr-defined]


def test_levels_are_monotone_in_structure(items: list[object]) -> None:
    means: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[int, int] = defaultdict(int)
    for it in items:
        counts[it.level] += 1  # type: ignore[attr-defined]
        for k, v in it.features.items():  # type: ignore[attr-defined]
            means[it.level][k] += v  # type: ignore[attr-defined]
    avg = {lv: {k: v / counts[lv] for k, v in f.items()} for lv, f in means.items()}
    for key in ("statements", "nesting_depth", "branch_points", "trace_length"):
        series = [avg[lv][key] for lv in range(1, 7)]
        assert all(a <= b * 1.15 for a, b in itertools.pairwise(series)), (key, series)
        assert series[-1] > series[0]
    assert avg[6]["functions"] == 2.0 and avg[5]["functions"] == 1.0


def test_all_types_and_most_methods_appear(sandbox: sr.Sandbox) -> None:
    seen = {(it.constraints.type, it.constraints.method)
            for it in synthesize(400, levels=(2,), seed=5, sandbox=sandbox)}
    assert {t for t, _ in seen} == set(VOCABULARY)
    total = sum(len(m) for m in VOCABULARY.values())
    assert len(seen) >= 0.9 * total, (len(seen), total)


def test_deterministic_and_deduplicated(sandbox: sr.Sandbox, tmp_path: Path) -> None:
    a = build_dataset(60, tmp_path / "a", levels=(1, 3, 5), seed=4, sft=5, sandbox=sandbox)
    build_dataset(60, tmp_path / "b", levels=(1, 3, 5), seed=4, sft=5, sandbox=sandbox)
    for name in a.files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = build_dataset(20, tmp_path / "c", levels=(1, 3, 5), seed=5, sandbox=sandbox)
    assert (tmp_path / "c" / "train.jsonl").read_bytes() != \
        (tmp_path / "a" / "train.jsonl").read_bytes()
    rows = [json.loads(x) for x in (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    assert len({(r["source"], r["call"]) for r in rows}) == len(rows)
    assert c.per_level


def test_no_duplicates_at_scale(sandbox: sr.Sandbox) -> None:
    stats = SynthStats()
    got = list(synthesize(1500, levels=(1, 2, 3), seed=21, sandbox=sandbox, stats=stats))
    assert len(got) == 1500
    assert len({(normalized_hash(it.source), it.call) for it in got}) == 1500
    programs = {it.program_id for it in got}
    assert len(programs) == len({normalized_hash(it.source) for it in got})
    assert stats.rejects["duplicate program"] > 0  # duplicates arose and were turned away


def test_dataset_rows_splits_and_scoring(sandbox: sr.Sandbox, tmp_path: Path) -> None:
    report = build_dataset(80, tmp_path, levels=(1, 2, 3, 4, 5, 6), seed=2, sft=6,
                           validation_fraction=0.3, sandbox=sandbox)
    train = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    valid = [json.loads(x) for x in (tmp_path / "validation.jsonl").read_text().splitlines()]
    sft = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert len(train) + len(valid) == 80 and valid and len(sft) == 12
    assert not {r["program_id"] for r in train} & {r["program_id"] for r in valid}
    assert not {r["program_id"] for r in sft} & {r["program_id"] for r in train + valid}
    for row in train[:20] + valid:
        assert row["messages"][-1]["content"] == row["prompt"]
        assert row["messages"][0]["role"] == "system"
        sample = sr.Sample.from_row(row["label"])
        assert sr.score(sample.gold_completion(), row).reward == 1.0
        assert row["level"] in LEVELS and row["type"] in VOCABULARY
    for row in sft:
        sample = sr.Sample.from_row(row["sample"])
        assert sr.score(row["completion"], sample).reward == 1.0
        assert row["messages"][-1]["content"] == row["completion"]
    assert {r["task"] for r in sft} == {"output", "input"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["files"]["train.jsonl"] == len(train)
    assert "dead code" in report.table() or "rejected candidates" in report.table()


def test_narration_is_correct_by_construction(items: list[object]) -> None:
    for it in items[:60]:
        t = it.trace  # type: ignore[attr-defined]
        text = narrate(t, max_steps=10_000)
        lines = text.splitlines()
        assert lines[-1] == f"The call returns {t.result.repr}."
        src = t.source.splitlines()
        for step, line in zip(t.steps, lines, strict=False):
            assert line.startswith(f"Line {step.line} (in {step.func}): "
                                   f"{src[step.line - 1].strip()}")
            for name in step.changed:
                assert f"{name} = {step.state_after[name].repr}" in line


def test_parquet_output_or_a_clear_error(sandbox: sr.Sandbox, tmp_path: Path) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="pyarrow"):
            build_dataset(3, tmp_path, levels=(1,), fmt="parquet", sandbox=sandbox)
        return
    build_dataset(3, tmp_path, levels=(1,), fmt="parquet", sandbox=sandbox)
    assert (tmp_path / "train.parquet").exists()


def test_constraints_validation() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        sr.synth.Constraints(type="bytes", method="x")
    with pytest.raises(ValueError, match="not a method"):
        sr.synth.Constraints(type="list", method="upper")
    with pytest.raises(ValueError, match="blueprint"):
        sr.synth.Constraints(type="list", method="sort", depth=2, blueprint=("for",))
    with pytest.raises(ValueError, match="levels"):
        list(synthesize(1, levels=(7,)))


def test_synth_command(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "stepreward.cli", "synth", "--n", "12",
                        "--levels", "1-3", "--seed", "1", "--out", str(tmp_path), "--json"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert sum(out["per_level"].values()) == 12 and out["files"]["train.jsonl"] >= 1
    r = subprocess.run([sys.executable, "-m", "stepreward.cli", "synth", "--n", "2",
                        "--levels", "x", "--out", str(tmp_path)], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 2 and "--levels" in r.stderr


def test_programs_that_raise_are_kept_only_when_asked(sandbox: sr.Sandbox) -> None:
    from stepreward.synth._gen import Program
    from stepreward.synth._pipeline import _check

    src = "def f(text):\n    n = text.upper()\n    return int(n)\n"
    traces = sr.trace_many([(src, "f('abc')"), (src, "f('xyz')")], sandbox=sandbox)
    strict = sr.synth.Constraints(type="str", method="upper", other_methods=False)
    program = Program(source=src, entry="f", params=[("text", "str")], constraints=strict,
                      target_lines=[2])
    assert _check(program, traces) == "raises"
    program.constraints = strict.model_copy(update={"allow_exceptions": True})
    assert _check(program, traces) is None
