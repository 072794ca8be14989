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
import operator
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepreward.questions._formats import compact_prompt

__all__ = ["STAGES", "compact_prompt", "compact_row", "easy_code_tasks", "eval_table",
           "run_recipe", "short_answer"]

STAGES = ("data", "sft", "stage1", "stage2", "eval")


def _load_config(path: str | Path) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path} is not a mapping")
    from stepreward.integrations.recipe_schema import validate_recipe_config

    validate_recipe_config(cfg, str(path))  # a misspelled key stops here, named
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

        tiny = dict(model.get("tiny", {}))
        texts: list[str] = []
        if tiny.pop("corpus_from_data", False):
            # The recipe's own prompts and answers teach the tokenizer its wording.
            for name in ("sft.jsonl", "stage1.jsonl", "train.jsonl", "code_tasks.jsonl"):
                path = out / "data" / name
                if path.exists():
                    for row in _read_jsonl(path):
                        texts.extend(str(row[k]) for k in ("prompt", "completion")
                                     if row.get(k))
        tiny.setdefault("seed", cfg.get("seed", 0))
        return str(build_tiny_model(out / "base-model", extra_texts=texts, **tiny))
    return str(model["name_or_path"])


def _system_prompt(cfg: dict[str, Any]) -> str | None:
    from stepreward.synth._dataset import SYSTEM_PROMPT

    # One system prompt for SFT rows, RL prompts and eval prompts (no train/test mismatch).
    value = cfg.get("system_prompt", SYSTEM_PROMPT)
    return str(value) if value else None


def short_answer(question: Any) -> str:
    """The shortest gold answer line the grader accepts: the bare value for an output
    question (``1`` rather than ``assert f(x) == 1``), the gold text otherwise.

    Example:
        >>> from stepreward.types import Question
        >>> short_answer(Question(kind="output", text="", gold=1, gold_text="assert f(2) == 1"))
        '1'
    """
    text = str(question.gold_text)
    if question.kind == "output" and text.startswith("assert ") and " == " in text:
        call = str((question.info or {}).get("call") or "")
        head = f"assert {call} == "
        if call and text.startswith(head):
            return text[len(head):]
    return text


def compact_row(row: dict[str, Any]) -> dict[str, Any]:
    """A dataset row whose prompt (and the prompt of its sample label) is compacted."""
    label = json.loads(row["label"])
    label["prompt"] = compact_prompt(label["prompt"])
    prompt = compact_prompt(row["prompt"])
    return {**row, "prompt": prompt, "label": json.dumps(label, ensure_ascii=False),
            "messages": [{"role": "user", "content": prompt}]}


def _answers_fit(row: dict[str, Any], limit: int) -> bool:
    from stepreward.types import Sample

    sample = Sample.from_row(json.loads(row["label"]))
    return all(len(short_answer(q)) <= limit for q in sample.questions)


