"""Recipe configs are checked against a schema: a misspelled key is an error naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stepreward.recipe import validate_recipe_config

CONFIGS = Path(__file__).resolve().parents[2] / "integrations" / "trl"


@pytest.mark.parametrize("name", ["tiny-cpu.yaml", "single-gpu.yaml", "paper-7b.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    validate_recipe_config(yaml.safe_load((CONFIGS / name).read_text()), name)


@pytest.mark.parametrize(("patch", "message"), [
    ({"stage1": {"max_rowz": 3}}, "unknown key 'stage1.max_rowz' (did you mean 'max_rows'?)"),
    ({"data": {"n": 8, "levls": [1]}}, "unknown key 'data.levls' (did you mean 'levels'?)"),
    ({"evall": {}}, "unknown key 'evall' (did you mean 'eval'?)"),
    ({"data": {"n": "many"}}, "'data.n': Input should be a valid integer"),
    ({"data": {"n": 8, "code": {"sorce": "synth"}}}, "did you mean 'source'?"),
])
def test_misspelled_keys_are_named(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_recipe_config(patch)
    assert message in str(err.value)


def test_the_recipe_command_refuses_a_misspelled_key(tmp_path: Path) -> None:
    cfg = yaml.safe_load((CONFIGS / "tiny-cpu.yaml").read_text())
    cfg["stage1"]["temprature"] = 1.0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = subprocess.run([sys.executable, "-m", "stepreward", "recipe", str(path),
                        "--out", str(tmp_path / "run")], capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "unknown key 'stage1.temprature'" in r.stderr
    assert not (tmp_path / "run" / "data").exists()
