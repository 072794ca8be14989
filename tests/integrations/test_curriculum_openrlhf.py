"""The curriculum behind OpenRLHF's prompt-loader interface and its rollout-to-experience
step, with OpenRLHF's own code (0.11.2): ``preprocess_data``, ``_collect_prompt_batch``,
``SingleTurnAgentExecutor``'s reward-file path and
``SamplesGenerator._process_response_into_experience``. vLLM is the import-only stand-in in
tests/stubs (no engine runs here)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import stepreward as sr

agent = pytest.importorskip("openrlhf.utils.agent", reason="needs openrlhf (see docs)")
torch = pytest.importorskip("torch")

from stepreward.curriculum import KEY_COLUMN, Curriculum, CurriculumConfig  # noqa: E402
from stepreward.integrations.openrlhf import reward_file_path  # noqa: E402
from stepreward.integrations.openrlhf.curriculum import (  # noqa: E402
    CurriculumFeedback,
    CurriculumPromptDataset,
    install,
)

STUBS = str(Path(__file__).resolve().parents[1] / "stubs")
STUB_PACKAGES = {p.name for p in Path(STUBS).iterdir() if p.is_dir()}


@pytest.fixture(scope="module")
def samples_generator() -> Iterator[Any]:
    sys.path.insert(0, STUBS)
    try:
        from openrlhf.trainer.ppo_utils import samples_generator as module

        yield module
    finally:
        sys.path.remove(STUBS)
        # The stand-ins must not outlive this module: TRL imports vllm when it is importable.
        for name in list(sys.modules):
            if name.split(".")[0] in STUB_PACKAGES:
                del sys.modules[name]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoTokenizer

    from stepreward.recipe.tiny import build_tiny_model

    return AutoTokenizer.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("tok")))


@pytest.fixture(scope="module")
def rows(sandbox: sr.Sandbox) -> list[dict[str, Any]]:
    """Rows as ``stepreward synth`` writes them: ``messages``, ``label``, ``level``."""
    programs = [("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)", 1),
                ("def f(s):\n    return s.upper() + s\n", "f('ab')", 1),
                ("def f(n):\n    t = 0\n    for i in range(n):\n        t += i\n"
                 "    return t\n", "f(4)", 2),
                ("def f(xs):\n    return [x for x in xs if x % 2]\n", "f([1, 2, 3])", 2)]
    out = []
    for src, call, level in programs:
        s = sr.build_sample(src, call, kinds=("output", "state"), max_per_kind=1,
                            sandbox=sandbox)
        out.append({"messages": [{"role": "user", "content": s.prompt}],
                    "label": json.dumps(s.to_row()), "level": level})
    return out


def strategy() -> SimpleNamespace:
    data = SimpleNamespace(input_key="messages", label_key="label", apply_chat_template=True,
                           input_template=None)
    return SimpleNamespace(args=SimpleNamespace(data=data,
                                                rollout=SimpleNamespace(n_samples_per_prompt=4)))


def test_curriculum_behind_openrlhf_loader_and_experiences(
        samples_generator: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> None:
    cur = Curriculum(rows, CurriculumConfig(warmup=1, alpha=0.5, min_share=0.1, seed=0))
    dataset = CurriculumPromptDataset(cur, tokenizer, strategy(), length=64)
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=True,
                                         collate_fn=dataset.collate_fn)
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=reward_file_path())
    generator = samples_generator.SamplesGenerator(strategy(), loader, None, tokenizer, [])
    undo = install(cur, group_size=4, datasets=False)
    try:
        it = iter(loader)
        experiences = []
        for _ in range(6):
            prompts, labels, _, exhausted = samples_generator._collect_prompt_batch(it, 2)
            assert len(prompts) == 2 and not exhausted
            for prompt, label in zip(prompts, labels, strict=True):
                data = json.loads(label)
                assert data[KEY_COLUMN].split(":")[0] in ("1", "2")
                assert prompt.startswith(tokenizer.apply_chat_template(
                    [{"role": "user", "content": data["prompt"]}], tokenize=False,
                    add_generation_prompt=True)[:20])
                gold = sr.Sample.from_row(data).gold_completion()
                level = int(data[KEY_COLUMN].split(":")[0])
                for k in range(4):  # scripted: level 1 always right, level 2 half the time
                    text = gold if level == 1 or k % 2 == 0 else "<answer>\nno\n</answer>"
                    query = prompt + text + "<|im_end|>"
                    (scored,) = asyncio.run(executor._fetch_rewards_via_func(
                        [query], [prompt], [label]))
                    ids = tokenizer(query, add_special_tokens=False)["input_ids"]
                    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
                    response = {"observation_tokens": ids,
                                "action_ranges": [(n_prompt, len(ids))],
                                "reward": scored["rewards"], "scores": scored["scores"],
                                "extra_logs": scored["extra_logs"], "prompt": prompt,
                                "label": label, "rollout_log_probs": None}
                    experiences.append(generator._process_response_into_experience(
                        response, max_len=4096))
    finally:
        undo()
    assert cur.groups == 12
    acc = cur.accuracy()
    assert acc[1] == pytest.approx(1.0) and acc[2] == pytest.approx(0.5)
    assert cur.shares()[2] > 0.75
    assert cur.kind_accuracy()["output"] > 0.5
    last = experiences[-1]
    assert float(last.info["curriculum/share/level_2"][0]) == pytest.approx(cur.shares()[2])
    keys = [sorted(e.info) for e in experiences]
    assert all(k == keys[0] for k in keys)  # OpenRLHF concatenates info by key
    assert float(experiences[0].rewards[0]) == 1.0 or float(experiences[0].rewards[0]) == 0.0
    # Undone: OpenRLHF's own method is back.
    assert (samples_generator.SamplesGenerator._process_response_into_experience.__name__
            == "_process_response_into_experience")


def test_feedback_groups_and_filter(rows: list[dict[str, Any]]) -> None:
    cur = Curriculum(rows, CurriculumConfig(filter_uniform=True, seed=2))
    fb = CurriculumFeedback(cur, group_size=3)
    label = json.dumps({**json.loads(rows[0]["label"]), KEY_COLUMN: cur.draw(level=1)[
        KEY_COLUMN]})
    fb.add(label, torch.tensor([0.0]))
    fb.add("not json", 1.0)  # skipped, never raises
    fb.add(label, 0.0, {"stepreward/stage1": 1.0, "stepreward/output_accuracy": 0.0})
    assert cur.groups == 0
    fb.add(label, 0.0)
    assert cur.groups == 1 and cur.filtered == 1
    assert fb.info()["curriculum/filtered_fraction"] == 1.0
    with pytest.raises(ValueError):
        CurriculumFeedback(cur, group_size=0)


def test_reward_file_ignores_the_curriculum_key(rows: list[dict[str, Any]]) -> None:
    from stepreward.integrations.openrlhf import score_one

    data = json.loads(rows[0]["label"])
    gold = sr.Sample.from_row(data).gold_completion()
    value, logs = score_one(gold, json.dumps({**data, KEY_COLUMN: "1:0"}))
    assert value == 1.0 and logs["stepreward/errors"] == 0.0
    task = sr.CodeTask(task_id="t", prompt="add", entry_point="add",
                       tests=[sr.TestCase.call("add", (1, 2), 3)])
    code = "<answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
    value, logs = score_one(code, json.dumps({**json.loads(task.model_dump_json()),
                                              KEY_COLUMN: "2:live0"}))
    assert value == 1.0 and logs["stepreward/errors"] == 0.0


def test_the_launcher_refuses_a_bad_spec_before_ray_starts(tmp_path: Path) -> None:
    import subprocess

    def launch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              timeout=120, check=False)

    missing = tmp_path / "missing.json"
    r = launch("-m", "stepreward", "openrlhf-curriculum", str(missing), "--", "--pretrain", "m")
    assert r.returncode == 2
    assert r.stderr.startswith(f"openrlhf-curriculum: {missing}: ") and r.stderr.count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"config": {}}))
    r = launch("-m", "stepreward", "openrlhf-curriculum", str(bad))
    assert r.returncode == 2 and "the spec needs 'rows'" in r.stderr
    rows = tmp_path / "rows.jsonl"
    rows.write_text("")
    bad.write_text(json.dumps({"rows": str(rows), "config": {"band": [0.9, 0.1]}}))
    r = launch("-m", "stepreward.integrations.openrlhf.curriculum", str(bad), "--", "--x")
    assert r.returncode == 2 and "band" in r.stderr and "ray" not in r.stderr.lower()
    assert "use stepreward openrlhf-curriculum" in r.stderr