def _answer_sft_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer-only SFT examples: the prompt, then just the answer block (short forms)."""
    from stepreward.types import Sample

    out = []
    for row in rows:
        sample = Sample.from_row(json.loads(row["label"]))
        completion = sample.answer_text([short_answer(q) for q in sample.questions])
        out.append({"task": "answers", "prompt": sample.prompt, "completion": completion,
                    "messages": [{"role": "user", "content": sample.prompt},
                                 {"role": "assistant", "content": completion}],
                    "level": row.get("level"), "program_id": row.get("program_id")})
    return out


_EASY_OPS: tuple[tuple[str, str, Callable[[int, int], int]], ...] = (
    ("add {k} to {v}", "{v} + {k}", operator.add),
    ("subtract {k} from {v}", "{v} - {k}", operator.sub),
    ("multiply {v} by {k}", "{v} * {k}", operator.mul),
    ("take {v} modulo {k}", "{v} % {k}", operator.mod),
    ("integer-divide {v} by {k}", "{v} // {k}", operator.floordiv))


def easy_code_tasks(n: int, seed: int = 0, *, max_ops: int = 2) -> list[Any]:
    """``n`` easy code-generation tasks: arithmetic on one integer described in words
    ("add 3 to x, then multiply the result by 2"), five unit tests each. A model of a few
    million parameters learns to write such functions during SFT, so stage 2 gets unit-test
    rewards that vary within a group instead of zeros.

    Example:
        >>> task = easy_code_tasks(1, seed=0)[0]
        >>> len(task.tests), task.entry_point
        (5, 'f')
    """
    import random

    from stepreward.types import CodeTask, TestCase

    if max_ops < 1:
        raise ValueError(f"max_ops must be at least 1, got {max_ops}")
    # Distinct solutions: 4 names times (5 ops x 8 constants) per op, for 1..max_ops ops.
    distinct = sum(4 * (len(_EASY_OPS) * 8) ** m for m in range(1, max_ops + 1))
    if n > distinct:
        raise ValueError(f"only {distinct} distinct easy tasks have at most {max_ops} "
                         f"op(s); asked for {n}: raise max_ops or lower n")
    rng = random.Random(seed)
    tasks: list[Any] = []
    seen: set[str] = set()
    while len(tasks) < n:
        var = rng.choice(("x", "n", "value", "count"))
        ops = [(rng.randrange(len(_EASY_OPS)), rng.randint(2, 9))
               for _ in range(rng.randint(1, max_ops))]
        expr, words = var, []
        for i, (op, k) in enumerate(ops):
            text, code, _ = _EASY_OPS[op]
            words.append(text.format(k=k, v=var if i == 0 else "the result"))
            expr = code.format(k=k, v=expr if i == 0 else f"({expr})")
        solution = f"def f({var}):\n    return {expr}"
        if solution in seen:
            continue
        seen.add(solution)
        tests = []
        for x in rng.sample(range(-9, 30), 5):
            y = x
            for op, k in ops:
                y = _EASY_OPS[op][2](y, k)
            tests.append(TestCase.call("f", (x,), y))
        prompt = (f"Write a Python function `f({var})` that does this: "
                  f"{', then '.join(words)}, and return the result.")
        tasks.append(CodeTask(task_id=f"easy/{seed}/{len(tasks)}", prompt=prompt,
                              entry_point="f", tests=tests, canonical_solution=solution,
                              source="easy", info={"ops": len(ops)}))
    return tasks


def _code_sft_rows(tasks: list[Any]) -> list[dict[str, Any]]:
    from stepreward.integrations.trl import code_task_rows

    out = []
    for task, row in zip(tasks, code_task_rows(tasks), strict=True):
        completion = (f"<answer>\n```python\n{(task.canonical_solution or '').rstrip()}\n```\n"
                      "</answer>")
        prompt = row["prompt"][0]["content"]
        out.append({"task": "code", "prompt": prompt, "completion": completion,
                    "messages": [{"role": "user", "content": prompt},
                                 {"role": "assistant", "content": completion}]})
    return out


def _write_jsonl(path: Path, rows: list[Any]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write((r.model_dump_json() if hasattr(r, "model_dump_json")
                     else json.dumps(r, ensure_ascii=False)) + "\n")


def _stage_data(cfg: dict[str, Any], out: Path) -> dict[str, Any]:
    import random

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
    seed = d.get("seed", cfg.get("seed", 0))
    answers = int(d.get("sft_answers", 0))
    # Stage-2 tasks first: a contaminated training set stops the run before any work.
    code = d.get("code", {})
    n_code = code.get("n", 64)
    if code.get("easy"):
        tasks = easy_code_tasks(n_code, seed=seed + 1, max_ops=code.get("max_ops", 2))
    else:
        spec = code_spec(code)
        tasks = load_code_tasks(spec, seed=seed)
    check_contamination(tasks, eval_benchmarks(cfg), force=bool(code.get("force_contaminated")))
    options = dataset_options(d)
    options.setdefault("validation_fraction", 0.05)
    report = build_dataset(d["n"], folder, levels=d.get("levels", [1, 2, 3, 4, 5, 6]),
                           seed=seed, kinds=d.get("kinds", ["output", "next_statement",
                                                            "state"]),
                           max_per_kind=d.get("max_per_kind", 5),
                           sft=0 if answers else d.get("sft", 0), progress=True,
                           system_prompt=_system_prompt(cfg), **options)
    info: dict[str, Any] = {"samples": sum(report.per_level.values())}
    limit = d.get("max_answer_chars")
    if d.get("compact_prompts") or limit:
        # Both splits alike, so that validation matches what was trained.
        for name in ("train.jsonl", "validation.jsonl"):
            rows = _read_jsonl(folder / name)
            if limit:
                rows = [r for r in rows if _answers_fit(r, int(limit))]
            if d.get("compact_prompts"):
                rows = [compact_row(r) for r in rows]
            _write_jsonl(folder / name, rows)
            info[f"{name.split('.')[0]}_rows"] = len(rows)
    if answers:
        # Answer-only SFT on programs of the train split that stage 1 does not see.
        train = _read_jsonl(folder / "train.jsonl")
        programs = sorted({r["program_id"] for r in train})
        random.Random(seed).shuffle(programs)
        sft_programs: set[str] = set()
        sft_rows: list[dict[str, Any]] = []
        for pid in programs:
            if len(sft_rows) >= answers:
                break
            sft_programs.add(pid)
            sft_rows.extend(r for r in train if r["program_id"] == pid)
        _write_jsonl(folder / "stage1.jsonl",
                     [r for r in train if r["program_id"] not in sft_programs])
        sft_records = _answer_sft_rows(sft_rows)
    # Held-out code tasks for the eval stage; the SFT set may show some of the others.
    held = int(code.get("validation", 0))
    code_sft = int(code.get("sft", 0)) if answers else 0
    if held + code_sft >= len(tasks):
        raise ValueError(f"data.code: {len(tasks)} tasks leave none for stage 2 after "
                         f"validation ({held}) and sft ({code_sft}); raise data.code.n")
    _write_jsonl(folder / "code_tasks.jsonl", tasks[held + code_sft:])
    if held:
        _write_jsonl(folder / "code_validation.jsonl", tasks[:held])
    if answers:
        sft_records += _code_sft_rows(tasks[held:held + code_sft])
        random.Random(seed).shuffle(sft_records)
        _write_jsonl(folder / "sft.jsonl", sft_records)
        info["stage1_rows"] = sum(1 for _ in (folder / "stage1.jsonl").open())
    info["code_tasks"] = len(tasks) - held - code_sft
    info["sft_rows"] = (len(sft_records) if answers
                        else report.files.get("sft.jsonl", 0))
    info.setdefault("validation_rows", report.files.get("validation.jsonl", 0))
    return info


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _prompt_record(cfg: dict[str, Any]) -> dict[str, Any]:
    """How the recipe renders prompts: saved with every checkpoint for evaluation."""
    return {"format": "compact" if (cfg.get("data") or {}).get("compact_prompts") else "full",
            "system_prompt": _system_prompt(cfg)}


def _resume_point(folder: Path, cfg: dict[str, Any]) -> bool | None:
    """``True`` (TRL picks the last checkpoint) when resuming and the stage saved one."""
    if not cfg.get("resume"):
        return None
    return True if any(folder.glob("checkpoint-*")) else None


def _stage_sft(cfg: dict[str, Any], out: Path, source: str) -> dict[str, Any]:
    import datasets
    import torch
    import trl
    from transformers import AutoTokenizer

    from stepreward.integrations._training import (
        load_model,
        peft_config,
        save_checkpoint,
        sft_dataset,
        trainer_settings,
    )

    s = cfg["sft"]
    folder = out / "sft"
    config = dict(s.get("config", {}))
    rows = _read_jsonl(out / "data" / "sft.jsonl")
    torch.manual_seed(cfg.get("seed", 0))
    tokenizer = AutoTokenizer.from_pretrained(source)
    if config.get("assistant_only_loss"):
        # TRL masks by the template's generation markers (templates that have them).
        ds = datasets.Dataset.from_list([{"messages": r["messages"]} for r in rows])
    else:
        # Prompt and reply tokenized here, the prompt masked: any chat template works.
        ds = sft_dataset([r for r in rows if r.get("messages")], tokenizer,
                         config.get("max_length", 1024))
    model = load_model(source, cfg.get("model"))
    args = trl.SFTConfig(**trainer_settings("sft", config, folder, cfg.get("seed", 0)))
    trainer = trl.SFTTrainer(model=model, args=args, train_dataset=ds,
                             processing_class=tokenizer,
                             peft_config=peft_config(cfg.get("model"), model))
    trainer.train(resume_from_checkpoint=_resume_point(folder, cfg))
    save_checkpoint(trainer.model, tokenizer, folder, _prompt_record(cfg))
    _write_metrics(folder, trainer.state.log_history)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return {"steps": trainer.state.global_step, "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None}


def _grpo(cfg: dict[str, Any], out: Path, source: str, name: str, rows: list[dict[str, Any]],
          rewards: list[Any], wrap: Any = None) -> dict[str, Any]:
    import torch
    import trl
    from transformers import AutoTokenizer

    from stepreward.integrations._training import (
        StepClock,
        load_model,
        peft_config,
        save_checkpoint,
        trainer_settings,
    )
    from stepreward.integrations.trl import to_trl_dataset

    st = cfg[name]
    folder = out / name
    torch.manual_seed(cfg.get("seed", 0))
    tokenizer = AutoTokenizer.from_pretrained(source)
    if st.get("max_prompt_tokens"):  # the method drops over-long prompts (TRL no longer cuts)
        from stepreward.integrations.paper import drop_long_prompts

        rows = drop_long_prompts(rows, tokenizer, st["max_prompt_tokens"])
    model = load_model(source, cfg.get("model"))
    dataset, extra = to_trl_dataset(rows), {}
    if wrap is not None:  # stage1.curriculum: the dataset and rewards go through it
        dataset, rewards, extra = wrap(rows, rewards)
    args = trl.GRPOConfig(**trainer_settings(name, {**st.get("config", {}), **extra}, folder,
                                             cfg.get("seed", 0), remove_unused_columns=False))
    clock = StepClock()
    trainer = trl.GRPOTrainer(model=model, processing_class=tokenizer, args=args,
                              train_dataset=dataset, reward_funcs=clock.wrap(rewards),
                              peft_config=peft_config(cfg.get("model"), model),
                              callbacks=[clock.callback()])
    trainer.train(resume_from_checkpoint=_resume_point(folder, cfg))
    save_checkpoint(trainer.model, tokenizer, folder, _prompt_record(cfg))
    _write_metrics(folder, trainer.state.log_history)
    timing = clock.summary()
    (folder / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    return {"steps": trainer.state.global_step, **_reward_summary(trainer.state.log_history),
            **{k: round(v, 4) for k, v in timing.items() if k != "steps_timed"}}


def _reward_summary(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each reward over the run, the total reward over the first and the last
    quarter of the steps, and the mean share of groups whose rewards were all equal."""
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


