"""The paper configs against the method: the settings table in docs/recipe.md held to the
TRL config and the OpenRLHF scripts, the method's rewards, stage-2 data and contamination."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import stepreward as sr
from stepreward.integrations.openrlhf import score_one
from stepreward.recipe import (
    ContaminationError,
    check_contamination,
    code_spec,
    drop_long_prompts,
    effective_settings,
    load_code_tasks,
    load_prime_rows,
    method_code_reward,
    stage_rewards,
)
from stepreward.types import CodeTask, TestCase

ROOT = Path(__file__).resolve().parents[2]
TRL_DIR = ROOT / "integrations" / "trl"
OPENRLHF_DIR = ROOT / "integrations" / "openrlhf"
VERL_DIR = ROOT / "integrations" / "verl"
SCRIPTS = ("data.sh", "sft.sh", "stage1.sh", "stage2.sh")
# The shared benchmark data beside the checkout (../shared), or beside a worktree's parent.
MBPP = next((p for p in (base / "shared" / "data" / "mbppplus" / "MbppPlus.jsonl.gz"
                         for base in (ROOT.parent, ROOT.parent.parent)) if p.exists()),
            ROOT.parent / "shared" / "data" / "mbppplus" / "MbppPlus.jsonl.gz")


def _load(name: str) -> dict[str, Any]:
    cfg = yaml.safe_load((TRL_DIR / name).read_text())
    assert isinstance(cfg, dict)
    return cfg


def _table_rows() -> list[list[str]]:
    rows = []
    for line in (ROOT / "docs" / "recipe.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| setting") and "---" not in line:
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            assert len(cells) == 6, line
            rows.append(cells)
    return rows


def _script_args(script: str) -> list[str]:
    out = subprocess.run(["bash", str(OPENRLHF_DIR / script)],
                         env={**os.environ, "PRINT_ARGS": "1", "REWARD_URL": "reward.py"},
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return out.splitlines()


def _verl_args(script: str) -> dict[str, str]:
    """The Hydra overrides a verl script prints, as key -> value."""
    out = subprocess.run(["bash", str(VERL_DIR / script)],
                         env={**os.environ, "PRINT_ARGS": "1", "REWARD_PATH": "reward_fn.py"},
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(float(actual), float(expected), rel_tol=1e-12)
    if isinstance(expected, list) and isinstance(actual, (list, tuple)):
        return len(actual) == len(expected) and all(
            _same(a, e) for a, e in zip(actual, expected, strict=True))
    return str(getattr(actual, "value", actual)) == str(expected)


def _numeric_or_text(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def test_settings_table_is_held_to_the_configs() -> None:
    settings = effective_settings(_load("paper-7b.yaml"))
    scripts = {s: _script_args(s) for s in SCRIPTS}
    verl = {s: _verl_args(s) for s in ("stage1.sh", "stage2.sh")}
    trl_checks = openrlhf_checks = verl_checks = 0
    for setting, method, trl_cell, openrlhf_cell, verl_cell, files in _table_rows():
        assert method, setting
        for item in re.findall(r"`([^`]+)`", trl_cell):
            m = re.fullmatch(r"([\w.]+) = (.+)", item)
            if not m:
                continue
            path, value = m.group(1).split("."), yaml.safe_load(m.group(2))
            node: Any = settings
            for key in path:
                assert isinstance(node, dict) and key in node, (setting, item)
                node = node[key]
            assert _same(node, value), (setting, item, node)
            trl_checks += 1
        for item in re.findall(r"`([^`]+)`", openrlhf_cell):
            m = re.fullmatch(r"(\w+\.sh) (--[\w.-]+)(?: (.+))?", item)
            if not m:
                continue
            args = scripts[m.group(1)]
            assert m.group(2) in args, (setting, item)
            if m.group(3) is not None:
                got = args[args.index(m.group(2)) + 1]
                assert _same(_numeric_or_text(got), _numeric_or_text(m.group(3))), (item, got)
            openrlhf_checks += 1
        for item in re.findall(r"`([^`]+)`", verl_cell):
            m = re.fullmatch(r"(stage[12]\.sh) ([\w.]+)=(.+)", item)
            if not m:
                continue
            got = verl[m.group(1)].get(m.group(2))
            assert got is not None, (setting, item)
            assert _same(_numeric_or_text(got), _numeric_or_text(m.group(3))), (item, got)
            verl_checks += 1
        for path in re.findall(r"`((?:integrations|src)/[^`]+)`", files):
            assert (ROOT / path).exists(), (setting, path)
    # The parser found the table: a broken table would otherwise pass silently.
    assert trl_checks >= 50 and openrlhf_checks >= 45 and verl_checks >= 25, (
        trl_checks, openrlhf_checks, verl_checks)


def test_schedule_and_rewards_are_the_methods() -> None:
    s = effective_settings(_load("paper-7b.yaml"))
    assert (s["sft"]["num_train_epochs"], s["sft"]["max_length"], s["sft"]["warmup_steps"],
            s["sft"]["lr_scheduler_type"]) == (2, 4096, 0.1, "cosine")
    for stage, epochs in (("stage1", 4), ("stage2", 5)):
        assert s[stage]["lr_scheduler_type"] == "constant" and s[stage]["learning_rate"] == 1e-6
        assert s[stage]["num_train_epochs"] == epochs and s[stage]["format_reward"] is False
    cfg = _load("paper-7b.yaml")
    assert [r.__name__ for r in stage_rewards(cfg, "stage1")] == ["stepreward_execution"]
    (unit,) = stage_rewards(cfg, "stage2")
    assert (unit.partial_tests, unit.format_bonus) == (10, 0.05)
    # Today's shaping stays the default (tiny-cpu), as a documented option.
    tiny = _load("tiny-cpu.yaml")
    assert [r.__name__ for r in stage_rewards(tiny, "stage1")] == [
        "stepreward_execution", "stepreward_format"]
    assert code_spec(tiny["data"]["code"])["source"] == "easy"
    assert code_spec({})["source"] == "synth"
    assert code_spec(cfg["data"]["code"])["source"] == "prime"


@pytest.mark.parametrize("name", ["paper-7b.yaml", "single-gpu.yaml", "tiny-cpu.yaml"])
def test_trl_accepts_every_config(name: str, tmp_path: Path) -> None:
    import trl

    cfg = _load(name)
    effective_settings(cfg)  # raises on a key this TRL does not know
    for stage, klass in (("sft", trl.SFTConfig), ("stage1", trl.GRPOConfig),
                         ("stage2", trl.GRPOConfig)):
        given = {**cfg[stage]["config"], "bf16": False, "use_cpu": True}
        if stage != "sft":
            given["use_vllm"] = False  # vLLM is not installed on a CPU host
        args = klass(output_dir=str(tmp_path), **given)
        if name == "paper-7b.yaml" and stage != "sft":
            # 128 prompts x 8 generations per rollout, whatever the number of processes.
            assert args.generation_batch_size // args.num_generations == 128
    with pytest.raises(ValueError, match="does not know"):
        effective_settings({"stage1": {"config": {"max_prompt_length": 2048}}})


def test_print_args_for_the_trl_recipe() -> None:
    r = subprocess.run([str(TRL_DIR / "run.sh"), "paper-7b.yaml"], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PRINT_ARGS": "1",
                                                    "PATH": f"{Path(sys.executable).parent}:"
                                                            f"{os.environ['PATH']}"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ("sft.num_train_epochs = 2", "stage1.lr_scheduler_type = \"constant\"",
                 "stage2.num_train_epochs = 5", "stage1.format_reward = false",
                 "stage2.partial_tests = 10", "data.input_share = 0.375"):
        assert want in lines, want
    assert not (ROOT / "runs" / "paper-7b").exists()


def _openrlhf_parser(module: str) -> Any:
    """OpenRLHF's own argument parser of ``openrlhf.cli.<module>``, built without Ray."""
    import argparse
    from datetime import datetime

    import openrlhf

    path = Path(openrlhf.__file__).parent / "cli" / f"{module}.py"
    tree = ast.parse(path.read_text())
    main = next(n for n in tree.body if isinstance(n, ast.If)
                and "__main__" in ast.unparse(n.test))
    body = []
    for stmt in main.body:
        if isinstance(stmt, ast.Assign) and "parse_args" in ast.unparse(stmt.value):
            break
        body.append(stmt)
    namespace = {"argparse": argparse, "os": os, "datetime": datetime}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(path), "exec"), namespace)
    return namespace["parser"]


