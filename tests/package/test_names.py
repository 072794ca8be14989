"""One name for each argument across the API; the older spellings still work, with a warning."""

from __future__ import annotations

import doctest
import inspect
import warnings
from pathlib import Path

import pytest

import stepreward as sr
import stepreward._compat as compat_module
from stepreward.cli import main
from stepreward.codegen import code_reward, run_tests
from stepreward.eval import run_eval
from stepreward.questions import build_sample, build_samples, sample_from_trace
from stepreward.synth import sft_record, synthesize
from stepreward.types import CodeScore, CodeTask, Question, Sample, TestReport

SAMPLE = Sample(id="x", source="def f(a):\n    return a", call="f(1)", prompt="",
                questions=[Question(kind="output", text="?", gold=1,
                                    gold_text="assert f(1) == 1", info={"call": "f(1)"})])
GOLD = "<answer>\nassert f(1) == 1\n</answer>"
ADD = [sr.TestCase.call("add", (1, 2), 3)]
GOOD = "def add(a, b):\n    return a + b\n"


def test_score_takes_preset_and_reward_is_its_deprecated_name() -> None:
    assert sr.score(GOLD, SAMPLE, preset="execverify").reward == 2.0
    with pytest.warns(DeprecationWarning, match=r"score\(reward=\) is deprecated: use "
                                                r"score\(preset=\)"):
        old = sr.score(GOLD, SAMPLE, reward="execverify")
    assert old.reward == 2.0 and old.preset == "execverify"
    with pytest.warns(DeprecationWarning, match=r"score_many\(reward=\)"):
        many = sr.score_many([GOLD], [SAMPLE], reward="execverify")
    assert [s.reward for s in many] == [2.0]
    config = sr.RewardConfig(gate="none")
    assert sr.score(GOLD, SAMPLE, preset=config).preset == "custom"


