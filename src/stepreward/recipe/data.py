"""The recipe's data stage: execution samples, answer-only SFT rows, and the stage-2 code tasks
(checked for contamination first), written under ``OUT/data``."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward._jsonl import read_jsonl
from stepreward.questions._formats import compact_prompt
from stepreward.recipe.files import write_jsonl

if TYPE_CHECKING:
    from stepreward.recipe.schema import DataOptions, RecipeConfig
    from stepreward.types import CodeTask, Question

__all__ = ["answer_sft_rows", "build_data", "code_sft_rows", "compact_prompt", "compact_row",
           "dataset_options", "short_answer"]


def short_answer(question: Question) -> str:
    """The shortest gold answer line the grader accepts: the bare value for an output
    question (``1`` rather than ``assert f(x) == 1``), the gold text otherwise.

    Example:
        >>> from stepreward.types import Question
        >>> short_answer(Question(kind="output", text="", gold=1, gold_text="assert f(2) == 1",
        ...                       info={"call": "f(2)"}))
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
    """A dataset row whose prompt (and the prompt of its sample label) is compacted.

    Example:
        >>> compact_row(row)["prompt"].startswith("Program:")  # doctest: +SKIP
        True
    """
    label = json.loads(row["label"])
    label["prompt"] = compact_prompt(label["prompt"])
    prompt = compact_prompt(row["prompt"])
    return {**row, "prompt": prompt, "label": json.dumps(label, ensure_ascii=False),
            "messages": [{"role": "user", "content": prompt}]}


def _answers_fit(row: dict[str, Any], limit: int) -> bool:
    from stepreward.types import Sample

    sample = Sample.from_row(json.loads(row["label"]))
    return all(len(short_answer(q)) <= limit for q in sample.questions)


def answer_sft_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer-only SFT examples: the prompt, then just the answer block (short forms).

    Example:
        >>> answer_sft_rows(rows)[0]["completion"].startswith("<answer>")  # doctest: +SKIP
        True
    """
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


def code_sft_rows(tasks: list[CodeTask]) -> list[dict[str, Any]]:
    """SFT examples of code tasks: the stage-2 prompt, then the canonical solution in the
    answer block.

    Example:
        >>> from stepreward.recipe.easy import easy_code_tasks
        >>> code_sft_rows(easy_code_tasks(1))[0]["completion"].splitlines()[1]
        '```python'
    """
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


def _backend(spec: Any, what: str) -> Any:
    from stepreward.synth._backends import OpenAICompatible

    if not spec.endpoint:
        raise ValueError(f"data.{what} needs an endpoint (an OpenAI-compatible server URL, "
                         f"e.g. a vLLM server of the model)")
    return OpenAICompatible(str(spec.endpoint), model=spec.model,
                            max_concurrency=spec.max_concurrency)


def dataset_options(d: DataOptions | Mapping[str, Any]) -> dict[str, Any]:
    """``build_dataset`` keyword arguments from a config's ``data`` section: ``input_share``,
    ``validation_fraction``, ``difficulty`` (``{endpoint, model, n, max_pass,
    temperature}``), ``solver`` (``{endpoint, model, n, temperature}`` or ``narration``),
    ``filter_max_tokens``.

    Example:
        >>> dataset_options({"input_share": 0.375, "solver": "narration"})["solver"]
        'narration'
    """
    from stepreward.recipe.schema import DataOptions, validate_section
    from stepreward.synth._model import DifficultyFilter

    if isinstance(d, Mapping):
        if isinstance(d.get("solver"), str) and d["solver"] != "narration":
            raise ValueError("data.solver must be 'narration' or {endpoint, model, ...}")
        d = validate_section(DataOptions, {k: v for k, v in d.items()
                                           if k in DataOptions.model_fields}, prefix="data")
    out: dict[str, Any] = {"input_share": d.input_share,
                           "validation_fraction": d.validation_fraction,
                           "filter_max_tokens": d.filter_max_tokens}
    if d.difficulty:
        diff = d.difficulty
        out["difficulty"] = _backend(diff, "difficulty")
        out["difficulty_filter"] = DifficultyFilter(n=diff.n, max_pass=diff.max_pass,
                                                    temperature=diff.temperature)
    if d.solver == "narration":
        out["solver"] = "narration"
    elif d.solver:
        out["solver"] = _backend(d.solver, "solver")
        out["solver_filter"] = DifficultyFilter(n=d.solver.n, max_pass=d.solver.n,
                                                temperature=d.solver.temperature)
    return out


def _split_sft_programs(train: list[dict[str, Any]], answers: int,
                        seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(SFT rows, stage-1 rows): whole train programs, in a seeded order, go to SFT until it
    holds ``answers`` rows; stage 1 keeps the other programs."""
    programs = sorted({r["program_id"] for r in train})
    random.Random(seed).shuffle(programs)
    sft_programs: set[str] = set()
    sft_rows: list[dict[str, Any]] = []
    for pid in programs:
        if len(sft_rows) >= answers:
            break
        sft_programs.add(pid)
        sft_rows.extend(r for r in train if r["program_id"] == pid)
    return sft_rows, [r for r in train if r["program_id"] not in sft_programs]