def _execution_reward(spec: Any) -> Any:
    """A preset name, or a mapping of :class:`stepreward.RewardConfig` fields."""
    from stepreward.types import RewardConfig

    if isinstance(spec, dict):
        return RewardConfig(**spec)
    return spec or "normalized"


def _stage1(cfg: dict[str, Any], out: Path, source: str) -> dict[str, Any]:
    from stepreward.integrations.paper import stage_rewards
    from stepreward.integrations.trl import sample_rows

    data = out / "data"
    st = cfg["stage1"]
    raw = (_read_jsonl(data / "stage1.jsonl") if (data / "stage1.jsonl").exists()
           else _read_jsonl(data / "train.jsonl"))
    if st.get("per_program"):
        # A program seen with several calls lets the policy learn that program's answers;
        # capping the calls per program makes the training reward measure what carries over.
        cap = int(st["per_program"])
        seen: dict[str, int] = {}
        kept = []
        for r in raw:
            key = str(r.get("program_id") or r.get("source"))
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= cap:
                kept.append(r)
        raw = kept
    rows = sample_rows(raw, system_prompt=_system_prompt(cfg))
    rewards = stage_rewards(cfg, "stage1")
    rows = rows[: st.get("max_rows", len(rows))]
    if not rows:
        raise ValueError("stage 1 has no rows: the data stage left none for it (data.n too "
                         "small for data.sft_answers, or data.max_answer_chars filtered them "
                         "out); see data/ in the output folder")
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
    if not rows:
        raise ValueError("stage 2 has no code tasks: raise data.code.n")
    return _grpo(cfg, out, source, "stage2", rows, rewards)