def test_cli_preset_options_and_their_old_names(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    row = tmp_path / "row.json"
    row.write_text(SAMPLE.model_dump_json())
    completion = tmp_path / "completion.txt"
    completion.write_text(GOLD)
    assert main(["score", str(row), str(completion), "--preset", "execverify", "--json"]) == 0
    new = capsys.readouterr()
    assert '"reward": 2.0' in new.out and "deprecated" not in new.err
    assert main(["score", str(row), str(completion), "--reward", "execverify", "--json"]) == 0
    old = capsys.readouterr()
    assert '"reward": 2.0' in old.out
    assert "stepreward score: --reward is deprecated: use --preset" in old.err


def test_eval_counts_samples_per_item_as_samples(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # `n` counts items (`synth --n`); samples per item are `samples`, `n=` the old name.
    assert "samples" in inspect.signature(run_eval).parameters
    with pytest.raises(ValueError, match="samples must be at least 1"):
        run_eval("cruxeval-o", tmp_path / "out", replay="x.jsonl", samples=0)
    with pytest.warns(DeprecationWarning, match=r"run_eval\(n=\)"), \
            pytest.raises(ValueError, match="samples must be at least 1"):
        run_eval("cruxeval-o", tmp_path / "out", replay="x.jsonl", n=0)
    with pytest.raises(TypeError, match="not both"):
        run_eval("cruxeval-o", tmp_path / "out", replay="x.jsonl", n=1, samples=1)
    assert main(["eval", "--bench", "cruxeval-o", "--completions", "x.jsonl", "--n", "0",
                 "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err
    assert "--n is deprecated: use --samples" in err and "samples must be at least 1" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cli").exists()


def test_test_runners_take_limits_like_trace_and_score(sandbox: sr.Sandbox) -> None:
    limits = sr.Limits(timeout_s=0.5, memory_mb=256)
    from stepreward.trace._api import trace

    for func in (run_tests, code_reward, trace, sr.score):
        assert "limits" in inspect.signature(func).parameters, func
    assert run_tests(GOOD, ADD, sandbox=sandbox, limits=limits).passed == 1
    with pytest.warns(DeprecationWarning, match=r"run_tests\(timeout_s=, memory_mb=\) is "
                                                r"deprecated: use run_tests\(limits=Limits\("
                                                r"timeout_s=..., memory_mb=...\)\)"):
        assert run_tests(GOOD, ADD, sandbox=sandbox, timeout_s=0.5, memory_mb=256).passed == 1
    with pytest.raises(TypeError, match="not both"):
        run_tests(GOOD, ADD, sandbox=sandbox, limits=limits, timeout_s=0.5)
    fenced = f"<answer>\n```python\n{GOOD}```\n</answer>"
    assert code_reward(fenced, ADD, sandbox=sandbox, limits=limits).reward == 1.0
    with pytest.warns(DeprecationWarning, match=r"code_reward\(timeout_s=\) is deprecated: "
                                                r"use code_reward\(limits=Limits\(timeout_s=...\)"):
        assert code_reward(fenced, ADD, sandbox=sandbox, timeout_s=0.5).reward == 1.0
    # The presets keep the label option timeout_s and pass it on as limits (no warning).
    task = CodeTask(task_id="t", prompt="", tests=ADD)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for preset, want in (("method", 1.05), ("partial", 1.0)):
            got = sr.reward_for(fenced, task, preset=preset, timeout_s=0.5, sandbox=sandbox)
            assert got.reward == want, (preset, got)


def test_the_limits_reach_the_task(sandbox: sr.Sandbox) -> None:
    # A per-test deadline from limits= stops a loop; memory_mb from limits= bounds the task.
    loop = "def add(a, b):\n    while True:\n        pass\n"
    report = run_tests(loop, ADD, sandbox=sandbox, limits=sr.Limits(timeout_s=0.3))
    assert report.passed == 0 and "timed out" in report.failures[0].reason
    hog = "def add(a, b):\n    x = bytearray(150 << 20)\n    return a + b\n"
    roomy = sr.Limits(timeout_s=20, memory_mb=512)
    assert run_tests(hog, ADD, sandbox=sandbox, limits=roomy).passed == 1
    small = run_tests(hog, ADD, sandbox=sandbox, limits=sr.Limits(timeout_s=20, memory_mb=64))
    assert small.passed == 0 and "MemoryError" in small.failures[0].reason, small


def test_code_score_is_a_shared_type() -> None:
    assert sr.CodeScore is CodeScore is sr.codegen.CodeScore
    assert "CodeScore" in sr.__all__
    score = CodeScore(1.0, TestReport(passed=1, total=1), "x", None)
    assert score == CodeScore(reward=1.0, report=TestReport(passed=1, total=1), code="x")
    assert CodeScore.model_validate_json(score.model_dump_json()) == score
    assert repr(score) == str(score) == "CodeScore(reward=1.0, passed=1/1, error=None)"
    with pytest.raises(TypeError, match="twice"):
        CodeScore(1.0, reward=2.0)
    with pytest.raises(TypeError, match="at most 4"):
        CodeScore(1.0, None, None, None, None)


def test_seed_is_keyword_only_and_positional_seed_still_works(sandbox: sr.Sandbox) -> None:
    for func in (sample_from_trace, build_sample, build_samples, synthesize, sft_record):
        param = inspect.signature(func).parameters["seed"]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, func
    t = sr.trace("def f(x):\n    y = x + 1\n    z = y * 2\n    return z", "f(3)",
                 sandbox=sandbox)
    new = sample_from_trace(t, ("state",), 1, seed=5)
    with pytest.warns(DeprecationWarning,
                      match=r"passing seed positionally to sample_from_trace\(\)"):
        old = sample_from_trace(t, ("state",), 1, 5)
    assert old == new
    with pytest.raises(TypeError, match="multiple values for 'seed'"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample_from_trace(t, ("state",), 1, 5, seed=6)
    with pytest.raises(TypeError, match="at most 4 positional"):
        sample_from_trace(t, ("state",), 1, 5, 6)


def test_doctests() -> None:
    result = doctest.testmod(compat_module)
    assert result.failed == 0 and result.attempted >= 6
