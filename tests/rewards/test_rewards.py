"""The framework-neutral reward entry: every label kind, every preset, never raising."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest

import stepreward as sr
from stepreward.presets import Preset, get_preset, preset_names, register_preset, unregister_preset
from stepreward.rewards import (
    METRIC_KEYS,
    PRESETS,
    RewardResult,
    areward_for,
    areward_many,
    episode_result,
    read_label,
    reward_for,
    reward_for_turn,
    reward_many,
)
from stepreward.rows import code_task_rows, sample_rows

SQ_OK = "<answer>\n```python\ndef sq(x):\n    return x * x\n```\n</answer>"
# Right on x < 5 only: passes the tests of 0-4, fails 5-11.
SQ_PART = "<answer>\n```python\ndef sq(x):\n    return x * x if x < 5 else 0\n```\n</answer>"


@pytest.fixture(scope="module")
def sample(sandbox: sr.Sandbox) -> sr.Sample:
    return sr.build_sample("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)",
                           kinds=("output", "state", "next_statement"), sandbox=sandbox)


@pytest.fixture(scope="module")
def task() -> sr.CodeTask:
    return sr.CodeTask(task_id="sq", prompt="Square.", entry_point="sq",
                       tests=[sr.TestCase.call("sq", (i,), i * i) for i in range(12)])


def _check(r: RewardResult) -> None:
    assert isinstance(r, RewardResult)
    assert list(r.metrics) == list(METRIC_KEYS)
    assert all(isinstance(v, float) and math.isfinite(v) for v in r.metrics.values())
    assert math.isfinite(r.reward) and 0.0 <= r.score <= 1.0
    assert r.correct == (r.reason is None) or r.kind == "invalid"
    assert r.metrics["stage1"] == float(r.kind == "trace")
    assert r.metrics["stage2"] == float(r.kind == "code")


def test_stage1_every_label_form_gives_the_same_result(sample: sr.Sample) -> None:
    gold = sample.gold_completion()
    for label in (sample, sample.to_row(), json.dumps(sample.to_row()),
                  json.dumps(sample.to_row()).encode(),
                  {"label": json.dumps(sample.to_row()), "prompt": "row of a dataset"}):
        r = reward_for(gold, label)
        _check(r)
        assert (r.kind, r.reward, r.score, r.correct, r.reason, r.preset) == \
            ("trace", 1.0, 1.0, True, None, "normalized")
        assert r.metrics["output_accuracy"] == r.metrics["step_accuracy"] == 1.0
        assert r.metrics["format"] == 1.0 and r.metrics["no_answer"] == 0.0
        assert r.per_kind == {"output": 1.0, "state": 1.0, "next_statement": 1.0}
        assert isinstance(r.details, sr.Score)
    # A chat completion: the last message is the answer.
    assert reward_for([{"role": "assistant", "content": gold}], sample).reward == 1.0


def test_stage1_partly_right_scores_the_share_and_gates_the_reward(sample: sr.Sample) -> None:
    answers = sample.gold_answers()
    kinds = [q.kind for q in sample.questions]
    out = kinds.index("output")
    wrong_output = sample.answer_text([("assert f(3) == 0" if i == out else a)
                                       for i, a in enumerate(answers)])
    r = reward_for(wrong_output, sample)
    _check(r)
    n = len(answers)
    assert r.reward == 0.0 and r.score == pytest.approx((n - 1) / n) and not r.correct
    assert r.metrics["output_accuracy"] == 0.0 and r.metrics["step_accuracy"] == 1.0
    assert r.reason is not None and "output wrong" in r.reason
    # The same completion under the method's scale, and the raw score unchanged.
    gold = reward_for(sample.gold_completion(), sample, preset="execverify")
    assert gold.reward == 2.0 and gold.score == 1.0 and gold.preset == "execverify"
    custom = reward_for(wrong_output, sample, preset=sr.RewardConfig(gate="none"))
    assert custom.reward == pytest.approx(0.5) and custom.preset == "custom"


def test_stage1_reward_equals_score_for_each_stage1_preset(sample: sr.Sample,
                                                           sandbox: sr.Sandbox) -> None:
    texts = [sample.gold_completion(), "no block", sample.answer_text(["1"] * len(
        sample.questions))]
    for name in preset_names("trace"):
        for text in texts:
            r = reward_for(text, sample, preset=name, sandbox=sandbox)
            _check(r)
            want = sr.score(text, sample, preset=name, sandbox=sandbox)
            assert r.reward == want.reward, (name, text)


def test_stage2_presets(task: sr.CodeTask, sandbox: sr.Sandbox) -> None:
    label = task.model_dump_json()
    full = {name: reward_for(SQ_OK, label, preset=name, sandbox=sandbox)
            for name in ("partial", "all_or_nothing", "method")}
    assert {k: r.reward for k, r in full.items()} == {"partial": 1.0, "all_or_nothing": 1.0,
                                                      "method": 1.05}
    part = {name: reward_for(SQ_PART, label, preset=name, sandbox=sandbox)
            for name in ("partial", "all_or_nothing", "method")}
    for r in [*full.values(), *part.values()]:
        _check(r)
        assert r.kind == "code" and type(r.details).__name__ == "CodeScore"
    # 5 of 12 pass; the method counts the first 10 (5 of them pass) and adds its bonus.
    assert part["partial"].reward == pytest.approx(5 / 12)
    assert part["all_or_nothing"].reward == 0.0
    assert part["method"].reward == pytest.approx(0.5 + 0.05)
    for r in part.values():
        assert r.score == pytest.approx(5 / 12) and not r.correct
        assert r.metrics["pass_rate"] == pytest.approx(5 / 12) and r.reason == "5/12 tests passed"
    assert reward_for(SQ_PART, label, preset="partial", format_bonus=0.1,
                      sandbox=sandbox).reward == pytest.approx(5 / 12 + 0.1)
    # The default for a code label is partial credit; the method matches its old function.
    assert reward_for(SQ_PART, label, sandbox=sandbox).preset == "partial"
    from stepreward.recipe import method_code_reward

    assert method_code_reward(SQ_PART, task, sandbox=sandbox).reward == part["method"].reward


def test_stage2_timeouts_and_missing_code_are_metrics(sandbox: sr.Sandbox) -> None:
    task = sr.CodeTask(task_id="loop", prompt="", entry_point="f",
                       tests=[sr.TestCase.call("f", (1,), 1), sr.TestCase.call("f", (2,), 2)])
    loop = "<answer>\n```python\ndef f(x):\n    while True:\n        pass\n```\n</answer>"
    r = reward_for(loop, task, timeout_s=0.3, sandbox=sandbox)
    _check(r)
    assert r.reward == 0.0 and r.metrics["timeouts"] == 1.0
    none = reward_for("I don't know.", task, sandbox=sandbox)
    _check(none)
    assert none.metrics["no_answer"] == 1.0 and none.metrics["format"] == 0.0
    assert none.reason == "no code block found"


def test_the_label_records_its_preset(sample: sr.Sample, task: sr.CodeTask,
                                      sandbox: sr.Sandbox) -> None:
    gold = sample.gold_completion()
    labelled = {**sample.to_row(), "reward_options": {"preset": "execverify"}}
    assert reward_for(gold, labelled).reward == 2.0
    assert reward_for(gold, labelled, preset="normalized").reward == 1.0  # the caller wins
    # Stage 2: the options in the label apply with its preset; older labels named the method
    # by its options alone.
    method = {**task.model_dump(), "reward_options": {"preset": "method", "partial_tests": 5}}
    assert reward_for(SQ_PART, method, sandbox=sandbox).reward == pytest.approx(1.05)
    legacy = {**task.model_dump(), "reward_options": {"partial_tests": 10,
                                                      "format_bonus": 0.05}}
    assert reward_for(SQ_PART, json.dumps(legacy), sandbox=sandbox).preset == "method"
    # Per kind, for data that mixes both.
    both = {"trace": "execverify", "code": "method"}
    assert reward_for(gold, sample, preset=both).reward == 2.0
    assert reward_for(SQ_OK, task, preset=both, sandbox=sandbox).reward == 1.05


def test_options_of_the_other_kind_are_ignored_unknown_ones_are_reported(
        sample: sr.Sample, task: sr.CodeTask, sandbox: sr.Sandbox) -> None:
    gold = sample.gold_completion()
    mixed: dict[str, Any] = {"policy": "literal", "timeout_s": 2.0, "partial_tests": 3,
                             "sandbox": sandbox}
    assert reward_for(gold, sample, **mixed).reward == 1.0
    assert reward_for(SQ_OK, task, **mixed).reward == 1.0
    bad = reward_for(gold, sample, temperature=1.0)
    _check(bad)
    assert bad.reward == 0.0 and bad.metrics["errors"] == 1.0 and bad.kind == "trace"
    assert "unknown reward option 'temperature'" in (bad.reason or "")
    wrong_kind = reward_for(gold, sample, preset="method")
    assert wrong_kind.reason == ("preset 'method' grades code tasks; the label is a stage-1 "
                                 "sample")
    assert "unknown reward preset 'nope'" in (reward_for(gold, sample, preset="nope").reason
                                              or "")


HOSTILE_LABELS = [None, "", "not json", "[1, 2]", "3", "null", '{"questions": "[{]"}',
                  '{"questions": [], "id": 1}', '{"tests": [{"kind": "bogus"}]}',
                  '{"tests": "x"}', "[" * 100_000, '{"a": ' * 5000 + "1" + "}" * 5000,
                  {"questions": 5}, {"label": 5}, 12, 3.5, object(), b"\xff\xfe", [],
                  {"tests": [], "task_id": "t", "prompt": "p"},
                  {"id": "x", "prompt": "", "source": "", "call": "f()", "questions": []},
                  {"reward_options": "method", "tests": []}]
HOSTILE_COMPLETIONS = [None, "", 7, ["no dicts"], [{"role": "assistant"}],
                       {"content": "x"}, "\ud800<answer>\n\x00\n</answer>",
                       "<answer>" * 10_000, b"bytes"]


def test_never_raises_and_keeps_the_metric_keys(sample: sr.Sample,
                                                 task: sr.CodeTask) -> None:
    for label in [*HOSTILE_LABELS, sample, task]:
        for completion in HOSTILE_COMPLETIONS:
            r = reward_for(completion, label)
            _check(r)
            assert r.reward == 0.0 and r.reason, (label, completion)
    r = reward_for("x", "not json")
    assert (r.kind, r.reason, r.metrics["errors"]) == ("invalid", "the label is not JSON", 1.0)
    assert (read_label({"questions": 5}).reason or "").startswith(
        "the label is not a valid sample row")


def test_a_broken_sandbox_is_a_zero_with_a_reason(sample: sr.Sample,
                                                  task: sr.CodeTask) -> None:
    dead = sr.Sandbox(workers=1)
    dead.close()
    for preset in ("partial", "all_or_nothing", "method"):
        r = reward_for(SQ_OK, task, sandbox=dead, preset=preset)
        _check(r)
        assert r.reward == 0.0 and r.metrics["errors"] == 1.0 and r.kind == "code", preset
        assert r.reason is not None and r.reason.startswith("internal error"), r.reason
    executed = reward_for(sample.gold_completion(), sample, policy="execute", sandbox=dead)
    _check(executed)
    assert executed.reward == 0.0


def test_async_and_batch_agree_with_the_single_call(sample: sr.Sample, task: sr.CodeTask,
                                                    sandbox: sr.Sandbox) -> None:
    completions = [sample.gold_completion(), SQ_PART, "junk", SQ_OK, sample.gold_completion()]
    labels = [sample.to_row(), task, "{}", task.model_dump_json(), sample]
    one = [reward_for(c, lab, sandbox=sandbox) for c, lab in zip(completions, labels,
                                                                 strict=True)]
    many = reward_many(completions, labels, sandbox=sandbox, max_concurrency=4)
    assert [(r.reward, r.score, r.reason, r.metrics) for r in many] == \
        [(r.reward, r.score, r.reason, r.metrics) for r in one]
    amany = asyncio.run(areward_many(completions, labels, sandbox=sandbox))
    assert [r.reward for r in amany] == [r.reward for r in one]

    async def gather() -> list[RewardResult]:
        return await asyncio.gather(*(areward_for(c, lab, sandbox=sandbox)
                                      for c, lab in zip(completions, labels, strict=True)))

    assert [r.reward for r in asyncio.run(gather())] == [r.reward for r in one]
    with pytest.raises(ValueError, match="2 completions for 1 labels"):
        reward_many(["a", "b"], [None])


def test_registry_adds_a_preset_in_one_call(sample: sr.Sample, task: sr.CodeTask,
                                            sandbox: sr.Sandbox) -> None:
    assert preset_names("trace") == ("execverify", "execverify_reference", "normalized")
    assert preset_names("code") == ("all_or_nothing", "method", "partial")
    assert set(PRESETS) == set(preset_names())

    from stepreward.codegen import CodeScore
    from stepreward.scoring import PRESETS as SCORING_PRESETS

    def halves(text: str, t: sr.CodeTask, **options: object) -> CodeScore:
        cs = sr.code_reward(text, t, **options)  # type: ignore[arg-type]
        return CodeScore((cs.reward or 0.0) / 2, cs.report, cs.code, cs.parse_error)

    register_preset(Preset("half", "code", "half the pass rate", halves,
                           {"limits": None, "sandbox": None}))
    register_preset(Preset.trace("ten", sr.RewardConfig(scale=10.0), "ten points"))
    try:
        assert reward_for(SQ_OK, task, preset="half", sandbox=sandbox).reward == 0.5
        assert reward_for(sample.gold_completion(), sample, preset="ten").reward == 10.0
        # score() knows a registered stage-1 preset by name too.
        assert sr.score(sample.gold_completion(), sample, preset="ten").reward == 10.0
        with pytest.raises(ValueError, match="exists"):
            register_preset(Preset.trace("ten", sr.RewardConfig(), "again"))
    finally:
        unregister_preset("half")
        unregister_preset("ten")
    assert "half" not in PRESETS and "ten" not in SCORING_PRESETS
    assert get_preset("method").options == {"format_bonus": 0.05, "partial_tests": 10,
                                            "timeout_s": 1.0, "sandbox": None,
                                            "partial_seed": None}
    # The built-in stage-1 presets are score()'s own, one table read two ways.
    assert {n: p.config for n, p in PRESETS.items() if p.config is not None} == \
        dict(SCORING_PRESETS)


def test_multi_turn_episode_covers_every_turn(sample: sr.Sample) -> None:
    label = json.dumps(sample.to_row())
    n = len(sample.questions)
    gold = sample.gold_answers()
    turns = [reward_for_turn(f"<answer>\n{a}\n</answer>", label, i) for i, a in enumerate(gold)]
    assert all(t.correct and t.reward == 1.0 for t in turns)
    ep = episode_result(label, turns)
    _check(ep)
    assert ep.reward == pytest.approx(1.0) and (ep.score, ep.correct) == (1.0, True)
    half = turns[:1] + [reward_for_turn("<answer>\nnope\n</answer>", label, i)
                        for i in range(1, n)]
    ep = episode_result(label, half)
    assert ep.score == pytest.approx(1 / n) and not ep.correct
    assert ep.reward == pytest.approx(1 / n)
    assert ep.metrics["output_accuracy"] == 1.0 and ep.metrics["step_accuracy"] == 0.0
    short = episode_result(label, turns[:1])  # the episode ran out of tokens after one turn
    assert short.score == pytest.approx(1 / n) and "not reached" in (short.reason or "")
    assert short.metrics["no_answer"] == pytest.approx((n - 1) / n)
    assert reward_for_turn("x", label, n).reason == \
        f"turn {n} is past the sample's {n} questions"


def test_rows_round_trip_through_the_reward(sample: sr.Sample, task: sr.CodeTask,
                                           sandbox: sr.Sandbox) -> None:
    rows = sample_rows([sample, sample.to_row()], "Be careful.",
                       reward_options={"preset": "execverify"})
    assert rows[0] == rows[1]
    assert [m["role"] for m in rows[0]["prompt"]] == ["system", "user"]
    assert rows[0]["prompt"][1]["content"] == sample.prompt and rows[0]["kind"] == "trace"
    assert reward_for(sample.gold_completion(), rows[0]["label"]).reward == 2.0
    # A row of the synthesis builder keeps the reward options its label carries.
    built = {"id": sample.id, "level": 3, "messages": [], "label": json.dumps(
        {**sample.to_row(), "reward_options": {"preset": "execverify"}})}
    (again,) = sample_rows([built])
    assert again["level"] == 3 and json.loads(again["label"])["reward_options"] == \
        {"preset": "execverify"}
    (code,) = code_task_rows([task], reward_options={"preset": "method"},
                             label_extra={"openrlhf": {"scores": "binary"}})
    assert code["prompt"][0]["content"].startswith("Square.\n\nWrite the solution")
    assert json.loads(code["label"])["openrlhf"] == {"scores": "binary"}
    assert reward_for(SQ_OK, code["label"], sandbox=sandbox).reward == 1.05
    turn = sample_rows([sample], multi_turn=True)[0]["prompt"][0]["content"]
    assert "Question 1 of" in turn and "Call: f(3)" in turn
    with pytest.raises(ValueError, match="not a sample row"):
        sample_rows([{"id": "x"}])
    with pytest.raises(TypeError):
        code_task_rows([sample])  # type: ignore[list-item]


@pytest.mark.parametrize("module", ["stepreward.presets", "stepreward.rewards",
                                    "stepreward.rows", "stepreward._textcache"])
def test_doctests(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 3 and result.failed == 0


def test_docs_list_every_preset_and_metric() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scoring.md").read_text()
    presets = doc.split("### Presets", 1)[1].split("### Metrics", 1)[0]
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[4]
            for line in presets.splitlines() if line.startswith("| `")}
    assert set(rows) == set(PRESETS)
    for name, options in rows.items():
        for option in get_preset(name).options:
            assert option in options or "as `" in options, (name, option)
    metrics = doc.split("### Metrics", 1)[1].split("\n## ", 1)[0]
    listed = {k.strip().strip("`") for line in metrics.splitlines() if line.startswith("| `")
              for k in line.split("|")[1].split(",")}
    assert listed == set(METRIC_KEYS)


def test_the_label_cache_is_bounded_in_bytes() -> None:
    """Distinct 1 MiB labels, as any client of the reward server can send, leave at most the
    label cache's 64 MiB in the process (a count bound alone kept 192 MiB here, and 8 GiB at
    4,096 such labels); the G completions of one label still share one parse."""
    import gc
    import tracemalloc

    from stepreward.rewards import read_label

    base = sr.build_sample("def f(x):\n    return x + 1\n", "f(2)", kinds=("output",)).to_row()
    pad = "#" * (1 << 20)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(96):
            label = json.dumps({**base, "id": f"row-{i}",
                                "source": f"{pad}\n# {i}\n{base['source']}"})
            assert reward_for("", label).kind == "trace"
            del label
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= 72 << 20, held / 2**20
    label = json.dumps({**base, "id": "shared"})
    assert read_label(label) is read_label(label)