EVAL_CHECKPOINTS = ("base", "sft", "stage1", "stage2")
KINDS = ("output", "input", "next_statement", "state", "coverage", "branch")


_LOADED: dict[tuple[str, str | None], tuple[Any, Any]] = {}


def _load_for_eval(source: str, dtype: str | None) -> tuple[Any, Any]:
    """A checkpoint's model and tokenizer, loaded once for all of its evaluation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    key = (source, dtype)
    if key not in _LOADED:
        _LOADED.clear()  # one checkpoint in memory at a time
        tokenizer = AutoTokenizer.from_pretrained(source)
        tokenizer.padding_side = "left"
        device = "cuda" if torch.cuda.is_available() else "cpu"
        kind = getattr(torch, dtype) if dtype not in (None, "auto") else "auto"
        model = AutoModelForCausalLM.from_pretrained(source, dtype=kind).to(device)  # type: ignore[arg-type,unused-ignore]
        model.eval()  # type: ignore[no-untyped-call,unused-ignore]
        _LOADED[key] = (model, tokenizer)
    return _LOADED[key]


def _generate(source: str, prompts: list[str], max_new_tokens: int,
              batch_size: int, system: str | None = None, samples: int = 0,
              temperature: float = 1.0, seed: int = 0, dtype: str | None = None,
              stop: tuple[str, ...] = ("</answer>",)) -> list[str]:
    """Greedy completions for chat prompts, batched with left padding; with ``samples``,
    that many sampled completions per prompt instead (prompt-major order)."""
    import torch

    model, tokenizer = _load_for_eval(source, dtype)
    device = model.device
    texts = [tokenizer.apply_chat_template(
        [*([{"role": "system", "content": system}] if system else []),
         {"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts]
    options: dict[str, Any] = {"do_sample": False}
    if samples:
        # Seeded so that every checkpoint is judged on equally lucky draws.
        torch.manual_seed(seed)
        options = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0,
                   "num_return_sequences": samples}
    per_batch = max(1, batch_size // max(1, samples))
    out: list[str] = []
    for i in range(0, len(texts), per_batch):
        enc = tokenizer(texts[i:i + per_batch], return_tensors="pt", padding=True).to(device)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id, **options,
                                 **({"stop_strings": list(stop), "tokenizer": tokenizer}
                                    if stop else {}))
        width = enc["input_ids"].shape[1]
        out.extend(str(tokenizer.decode(row[width:], skip_special_tokens=True)) for row in ids)
    return out


def _eval_checkpoint(source: str, samples: list[Any], tasks: list[Any],
                     e: dict[str, Any], reward: Any, system: str | None = None,
                     dtype: str | None = None) -> dict[str, Any]:
    from stepreward.codegen._api import extract_code
    from stepreward.rewards import reward_for
    from stepreward.scoring._score import score

    batch = int(e.get("batch_size", 16))
    result: dict[str, Any] = {}
    if samples:
        completions = _generate(source, [s.prompt for s in samples],
                                e.get("max_new_tokens", 32), batch, system, dtype=dtype)
        per_kind: dict[str, list[float]] = {}
        fmt, rewards, items = [], [], []
        outputs: list[float] = []  # per sample with an output question: paired comparisons
        for text, sample in zip(completions, samples, strict=True):
            sc = score(text, sample, preset=reward)
            for q, v in zip(sample.questions, sc.verdicts, strict=True):
                per_kind.setdefault(q.kind, []).append(float(v.correct))
                if q.kind == "output":
                    outputs.append(float(v.correct))
            fmt.append(float(sc.components.get("format") or 0.0))
            rewards.append(sc.reward)
            items.append(sum(float(v.correct) for v in sc.verdicts) / max(1, len(sc.verdicts)))
        result.update({k: sum(per_kind[k]) / len(per_kind[k]) for k in KINDS
                       if per_kind.get(k)})
        result["questions"] = sum(len(v) for v in per_kind.values())
        result["accuracy"] = sum(sum(v) for v in per_kind.values()) / max(
            1, result["questions"])
        result["format"] = sum(fmt) / len(fmt)
        result["reward"] = sum(rewards) / len(rewards)
        result["example"] = completions[0][:200]
        result["per_sample"] = items
        result["per_sample_output"] = outputs
        k = int(e.get("samples") or 0)
        if k:
            # What GRPO optimises: the accuracy of answers drawn at a temperature, averaged
            # over k draws per prompt (pass@1 estimated from k samples).
            drawn = _generate(source, [s.prompt for s in samples], e.get("max_new_tokens", 32),
                              batch, system, samples=k,
                              temperature=float(e.get("temperature", 1.0)), dtype=dtype)
            sampled: list[float] = []
            drawn_kind: dict[str, list[float]] = {}
            for j, sample in enumerate(samples):
                hits = []
                for text in drawn[j * k:(j + 1) * k]:
                    verdicts = score(text, sample, preset=reward).verdicts
                    for q, v in zip(sample.questions, verdicts, strict=True):
                        drawn_kind.setdefault(q.kind, []).append(float(v.correct))
                        hits.append(float(v.correct))
                sampled.append(sum(hits) / max(1, len(hits)))
            result["sampled"] = sum(sampled) / len(sampled)
            result.update({f"sampled_{kind}": sum(v) / len(v) for kind, v in drawn_kind.items()})
            result["per_sample_sampled"] = sampled
    if tasks:
        from stepreward.integrations.trl import code_task_rows

        prompts = [r["prompt"][0]["content"] for r in code_task_rows(tasks)]
        completions = _generate(source, prompts, e.get("code_max_new_tokens", 96), batch, system,
                                dtype=dtype)
        passed: list[float] = []
        blocks: list[float] = []
        for text, task in zip(completions, tasks, strict=True):
            blocks.append(float(extract_code(text, "answer_block") is not None))
            passed.append(reward_for(text, task, preset="partial",
                                     timeout_s=e.get("test_timeout_s", 1.0)).reward)
        result["code_pass_rate"] = sum(passed) / len(passed)
        result["per_task"] = passed
        result["code_format"] = sum(blocks) / len(blocks)
    return result


def _verdict(before: float, after: float, n: int) -> str:
    """In words, whether ``after`` beats ``before`` beyond the noise of ``n`` graded items
    (twice the standard error of a difference of two proportions)."""
    p = min(max((before + after) / 2, 1.0 / max(1, n)), 1 - 1.0 / max(1, n))
    noise = 2 * math.sqrt(2 * p * (1 - p) / max(1, n))
    delta = after - before
    if delta > noise:
        return f"improved ({delta:+.3f}, noise ±{noise:.3f})"
    if delta < -noise:
        return f"got worse ({delta:+.3f}, noise ±{noise:.3f})"
    return f"no clear change ({delta:+.3f}, noise ±{noise:.3f})"


def _paired_verdict(before: list[float], after: list[float]) -> str:
    """In words, whether per-item scores ``after`` beat ``before`` on the same held-out items
    beyond noise (twice the standard error of the mean paired difference)."""
    n = len(before)
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    delta = sum(diffs) / n
    var = sum((d - delta) ** 2 for d in diffs) / max(1, n - 1)
    noise = 2 * math.sqrt(var / n)
    if delta > noise and delta > 0:
        return f"improved ({delta:+.3f}, noise ±{noise:.3f})"
    if delta < -noise and delta < 0:
        return f"got worse ({delta:+.3f}, noise ±{noise:.3f})"
    return f"no clear change ({delta:+.3f}, noise ±{noise:.3f})"


def _accuracy_verdict(prev: dict[str, Any], r: dict[str, Any]) -> str:
    """Greedy accuracy (and sampled accuracy when measured) against the previous stage;
    paired over the same held-out samples when their per-sample scores are known."""
    def one(key: str, items: str) -> str:
        a, b = prev.get(items), r.get(items)
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) > 1:
            return _paired_verdict(a, b)
        return _verdict(prev.get(key, 0.0), r.get(key, 0.0), int(r.get("questions", 1)))

    words = "held-out accuracy: " + one("accuracy", "per_sample")
    if "sampled" in prev and "sampled" in r:
        words += "; sampled: " + one("sampled", "per_sample_sampled")
    return words


def eval_table(results: dict[str, dict[str, Any]],
               training: dict[str, dict[str, Any]] | None = None) -> str:
    """The per-stage table of held-out results, with a verdict in words per stage.

    Stage 2 is judged on its own objective (the pass rate on held-out code tasks), the
    other stages on the accuracy over all held-out execution questions.

    Example:
        >>> print(eval_table({"base": {"accuracy": 0.0, "questions": 90}}).splitlines()[0][:5])
        stage
    """
    training = training or {}
    cols = [k for k in (*KINDS, "accuracy", "sampled", "format", "code_pass_rate",
                        "code_format", "cruxeval-o", "cruxeval-i", "cruxeval-trace_questions")
            if any(k in r for r in results.values())]
    short = {"next_statement": "next", "code_pass_rate": "code pass", "code_format":
             "code fmt", "cruxeval-o": "crux-O", "cruxeval-i": "crux-I",
             "cruxeval-trace_questions": "crux-trace"}
    head = f"{'stage':<7} " + " ".join(f"{short.get(c, c):>9}" for c in cols)
    head += f" {'train reward (1st->last quarter)':>32}  verdict"
    lines = [head, "-" * len(head)]
    prev: dict[str, Any] | None = None
    for name, r in results.items():
        cells = " ".join(f"{r[c]:>9.3f}" if isinstance(r.get(c), (int, float))
                         else f"{'-':>9}" for c in cols)
        t = training.get(name, {})
        trend = (f"{t['reward_first_quarter']:.3f} -> {t['reward_last_quarter']:.3f}"
                 if "reward_first_quarter" in t else "")
        if prev is None:
            words = "starting point"
        elif name == "stage2" and "code_pass_rate" in r and "code_pass_rate" in prev:
            a, b = prev.get("per_task"), r.get("per_task")
            words = "code tests: " + (
                _paired_verdict(a, b) if isinstance(a, list) and isinstance(b, list)
                and len(a) == len(b) > 1 else
                _verdict(prev["code_pass_rate"], r["code_pass_rate"],
                         int(r.get("code_tasks", 1))))
        else:
            words = _accuracy_verdict(prev, r)
        if trend:
            q1, q4 = t["reward_first_quarter"], t["reward_last_quarter"]
            words += f"; training reward {'rose' if q4 > q1 else 'did not rise'}"
        lines.append(f"{name:<7} {cells} {trend:>32}  {words}")
        prev = r
    return "\n".join(lines)


def _plot_learning(folder: Path, out: Path, results: dict[str, dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for stage in ("stage1", "stage2"):
        path = out / stage / "metrics.jsonl"
        if not path.exists():
            continue
        pts = [(e.get("step", i), e["reward"]) for i, e in enumerate(_read_jsonl(path))
               if isinstance(e.get("reward"), (int, float))]
        if pts:
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            line = left.plot(xs, ys, marker=".", alpha=0.35, label=f"{stage} (per step)")
            w = max(1, len(ys) // 8)  # a running mean: a step holds only a few prompts
            smooth = [sum(ys[max(0, i - w + 1):i + 1]) / len(ys[max(0, i - w + 1):i + 1])
                      for i in range(len(ys))]
            left.plot(xs, smooth, color=line[0].get_color(), linewidth=2.5,
                      label=f"{stage} (running mean of {w})")
    left.set_xlabel("step")
    left.set_ylabel("mean reward of the step's completions")
    left.set_title("training reward per step")
    left.legend(fontsize=8)
    cols = [k for k in (*KINDS, "accuracy", "sampled", "code_pass_rate")
            if any(k in r for r in results.values())]
    width = 0.8 / max(1, len(results))
    for j, (name, r) in enumerate(results.items()):
        right.bar([i + j * width for i in range(len(cols))],
                  [float(r.get(c) or 0.0) for c in cols], width, label=name)
    right.set_xticks([i + 0.4 - width / 2 for i in range(len(cols))])
    right.set_xticklabels([c.replace("_", " ") for c in cols], fontsize=8)
    right.set_ylim(0, 1)
    right.set_title("held-out accuracy per stage")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "learning.png", dpi=80)
    plt.close(fig)


def _bench_eval(cfg: dict[str, Any], out: Path, name: str, ckpt: str) -> dict[str, Any]:
    """A checkpoint on the real benchmarks (``eval.bench``: name -> number of items) through
    the library's own eval, in the prompt format the recipe trains with; the per-item
    verdicts are kept for paired comparisons between checkpoints."""
    from stepreward.eval._harness import run_eval
    from stepreward.synth._backends import TransformersGenerator

    e = cfg.get("eval", {})
    record = _prompt_record(cfg)
    generator = TransformersGenerator(ckpt, batch_size=int(e.get("batch_size", 16)),
                                      system_prompt=record["system_prompt"],
                                      dtype=e.get("dtype"))
    found: dict[str, Any] = {}
    for bench, limit in dict(e["bench"]).items():
        if not limit:  # 0 or null turns off a bench a base config lists
            continue
        folder = out / "eval" / name / bench
        if folder.exists():  # a rerun grades afresh: the checkpoint may have changed
            import shutil

            shutil.rmtree(folder)
        r = run_eval(bench, folder, backend=generator, data=e.get("bench_data"),
                     limit=int(limit), max_tokens=int(e.get("bench_max_new_tokens", 48)),
                     batch_size=int(e.get("batch_size", 16)), prompt_format=record["format"],
                     seed=int(cfg.get("seed", 0)))
        rows = _read_jsonl(folder / "completions.jsonl")
        per_item = {str(r_["id"]): float(bool(r_.get("correct"))) for r_ in rows}
        found[bench] = float(r["pass@1"]) / 100.0
        found[f"per_item_{bench}"] = [per_item[k] for k in sorted(per_item)]
        if bench == "cruxeval-trace":  # accuracy per question, as for the held-out samples
            found[f"{bench}_questions"] = sum(r["accuracy_per_kind"].values()) / max(
                1, 100 * len(r["accuracy_per_kind"]))
    return found


def _stage_eval(cfg: dict[str, Any], out: Path, source: str) -> dict[str, Any]:
    """Held-out accuracy per question kind (and code pass rate) of every stage's checkpoint."""
    from stepreward.types import CodeTask, Sample

    e = cfg.get("eval", {})
    data = out / "data"
    rows = _read_jsonl(data / "validation.jsonl") or _read_jsonl(data / "train.jsonl")
    samples = [Sample.from_row(json.loads(r["label"])) for r in rows[: e.get("n", 16)]]
    code_path = data / "code_validation.jsonl"
    tasks = ([CodeTask.model_validate(r) for r in _read_jsonl(code_path)][: e.get("code_n", 64)]
             if code_path.exists() else [])
    reward = _execution_reward(cfg.get("stage1", {}).get("reward"))
    results: dict[str, dict[str, Any]] = {}
    for name in e.get("checkpoints", EVAL_CHECKPOINTS):
        if name == "base":
            ckpt = _model_source(cfg, out, None)
        elif (out / name / "config.json").exists():
            ckpt = str(out / name)
        else:
            continue
        print(f"   eval {name}", file=sys.stderr, flush=True)
        results[name] = _eval_checkpoint(ckpt, samples, tasks, e, reward, _system_prompt(cfg),
                                         dtype=e.get("dtype"))
        results[name]["code_tasks"] = len(tasks)
        if e.get("bench"):
            results[name].update(_bench_eval(cfg, out, name, ckpt))
    if not results:  # a model given by name only: evaluate what the driver passed
        results["final"] = _eval_checkpoint(source, samples, tasks, e, reward,
                                            _system_prompt(cfg))
    training = {}
    for stage in ("stage1", "stage2"):
        path = out / stage / "metrics.jsonl"
        if path.exists():
            training[stage] = _reward_summary(_read_jsonl(path))
    folder = out / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    table = eval_table(results, training)
    (folder / "metrics.json").write_text(json.dumps(
        {"samples": len(samples), "code_tasks": len(tasks), "checkpoints": results,
         "training": training}, indent=2))
    (folder / "summary.txt").write_text(table + "\n")
    _plot_learning(folder, out, results)
    last = list(results.values())[-1]
    return {"samples": len(samples), "table": table,
            **{k: v for k, v in last.items() if isinstance(v, float)},
            "chart": str(folder / "learning.png")}


