"""The verl adapter against verl's own code: its config (Hydra + validate_config), its dataset
class, its custom-reward loader and the reward-loop worker and manager that call the function.

verl is installed without its GPU stack (``pip install --no-deps verl`` plus what its reward
path imports); nothing here re-implements verl's calling code.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr
from stepreward.integrations.verl import (
    VERL_KEYS,
    compute_score,
    compute_score_async,
    reward_file_path,
    verl_rows,
    write_parquet,
)
from stepreward.rewards import METRIC_KEYS, reward_for
from stepreward.rows import code_task_rows, sample_rows

ROOT = Path(__file__).resolve().parents[2]
VERL_DIR = ROOT / "integrations" / "verl"
PROGRAMS = [
    ("def f(xs):\n    out = []\n    for x in xs:\n        if x % 2:\n            out.append(x)\n"
     "    return out\n", "f([1, 2, 3])"),
    ("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)"),
]
ADD = "<answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
SUB = "<answer>\n```python\ndef add(a, b):\n    return a - b\n```\n</answer>"


@pytest.fixture(scope="module")
def samples(sandbox: sr.Sandbox) -> list[sr.Sample]:
    return [sr.build_sample(src, call, kinds=("output", "next_statement", "state"),
                            max_per_kind=2, sandbox=sandbox) for src, call in PROGRAMS]


@pytest.fixture(scope="module")
def task() -> sr.CodeTask:
    return sr.CodeTask(task_id="add", prompt="Write add(a, b) returning the sum.",
                       entry_point="add", tests=[sr.TestCase.call("add", (1, 2), 3),
                                                 sr.TestCase.call("add", (5, 5), 10)])


@pytest.fixture(scope="module")
def rows(samples: list[sr.Sample], task: sr.CodeTask) -> list[dict[str, Any]]:
    return (verl_rows(sample_rows(samples, "Be exact.", reward_options={"preset": "execverify"}))
            + verl_rows(code_task_rows([task], "Be exact.",
                                       reward_options={"preset": "method"})))


def test_compute_score_keys_are_fixed_for_every_label(samples: list[sr.Sample],
                                                      task: sr.CodeTask) -> None:
    label = json.dumps(samples[0].to_row())
    cases = [(samples[0].gold_completion(), label), ("garbage \x00 \ud800", label),
             (ADD, task.model_dump_json()), (ADD, "not json"), (None, None),
             (SUB, {"tests": "nope"})]
    outs = [compute_score("src", text, gt, {}) for text, gt in cases]
    for out in outs:
        assert tuple(out) == VERL_KEYS == ("score", "acc", *METRIC_KEYS)
        assert all(type(v) is float for v in out.values()), out
    assert [o["score"] for o in outs] == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert [o["errors"] for o in outs] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    # reward_kwargs pick the preset; verl's own kwargs (a reward model's router) are not
    # reward options.
    out = compute_score("src", samples[0].gold_completion(), label, preset="execverify",
                        reward_router_address=None)
    assert (out["score"], out["acc"]) == (2.0, 1.0)
    # A misspelt reward_kwargs key: a zero with errors=1 on every sample, visible in verl's
    # logged metrics, rather than a crash in the reward worker.
    wrong = compute_score("src", ADD, task.model_dump_json(), presett="method")
    assert wrong["errors"] == 1.0 and wrong["score"] == 0.0
    again = asyncio.run(compute_score_async("src", ADD, task.model_dump_json(), None,
                                            preset="method"))
    assert again == {**outs[2], "score": pytest.approx(1.05)}


def test_rows_have_verls_layout_and_survive_parquet(rows: list[dict[str, Any]],
                                                    tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    assert [r["data_source"] for r in rows] == ["stepreward/stage1"] * 2 + ["stepreward/stage2"]
    assert [r["ability"] for r in rows] == ["code_execution"] * 2 + ["code"]
    assert [m["role"] for m in rows[0]["prompt"]] == ["system", "user"]
    assert rows[2]["extra_info"] == {"split": "train", "index": 0, "id": "add", "level": None}
    path = tmp_path / "train.parquet"
    write_parquet(rows, path)
    back = pq.read_table(path).to_pylist()
    assert back == rows
    with pytest.raises(ValueError, match="not a stage-1 sample or code task"):
        verl_rows([{"prompt": "Q", "label": "{}"}])
    with pytest.raises(ValueError, match="chat messages"):
        verl_rows([{"label": rows[0]["reward_model"]["ground_truth"]}])


def test_rows_command_converts_synth_and_code_rows(rows: list[dict[str, Any]],
                                                  tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    src = tmp_path / "rows.jsonl"
    # The layout `stepreward synth` and the paper's `code-rows` write: messages + label.
    src.write_text("".join(json.dumps({"messages": r["prompt"], "id": f"r{i}",
                                       "label": r["reward_model"]["ground_truth"]}) + "\n"
                           for i, r in enumerate(rows)))
    out = tmp_path / "verl" / "val.parquet"
    cmd = [sys.executable, "-m", "stepreward", "verl-rows", str(src), "--out", str(out),
           "--split", "validation"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    back = pq.read_table(out).to_pylist()
    assert [b["reward_model"] for b in back] == [r["reward_model"] for r in rows]
    assert {b["extra_info"]["split"] for b in back} == {"validation"}
    r = subprocess.run([*cmd[:4], str(tmp_path / "missing.jsonl"), *cmd[5:]],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and r.stderr.startswith("error:")
    # The former form runs the same command, and says what replaces it.
    old = tmp_path / "old.parquet"
    r = subprocess.run([sys.executable, "-m", "stepreward.integrations.verl", "rows", str(src),
                        "--out", str(old), "--split", "validation"], capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert "use stepreward verl-rows" in r.stderr
    assert pq.read_table(old).to_pylist() == back


def test_verl_path_command() -> None:
    r = subprocess.run([sys.executable, "-m", "stepreward.cli", "verl-path"],
                       capture_output=True, text=True, timeout=60, check=True)
    assert r.stdout.strip() == reward_file_path() and Path(reward_file_path()).is_file()


# ------------------------------------------------------------------------- verl's own code

@pytest.fixture(scope="module")
def verl() -> Any:
    return pytest.importorskip("verl", reason="needs verl (pip install --no-deps verl)")


def _script_args(script: str, **env: str) -> list[str]:
    out = subprocess.run(["bash", str(VERL_DIR / script)],
                         env={**os.environ, "PRINT_ARGS": "1", **env,
                              "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return out.splitlines()


def _config(overrides: list[str]) -> Any:
    import verl
    from hydra import compose, initialize_config_dir

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, verl: Any) -> Path:
    pytest.importorskip("transformers")
    from stepreward.recipe.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def parquet(rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("verl") / "train.parquet"
    write_parquet(rows, path)
    return path


def _stage1_config(tiny: Path, parquet: Path, *more: str, **extra: str) -> Any:
    # The recipe's own overrides, pointed at the tiny model and the rows written above.
    args = _script_args("stage1.sh", MODEL=str(tiny), TRAIN=str(parquet), VAL=str(parquet))
    return _config([*args, *(f"{k}={v}" for k, v in extra.items()), *more])


def _batch(tiny: Path, parquet: Path, config: Any, responses: list[str]) -> Any:
    """verl's dataset class reads the parquet file; the prompt is templated and the response
    tokenized as verl's agent loop does; the items go into a DataProto as the loop sends them
    to the reward workers."""
    import numpy as np
    import torch
    from transformers import AutoTokenizer
    from verl import DataProto
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    dataset = RLHFDataset(data_files=[str(parquet)], tokenizer=tokenizer, config=config.data)
    items = [dataset[i] for i in range(len(dataset))]
    assert len(items) == len(responses)
    batch = collate_fn(items)
    prompts = [tokenizer.apply_chat_template(list(it["raw_prompt"]), add_generation_prompt=True,
                                             tokenize=True, return_dict=False) for it in items]
    answers = [tokenizer(text, add_special_tokens=False)["input_ids"]
               + [tokenizer.eos_token_id] for text in responses]
    p_len, r_len = max(map(len, prompts)), max(map(len, answers))
    pad = tokenizer.pad_token_id
    prompt_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])
    response_ids = torch.tensor([a + [pad] * (r_len - len(a)) for a in answers])
    mask = torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) + [1] * len(a)
                         + [0] * (r_len - len(a)) for p, a in zip(prompts, answers, strict=True)])
    tensors = {"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
               "input_ids": torch.cat([prompt_ids, response_ids], dim=1)}
    non_tensors = {k: v for k, v in batch.items() if isinstance(v, np.ndarray)}
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def test_verl_loads_the_function_and_its_reward_worker_scores_real_rows(
        samples: list[sr.Sample], tiny: Path, parquet: Path) -> None:
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.reward import get_custom_reward_fn

    config = _stage1_config(tiny, parquet, **{"reward.num_workers": "1"})
    assert config.reward.custom_reward_function.path == reward_file_path()
    loaded = get_custom_reward_fn(config)  # verl's loader: the file by path, the name
    assert loaded is not None and loaded.args[0] is compute_score
    responses = [samples[0].gold_completion(), samples[1].gold_completion().replace(
        "== 7", "== 8"), ADD]
    data = _batch(tiny, parquet, config, responses)
    worker = RewardLoopWorker(config)  # the class verl runs as a Ray actor
    outs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    assert [o["reward_score"] for o in outs] == pytest.approx([2.0, 0.0, 1.05])
    for out in outs:
        assert list(out["reward_extra_info"]) == list(VERL_KEYS)
    assert [o["reward_extra_info"]["stage2"] for o in outs] == [0.0, 0.0, 1.0]
    wrong = reward_for(responses[1], samples[1].to_row())
    assert [o["reward_extra_info"]["acc"] for o in outs] == [1.0, wrong.score, 1.0]
    assert 0 < wrong.score < 1

    # The async function through the same loader and manager, with reward_kwargs from the
    # config overriding the presets the labels carry.
    config = _stage1_config(tiny, parquet, "+reward.custom_reward_function.reward_kwargs.preset"
                            "={trace: normalized, code: all_or_nothing}", **{
        "reward.num_workers": "1", "reward.custom_reward_function.name": "compute_score_async"})
    worker = RewardLoopWorker(config)
    assert worker.reward_manager.is_async_reward_score
    again = worker.loop.run_until_complete(worker.compute_score_batch(data))
    assert wrong.reward == 0.0  # the output is wrong: the default preset pays nothing
    assert [o["reward_score"] for o in again] == [1.0, wrong.reward, 1.0]
    assert [o["reward_extra_info"]["acc"] for o in again] == [1.0, wrong.score, 1.0]


def test_recipe_scripts_compose_and_validate_with_verl(verl: Any) -> None:
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    for script, epochs in (("stage1.sh", 4), ("stage2.sh", 5)):
        config = _config(_script_args(script, REWARD_WORKERS="4", STEPREWARD_WORKERS="3"))
        validate_config(config, use_reference_policy=need_reference_policy(config),
                        use_critic=need_critic(config))
        assert config.trainer.total_epochs == epochs
        assert config.reward.custom_reward_function.path == reward_file_path()
        assert config.reward.custom_reward_function.name == "compute_score"
        assert not need_reference_policy(config) and not need_critic(config)
        # Each reward-loop actor's sandbox pool, sized through Ray's runtime environment.
        assert config.reward.num_workers == 4
        assert config.ray_kwargs.ray_init.runtime_env.env_vars.STEPREWARD_WORKERS == 3
    # verl 0.9's main_ppo reads only reward.custom_reward_function; the old top-level
    # custom_reward_function (the reference's key) is accepted by Hydra and then ignored.
    old = _config(["custom_reward_function.path=/x.py"])
    assert old.reward.custom_reward_function.path is None


@pytest.mark.slow
def test_reward_loop_manager_on_ray_takes_extra_keys_from_the_first_sample(
        samples: list[sr.Sample], tiny: Path, tmp_path: Path) -> None:
    """The whole scoring path of verl's trainer on a local Ray cluster: RewardLoopManager
    splits the batch over reward-loop actors, and builds ``reward_extra_info`` with the first
    sample's keys. A reward whose keys depend on the label's kind breaks there; ours does not.
    """
    ray = pytest.importorskip("ray")
    from verl.experimental.reward_loop import RewardLoopManager
    from verl.trainer.ppo.reward import extract_reward

    # A code task first, then stage-1 samples: the first sample's kind differs from the rest.
    rows = (verl_rows(code_task_rows([sr.CodeTask(
        task_id="add", prompt="Write add(a, b).", entry_point="add",
        tests=[sr.TestCase.call("add", (1, 2), 3)])])) + verl_rows(sample_rows(samples)))
    parquet = tmp_path / "mixed.parquet"
    write_parquet(rows, parquet)
    responses = [SUB, samples[0].gold_completion(), "no answer"]
    per_kind = tmp_path / "per_kind.py"
    per_kind.write_text(
        "import json\n"
        "def compute_score(data_source, solution_str, ground_truth, extra_info=None):\n"
        "    if 'tests' in json.loads(ground_truth):\n"
        "        return {'score': 0.0, 'pass_rate': 0.0}\n"
        "    return {'score': 1.0, 'wb_acc': 1.0}\n")
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        config = _stage1_config(tiny, parquet, **{"reward.num_workers": "2"})
        scored = RewardLoopManager(config).compute_rm_score(_batch(tiny, parquet, config,
                                                                   responses))
        reward, extra = extract_reward(scored)
        assert list(extra) == list(VERL_KEYS)
        assert reward.sum(-1).tolist() == pytest.approx([0.0, 1.0, 0.0])
        assert extra["stage2"].tolist() == [1.0, 0.0, 0.0]
        assert extra["no_answer"].tolist() == [0.0, 0.0, 1.0]
        config = _stage1_config(tiny, parquet, **{"reward.num_workers": "2",
                                                  "reward.custom_reward_function.path":
                                                  str(per_kind)})
        with pytest.raises(KeyError, match="pass_rate"):
            RewardLoopManager(config).compute_rm_score(_batch(tiny, parquet, config,
                                                              responses))
    finally:
        ray.shutdown()
