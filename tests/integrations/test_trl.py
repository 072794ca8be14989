"""TRL adapters against TRL's own calling code: a real GRPOTrainer on a tiny local model."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

import stepreward as sr

trl = pytest.importorskip("trl", reason="needs the trl extra")
torch = pytest.importorskip("torch")

from stepreward.integrations.trl import (  # noqa: E402
    AsyncReward,
    ExecutionReward,
    FormatReward,
    UnitTestReward,
    code_task_rows,
    sample_rows,
    to_trl_dataset,
)
from stepreward.recipe.tiny import build_tiny_model  # noqa: E402

PROGRAMS = [
    ("def f(xs):\n    out = []\n    for x in xs:\n        if x % 2:\n            out.append(x)\n"
     "    return out\n", "f([1, 2, 3])"),
    ("def f(s):\n    t = s.upper()\n    return t + s\n", "f('ab')"),
]


def length_reward(completions: list[object], **kwargs: object) -> list[float]:
    """Varies with the completion, so a random model still gets non-zero advantages."""
    return [min(len(str(c)), 200) / 200.0 for c in completions]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def mixed_rows(sandbox: sr.Sandbox) -> list[dict[str, object]]:
    samples = [sr.build_sample(src, call, kinds=("output", "state"), max_per_kind=2,
                               sandbox=sandbox) for src, call in PROGRAMS]
    tasks = [sr.CodeTask(task_id="add", prompt="Write add(a, b) returning the sum.",
                         entry_point="add", tests=[sr.TestCase.call("add", (1, 2), 3),
                                                   sr.TestCase.call("add", (5, 5), 10)])]
    return sample_rows([s.to_row() for s in samples]) + code_task_rows(tasks)


def test_rewards_are_picklable_and_named() -> None:
    for reward in (ExecutionReward(), UnitTestReward(), FormatReward()):
        again = pickle.loads(pickle.dumps(reward))
        assert again.__name__ == reward.__name__ and again.__name__.startswith("stepreward_")


def test_mixed_batch_none_handling_and_hostile_completions(
        mixed_rows: list[dict[str, object]]) -> None:
    samples = [r["sample"] for r in mixed_rows]
    tasks = [r["task"] for r in mixed_rows]
    gold = [sr.Sample.from_row(json.loads(s)).gold_completion() if s else None  # type: ignore[arg-type]
            for s in samples]
    hostile = ("<answer>\n```python\nimport os\ndef add(a, b):\n    while True:\n"
               "        pass\n```\n</answer>")
    completions = [[{"role": "assistant", "content": gold[0]}], "garbage \x00 \ud800",
                   hostile]
    logged: dict[str, object] = {}
    kwargs = {"sample": samples, "task": tasks, "log_metric": logged.__setitem__,
              "log_extra": logged.__setitem__}
    exe = ExecutionReward()(prompts=["p"] * 3, completions=completions, **kwargs)
    assert exe[0] == 1.0 and exe[1] == 0.0 and exe[2] is None
    unit = UnitTestReward(timeout_s=0.2)(prompts=["p"] * 3, completions=completions, **kwargs)
    assert unit[:2] == [None, None] and unit[2] == 0.0
    fmt = FormatReward()(prompts=["p"] * 3, completions=completions, **kwargs)
    assert fmt == [1.0, 0.0, 1.0]
    assert "stepreward_execution/output_accuracy" in logged
    assert "stepreward_unit_tests_reason" in logged


def test_grpo_trainer_runs_with_stepreward_rewards(tiny_model: Path, tmp_path: Path,
                                                   mixed_rows: list[dict[str, object]]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    dataset = to_trl_dataset(mixed_rows * 2)
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=16, max_steps=3, learning_rate=5e-3, logging_steps=1,
        bf16=False, use_cpu=True, report_to="none", beta=0.0, save_strategy="no",
        remove_unused_columns=False, seed=0)
    trainer = trl.GRPOTrainer(
        model=model, processing_class=tokenizer, args=config, train_dataset=dataset,
        reward_funcs=[ExecutionReward(), UnitTestReward(timeout_s=0.5), FormatReward(),
                      length_reward])
    trainer.train()
    logs = {k for entry in trainer.state.log_history for k in entry}
    for name in ("stepreward_execution", "stepreward_unit_tests", "stepreward_format"):
        assert f"rewards/{name}/mean" in logs, sorted(logs)
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert changed, "training changed no weight"
    assert trainer.state.global_step == 3


class Hostile:
    """Replaces the model's completions with hostile ones before a real reward sees them."""

    def __init__(self, inner: object, text: str) -> None:
        self.inner, self.text = inner, text
        self.__name__ = f"hostile_{inner.__name__}"  # type: ignore[attr-defined]
        self.calls = 0

    def __call__(self, prompts: list[object], completions: list[object],
                 **kwargs: object) -> list[float | None]:
        self.calls += 1
        return self.inner(prompts=prompts, completions=[self.text] * len(completions),  # type: ignore[operator]
                          **kwargs)


def test_hostile_completions_and_timeouts_do_not_stop_training(
        tiny_model: Path, tmp_path: Path, mixed_rows: list[dict[str, object]]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loop = ("<answer>\n```python\ndef add(a, b):\n    while True:\n        pass\n```\n"
            "</answer>")
    bomb = "<answer>\n```python\nimport os\nos._exit(0)\n```\n</answer>" + "\x00" * 1000
    rewards = [Hostile(UnitTestReward(timeout_s=0.2), loop), Hostile(ExecutionReward(), bomb),
               AsyncReward(UnitTestReward(timeout_s=0.2)), length_reward]
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=8, max_steps=2, logging_steps=1, bf16=False, use_cpu=True,
        report_to="none", beta=0.0, save_strategy="no", remove_unused_columns=False, seed=1)
    trainer = trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        processing_class=AutoTokenizer.from_pretrained(tiny_model), args=config,
        train_dataset=to_trl_dataset(mixed_rows * 2), reward_funcs=rewards)
    trainer.train()
    assert trainer.state.global_step == 2
    assert rewards[0].calls == 2 and rewards[1].calls == 2  # type: ignore[union-attr]
