"""The method's commands and addresses: ``stepreward recipe|ablation|paper|gpu-check`` and
``models tiny`` as real subprocesses, the former ``python -m stepreward.integrations.*``
forms still running, and the former import paths re-exporting with a DeprecationWarning."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from stepreward.recipe import AblationConfig, load_ablation

ROOT = Path(__file__).resolve().parents[2]
TRL_DIR = ROOT / "integrations" / "trl"
OLD = ("recipe", "paper", "ablation", "recipe_schema", "tiny", "models")


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_the_method_commands_are_stepreward_subcommands() -> None:
    r = run("-m", "stepreward", "--help")
    assert r.returncode == 0
    for name in ("recipe", "ablation", "paper", "gpu-check"):
        assert f"\n    {name} " in r.stdout, name
        sub = run("-m", "stepreward", name, "--help")
        assert sub.returncode == 0 and f"usage: stepreward {name}" in sub.stdout, sub.stderr
    r = run("-m", "stepreward", "paper", "code-rows", "--help")
    assert r.returncode == 0 and "--force-contaminated" in r.stdout


def _misspelled(tmp_path: Path) -> Path:
    cfg = yaml.safe_load((TRL_DIR / "tiny-cpu.yaml").read_text())
    cfg["sft"]["confg"] = {}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_former_python_m_forms_still_run_and_say_what_replaces_them(tmp_path: Path) -> None:
    bad = _misspelled(tmp_path)
    new = run("-m", "stepreward", "recipe", str(bad), "--out", str(tmp_path / "a"))
    old = run("-m", "stepreward.integrations.recipe", str(bad), "--out", str(tmp_path / "b"))
    assert new.returncode == old.returncode == 2
    assert "unknown key 'sft.confg' (did you mean 'config'?)" in new.stderr
    assert new.stderr.strip() in old.stderr
    assert "python -m stepreward.integrations.recipe is deprecated: use stepreward recipe" \
        in old.stderr
    for module, new_name in (("ablation", "stepreward ablation"), ("paper", "stepreward paper")):
        r = run("-m", f"stepreward.integrations.{module}", "--help")
        assert r.returncode == 0 and f"usage: {new_name}" in r.stdout
        assert f"use {new_name}" in r.stderr


def test_the_former_import_paths_warn_and_give_the_same_objects() -> None:
    code = textwrap.dedent(f"""
        import json, warnings
        import stepreward.recipe as recipe
        out = {{}}
        for name in {OLD!r} + ("_training",):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                module = __import__("stepreward.integrations." + name, fromlist=["_"])
            same = all(getattr(module, n) is getattr(recipe, n) for n in module.__all__
                       if n in recipe.__all__)
            out[name] = [[str(w.message), w.filename] for w in seen
                         if issubclass(w.category, DeprecationWarning)], same, module.__all__
        print(json.dumps(out))
        """)
    r = run("-c", code)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    for name in OLD:
        warned, same, names = found[name]
        assert same and names, name
        assert len(warned) == 1 and warned[0][0].startswith(
            f"stepreward.integrations.{name} is deprecated: use stepreward.recipe"), warned
        assert warned[0][1] == "<string>"  # the importer's line, not the shim's
    assert found["_training"][0] == []  # a private address: no warning to act on
    assert set(found["paper"][2]) >= {"check_contamination", "stage_rewards", "load_code_tasks",
                                      "effective_settings", "method_code_reward"}


def test_the_shims_re_export_everything_they_exported_before() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from stepreward.integrations import _training, ablation, paper, recipe, recipe_schema

    assert {"STAGES", "compact_prompt", "compact_row", "easy_code_tasks", "eval_table",
            "run_recipe", "short_answer"} <= set(recipe.__all__)
    assert {"PRIME_DATASET", "STAGE2_INSTRUCTION", "ContaminationError", "benchmark_tasks_ids",
            "check_contamination", "code_spec", "dataset_options", "drop_long_prompts",
            "effective_settings", "eval_benchmarks", "format_settings", "load_code_tasks",
            "load_prime_rows", "method_code_reward", "stage_rewards"} <= set(paper.__all__)
    assert {"compare", "run_ablation"} <= set(ablation.__all__)
    assert {"RecipeConfig", "validate_recipe_config"} <= set(recipe_schema.__all__)
    assert {"FIXED_SETTINGS", "PROMPT_FILE", "load_model", "peft_config", "prompt_format_of",
            "save_checkpoint", "sft_dataset", "trainer_settings"} <= set(_training.__all__)
    for module in (recipe, paper, ablation, recipe_schema, _training):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_gpu_check_says_no_gpu_in_one_line() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the check would run")
    r = run("-m", "stepreward", "gpu-check")
    assert r.returncode == 2
    assert r.stderr == "gpu-check: no GPU visible (torch.cuda.is_available() is False)\n"
    script = (TRL_DIR / "gpu_check.sh").read_text()
    assert "python3 -m stepreward.recipe.gpu_check" in script and "<<" not in script


def test_models_tiny_builds_a_loadable_model(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    r = run("-m", "stepreward", "models", "tiny", "--out", str(tmp_path / "tiny"), "--json")
    assert r.returncode == 0, r.stderr
    path = json.loads(r.stdout)["path"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    config = transformers.AutoConfig.from_pretrained(path)
    assert tokenizer("def f(x):")["input_ids"] and config.num_hidden_layers == 2
    r = run("-m", "stepreward", "models", "tiny", "smollm2", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "give only --out DIR" in r.stderr


def test_an_ablation_config_is_checked_and_overlaid_on_its_recipe(tmp_path: Path) -> None:
    ab, base = load_ablation(TRL_DIR / "ablation-cpu.yaml")
    recipe = yaml.safe_load((TRL_DIR / "tiny-cpu.yaml").read_text())
    assert list(ab.arms) == ["output_only", "stepwise", "stepwise_no_gate"]
    assert base.data is not None and base.data.n == 2000  # the ablation's own value
    assert base.data.levels == recipe["data"]["levels"]   # the recipe's, merged key by key
    assert base.stage1.format_reward is False
    assert base.sft.config["num_train_epochs"] == 8
    assert base.sft.config["learning_rate"] == recipe["sft"]["config"]["learning_rate"]
    minimal = AblationConfig.model_validate({"recipe": "r.yaml", "arms": {"a": "normalized"}})
    assert (minimal.seeds, minimal.output_dir, minimal.overlays()) == \
        ([0, 1, 2], "runs/ablation", {})
    bad = yaml.safe_load((TRL_DIR / "ablation-cpu.yaml").read_text())
    bad["seed"] = [0]
    (tmp_path / "tiny-cpu.yaml").write_text((TRL_DIR / "tiny-cpu.yaml").read_text())
    (tmp_path / "ab.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match=r"unknown key 'seed' \(did you mean 'seeds'\?\)"):
        load_ablation(tmp_path / "ab.yaml")
    bad.pop("seed")
    bad["stage1"]["max_rowz"] = 3
    (tmp_path / "ab.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match=r"unknown key 'stage1.max_rowz'"):
        load_ablation(tmp_path / "ab.yaml")


def test_doctests() -> None:
    import doctest
    import importlib
    import pkgutil

    import stepreward.recipe as package

    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    assert {"schema", "sections", "driver", "ablation", "evaluation", "report"} <= set(names)
    results = [doctest.testmod(importlib.import_module(f"stepreward.recipe.{name}"),
                               optionflags=doctest.ELLIPSIS) for name in names]
    assert sum(r.failed for r in results) == 0
    assert sum(r.attempted for r in results) >= 40