def test_openrlhf_scripts_parse_with_their_programs() -> None:
    pytest.importorskip("openrlhf")
    sft = vars(_openrlhf_parser("train_sft").parse_args(_script_args("sft.sh")))
    assert (sft["train.max_epochs"], sft["data.max_len"], sft["lr_scheduler"],
            sft["lr_warmup_ratio"], sft["adam.lr"]) == (2, 4096, "cosine", 0.1, 1e-5)
    ppo = _openrlhf_parser("train_ppo_ray")
    one = vars(ppo.parse_args(_script_args("stage1.sh")))
    two = vars(ppo.parse_args(_script_args("stage2.sh")))
    for args, episodes in ((one, 4), (two, 5)):
        assert args["train.num_episodes"] == episodes
        assert args["actor.lr_scheduler"] == "constant" and args["actor.adam.lr"] == 1e-6
        assert args["actor.lr_warmup_ratio"] == 0.0
    # data.sh: its synth flags parse with `stepreward synth`, the code-rows flags with
    # `stepreward paper`.
    from stepreward.cli import build_parser

    synth, code = "\n".join(_script_args("data.sh")).split("\n--\n")
    args = build_parser().parse_args(["synth", *synth.splitlines()])
    assert (args.max_pass, args.difficulty_samples, args.solver_samples, args.input_share,
            args.preset) == (3, 10, 1, 0.375, "execverify")
    assert code.splitlines()[0] == "code-rows"
    args = build_parser().parse_args(["paper", *code.splitlines()])
    assert (args.source, args.reward_preset, args.partial_tests, args.format_bonus) == \
        ("prime", "method", 10, 0.05)