def build_data(cfg: RecipeConfig, out: Path) -> dict[str, Any]:
    """The data stage: ``train``/``validation`` samples (filtered and compacted as the config
    says), answer-only SFT rows from train programs that stage 1 does not see, and the
    stage-2 code tasks with their held-out and SFT shares; returns the stage's summary.

    Example:
        >>> cfg = validate_recipe_config(load_config("tiny-cpu.yaml"))  # doctest: +SKIP
        >>> build_data(cfg, Path("runs/x"))  # doctest: +SKIP
        {'samples': 1600, 'train_rows': ..., ...}
    """
    from stepreward.recipe.code_tasks import code_spec, load_code_tasks
    from stepreward.recipe.contamination import check_contamination, eval_benchmarks
    from stepreward.recipe.easy import easy_code_tasks
    from stepreward.synth._dataset import build_dataset

    d = cfg.data_section()
    folder = out / "data"
    seed = cfg.data_seed()
    answers = d.sft_answers
    code = d.code
    # Stage-2 tasks first: a contaminated training set stops the run before any work.
    if code.easy:
        tasks = easy_code_tasks(code.count(), seed=seed + 1, max_ops=code.max_ops)
    else:
        tasks = load_code_tasks(code_spec(code), seed=seed)
    check_contamination(tasks, eval_benchmarks(cfg), force=code.force_contaminated)
    report = build_dataset(d.n, folder, levels=d.levels, seed=seed, kinds=d.kinds,
                           max_per_kind=d.max_per_kind, sft=0 if answers else d.sft,
                           progress=True, system_prompt=cfg.system(), **dataset_options(d))
    info: dict[str, Any] = {"samples": sum(report.per_level.values())}
    limit = d.max_answer_chars
    if d.compact_prompts or limit:
        # Both splits alike, so that validation matches what was trained.
        for name in ("train.jsonl", "validation.jsonl"):
            rows = read_jsonl(folder / name)
            if limit:
                rows = [r for r in rows if _answers_fit(r, int(limit))]
            if d.compact_prompts:
                rows = [compact_row(r) for r in rows]
            write_jsonl(folder / name, rows)
            info[f"{name.split('.')[0]}_rows"] = len(rows)
    if answers:
        # Answer-only SFT on programs of the train split that stage 1 does not see.
        sft_rows, stage1_rows = _split_sft_programs(read_jsonl(folder / "train.jsonl"),
                                                    answers, seed)
        write_jsonl(folder / "stage1.jsonl", stage1_rows)
        sft_records = answer_sft_rows(sft_rows)
    # Held-out code tasks for the eval stage; the SFT set may show some of the others.
    held = code.validation
    code_sft = code.sft if answers else 0
    if held + code_sft >= len(tasks):
        raise ValueError(f"data.code: {len(tasks)} tasks leave none for stage 2 after "
                         f"validation ({held}) and sft ({code_sft}); raise data.code.n")
    write_jsonl(folder / "code_tasks.jsonl", tasks[held + code_sft:])
    if held:
        write_jsonl(folder / "code_validation.jsonl", tasks[:held])
    if answers:
        sft_records += code_sft_rows(tasks[held:held + code_sft])
        random.Random(seed).shuffle(sft_records)
        write_jsonl(folder / "sft.jsonl", sft_records)
        info["stage1_rows"] = sum(1 for _ in (folder / "stage1.jsonl").open())
    info["code_tasks"] = len(tasks) - held - code_sft
    info["sft_rows"] = (len(sft_records) if answers
                        else report.files.get("sft.jsonl", 0))
    info.setdefault("validation_rows", report.files.get("validation.jsonl", 0))
    return info
