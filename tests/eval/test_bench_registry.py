"""The benchmark registry: one record per bench, and everything that lists benches reads it."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import stepreward.eval._bench as bench_module
from stepreward.cli import build_parser
from stepreward.eval import (
    BENCHES,
    DATA_LAYOUT,
    Bench,
    EvalItem,
    bench_items,
    data_path,
    get_bench,
    register_bench,
    run_eval,
    unregister_bench,
)
from stepreward.eval._bench import REGISTRY, local_or_hub, trace_items

BENCHES_DIR = Path(bench_module.__file__).parent / "benches"


def test_the_built_in_benches_are_one_module_per_family_in_order() -> None:
    modules = sorted(info.name for info in pkgutil.iter_modules([str(BENCHES_DIR)]))
    assert modules == ["bigcodebench", "cruxeval", "humaneval", "livecodebench", "mbpp",
                       "reval", "synth"]
    assert BENCHES == ("cruxeval-o", "cruxeval-i", "cruxeval-trace", "humaneval",
                       "humaneval-plus", "mbpp", "mbpp-plus", "livecodebench-exec",
                       "livecodebench", "reval", "bigcodebench", "synth")
    for name in BENCHES:
        module = importlib.import_module(get_bench(name).load.__module__)
        assert module.__name__.startswith("stepreward.eval.benches."), name
    assert set(DATA_LAYOUT) == set(BENCHES) - {"synth"}
    assert [b for b in BENCHES if get_bench(b).policy == "execute"] == [
        "cruxeval-o", "cruxeval-i", "livecodebench-exec"]
    assert {get_bench(b).family for b in BENCHES} == {
        "cruxeval", "humaneval", "mbpp", "livecodebench", "bigcodebench", None}
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        get_bench("nope")


def _load_squares(path: str | None, limit: int | None, seed: int) -> list[EvalItem]:
    rows = local_or_hub(path, "no/such-hub-dataset")[:limit]
    return trace_items(rows, [(r["code"], f"f({r['input']})") for r in rows], ("output",), seed)


def test_a_bench_registered_in_one_call_loads_grades_and_is_listed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data" / "squares"
    data.mkdir(parents=True)
    rows = [{"id": f"sq/{i}", "code": "def f(x):\n    return x * x", "input": str(i)}
            for i in range(3)]
    (data / "squares.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    register_bench(Bench("squares", "squares of small ints", _load_squares,
                         ("squares", ("squares.jsonl",)), policy="execute", family="sq"))
    try:
        assert "squares" in REGISTRY and list(REGISTRY)[-1] == "squares"
        monkeypatch.setenv("STEPREWARD_DATA", str(tmp_path / "data"))
        assert data_path("squares") == str(data / "squares.jsonl")  # the bench's layout
        items = bench_items("squares")
        assert [it.id for it in items] == ["sq/0", "sq/1", "sq/2"]
        replay = tmp_path / "replay.jsonl"
        replay.write_text("".join(
            json.dumps({"id": it.id, "completion": it.sample.gold_completion()}) + "\n"
            for it in items if it.sample is not None))
        result = run_eval("squares", tmp_path / "out", replay=str(replay))
        assert result["pass@1"] == 100.0
        with pytest.raises(SystemExit):
            build_parser().parse_args(["eval", "--help"])
        assert "squares" in capsys.readouterr().out
        assert build_parser().parse_args(["eval", "--bench", "squares", "--completions", "x",
                                          "--out", "o"]).bench == "squares"
    finally:
        unregister_bench("squares")
    with pytest.raises(ValueError, match="unknown benchmark 'squares'"):
        bench_items("squares")


def test_registration_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="exists; pass replace=True"):
        register_bench(get_bench("mbpp"))
    with pytest.raises(TypeError, match="takes a Bench"):
        register_bench("mbpp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="letters, digits"):
        register_bench(Bench("two words", "x", _load_squares))


def test_doctests() -> None:
    results = [doctest.testmod(m) for m in (bench_module,
                                            importlib.import_module("stepreward.eval._harness"))]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) >= 5
