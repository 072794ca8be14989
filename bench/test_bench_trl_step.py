"""Share of a GRPO step spent in stepreward's stage-1 reward, on the tiny CPU model.

A random tiny model writes no answers, so the reward sees realistic completions instead: for
each prompt of the batch, a completion with the gold answers or with about 40% of them wrong
(alternating), scored inside TRL's step by ``ExecutionReward``. In the same session, the same
reward runs on one step's completions outside TRL, against the reference reward (one
``python -c`` per completion for the assertion, as its reward file does; sequential, as TRL
calls a sync reward). The GRPO step row times ``trainer.train()`` over two steps (tiny model,
1 torch thread, 2 sandbox workers), so ``reward vs GRPO step`` is one over the reward's share.

Needs the ``trl`` extra. ``--bench-long`` adds 128 completions per step (~40 s a step).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

import pytest

import stepreward as sr
from conftest import Measure, Registry

STEPS = 2
OURS = "stepreward ExecutionReward, one step's completions"
REFERENCE = "reference reward (sequential python -c), same completions"
STEP = f"GRPO step (tiny model, 1 torch thread; {STEPS} steps per round)"


class RealisticReward:
    """Scores realistic completions for the batch's samples in place of the model's text."""

    __name__ = "stepreward_execution"

    def __init__(self, answers: dict[str, list[str]]) -> None:
        from stepreward.integrations.trl import ExecutionReward

        self.answers = answers
        self.inner = ExecutionReward()
        self.counter = 0

    def texts(self, samples: list[str]) -> list[str]:
        out = []
        for sample_json in samples:
            options = self.answers[json.loads(sample_json)["id"]]
            out.append(options[self.counter % len(options)])
            self.counter += 1
        return out

    def __call__(self, prompts: list[Any], completions: list[Any], **kw: Any) -> list[Any]:
        return list(self.inner(prompts=prompts, completions=self.texts(kw["sample"]), **kw))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("trl", reason="needs the trl extra")
    import torch

    from stepreward.integrations.trl import sample_rows
    from stepreward.recipe.tiny import build_tiny_model
    from stepreward.synth import build_dataset

    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("trl-bench")
    build_dataset(64, work / "data", levels=(2, 3, 4), seed=1, max_per_kind=5)
    rows = [json.loads(x) for x in (work / "data" / "train.jsonl").read_text().splitlines()]
    rng = random.Random(0)
    answers: dict[str, list[str]] = {}
    samples: dict[str, sr.Sample] = {}
    for row in rows:
        s = sr.Sample.from_row(json.loads(row["label"]))
        samples[s.id] = s
        gold = s.gold_answers()
        wrong = [a if rng.random() < 0.6 else "0; int" for a in gold]
        answers[s.id] = [s.answer_text(gold), s.answer_text(wrong)]
    return {"work": work, "rows": rows, "trl_rows": sample_rows(rows), "answers": answers,
            "samples": samples, "model": build_tiny_model(work / "model")}


def _sizes() -> list[Any]:
    return [8, 32, pytest.param(128, marks=pytest.mark.bench_long)]


def reference_reward(text: str, sample: sr.Sample) -> float:
    ans = text.rsplit("<answer>", 1)[-1].split("</answer>", 1)[0].strip()
    lines = ans.split("\n")
    r = subprocess.run([sys.executable, "-c", f"\n{sample.source}\n\n{lines[0].strip()}\n"],
                       capture_output=True, timeout=5)
    if r.returncode != 0:
        return 0.0
    steps = sample.questions[1:]
    rest = lines[1:]
    if len(rest) != len(steps) or not steps:
        return 1.0
    return 1.0 + sum(a.strip() == q.gold_text for a, q in zip(rest, steps, strict=True)) / len(
        steps)


def _batch(setup: dict[str, Any], size: int) -> tuple[list[Any], list[str], list[str]]:
    """One step's worth: ``size // 8`` prompts, 8 completions each, as TRL passes them."""
    rows = setup["trl_rows"][: size // 8]
    prompts = [r["prompt"] for r in rows for _ in range(8)]
    sample_col = [r["sample"] for r in rows for _ in range(8)]
    texts = RealisticReward(setup["answers"]).texts(sample_col)
    return prompts, texts, sample_col


@pytest.mark.parametrize("size", _sizes())
def test_grpo_step(measure: Measure, setup: dict[str, Any], size: int) -> None:
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stepreward.integrations.trl import to_trl_dataset

    def make() -> tuple[tuple[Any, ...], dict[str, Any]]:
        config = trl.GRPOConfig(
            output_dir=str(setup["work"] / f"out{size}"), per_device_train_batch_size=size,
            num_generations=8, max_completion_length=32, max_steps=STEPS, logging_steps=1,
            bf16=False, use_cpu=True, report_to="none", beta=0.0, save_strategy="no",
            remove_unused_columns=False, seed=0, learning_rate=1e-4, disable_tqdm=True)
        trainer = trl.GRPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(setup["model"]),
            processing_class=AutoTokenizer.from_pretrained(setup["model"]), args=config,
            train_dataset=to_trl_dataset(setup["trl_rows"]),
            reward_funcs=[RealisticReward(setup["answers"])])
        return (trainer,), {}

    out = measure(lambda trainer: trainer.train(), setup=make, group=_group(size), label=STEP,
                  items=STEPS, unit="steps", rounds=2)
    assert out.global_step == STEPS


@pytest.mark.parametrize("size", _sizes())
def test_reward(measure: Measure, setup: dict[str, Any], size: int) -> None:
    from stepreward.integrations.trl import ExecutionReward

    prompts, texts, sample_col = _batch(setup, size)
    reward = ExecutionReward()
    reward(prompts=prompts, completions=texts, sample=sample_col)  # warm the sample cache
    scores = measure(lambda: reward(prompts=prompts, completions=texts, sample=sample_col),
                     group=_group(size), label=OURS, items=1, unit="batches",
                     baseline=(REFERENCE, STEP), rounds=5)
    assert len(scores) == size and any(s and s > 0 for s in scores)


@pytest.mark.parametrize("size", _sizes())
def test_reference_reward(measure: Measure, setup: dict[str, Any], size: int) -> None:
    _, texts, sample_col = _batch(setup, size)
    samples = [setup["samples"][json.loads(s)["id"]] for s in sample_col]
    scores = measure(lambda: [reference_reward(t, s) for t, s in zip(texts, samples,
                                                                        strict=True)],
                     group=_group(size), label=REFERENCE, items=1, unit="batches", rounds=2)
    assert any(s > 0 for s in scores)


def _group(size: int) -> str:
    return f"trl: GRPO step, {size} completions"


def test_targets(ratios: Registry) -> None:
    # Issue target: rewards under 10% of the step at 32 completions, i.e. the reward at least
    # 10x faster than the step it runs in.
    ratios.check(_group(32), OURS, STEP, at_least=10,
                 why="reward under 10% of a GRPO step at 32 completions")
