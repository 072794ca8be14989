"""The tiny-cpu recipe end to end: every stage runs, loads the previous checkpoint, logs, and
the eval stage reports each stage; the full demo (slow) shows learning; the ablation (slow)
runs one seed of each arm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("trl", reason="needs the trl extra")

from stepreward.questions._formats import compact_prompt
from stepreward.recipe import easy_code_tasks, eval_table, run_recipe, short_answer
from stepreward.scoring import score
from stepreward.types import Question, Sample

TRL_DIR = Path(__file__).resolve().parents[2] / "integrations" / "trl"
CONFIG = TRL_DIR / "tiny-cpu.yaml"


def _small(cfg: dict[str, Any]) -> dict[str, Any]:
    """tiny-cpu with less of everything: the same stages and options, for CI."""
    cfg = json.loads(json.dumps(cfg))
    cfg["model"]["tiny"].update(hidden_size=32, layers=1, corpus_bytes=200_000)
    cfg["data"].update(n=48, sft_answers=16)
    cfg["data"]["code"].update(n=24, validation=4, sft=8)
    cfg["sft"]["config"].update(max_steps=4, num_train_epochs=1)
    for stage in ("stage1", "stage2"):
        cfg[stage]["config"].update(max_steps=2, per_device_train_batch_size=4,
                                    num_generations=4)
    cfg["eval"].update(n=6, code_n=4, max_new_tokens=12, code_max_new_tokens=12, samples=2)
    return cfg


def test_tiny_cpu_recipe_end_to_end(tmp_path: Path) -> None:
    cfg = _small(yaml.safe_load(CONFIG.read_text()))
    summary = run_recipe(cfg, out_dir=tmp_path)
    assert list(summary) == ["data", "sft", "stage1", "stage2", "eval"]
    data = summary["data"]
    assert data["samples"] == 48 and data["code_tasks"] == 12 and data["sft_rows"] >= 16 + 8
    # Answer-only SFT on train programs that stage 1 does not see; validation held apart.
    sft = [json.loads(x) for x in (tmp_path / "data" / "sft.jsonl").read_text().splitlines()]
    stage1 = [json.loads(x) for x in (tmp_path / "data" / "stage1.jsonl").read_text().splitlines()]
    valid = [json.loads(x) for x in
             (tmp_path / "data" / "validation.jsonl").read_text().splitlines()]
    sft_programs = {r["program_id"] for r in sft if r["task"] == "answers"}
    assert sft_programs and not sft_programs & {r["program_id"] for r in stage1 + valid}
    assert all(r["messages"][-1]["content"].startswith("<answer>") for r in sft)
    assert summary["sft"]["from"] == "base-model" and summary["sft"]["steps"] == 4
    assert summary["stage1"]["from"] == "sft" and summary["stage2"]["from"] == "stage1"
    for stage, rewards in (("stage1", ("stepreward_execution", "stepreward_format")),
                           ("stage2", ("stepreward_unit_tests", "stepreward_format"))):
        folder = tmp_path / stage
        assert (folder / "config.json").exists() and (folder / "rewards.png").exists()
        logged = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        keys = {k for e in logged for k in e}
        for name in rewards:
            assert f"rewards/{name}/mean" in keys
        assert {"reward_first_quarter", "reward_last_quarter",
                "frac_reward_zero_std"} <= set(summary[stage])
    # The eval stage grades every stage's checkpoint on the held-out samples and code tasks.
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert list(metrics["checkpoints"]) == ["base", "sft", "stage1", "stage2"]
    for result in metrics["checkpoints"].values():
        assert {"output", "next_statement", "state", "accuracy", "format",
                "code_pass_rate", "sampled"} <= set(result)
        # Per-sample scores for paired verdicts, greedy and sampled, on the same samples.
        assert len(result["per_sample"]) == len(result["per_sample_sampled"]) == metrics["samples"]
        assert 0.0 <= result["sampled"] <= 1.0
    assert (tmp_path / "eval" / "learning.png").stat().st_size > 0
    table = (tmp_path / "eval" / "summary.txt").read_text()
    assert "starting point" in table and "stage2" in table and "code tests" in table


def test_short_answers_are_graded_correct() -> None:
    sample = Sample(id="x", source="def f(a):\n    b = a + 1\n    return b", call="f(1)",
                    prompt="p", questions=[
                        Question(kind="output", text="", gold=2, gold_text="assert f(1) == 2",
                                 info={"call": "f(1)"}),
                        Question(kind="state", text="", line=2, occurrence=1, var="b",
                                 gold={"value": 2, "type": "int"}, gold_text="2; int")])
    answers = [short_answer(q) for q in sample.questions]
    assert answers == ["2", "2; int"]
    assert score(sample.answer_text(answers), sample).reward == 1.0


def test_easy_code_tasks_are_deterministic_and_correct(sandbox: Any) -> None:
    from stepreward.codegen import run_tests

    tasks = easy_code_tasks(20, seed=3)
    assert [t.model_dump() for t in tasks] == [t.model_dump() for t in easy_code_tasks(20, 3)]
    assert len({t.canonical_solution for t in tasks}) == 20
    for task in tasks[:6]:
        assert task.canonical_solution is not None
        report = run_tests(task.canonical_solution, task.tests, sandbox=sandbox)
        assert report.pass_rate == 1.0, (task.prompt, report)
    wrong = tasks[0].canonical_solution.replace("return ", "return 1 + ")  # type: ignore[union-attr]
    assert run_tests(wrong, tasks[0].tests, sandbox=sandbox).pass_rate < 1.0


def test_easy_code_tasks_refuse_more_than_exist() -> None:
    assert len(easy_code_tasks(160, seed=3, max_ops=1)) == 160  # every one-op task
    with pytest.raises(ValueError, match="only 160 distinct"):
        easy_code_tasks(161, max_ops=1)
    with pytest.raises(ValueError, match="max_ops"):
        easy_code_tasks(1, max_ops=0)


def test_compact_prompt_keeps_program_call_and_questions() -> None:
    from stepreward.questions import build_sample

    sample = build_sample("def f(x):\n    y = x * 2\n    return y", "f(3)", seed=0)
    short = compact_prompt(sample.prompt)
    assert short.startswith("Program:\n1 | def f(x):") and "Call: f(3)" in short
    assert "Questions:\n1. " in short and "How to answer" not in short
    assert compact_prompt("not a sample prompt") == "not a sample prompt"


def test_eval_table_says_in_words_whether_each_stage_improved() -> None:
    results = {"base": {"accuracy": 0.0, "questions": 300},
               "sft": {"accuracy": 0.5, "questions": 300},
               "stage1": {"accuracy": 0.49, "questions": 300},
               "stage2": {"accuracy": 0.3, "questions": 300, "code_pass_rate": 0.4,
                          "code_tasks": 100}}
    results["stage1"]["code_pass_rate"] = 0.1
    table = eval_table(results, {"stage1": {"reward_first_quarter": 0.2,
                                            "reward_last_quarter": 0.6}})
    lines = table.splitlines()
    assert "starting point" in lines[2]
    assert "improved" in lines[3]
    assert "no clear change" in lines[4] and "training reward rose" in lines[4]
    assert "code tests: improved" in lines[5]


def test_paired_verdict_uses_the_same_items() -> None:
    # Each item gains the same 0.1: unpaired noise of 30 items would hide it, paired it shows.
    before = [0.2 + 0.02 * (i % 30) for i in range(30)]
    after = [b + 0.1 for b in before]
    results = {"sft": {"accuracy": sum(before) / 30, "questions": 90, "per_sample": before},
               "stage1": {"accuracy": sum(after) / 30, "questions": 90, "per_sample": after,
                          "sampled": 0.5, "per_sample_sampled": [0.5] * 30}}
    results["sft"].update(sampled=0.5, per_sample_sampled=[0.5] * 30)
    line = eval_table(results).splitlines()[3]
    assert "held-out accuracy: improved (+0.100" in line
    assert "sampled: no clear change (+0.000" in line
    # Mixed gains and losses of equal size: no verdict either way.
    mixed = [b + (0.1 if i % 2 else -0.1) for i, b in enumerate(before)]
    results["stage1"].update(per_sample=mixed, accuracy=sum(mixed) / 30)
    assert "held-out accuracy: no clear change" in eval_table(results).splitlines()[3]
    # Stage 2 is judged on code tasks, paired by task: 12 of 40 newly pass, none newly fail.
    code_before = [1.0] * 8 + [0.0] * 32
    code_after = [1.0] * 20 + [0.0] * 20
    results["stage2"] = {**results["stage1"], "code_pass_rate": 0.5, "per_task": code_after}
    results["stage1"].update(code_pass_rate=0.2, per_task=code_before)
    assert "code tests: improved (+0.300" in eval_table(results).splitlines()[4]
    del results["stage2"]
    worse = [b - 0.2 for b in before]
    results["stage1"].update(per_sample=worse, accuracy=sum(worse) / 30)
    assert "held-out accuracy: got worse (-0.200" in eval_table(results).splitlines()[3]


@pytest.mark.slow
def test_tiny_cpu_demo_learns(tmp_path: Path) -> None:
    """The full demo config: the acceptance criteria of the recipe (several minutes)."""
    summary = run_recipe(CONFIG, out_dir=tmp_path)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())["checkpoints"]
    assert metrics["sft"]["format"] >= 0.8
    s1 = summary["stage1"]
    assert s1["frac_reward_zero_std"] < 0.5
    assert s1["reward_last_quarter"] > s1["reward_first_quarter"]
    # Stage 1 raises what it optimises on held-out programs: accuracy of sampled answers.
    assert metrics["stage1"]["sampled"] > metrics["sft"]["sampled"]
    assert summary["stage2"]["frac_reward_zero_std"] < 1.0
    assert metrics["stage2"]["code_pass_rate"] > metrics["stage1"]["code_pass_rate"]


@pytest.mark.slow
def test_ablation_smoke_one_seed(tmp_path: Path) -> None:
    from stepreward.recipe import run_ablation

    ab = yaml.safe_load((TRL_DIR / "ablation-cpu.yaml").read_text())
    small = _small(yaml.safe_load(CONFIG.read_text()))
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "tiny.yaml").write_text(yaml.safe_dump(small))
    ab.update(recipe="tiny.yaml", stage1={**ab["stage1"], "config": {"max_steps": 3}},
              eval={"n": 8})
    (config_dir / "ablation.yaml").write_text(yaml.safe_dump(ab))
    summary = run_ablation(config_dir / "ablation.yaml", tmp_path / "out", seeds=[0])
    assert set(summary["results"]) == {"output_only", "stepwise", "stepwise_no_gate"}
    for arm in summary["results"].values():
        held = arm[0]["eval"]
        assert {"output", "trace", "reward"} <= set(held)
    assert "held-out output accuracy" in summary["report"]
    assert (tmp_path / "out" / "report.txt").exists()
