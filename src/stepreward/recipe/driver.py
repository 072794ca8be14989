"""The two-stage ExecVerify recipe on TRL: data, SFT warm-up, stage 1 GRPO, stage 2 GRPO, eval.

Run ``stepreward recipe CONFIG.yaml [--stages data,sft,...]`` (the configs live in
``integrations/trl/``). Each stage starts from the previous stage's checkpoint, writes
``metrics.jsonl`` and ``rewards.png`` in its folder, and the driver ends with a summary table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepreward.recipe.schema import RecipeConfig

__all__ = ["STAGES", "add_arguments", "main", "run", "run_recipe", "stage_functions"]

STAGES = ("data", "sft", "stage1", "stage2", "eval")

StageFunction = Callable[["RecipeConfig", Path, str], dict[str, Any]]


def stage_functions() -> dict[str, StageFunction]:
    """The function of each model stage, ``(config, output folder, model source) -> summary``
    (the data stage takes no model source).

    Example:
        >>> sorted(stage_functions())
        ['eval', 'sft', 'stage1', 'stage2']
    """
    from stepreward.recipe.evaluation import evaluate_stages
    from stepreward.recipe.grpo import train_stage1, train_stage2
    from stepreward.recipe.sft import train_sft

    return {"sft": train_sft, "stage1": train_stage1, "stage2": train_stage2,
            "eval": evaluate_stages}


def run_recipe(config: str | Path | Mapping[str, Any] | RecipeConfig,
               stages: tuple[str, ...] = STAGES,
               out_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Run the recipe stages of ``config`` (a YAML path, its mapping or a validated
    :class:`RecipeConfig`) in order; returns each stage's summary (also in
    ``OUT/summary.json``).

    Example:
        >>> summary = run_recipe("integrations/trl/tiny-cpu.yaml")  # doctest: +SKIP
        >>> list(summary)  # doctest: +SKIP
        ['data', 'sft', 'stage1', 'stage2', 'eval']
    """
    from stepreward.recipe.data import build_data
    from stepreward.recipe.schema import load_config, validate_recipe_config
    from stepreward.recipe.training import model_source

    if isinstance(config, (str, Path)):
        cfg = validate_recipe_config(load_config(config), str(config))
    else:
        cfg = validate_recipe_config(config)
    if "stage1" in stages and cfg.stage1.curriculum is not None:
        from stepreward.integrations.trl_curriculum import curriculum_from_config

        curriculum_from_config(cfg.stage1.curriculum)  # a bad option fails first
    out = Path(out_dir or cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        import torch

        torch.set_num_threads(int(cfg.threads))
    functions = stage_functions()
    summary: dict[str, dict[str, Any]] = {}
    previous: str | None = None
    for stage in STAGES:
        if stage not in stages:
            if (out / stage / "config.json").exists():
                previous = stage
            continue
        t0 = time.monotonic()
        print(f"== {stage}", file=sys.stderr, flush=True)
        if stage == "data":
            info = build_data(cfg, out)
        else:
            source = model_source(cfg, out, previous)
            info = functions[stage](cfg, out, source)
            info["from"] = Path(source).name
            if stage != "eval":
                previous = stage
        info["seconds"] = round(time.monotonic() - t0, 1)
        summary[stage] = info
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The recipe command's arguments (``stepreward recipe``).

    Example:
        >>> ap = argparse.ArgumentParser()
        >>> add_arguments(ap)
        >>> ap.parse_args(["c.yaml", "--stages", "data"]).stages
        'data'
    """
    ap.add_argument("config", help="YAML config (integrations/trl/*.yaml)")
    ap.add_argument("--stages", default=",".join(STAGES),
                    help=f"comma-separated subset of {','.join(STAGES)}")
    ap.add_argument("--out", help="output folder (default: the config's output_dir)")
    ap.add_argument("--model", help="a local checkpoint to start from (overrides the config's "
                                    "model.name_or_path)")
    ap.add_argument("--seed", type=int, help="overrides the config's seed (training, sampling "
                                             "and, unless data.seed is set, the data)")
    ap.add_argument("--resume", action="store_true",
                    help="continue interrupted stages from their last saved checkpoint (needs "
                         "save_strategy in the stage's config)")


def run(args: argparse.Namespace) -> int:
    """Run the recipe command's parsed arguments; ``PRINT_ARGS=1`` prints the effective
    settings and runs nothing. Returns the exit status.

    Example:
        >>> run(argparse.Namespace(config="c.yaml", stages="data", out=None, model=None,
        ...                        seed=None, resume=False))  # doctest: +SKIP
        0
    """
    from stepreward.recipe.report import stage_table
    from stepreward.recipe.schema import load_config

    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        print(f"unknown stages: {unknown}", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config)  # a misspelled key stops here, in one line
    except (OSError, ValueError) as exc:
        print(f"stepreward recipe: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("PRINT_ARGS", "0") == "1":  # as the OpenRLHF scripts: print, run nothing
        from stepreward.recipe.settings import effective_settings, format_settings

        print(format_settings(effective_settings(cfg)))
        return 0
    config: str | dict[str, Any] = args.config
    if args.model or args.seed is not None or args.resume:
        if args.model:  # the config's loading options stay; only the weights change
            cfg["model"] = {**{k: v for k, v in (cfg.get("model") or {}).items()
                               if k not in ("build_tiny", "tiny")}, "name_or_path": args.model}
        if args.seed is not None:
            cfg["seed"] = args.seed
        if args.resume:
            cfg["resume"] = True
        config = cfg
    summary = run_recipe(config, stages, args.out)
    print(stage_table(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``stepreward recipe CONFIG [options]`` with ``argv`` as its arguments.

    Example:
        >>> main(["integrations/trl/tiny-cpu.yaml", "--out", "runs/demo"])  # doctest: +SKIP
        0
    """
    ap = argparse.ArgumentParser(prog="stepreward recipe", description=__doc__)
    add_arguments(ap)
    return run(ap.parse_args(argv))
