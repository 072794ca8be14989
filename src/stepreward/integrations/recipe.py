"""The two-stage ExecVerify recipe on TRL: data, SFT warm-up, stage 1 GRPO, stage 2 GRPO, eval.

Run ``python -m stepreward.integrations.recipe CONFIG.yaml [--stages data,sft,...]`` (the
configs live in ``integrations/trl/``). Each stage starts from the previous stage's
checkpoint, writes ``metrics.jsonl`` and ``rewards.png`` in its folder, and the driver ends
with a summary table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["STAGES", "run_recipe"]

STAGES = ("data", "sft", "stage1", "stage2", "eval")


def _load_config(path: str | Path) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} is not a mapping")
    return cfg


def _write_metrics(folder: Path, history: list[dict[str, Any]]) -> None:
    with (folder / "metrics.jsonl").open("w") as f:
        for entry in history:
            f.write(json.dumps(entry) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    keys = sorted({k for e in history for k in e if k.startswith("rewards/")
                   and k.endswith("/mean")} | ({"loss"} if any("loss" in e for e in history)
                                               else set()))
    if not keys:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in keys:
        pts = [(e.get("step", i), e[key]) for i, e in enumerate(history)
               if key in e and isinstance(e[key], (int, float)) and math.isfinite(e[key])]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=key)
    ax.set_xlabel("step")
    ax.set_title(folder.name)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "rewards.png", dpi=80)
    plt.close(fig)


def _model_source(cfg: dict[str, Any], out: Path, previous: str | None) -> str:
    if previous and (out / previous / "config.json").exists():
        return str(out / previous)
    model = cfg["model"]
    if model.get("build_tiny"):
        from stepreward.integrations.tiny import build_tiny_model

        return str(build_tiny_model(out / "base-model", **model.get("tiny", {})))
    return str(model["name_or_path"])


def _system_prompt(cfg: dict[str, Any]) -> str | None:
    from stepreward.synth._dataset import SYSTEM_PROMPT

    # One system prompt for SFT rows, RL prompts and eval prompts (no train/test mismatch).
    value = cfg.get("system_prompt", SYSTEM_PROMPT)
    return str(value) if value else None


def _stage_data(cfg: dict[str, Any], out: Path) -> dict[str, Any]:
    from stepreward.integrations.paper import (
        check_contamination,
        code_spec,
        dataset_options,
        eval_benchmarks,
        load_code_tasks,
    )
    from stepreward.synth._dataset import build_dataset

    d = cfg["data"]
    folder = out / "data"
    # Stage-2 tasks first: a contaminated training set stops the run before any work.
    spec = code_spec(d.get("code", {}))
    tasks = load_code_tasks(spec, seed=d.get("seed", 0))
    check_contamination(tasks, eval_benchmarks(cfg), force=bool(spec.get("force_contaminated")))
    report = build_dataset(d["n"], folder, levels=d.get("levels", [1, 2, 3, 4, 5, 6]),
                           seed=d.get("seed", 0), kinds=d.get("kinds", ["output",
                                                                        "next_statement",
                                                                        "state"]),
                           max_per_kind=d.get("max_per_kind", 5), sft=d.get("sft", 0),
                           progress=True, system_prompt=_system_prompt(cfg),
                           **dataset_options(d))
    with (folder / "code_tasks.jsonl").open("w") as f:
        for t in tasks:
            f.write(t.model_dump_json() + "\n")
    return {"samples": sum(report.per_level.values()), "code_tasks": len(tasks),
            "sft_rows": report.files.get("sft.jsonl", 0)}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stage_sft(cfg: dict[str, Any], out: Path, source: str) -> dict[str, Any]:
    import datasets
    import torch
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer

    s = cfg["sft"]
    folder = out / "sft"
    rows = _read_jsonl(out / "data" / "sft.jsonl")
    ds = datasets.Dataset.from_list([{"messages": r["messages"]} for r in rows])
    torch.manual_seed(cfg.get("seed", 0))
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source)
    args = trl.SFTConfig(output_dir=str(folder), report_to="none", save_strategy="no",
                         seed=cfg.get("seed", 0), **s.get("config", {}))
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=ds,
                             processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(folder))
    tokenizer.save_pretrained(folder)
    _write_metrics(folder, trainer.state.log_history)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return {"steps": trainer.state.global_step, "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None}


def _grpo(cfg: dict[str, Any], out: Path, source: str, name: str, rows: list[dict[str, Any]],
          rewards: list[Any], wrap: Any = None) -> dict[str, Any]:
    import torch
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stepreward.integrations.trl import to_trl_dataset

    st = cfg[name]
    folder = out / name
    torch.manual_seed(cfg.get("seed", 0))
    tokenizer = AutoTokenizer.from_pretrained(source)
    if st.get("max_prompt_tokens"):  # the method drops over-long prompts (TRL no longer cuts)
        from stepreward.integrations.paper import drop_long_prompts

        rows = drop_long_prompts(rows, tokenizer, st["max_prompt_tokens"])
    model = AutoModelForCausalLM.from_pretrained(source)
    dataset, extra = to_trl_dataset(rows), {}
    if wrap is not None:  # stage1.curriculum: the dataset and rewards go through it
        dataset, rewards, extra = wrap(rows, rewards)
    args = trl.GRPOConfig(output_dir=str(folder), report_to="none", save_strategy="no",
                          remove_unused_columns=False, seed=cfg.get("seed", 0),
                          **{**st.get("config", {}), **extra})
    trainer = trl.GRPOTrainer(model=model, processing_class=tokenizer, args=args,
                              train_dataset=dataset, reward_funcs=rewards)
    trainer.train()
    trainer.save_model(str(folder))
    tokenizer.save_pretrained(folder)
    _write_metrics(folder, trainer.state.log_history)
    means: dict[str, list[float]] = {}
    for e in trainer.state.log_history:
        for k, v in e.items():
            if k.startswith("rewards/") and k.endswith("/mean") and isinstance(v, (int, float)):
                means.setdefault(k, []).append(float(v))
    return {"steps": trainer.state.global_step,
            **{k.split("/")[1]: sum(v) / len(v) for k, v in means.items() if v}}


def _stage1(cfg: dict[str, Any], out: Path, source: str) -> dict[str, Any]:
    from stepreward.integrations.paper import stage_rewards
    from stepreward.integrations.trl import sample_rows

    rows = sample_rows(_read_jsonl(out / "data" / "train.jsonl"),
                       system_prompt=_system_prompt(cfg))
    st = cfg["stage1"]
    rewards = stage_rewards(cfg, "stage1")
    rows = rows[: st.get("max_rows", len(rows))]
    if st.get("curriculum") is None:
        return _grpo(cfg, out, source, "stage1", rows, rewards)
    return _stage1_curriculum(cfg, out, source, rows, rewards)


def _stage1_curriculum(cfg: dict[str, Any], out: Path, source: str,
                       rows: list[dict[str, Any]], rewards: list[Any]) -> dict[str, Any]:
    from stepreward.curriculum import Curriculum
    from stepreward.integrations.trl import ExecutionReward
    from stepreward.integrations.trl_curriculum import (
        CurriculumReward,
        curriculum_dataset,
        curriculum_from_config,
        curriculum_grpo_options,
    )

    st = cfg["stage1"]
    config = curriculum_from_config(st["curriculum"], seed=cfg.get("seed", 0))
    if config is None:
        return _grpo(cfg, out, source, "stage1", rows, rewards)
    if not (st.get("config") or {}).get("max_steps"):
        raise ValueError("stage1.curriculum draws rows endlessly: set stage1.config.max_steps")
    made: list[Curriculum] = []

    def wrap(kept: list[dict[str, Any]], funcs: list[Any]) -> tuple[Any, list[Any], Any]:
        cur = Curriculum(kept, config)
        made.append(cur)
        funcs = [CurriculumReward(cur, f) if isinstance(f, ExecutionReward) else f
                 for f in funcs]
        return curriculum_dataset(cur), funcs, curriculum_grpo_options()

    info = _grpo(cfg, out, source, "stage1", rows, rewards, wrap=wrap)
    state = made[0].state()
    (out / "stage1" / "curriculum.json").write_text(json.dumps(state, indent=2))
    info["curriculum_shares"] = state["shares"]
    info["curriculum_filtered"] = state["filtered"]
    return info


def _stage2(cfg: dict[str, Any], out: Path, source: str) -> dict[str, Any]:
    from stepreward.integrations.paper import STAGE2_INSTRUCTION, stage_rewards
    from stepreward.integrations.trl import code_task_rows
    from stepreward.types import CodeTask

    tasks = [CodeTask.model_validate(r) for r in _read_jsonl(out / "data" / "code_tasks.jsonl")]
    st = cfg["stage2"]
    rewards = stage_rewards(cfg, "stage2")
    rows = code_task_rows(tasks, system_prompt=_system_prompt(cfg), instruction=(
        STAGE2_INSTRUCTION if st.get("instruction") == "method" else st.get("instruction")))
    return _grpo(cfg, out, source, "stage2", rows, rewards)


def _stage_eval(cfg: dict[str, Any], out: Path, source: str) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stepreward.scoring._score import score
    from stepreward.types import Sample

    e = cfg.get("eval", {})
    rows = _read_jsonl(out / "data" / "validation.jsonl") or _read_jsonl(
        out / "data" / "train.jsonl")
    rows = rows[: e.get("n", 16)]
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source)
    model.eval()  # type: ignore[no-untyped-call,unused-ignore]
    rewards = []
    for row in rows:
        sample = Sample.from_row(json.loads(row["label"]))
        system = _system_prompt(cfg)
        text = tokenizer.apply_chat_template(
            [*([{"role": "system", "content": system}] if system else []),
             {"role": "user", "content": sample.prompt}],
            tokenize=False, add_generation_prompt=True)
        enc = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=e.get("max_new_tokens", 32),
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id)
        completion = tokenizer.decode(ids[0][enc["input_ids"].shape[1]:],
                                      skip_special_tokens=True)
        rewards.append(score(completion, sample).reward)
    folder = out / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    result = {"samples": len(rows), "mean_reward": sum(rewards) / max(1, len(rewards))}
    (folder / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


def run_recipe(config: str | Path, stages: tuple[str, ...] = STAGES,
               out_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Run the recipe stages of ``config`` in order; returns each stage's summary."""
    cfg = _load_config(config)
    if "stage1" in stages and (cfg.get("stage1") or {}).get("curriculum") is not None:
        from stepreward.integrations.trl_curriculum import curriculum_from_config

        curriculum_from_config(cfg["stage1"]["curriculum"])  # a bad option fails first
    out = Path(out_dir or cfg.get("output_dir", "runs/recipe"))
    out.mkdir(parents=True, exist_ok=True)
    if cfg.get("threads"):
        import torch

        torch.set_num_threads(int(cfg["threads"]))
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
            info = _stage_data(cfg, out)
        else:
            source = _model_source(cfg, out, previous)
            info = {"sft": _stage_sft, "stage1": _stage1, "stage2": _stage2,
                    "eval": _stage_eval}[stage](cfg, out, source)
            info["from"] = Path(source).name
            if stage != "eval":
                previous = stage
        info["seconds"] = round(time.monotonic() - t0, 1)
        summary[stage] = info
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _table(summary: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'stage':<8} {'seconds':>8}  details", "-" * 72]
    for stage, info in summary.items():
        details = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in info.items() if k != "seconds")
        lines.append(f"{stage:<8} {info['seconds']:>8}  {details}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="stepreward-recipe", description=__doc__)
    ap.add_argument("config", help="YAML config (integrations/trl/*.yaml)")
    ap.add_argument("--stages", default=",".join(STAGES),
                    help=f"comma-separated subset of {','.join(STAGES)}")
    ap.add_argument("--out", help="output folder (default: the config's output_dir)")
    args = ap.parse_args(argv)
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        print(f"unknown stages: {unknown}", file=sys.stderr)
        return 2
    if os.environ.get("PRINT_ARGS", "0") == "1":  # as the OpenRLHF scripts: print, run nothing
        from stepreward.integrations.paper import effective_settings, format_settings

        print(format_settings(effective_settings(_load_config(args.config))))
        return 0
    summary = run_recipe(args.config, stages, args.out)
    print(_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