# ---------------------------------------------------------------------------------- rewards

def _answer(code: str, tags: bool = True) -> str:
    block = f"```python\n{code}\n```"
    return f"<reasoning>r</reasoning>\n<answer>\n{block}\n</answer>" if tags else block


def _task(n: int) -> CodeTask:
    return CodeTask(task_id="sq", prompt="square", entry_point="sq",
                    tests=[TestCase.call("sq", (i,), i * i) for i in range(n)])


@pytest.mark.parametrize(("code", "n", "want"), [
    ("def sq(x):\n    return x * x", 12, 1.05),                         # all pass
    ("def sq(x):\n    return x * x if x != 3 else 0", 12, 0.95),        # 9 of the first 10
    ("def sq(x):\n    return x * x if x < 11 else 0", 12, 1.05),        # fails only past 10
    ("def sq(x):\n    return x * x if x < 2 else 0", 4, 0.55),          # 2 of 4
    ("def sq(x):\n    return -1", 12, 0.0),                             # nothing: no bonus
])
def test_method_stage2_reward(code: str, n: int, want: float, sandbox: sr.Sandbox) -> None:
    task = _task(n)
    assert method_code_reward(_answer(code), task, sandbox=sandbox).reward == \
        pytest.approx(want)
    # The same number through TRL's reward callable and OpenRLHF's reward path.
    trl_reward = stage_rewards(_load("paper-7b.yaml"), "stage2")[0]
    (got,) = trl_reward(completions=[_answer(code)], task=[task.model_dump_json()])
    assert got == pytest.approx(want)
    label = {**task.model_dump(mode="json"),
             "reward_options": {"partial_tests": 10, "format_bonus": 0.05}}
    assert score_one(_answer(code), json.dumps(label))[0] == pytest.approx(want)


def test_method_stage2_reward_needs_answer_tags(sandbox: sr.Sandbox) -> None:
    good = "def sq(x):\n    return x * x"
    assert method_code_reward(_answer(good, tags=False), _task(3), sandbox=sandbox).reward == 0
    # Without a fence the answer block's text is the code, as in the reference.
    assert method_code_reward(f"<answer>\n{good}\n</answer>", _task(3),
                              sandbox=sandbox).reward == pytest.approx(1.05)
    assert method_code_reward(None, _task(3)).reward == 0.0
    with pytest.raises(ValueError, match="partial_tests"):
        sr.integrations.trl.UnitTestReward(partial_tests=10, mode="all_or_nothing")


def test_stage1_reward_preset_reaches_openrlhf_through_the_label(sandbox: sr.Sandbox) -> None:
    sample = sr.build_sample("def f(a):\n    b = a * 2\n    return b\n", "f(3)",
                             sandbox=sandbox)
    label = {**sample.to_row(), "reward_options": {"preset": "execverify"}}
    gold = sample.gold_completion()
    assert score_one(gold, json.dumps(label))[0] == 2.0
    assert score_one(gold, json.dumps(sample.to_row()))[0] == 1.0  # default: normalized
    wrong_output = gold.replace("== 6", "== 7")
    assert score_one(wrong_output, json.dumps(label))[0] == 0.0    # the output gates


# ---------------------------------------------------------------------------------- stage-2 data

