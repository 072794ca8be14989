"""The tiny-cpu recipe end to end: every stage runs, loads the previous checkpoint, logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="needs the trl extra")

from stepreward.integrations.recipe import run_recipe

CONFIG = Path(__file__).resolve().parents[1] / "integrations" / "trl" / "tiny-cpu.yaml"


def test_tiny_cpu_recipe_end_to_end(tmp_path: Path) -> None:
    summary = run_recipe(CONFIG, out_dir=tmp_path)
    assert list(summary) == ["data", "sft", "stage1", "stage2", "eval"]
    assert summary["data"]["samples"] == 64 and summary["data"]["code_tasks"] > 0
    assert summary["sft"]["from"] == "base-model" and summary["sft"]["steps"] == 8
    assert summary["stage1"]["from"] == "sft" and summary["stage2"]["from"] == "stage1"
    assert summary["eval"]["from"] == "stage2"
    for stage, rewards in (("stage1", ("stepreward_execution", "stepreward_format")),
                           ("stage2", ("stepreward_unit_tests", "stepreward_format"))):
        folder = tmp_path / stage
        assert (folder / "config.json").exists() and (folder / "rewards.png").exists()
        logged = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        keys = {k for e in logged for k in e}
        for name in rewards:
            assert f"rewards/{name}/mean" in keys
    sft_losses = [json.loads(x).get("loss") for x in
                  (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
    assert any(v is not None for v in sft_losses)
    assert json.loads((tmp_path / "summary.json").read_text())["eval"]["samples"] > 0
