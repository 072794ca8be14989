"""Stage-1 scoring: stepreward's literal policy against the reference approach, same session.

Stage-1 samples from CRUXEval (one output question plus up to ten step questions); four
completions per sample as in a GRPO group, the gold answers or about 40% of the lines wrong.
The reference approach runs the assertion with ``subprocess.run([python, "-c", code],
timeout=0.5)`` per completion, as its reward file does, then compares the step answers as
strings; it runs on 2 threads.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr
from conftest import Measure, Registry

GROUP = "score: stage-1 completions (CRUXEval samples)"
REFERENCE = "reference approach (python -c per completion), 2 threads"
PROGRAMS = 400
REFERENCE_N = 120  # completions per round for the reference: each one starts an interpreter
SCORE_ROWS = "score(), literal policy, dataset rows, 1 thread"
REWARD_FOR = "reward_for(), JSON labels (what trainers pass), 1 thread"


@pytest.fixture(scope="module")
def batch(data: Path) -> tuple[list[str], list[dict[str, Any]], list[sr.Sample]]:
    rows = [json.loads(x) for x in
            (data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()][:PROGRAMS]
    samples = [s for s in sr.build_samples(
        [(r["code"], f"f({r['input']})") for r in rows],
        kinds=("output", "next_statement", "state"), max_per_kind=5) if s is not None]
    rng = random.Random(0)
    completions, targets = [], []
    for s in samples:
        gold = s.gold_answers()
        for _ in range(4):  # a GRPO group: several completions per prompt
            answers = [a if rng.random() < 0.6 else "[0]; list" for a in gold]
            completions.append("<reasoning>step by step...</reasoning>\n" + s.answer_text(answers))
            targets.append(s)
    return completions, [t.to_row() for t in targets], targets


def reference_reward(completion: str, sample: sr.Sample) -> float:
    """The reference's approach: one ``python -c`` per completion for the assertion."""
    if "<answer>" not in completion or "</answer>" not in completion:
        return 0.0
    ans = completion.rsplit("<answer>", maxsplit=1)[-1].split("</answer>", maxsplit=1)[0].strip()
    lines = ans.split("\n")
    first, rest = lines[0].strip(), lines[1:]
    code = f"\n{sample.source}\n\n{first}\n"
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=0.5)
    except subprocess.TimeoutExpired:
        return 0.0
    if r.returncode != 0:
        return 0.0
    steps = sample.questions[1:]
    if len(rest) != len(steps) or not steps:
        return 1.0
    correct = sum(a.strip() == q.gold_text.strip() for a, q in zip(rest, steps, strict=True))
    return 1.0 + correct / len(steps)


def test_score_rows(measure: Measure, batch: tuple[list[str], list[dict[str, Any]],
                                                   list[sr.Sample]]) -> None:
    completions, rows, _ = batch
    pairs = list(zip(completions, rows, strict=True))
    rewards = measure(lambda: [sr.score(c, r).reward for c, r in pairs], group=GROUP,
                      label=SCORE_ROWS,
                      items=len(pairs), baseline=REFERENCE, rounds=5, warmup_rounds=1)
    assert 0.2 < sum(rewards) / len(rewards) < 0.95  # ~40% of the answer lines are wrong


def test_score_samples(measure: Measure, batch: tuple[list[str], list[dict[str, Any]],
                                                      list[sr.Sample]]) -> None:
    completions, _, samples = batch
    pairs = list(zip(completions, samples, strict=True))
    rewards = measure(lambda: [sr.score(c, s).reward for c, s in pairs], group=GROUP,
                      label="score(), literal policy, Sample objects, 1 thread",
                      items=len(pairs), baseline=REFERENCE, rounds=5, warmup_rounds=1)
    assert 0.2 < sum(rewards) / len(rewards) < 0.95  # ~40% of the answer lines are wrong


def test_reward_for_labels(measure: Measure, batch: tuple[list[str], list[dict[str, Any]],
                                                          list[sr.Sample]]) -> None:
    from stepreward.rewards import reward_for

    completions, rows, _ = batch
    pairs = list(zip(completions, [json.dumps(r) for r in rows], strict=True))
    rewards = measure(lambda: [reward_for(c, lab).reward for c, lab in pairs], group=GROUP,
                      label=REWARD_FOR, items=len(pairs),
                      baseline=(REFERENCE, SCORE_ROWS), rounds=5, warmup_rounds=1)
    assert rewards == [sr.score(c, r).reward for c, r in zip(completions, rows, strict=True)]


def test_reference(measure: Measure, batch: tuple[list[str], list[dict[str, Any]],
                                                  list[sr.Sample]]) -> None:
    completions, _, samples = batch
    some_c, some_s = completions[:REFERENCE_N], samples[:REFERENCE_N]

    def run() -> list[float]:
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(reference_reward, some_c, some_s))
    rewards = measure(run, group=GROUP, label=REFERENCE, items=REFERENCE_N)
    # Same completions, same verdicts where the reference's string match is exact.
    ours = [sr.score(c, s).reward for c, s in zip(some_c, some_s, strict=True)]
    assert sum(r > 0 for r in rewards) >= 0.9 * sum(r > 0 for r in ours)


def test_targets(ratios: Registry) -> None:
    # Issue target: >= 50x the reference approach (and >= 2,000 completions/s, which that
    # implies on any machine where the reference reaches 40 completions/s), on one core.
    ratios.check(GROUP, SCORE_ROWS, REFERENCE,
                 at_least=50, why="issue target: 50x the reference approach")
    # The framework-neutral entry (label reading, preset lookup, fixed metrics) on top of
    # score(): at most a quarter slower.
    ratios.check(GROUP, REWARD_FOR, SCORE_ROWS, at_least=0.8,
                 why="reward_for adds at most 25% to score()")
