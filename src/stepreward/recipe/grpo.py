"""The recipe's GRPO stages on TRL: stage 1 (execution questions, optionally through the online
curriculum) and stage 2 (code tasks with unit-test rewards), and their reward summaries."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward._jsonl import read_jsonl
from stepreward.recipe.files import write_metrics

if TYPE_CHECKING:
    from stepreward.recipe.schema import RecipeConfig

__all__ = ["drop_long_prompts", "reward_summary", "run_grpo", "train_stage1", "train_stage2"]


def drop_long_prompts(rows: Sequence[Mapping[str, Any]], tokenizer: Any,
                      max_tokens: int) -> list[Any]:
    """Rows whose ``prompt`` (chat messages, rendered with the tokenizer's template, or
    text) has at most ``max_tokens`` tokens: the method drops longer prompts, and TRL 1.x no
    longer cuts them.

    Example:
        >>> drop_long_prompts([], None, 2048)
        []
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")

    def n_tokens(prompt: Any) -> int:
        text = prompt if isinstance(prompt, str) else tokenizer.apply_chat_template(
            prompt, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return [r for r in rows if n_tokens(r["prompt"]) <= max_tokens]


def reward_summary(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each reward over the run, the total reward over the first and the last
    quarter of the steps, and the mean share of groups whose rewards were all equal.

    Example:
        >>> reward_summary([{"reward": 0.0, "frac_reward_zero_std": 0.5}, {"reward": 1.0}])
        {'reward_first_quarter': 0.0, 'reward_last_quarter': 1.0, 'frac_reward_zero_std': 0.5}
    """
    means: dict[str, list[float]] = {}
    for e in history:
        for k, v in e.items():
            if k.startswith("rewards/") and k.endswith("/mean") and isinstance(v, (int, float)):
                means.setdefault(k, []).append(float(v))
    out: dict[str, Any] = {k.split("/")[1]: sum(v) / len(v) for k, v in means.items() if v}
    total = [float(e["reward"]) for e in history if isinstance(e.get("reward"), (int, float))]
    if total:
        q = max(1, len(total) // 4)
        out["reward_first_quarter"] = sum(total[:q]) / q
        out["reward_last_quarter"] = sum(total[-q:]) / q
    zero = [float(e["frac_reward_zero_std"]) for e in history
            if isinstance(e.get("frac_reward_zero_std"), (int, float))]
    if zero:
        out["frac_reward_zero_std"] = sum(zero) / len(zero)
    return out


def run_grpo(cfg: RecipeConfig, out: Path, source: str, name: str,
             rows: list[dict[str, Any]], rewards: list[Any], wrap: Any = None) -> dict[str, Any]:
    """One GRPO stage (``name``: stage1 or stage2) from ``source`` on ``rows`` with
    ``rewards``, into ``OUT/name``; ``wrap(rows, rewards)`` may replace the dataset and the
    rewards and add GRPOConfig settings (the curriculum does). Returns the step count, the
    reward summary and the reward's share of a step's time.

    Example:
        >>> run_grpo(cfg, out, "runs/demo/sft", "stage1", rows, rewards)  # doctest: +SKIP
    """
    import torch
    import trl
    from transformers import AutoTokenizer

    from stepreward.integrations.trl import to_trl_dataset
    from stepreward.recipe.sft import resume_point
    from stepreward.recipe.training import (
        StepClock,
        load_model,
        peft_config,
        save_checkpoint,
        trainer_settings,
    )

    st = cfg.stage1 if name == "stage1" else cfg.stage2
    folder = out / name
    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if st.max_prompt_tokens:  # the method drops over-long prompts (TRL no longer cuts)
        rows = drop_long_prompts(rows, tokenizer, st.max_prompt_tokens)
    model = load_model(source, cfg.model)
    dataset, extra = to_trl_dataset(rows), {}
    if wrap is not None:  # stage1.curriculum: the dataset and rewards go through it
        dataset, rewards, extra = wrap(rows, rewards)
    args = trl.GRPOConfig(**trainer_settings(name, {**st.config, **extra}, folder, cfg.seed,
                                             remove_unused_columns=False))
    clock = StepClock()
    trainer = trl.GRPOTrainer(model=model, processing_class=tokenizer, args=args,
                              train_dataset=dataset, reward_funcs=clock.wrap(rewards),
                              peft_config=peft_config(cfg.model, model),
                              callbacks=[clock.callback()])
    trainer.train(resume_from_checkpoint=resume_point(folder, cfg))
    save_checkpoint(trainer.model, tokenizer, folder, cfg.prompt_record())
    write_metrics(folder, trainer.state.log_history)
    timing = clock.summary()
    (folder / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    return {"steps": trainer.state.global_step, **reward_summary(trainer.state.log_history),
            **{k: round(v, 4) for k, v in timing.items() if k != "steps_timed"}}


def _cap_per_program(rows: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    # A program seen with several calls lets the policy learn that program's answers;
    # capping the calls per program makes the training reward measure what carries over.
    seen: dict[str, int] = {}
    kept = []
    for r in rows:
        key = str(r.get("program_id") or r.get("source"))
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= cap:
            kept.append(r)
    return kept


def train_stage1(cfg: RecipeConfig, out: Path, source: str) -> dict[str, Any]:
    """Stage 1: GRPO on the execution samples of ``OUT/data`` (``stage1.jsonl`` when SFT took
    some programs, else ``train.jsonl``) with the config's stage-1 rewards, into
    ``OUT/stage1``; returns the stage's summary.

    Example:
        >>> train_stage1(cfg, Path("runs/demo"), "runs/demo/sft")["steps"]  # doctest: +SKIP
        60
    """
    from stepreward.integrations.trl import sample_rows
    from stepreward.recipe.rewards import stage_rewards

    cfg.require("stage1")
    data = out / "data"
    st = cfg.stage1
    raw = (read_jsonl(data / "stage1.jsonl") if (data / "stage1.jsonl").exists()
           else read_jsonl(data / "train.jsonl"))
    if st.per_program:
        raw = _cap_per_program(raw, int(st.per_program))
    rows = sample_rows(raw, system_prompt=cfg.system())
    rewards = stage_rewards(cfg, "stage1")
    rows = rows[: st.max_rows if st.max_rows is not None else len(rows)]
    if not rows:
        raise ValueError("stage 1 has no rows: the data stage left none for it (data.n too "
                         "small for data.sft_answers, or data.max_answer_chars filtered them "
                         "out); see data/ in the output folder")
    if st.curriculum is None:
        return run_grpo(cfg, out, source, "stage1", rows, rewards)
    return _stage1_curriculum(cfg, out, source, rows, rewards)


def _stage1_curriculum(cfg: RecipeConfig, out: Path, source: str,
                       rows: list[dict[str, Any]], rewards: list[Any]) -> dict[str, Any]:
    from stepreward.curriculum import Curriculum
    from stepreward.integrations.trl import ExecutionReward
    from stepreward.integrations.trl_curriculum import (
        CurriculumReward,
        curriculum_dataset,
        curriculum_from_config,
        curriculum_grpo_options,
    )

    st = cfg.stage1
    config = curriculum_from_config(st.curriculum, seed=cfg.seed)
    if config is None:
        return run_grpo(cfg, out, source, "stage1", rows, rewards)
    if not st.config.get("max_steps"):
        raise ValueError("stage1.curriculum draws rows endlessly: set stage1.config.max_steps")
    made: list[Curriculum] = []

    def wrap(kept: list[dict[str, Any]], funcs: list[Any]) -> tuple[Any, list[Any], Any]:
        cur = Curriculum(kept, config)
        made.append(cur)
        funcs = [CurriculumReward(cur, f) if isinstance(f, ExecutionReward) else f
                 for f in funcs]
        return curriculum_dataset(cur), funcs, curriculum_grpo_options()

    info = run_grpo(cfg, out, source, "stage1", rows, rewards, wrap=wrap)
    state = made[0].state()
    (out / "stage1" / "curriculum.json").write_text(json.dumps(state, indent=2))
    info["curriculum_shares"] = state["shares"]
    info["curriculum_filtered"] = state["filtered"]
    return info


def train_stage2(cfg: RecipeConfig, out: Path, source: str) -> dict[str, Any]:
    """Stage 2: GRPO on the code tasks of ``OUT/data/code_tasks.jsonl`` with unit-test
    rewards, into ``OUT/stage2``; returns the stage's summary.

    Example:
        >>> train_stage2(cfg, Path("runs/demo"), "runs/demo/stage1")["steps"]  # doctest: +SKIP
        40
    """
    from stepreward.integrations.trl import code_task_rows
    from stepreward.recipe.rewards import STAGE2_INSTRUCTION, stage_rewards
    from stepreward.types import CodeTask

    cfg.require("stage2")
    tasks = [CodeTask.model_validate(r) for r in read_jsonl(out / "data" / "code_tasks.jsonl")]
    st = cfg.stage2
    rewards = stage_rewards(cfg, "stage2")
    rows = code_task_rows(tasks, system_prompt=cfg.system(), instruction=(
        STAGE2_INSTRUCTION if st.instruction == "method" else st.instruction))
    if not rows:
        raise ValueError("stage 2 has no code tasks: raise data.code.n")
    return run_grpo(cfg, out, source, "stage2", rows, rewards)