def _eurus_rows() -> list[dict[str, Any]]:
    system = {"role": "system", "content": "When tackling complex reasoning tasks, ..."}
    rows = []
    for i, (ability, prompt, truth) in enumerate([
        ("code", "Read n and print n squared.", {"inputs": ["3\n", "5\n"],
                                                  "outputs": ["9\n", "25\n"]}),
        ("math", "What is 2 + 2?", "4"),
        ("code", "Write add(a, b).", {"fn_name": "add", "inputs": [[1, 2], [3, 4]],
                                       "outputs": [[3], [7]]}),
    ]):
        rows.append({"data_source": "codecontests" if ability == "code" else "numina",
                     "prompt": [system, {"role": "user", "content": prompt}],
                     "ability": ability,
                     "reward_model": {"style": "rule", "ground_truth": json.dumps(truth)},
                     "extra_info": {"split": "train", "index": i}})
    return rows


def test_prime_code_tasks_from_a_local_file(tmp_path: Path, sandbox: sr.Sandbox) -> None:
    path = tmp_path / "eurus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _eurus_rows()))
    rows = load_prime_rows(path)
    assert [r["prompt"] for r in rows] == ["Read n and print n squared.", "Write add(a, b)."]
    assert rows[0]["id"] == "codecontests/train/0"
    tasks = load_code_tasks({"source": "prime", "path": str(path)})
    assert [len(t.tests) for t in tasks] == [2, 2] and tasks[1].entry_point == "add"
    stdin_solution = "n = int(input())\nprint(n * n)"
    assert method_code_reward(_answer(stdin_solution), tasks[0], sandbox=sandbox).reward == \
        pytest.approx(1.05)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return
    pq.write_table(pa.Table.from_pylist(_eurus_rows()), tmp_path / "eurus.parquet")
    assert len(load_prime_rows(tmp_path / "eurus.parquet")) == 2


def test_contamination_is_refused_unless_forced(tmp_path: Path) -> None:
    if not MBPP.exists():
        pytest.skip("the shared MBPP+ file is not here")
    mbpp = load_code_tasks({"source": "mbpp-plus", "path": str(MBPP), "n": 5})
    with pytest.raises(ContaminationError, match="force_contaminated"):
        check_contamination(mbpp, {"mbpp-plus": str(MBPP)})
    assert check_contamination(mbpp, {"mbpp-plus": str(MBPP)}, force=True) == sorted(
        t.task_id for t in mbpp)
    # The family counts without the file; a copied prompt counts under another id.
    with pytest.raises(ContaminationError):
        check_contamination(mbpp, {"mbpp-plus": None})
    copied = CodeTask(task_id="prime/7", prompt=mbpp[0].prompt + "\n", source="prime_code")
    with pytest.raises(ContaminationError, match="prime/7"):
        check_contamination([copied], {"mbpp-plus": str(MBPP)})
    fresh = CodeTask(task_id="prime/8", prompt="Read n.", source="prime_code")
    assert check_contamination([fresh], {"mbpp-plus": str(MBPP), "humaneval-plus": None}) == []


def test_recipe_refuses_a_contaminated_stage2_set_before_any_work(tmp_path: Path) -> None:
    if not MBPP.exists():
        pytest.skip("the shared MBPP+ file is not here")
    from stepreward.recipe import run_recipe

    cfg = _load("tiny-cpu.yaml")
    cfg["data"]["code"] = {"n": 4, "mbpp_plus_path": str(MBPP)}  # the old stage-2 data
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ContaminationError, match="mbpp-plus"):
        run_recipe(config, stages=("data",), out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "data" / "train.jsonl").exists()


def test_code_rows_command(tmp_path: Path, sandbox: sr.Sandbox) -> None:
    src = tmp_path / "eurus.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _eurus_rows()))
    out = tmp_path / "rows.jsonl"
    r = subprocess.run([sys.executable, "-m", "stepreward", "paper", "code-rows",
                        "--source", "prime", "--path", str(src), "--out", str(out),
                        "--benchmark", "mbpp-plus="], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["messages"][0]["role"] == "system"
    assert "Check your program against the example" in rows[0]["messages"][1]["content"]
    label = json.loads(rows[0]["label"])
    assert label["reward_options"] == {"preset": "method", "partial_tests": 10,
                                       "format_bonus": 0.05}
    assert score_one(_answer("n = int(input())\nprint(n * n)"), rows[0]["label"])[0] == \
        pytest.approx(1.05)
    if MBPP.exists():
        r = subprocess.run([sys.executable, "-m", "stepreward", "paper",
                            "code-rows", "--source", "mbpp-plus", "--path", str(MBPP),
                            "--n", "3", "--out", str(out), "--benchmark",
                            f"mbpp-plus={MBPP}"], capture_output=True, text=True,
                           timeout=120, check=False)
        assert r.returncode == 2 and "overlaps the evaluation benchmarks" in r.stderr


def test_over_long_prompts_are_dropped(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from stepreward.recipe.tiny import build_tiny_model

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "tok"))
    short = {"prompt": [{"role": "user", "content": "def f(x): return x"}]}
    long = {"prompt": [{"role": "user", "content": "def f(x): return x\n" * 400}]}
    text = {"prompt": "x = 1"}
    assert drop_long_prompts([short, long, text], tokenizer, 64) == [short, text]
    assert drop_long_prompts([short, long], tokenizer, 100_000) == [short, long]
    with pytest.raises(ValueError, match="max_tokens"):
        drop_long_prompts([short], tokenizer, 0)


