"""Share of a GRPO step spent in stepreward's rewards, on the tiny model, by batch size.

Run: ``python bench/trl_step.py`` (``--json`` for machine output). A random tiny model writes
no answers, so the reward sees realistic completions instead: for each prompt of the batch, a
completion with the gold answers or with about 40% of them wrong, scored inside TRL's step.
The reference reward (one ``python -c`` per completion for the assertion, as its reward file
does) is timed on the same completions, sequentially, as TRL calls sync rewards.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from typing import Any

import stepreward as sr
from stepreward.integrations.trl import ExecutionReward, sample_rows, to_trl_dataset


class TimedRealisticReward:
    """Scores realistic completions for the batch's samples and times it."""

    __name__ = "stepreward_execution"

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.inner = ExecutionReward()
        self.seconds: list[float] = []
        self.batches: list[list[tuple[str, str]]] = []
        self.counter = 0

    def __call__(self, prompts: list[Any], completions: list[Any], **kw: Any) -> list[Any]:
        fake = []
        pairs = []
        for sample_json in kw["sample"]:
            options = self.answers[json.loads(sample_json)["id"]]
            text = options[self.counter % len(options)]
            self.counter += 1
            fake.append(text)
            pairs.append((text, sample_json))
        t0 = time.perf_counter()
        out = self.inner(prompts=prompts, completions=fake, **kw)
        self.seconds.append(time.perf_counter() - t0)
        self.batches.append(pairs)
        return out


def reference_reward(text: str, sample: sr.Sample) -> float:
    ans = text.rsplit("<answer>", 1)[-1].split("</answer>", 1)[0].strip()
    lines = ans.split("\n")
    r = subprocess.run([sys.executable, "-c", f"\n{sample.source}\n\n{lines[0].strip()}\n"],
                       capture_output=True, timeout=5, check=False)
    if r.returncode != 0:
        return 0.0
    steps = sample.questions[1:]
    rest = lines[1:]
    if len(rest) != len(steps) or not steps:
        return 1.0
    return 1.0 + sum(a.strip() == q.gold_text for a, q in zip(rest, steps, strict=True)) / len(
        steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sizes", default="8,32,128")
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    import torch
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stepreward.integrations.tiny import build_tiny_model
    from stepreward.synth import build_dataset

    torch.set_num_threads(1)
    work = tempfile.mkdtemp(prefix="trl-bench-")
    build_dataset(64, f"{work}/data", levels=(2, 3, 4), seed=1, max_per_kind=5)
    with open(f"{work}/data/train.jsonl") as f:
        rows = [json.loads(x) for x in f]
    rng = random.Random(0)
    answers: dict[str, list[str]] = {}
    samples: dict[str, sr.Sample] = {}
    for row in rows:
        s = sr.Sample.from_row(json.loads(row["label"]))
        samples[s.id] = s
        gold = s.gold_answers()
        wrong = [a if rng.random() < 0.6 else "0; int" for a in gold]
        answers[s.id] = [s.answer_text(gold), s.answer_text(wrong)]
    model_dir = build_tiny_model(f"{work}/model")
    results = []
    for size in [int(x) for x in args.sizes.split(",")]:
        reward = TimedRealisticReward(answers)
        config = trl.GRPOConfig(
            output_dir=f"{work}/out{size}", per_device_train_batch_size=size,
            num_generations=8, max_completion_length=32, max_steps=args.steps, logging_steps=1,
            bf16=False, use_cpu=True, report_to="none", beta=0.0, save_strategy="no",
            remove_unused_columns=False, seed=0, learning_rate=1e-4)
        trainer = trl.GRPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(model_dir),
            processing_class=AutoTokenizer.from_pretrained(model_dir), args=config,
            train_dataset=to_trl_dataset(sample_rows(rows)), reward_funcs=[reward])
        t0 = time.perf_counter()
        trainer.train()
        total = time.perf_counter() - t0
        steps = [e["step_time"] for e in trainer.state.log_history if "step_time" in e]
        step_time = sum(steps) / len(steps) if steps else total / args.steps
        reward_time = sum(reward.seconds) / len(reward.seconds)
        t0 = time.perf_counter()
        for text, sample_json in reward.batches[-1]:
            reference_reward(text, samples[json.loads(sample_json)["id"]])
        ref_time = time.perf_counter() - t0
        results.append({"completions": size, "step_s": step_time, "reward_s": reward_time,
                        "reward_share": reward_time / step_time, "reference_reward_s": ref_time,
                        "reference_share": ref_time / (step_time - reward_time + ref_time),
                        "speedup": ref_time / max(reward_time, 1e-9)})
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"tiny model (~0.3M parameters), 1 torch thread, {args.steps} GRPO steps per size\n")
    print(f"{'completions':>11} {'step s':>8} {'reward s':>9} {'share':>7} "
          f"{'reference s':>12} {'ref share':>10} {'speedup':>8}")
    for r in results:
        print(f"{r['completions']:>11} {r['step_s']:>8.3f} {r['reward_s']:>9.4f} "
              f"{r['reward_share']:>6.1%} {r['reference_reward_s']:>12.3f} "
              f"{r['reference_share']:>9.1%} {r['speedup']:>7.0f}x")


if __name__ == "__main__":
    main()
