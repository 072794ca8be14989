"""The curriculum inside a real TRL GRPOTrainer on the tiny local model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr

trl = pytest.importorskip("trl", reason="needs the trl extra")
torch = pytest.importorskip("torch")

from stepreward.curriculum import KEY_COLUMN, Curriculum, CurriculumConfig  # noqa: E402
from stepreward.integrations.trl import ExecutionReward, FormatReward, sample_rows  # noqa: E402
from stepreward.integrations.trl_curriculum import (  # noqa: E402
    CurriculumReward,
    curriculum_dataset,
    curriculum_grpo_options,
)
from stepreward.recipe.tiny import build_tiny_model  # noqa: E402

PROGRAMS = [
    ("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)", 1),
    ("def f(s):\n    t = s.upper()\n    return t + s\n", "f('ab')", 1),
    ("def f(xs):\n    out = []\n    for x in xs:\n        if x % 2:\n            out.append(x)\n"
     "    return out\n", "f([1, 2, 3])", 2),
    ("def f(n):\n    total = 0\n    for i in range(n):\n        total += i * i\n"
     "    return total\n", "f(4)", 2),
]


class ScriptedPolicy(ExecutionReward):
    """Grades scripted completions instead of the tiny model's: level-1 prompts are always
    answered right (too easy), level-2 prompts right in every other completion (in the band).
    The rewards still go through the real grader and the real trainer."""

    def scored(self, prompts: Sequence[Any] | None = None,
               completions: Sequence[Any] | None = None,
               **kwargs: Any) -> list[tuple[float | None, str, dict[str, float]]]:
        texts = []
        for k, (sample, level) in enumerate(zip(kwargs["sample"], kwargs["level"],
                                                strict=True)):
            gold = sr.Sample.from_row(json.loads(sample)).gold_completion()
            texts.append(gold if level == 1 or k % 2 == 0 else "<answer>\nwrong\n</answer>")
        return super().scored(prompts, texts, **kwargs)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def rows(sandbox: sr.Sandbox) -> list[dict[str, Any]]:
    out = []
    for src, call, level in PROGRAMS:
        sample = sr.build_sample(src, call, kinds=("output", "state"), max_per_kind=1,
                                 sandbox=sandbox)
        out.append({**sample.to_row(), "level": level})
    return sample_rows(out)


def train(tiny_model: Path, tmp_path: Path, cur: Curriculum, reward: ExecutionReward,
          steps: int) -> Any:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4,
        max_completion_length=8, max_steps=steps, learning_rate=1e-3, logging_steps=1,
        bf16=False, use_cpu=True, report_to="none", beta=0.0, save_strategy="no",
        remove_unused_columns=False, seed=0, **curriculum_grpo_options())
    trainer = trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        processing_class=AutoTokenizer.from_pretrained(tiny_model), args=config,
        train_dataset=curriculum_dataset(cur),
        reward_funcs=[CurriculumReward(cur, reward), FormatReward()])
    trainer.train()
    return trainer


def test_grpo_trainer_moves_the_mix_toward_the_band(tiny_model: Path, tmp_path: Path,
                                                    rows: list[dict[str, Any]]) -> None:
    cfg = CurriculumConfig(band=(0.3, 0.7), warmup=1, alpha=0.5, min_share=0.1, seed=0)
    cur = Curriculum(rows, cfg)
    trainer = train(tiny_model, tmp_path, cur, ScriptedPolicy(), steps=6)
    assert trainer.state.global_step == 6
    # 2 prompts of 4 completions per step; every group came back to the curriculum.
    assert cur.groups >= 12 and len(cur.decisions) >= cur.groups
    acc = cur.accuracy()
    assert acc[1] == pytest.approx(1.0) and acc[2] == pytest.approx(0.5)
    assert cur.shares()[2] > 0.75
    assert cur.kind_accuracy()["output"] > 0.5
    logged = {k: v for e in trainer.state.log_history for k, v in e.items()}
    assert logged["curriculum/share/level_2"] > 0.75
    assert logged["curriculum/accuracy/level_1"] == pytest.approx(1.0)
    assert "rewards/stepreward_execution/mean" in logged
    # Later draws follow the shares: level 2 dominates the second half.
    later = [lv for what, lv in cur.decisions[len(cur.decisions) // 2:] if what == "draw"]
    assert later.count(2) > later.count(1)


def test_informative_group_filter_with_the_real_model(tiny_model: Path, tmp_path: Path,
                                                      rows: list[dict[str, Any]]) -> None:
    # The untrained tiny model answers nothing right: every group agrees (all 0).
    cur = Curriculum(rows * 2, CurriculumConfig(filter_uniform=True, max_filtered=0.5,
                                                seed=1))
    trainer = train(tiny_model, tmp_path, cur, ExecutionReward(), steps=3)
    assert trainer.state.global_step == 3
    assert cur.uniform == cur.groups >= 6
    assert cur.filtered == 4  # the cap: half of each level's 4 rows
    logged = {k: v for e in trainer.state.log_history for k, v in e.items()}
    assert logged["curriculum/filtered_fraction"] > 0
    retired = {f"{lv}:{i}" for lv, ids in cur.state()["retired"].items() for i in ids}
    assert len(retired) == 4
    assert KEY_COLUMN == "curriculum_id"


CONFIG = Path(__file__).resolve().parents[2] / "integrations" / "trl" / "tiny-cpu.yaml"


def test_recipe_stage1_curriculum_option(tmp_path: Path) -> None:
    import yaml

    from stepreward.recipe import effective_settings, run_recipe

    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["stage1"]["curriculum"] = {"band": [0.3, 0.7], "min_share": 0.1,
                                   "filter_uniform": True}
    cfg["stage1"]["config"]["max_steps"] = 2
    # Small, two levels and no SFT split (which would take every program), whatever the config.
    cfg["data"].update(n=48, levels=[1, 2], sft_answers=0, sft=0)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    settings = effective_settings(cfg)["stage1"]
    assert settings["curriculum"]["band"] == [0.3, 0.7] and settings["curriculum"]["seed"] == 0
    summary = run_recipe(path, stages=("data", "stage1"), out_dir=tmp_path / "run")
    assert summary["stage1"]["steps"] == 2
    state = json.loads((tmp_path / "run" / "stage1" / "curriculum.json").read_text())
    assert state["groups"] >= 2 and state["levels"] == [1, 2]
    assert summary["stage1"]["curriculum_shares"] == state["shares"]
    logged = [json.loads(x) for x in
              (tmp_path / "run" / "stage1" / "metrics.jsonl").read_text().splitlines()]
    assert any("curriculum/share/level_1" in e for e in logged)
    # A bad option stops the run before any work.
    cfg["stage1"]["curriculum"] = {"band": [0.9, 0.1]}
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ValueError, match=r"stage1\.curriculum is not valid"):
        run_recipe(path, stages=("data", "stage1"), out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad" / "data").exists()
    cfg["stage1"]["curriculum"] = {"band": [0.2, 0.8]}
    del cfg["stage1"]["config"]["max_steps"]
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ValueError, match="max_steps"):
        run_recipe(path, stages=("stage1",), out_dir=tmp_path / "run")