def _method_paths(completion: str, task: CodeTask, **options: Any) -> list[float]:
    """The ``method`` preset's reward for one completion through every path that builds it:
    ``reward_for`` (by name, and from the label's ``reward_options``),
    ``method_code_reward``, TRL's ``UnitTestReward`` (as the recipe's ``stage_rewards``
    builds it) and OpenRLHF's reward function on a row written by ``code_task_rows``."""
    from stepreward.integrations.openrlhf import code_task_rows
    from stepreward.rewards import reward_for

    method = {"partial_tests": 10, "format_bonus": 0.05, **options}
    label = {**task.model_dump(mode="json"), "reward_options": {"preset": "method", **method}}
    [trl] = stage_rewards({"stage2": {**method, "format_reward": False}}, "stage2")
    [row] = code_task_rows([task], reward_options=method)
    return [reward_for(completion, task, preset="method", **method).reward,
            reward_for(completion, json.dumps(label)).reward,
            method_code_reward(completion, task, **method).reward,  # type: ignore[arg-type]
            trl(completions=[completion], task=[task.model_dump_json()])[0],
            score_one(completion, row["label"])[0]]


def test_a_seeded_draw_of_ten_tests_does_not_pay_for_the_first_ten_alone() -> None:
    """The method pays as much for passing only the first 10 tests (usually the prompt's
    examples) as for a right solution; ``partial_seed`` draws the 10 per task instead, on
    every path that builds the ``method`` preset."""
    from stepreward.presets import partial_test_indices

    task = _task(30)
    only_first = _answer("def sq(x):\n    return x * x if x < 10 else 0")
    right = _answer("def sq(x):\n    return x * x")
    assert _method_paths(only_first, task) == pytest.approx([1.05] * 5)  # the method's rule
    drawn = partial_test_indices(task, 10, 7)
    assert drawn == partial_test_indices(task, 10, 7) and drawn != list(range(10))
    assert partial_test_indices(task, 10) == list(range(10))
    want = sum(i < 10 for i in drawn) / 10 + 0.05
    assert want < 1.0
    assert _method_paths(only_first, task, partial_seed=7) == pytest.approx([want] * 5)
    assert _method_paths(right, task, partial_seed=7) == pytest.approx([1.05] * 5)
    # Another task id draws other tests; a bad seed is a reward of 0 with the reason.
    other = task.model_copy(update={"task_id": "sq2"})
    assert partial_test_indices(other, 10, 7) != drawn
    from stepreward.rewards import reward_for

    bad = reward_for(only_first, task, preset="method", partial_seed="7")
    assert bad.reward == 0.0 and "partial_seed" in (bad.reason or "")
    from stepreward.integrations.trl import UnitTestReward

    with pytest.raises(ValueError, match="partial_seed"):
        UnitTestReward(partial_seed=7)


def test_the_method_preset_keeps_the_prompts_helpers() -> None:
    """HumanEval/50-style: the prompt gives ``encode_x`` and asks for ``decode_x``; a
    completion that makes both the identity earns nothing on any path of the ``method``
    preset, and a right one earns full marks."""
    prompt = ('def encode_x(s: str) -> str:\n    return s[::-1] + "x"\n\n\n'
              'def decode_x(s: str) -> str:\n    """Undo encode_x."""\n')
    task = CodeTask(task_id="x", prompt=prompt, entry_point="decode_x",
                    tests=[TestCase(kind="script", script=(
                        f"assert decode_x(encode_x({s!r})) == {s!r}\n"))
                        for s in ("ab", "xyz", "", "hello")])
    identity = _answer("def encode_x(s):\n    return s\n\ndef decode_x(s):\n    return s")
    right = _answer("def decode_x(s):\n    return s[:-1][::-1]")
    assert _method_paths(right, task) == pytest.approx([1.05] * 5)
    assert _method_paths(identity, task) == [0.0] * 5
    assert _method_paths(identity, task, partial_seed=3) == [0.0] * 5
