"""The recipe's evaluation: every stage's checkpoint on held-out samples (greedy and sampled
accuracy per question kind) and held-out code tasks, and on real benchmarks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward._jsonl import read_jsonl
from stepreward.recipe.report import kind_columns

if TYPE_CHECKING:
    from stepreward.recipe.schema import EvalSection, RecipeConfig
    from stepreward.types import CodeTask, Sample

__all__ = ["bench_checkpoint", "evaluate_checkpoint", "evaluate_stages", "generate"]

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


def generate(source: str, prompts: list[str], max_new_tokens: int,
             batch_size: int, system: str | None = None, samples: int = 0,
             temperature: float = 1.0, seed: int = 0, dtype: str | None = None,
             stop: tuple[str, ...] = ("</answer>",)) -> list[str]:
    """Greedy completions for chat prompts, batched with left padding; with ``samples``,
    that many sampled completions per prompt instead (prompt-major order).

    Example:
        >>> generate("runs/demo/sft", ["Program: ..."], 32, 16)  # doctest: +SKIP
        ['<answer>\\n0\\n</answer>']
    """
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


def _sampled_accuracy(source: str, samples: list[Sample], e: EvalSection, reward: Any,
                      system: str | None, dtype: str | None) -> dict[str, Any]:
    """What GRPO optimises: the accuracy of answers drawn at a temperature, averaged over
    ``e.samples`` draws per prompt (pass@1 estimated from k samples)."""
    from stepreward.scoring._score import score

    k = e.samples
    drawn = generate(source, [s.prompt for s in samples], e.max_new_tokens, e.batch_size,
                     system, samples=k, temperature=e.temperature, dtype=dtype)
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
    return {"sampled": sum(sampled) / len(sampled),
            **{f"sampled_{kind}": sum(v) / len(v) for kind, v in drawn_kind.items()},
            "per_sample_sampled": sampled}


def _code_pass_rate(source: str, tasks: list[CodeTask], e: EvalSection, system: str | None,
                    dtype: str | None) -> dict[str, Any]:
    from stepreward.codegen._api import extract_code
    from stepreward.integrations.trl import code_task_rows
    from stepreward.rewards import reward_for

    prompts = [r["prompt"][0]["content"] for r in code_task_rows(tasks)]
    completions = generate(source, prompts, e.code_max_new_tokens, e.batch_size, system,
                           dtype=dtype)
    passed: list[float] = []
    blocks: list[float] = []
    for text, task in zip(completions, tasks, strict=True):
        blocks.append(float(extract_code(text, "answer_block") is not None))
        passed.append(reward_for(text, task, preset="partial", timeout_s=e.test_timeout_s).reward)
    return {"code_pass_rate": sum(passed) / len(passed), "per_task": passed,
            "code_format": sum(blocks) / len(blocks)}


def evaluate_checkpoint(source: str, samples: list[Sample], tasks: list[CodeTask],
                        settings: EvalSection | dict[str, Any], reward: Any = "normalized",
                        system: str | None = None, dtype: str | None = None) -> dict[str, Any]:
    """A checkpoint's held-out results: accuracy per question kind, overall, format and
    reward of greedy answers to ``samples`` (and of ``settings.samples`` draws per prompt),
    per-sample scores for paired verdicts, and the pass rate on ``tasks``.

    Example:
        >>> r = evaluate_checkpoint("runs/demo/sft", samples, [], {"n": 150})  # doctest: +SKIP
        >>> r["accuracy"], len(r["per_sample"])  # doctest: +SKIP
        (0.58, 138)
    """
    from stepreward.recipe.schema import EvalSection, validate_section
    from stepreward.scoring._score import score

    e = validate_section(EvalSection, settings, prefix="eval")
    result: dict[str, Any] = {}
    if samples:
        completions = generate(source, [s.prompt for s in samples], e.max_new_tokens,
                               e.batch_size, system, dtype=dtype)
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
        result.update({k: sum(per_kind[k]) / len(per_kind[k]) for k in kind_columns()
                       if per_kind.get(k)})
        result["questions"] = sum(len(v) for v in per_kind.values())
        result["accuracy"] = sum(sum(v) for v in per_kind.values()) / max(
            1, result["questions"])
        result["format"] = sum(fmt) / len(fmt)
        result["reward"] = sum(rewards) / len(rewards)
        result["example"] = completions[0][:200]
        result["per_sample"] = items
        result["per_sample_output"] = outputs
        if e.samples:
            result.update(_sampled_accuracy(source, samples, e, reward, system, dtype))
    if tasks:
        result.update(_code_pass_rate(source, tasks, e, system, dtype))
    return result


def bench_checkpoint(cfg: RecipeConfig, out: Path, name: str, ckpt: str) -> dict[str, Any]:
    """A checkpoint on the real benchmarks (``eval.bench``: name -> number of items) through
    the library's own eval, in the prompt format the recipe trains with; the per-item
    verdicts are kept for paired comparisons between checkpoints.

    Example:
        >>> bench_checkpoint(cfg, out, "sft", "runs/x/sft")["cruxeval-o"]  # doctest: +SKIP
        0.21
    """
    import shutil

    from stepreward.eval._harness import run_eval
    from stepreward.synth._backends import TransformersGenerator

    e = cfg.eval
    record = cfg.prompt_record()
    generator = TransformersGenerator(ckpt, batch_size=e.batch_size,
                                      system_prompt=record["system_prompt"], dtype=e.dtype)
    found: dict[str, Any] = {}
    for bench, limit in dict(e.bench or {}).items():
        if not limit:  # 0 turns off a bench that a base config lists
            continue
        folder = out / "eval" / name / bench
        if folder.exists():  # a rerun grades afresh: the checkpoint may have changed
            shutil.rmtree(folder)
        r = run_eval(bench, folder, backend=generator, data=e.bench_data, limit=int(limit),
                     max_tokens=e.bench_max_new_tokens, batch_size=e.batch_size,
                     prompt_format=record["format"], seed=cfg.seed)
        rows = read_jsonl(folder / "completions.jsonl")
        per_item = {str(r_["id"]): float(bool(r_.get("correct"))) for r_ in rows}
        found[bench] = float(r["pass@1"]) / 100.0
        found[f"per_item_{bench}"] = [per_item[k] for k in sorted(per_item)]
        if bench == "cruxeval-trace":  # accuracy per question, as for the held-out samples
            found[f"{bench}_questions"] = sum(r["accuracy_per_kind"].values()) / max(
                1, 100 * len(r["accuracy_per_kind"]))
    return found


def evaluate_stages(cfg: RecipeConfig, out: Path, source: str) -> dict[str, Any]:
    """The eval stage: held-out accuracy per question kind (and code pass rate) of every
    stage's checkpoint, written to ``OUT/eval`` (metrics, the table, the learning chart).

    Example:
        >>> info = evaluate_stages(cfg, Path("runs/demo"), "runs/demo/stage2")  # doctest: +SKIP
        >>> print(info["table"])  # doctest: +SKIP
    """
    from stepreward.recipe.grpo import reward_summary
    from stepreward.recipe.report import eval_table, plot_learning
    from stepreward.recipe.rewards import execution_reward
    from stepreward.recipe.training import model_source
    from stepreward.types import CodeTask, Sample

    e = cfg.eval
    data = out / "data"
    rows = read_jsonl(data / "validation.jsonl") or read_jsonl(data / "train.jsonl")
    samples = [Sample.from_row(json.loads(r["label"])) for r in rows[: e.n]]
    code_path = data / "code_validation.jsonl"
    tasks = ([CodeTask.model_validate(r) for r in read_jsonl(code_path)][: e.code_n]
             if code_path.exists() else [])
    reward = execution_reward(cfg.stage1)
    results: dict[str, dict[str, Any]] = {}
    for name in e.checkpoints:
        if name == "base":
            ckpt = model_source(cfg, out, None)
        elif (out / name / "config.json").exists():
            ckpt = str(out / name)
        else:
            continue
        print(f"   eval {name}", file=sys.stderr, flush=True)
        results[name] = evaluate_checkpoint(ckpt, samples, tasks, e, reward, cfg.system(),
                                            dtype=e.dtype)
        results[name]["code_tasks"] = len(tasks)
        if e.bench:
            results[name].update(bench_checkpoint(cfg, out, name, ckpt))
    if not results:  # a model given by name only: evaluate what the driver passed
        results["final"] = evaluate_checkpoint(source, samples, tasks, e, reward, cfg.system())
    training = {}
    for stage in ("stage1", "stage2"):
        path = out / stage / "metrics.jsonl"
        if path.exists():
            training[stage] = reward_summary(read_jsonl(path))
    folder = out / "eval"
    folder.mkdir(parents=True, exist_ok=True)
    table = eval_table(results, training)
    (folder / "metrics.json").write_text(json.dumps(
        {"samples": len(samples), "code_tasks": len(tasks), "checkpoints": results,
         "training": training}, indent=2))
    (folder / "summary.txt").write_text(table + "\n")
    plot_learning(folder, out, results)
    last = list(results.values())[-1]
    return {"samples": len(samples), "table": table,
            **{k: v for k, v in last.items() if isinstance(v, float)},
            "chart": str(folder / "learning.png")}