def run_recipe(config: str | Path | dict[str, Any], stages: tuple[str, ...] = STAGES,
               out_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Run the recipe stages of ``config`` (a YAML path or its mapping) in order; returns
    each stage's summary."""
    if isinstance(config, dict):
        from stepreward.integrations.recipe_schema import validate_recipe_config

        validate_recipe_config(config)
        cfg = dict(config)
    else:
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
                            for k, v in info.items() if k not in ("seconds", "table"))
        lines.append(f"{stage:<8} {info['seconds']:>8}  {details}")
    if "table" in summary.get("eval", {}):
        lines += ["", "held-out evaluation of each stage's checkpoint:",
                  summary["eval"]["table"]]
    lines.append(f"total: {sum(float(i['seconds']) for i in summary.values()):.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="stepreward-recipe", description=__doc__)
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
    args = ap.parse_args(argv)
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        print(f"unknown stages: {unknown}", file=sys.stderr)
        return 2
    try:
        checked = _load_config(args.config)  # a misspelled key stops here, in one line
    except (OSError, ValueError) as exc:
        print(f"stepreward-recipe: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("PRINT_ARGS", "0") == "1":  # as the OpenRLHF scripts: print, run nothing
        from stepreward.integrations.paper import effective_settings, format_settings

        print(format_settings(effective_settings(checked)))
        return 0
    config: str | dict[str, Any] = args.config
    if args.model or args.seed is not None or args.resume:
        cfg = _load_config(args.config)
        if args.model:  # the config's loading options stay; only the weights change
            cfg["model"] = {**{k: v for k, v in (cfg.get("model") or {}).items()
                               if k not in ("build_tiny", "tiny")}, "name_or_path": args.model}
        if args.seed is not None:
            cfg["seed"] = args.seed
        if args.resume:
            cfg["resume"] = True
        config = cfg
    summary = run_recipe(config, stages, args.out)
    print(_table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
