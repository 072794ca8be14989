"""``stepreward paper code-rows``: the method's stage-2 rows for OpenRLHF (and verl), written
after the contamination check."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "main", "run", "write_code_rows"]


def write_code_rows(out: str | Path, *, source: str = "prime", path: str | None = None,
                    n: int | None = None, seed: int = 0,
                    benchmarks: dict[str, str | None] | None = None,
                    force_contaminated: bool = False, preset: str = "method",
                    partial_tests: int = 10, format_bonus: float = 0.05,
                    partial_seed: int | None = None) -> int:
    """Write stage-2 code-task rows (system prompt, the method's instruction, reward options
    in each label) to the JSONL file ``out``, after refusing tasks that overlap
    ``benchmarks`` (name -> data file or None; the defaults when None); returns the count.

    Example:
        >>> write_code_rows("data/code_tasks_openrlhf.jsonl", path="eurus.jsonl")  # doctest: +SKIP
        2
    """
    from stepreward.integrations.openrlhf import code_task_rows
    from stepreward.recipe.code_tasks import load_code_tasks
    from stepreward.recipe.contamination import DEFAULT_BENCHMARKS, check_contamination
    from stepreward.recipe.rewards import STAGE2_INSTRUCTION
    from stepreward.synth._dataset import SYSTEM_PROMPT

    tasks = load_code_tasks({"source": source, "path": path, "n": n}, seed=seed)
    check_contamination(tasks, benchmarks or DEFAULT_BENCHMARKS, force=force_contaminated)
    options: dict[str, Any] = {"preset": preset, "format_bonus": format_bonus}
    if preset == "method":
        options["partial_tests"] = partial_tests
        if partial_seed is not None:
            options["partial_seed"] = partial_seed
    rows = code_task_rows(tasks, STAGE2_INSTRUCTION, system_prompt=SYSTEM_PROMPT,
                          reward_options=options)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The ``paper`` command's arguments: its ``code-rows`` subcommand.

    Example:
        >>> ap = argparse.ArgumentParser()
        >>> add_arguments(ap)
        >>> ap.parse_args(["code-rows", "--out", "rows.jsonl"]).source
        'prime'
    """
    from stepreward.presets import preset_names

    sub = ap.add_subparsers(dest="paper_command", required=True, metavar="COMMAND")
    p = sub.add_parser("code-rows", help="write stage-2 code-task rows for OpenRLHF",
                       description="Write the method's stage-2 rows (system prompt, the "
                                   "method's instruction, reward options in each label) "
                                   "after the contamination check.")
    p.add_argument("--source", default="prime", choices=("prime", "synth", "mbpp-plus"))
    p.add_argument("--path", help="local data file (default: the hub for prime)")
    p.add_argument("--n", type=int, help="at most this many tasks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output JSONL")
    p.add_argument("--reward-preset", default="method", choices=preset_names("code"),
                   help="stage-2 reward preset written into each label (default: the "
                        "method's)")
    p.add_argument("--partial-tests", type=int, default=10,
                   help="the method preset: tests counted for partial credit")
    p.add_argument("--partial-seed", type=int,
                   help="the method preset: draw the partial-credit tests per task with this "
                        "seed instead of taking the first ones (the prompt's examples)")
    p.add_argument("--format-bonus", type=float, default=0.05)
    p.add_argument("--benchmark", action="append", default=[], metavar="NAME=PATH",
                   help="an eval benchmark to check overlap with (repeat); PATH may be empty")
    p.add_argument("--force-contaminated", action="store_true",
                   help="write the rows even if they overlap the benchmarks")


def run(args: argparse.Namespace) -> int:
    """Run the ``paper`` command's parsed arguments; a bad source or an overlap is one line
    on stderr and exit status 2.

    Example:
        >>> main(["code-rows", "--source", "synth", "--out", "r.jsonl"])  # doctest: +SKIP
        0
    """
    benchmarks: dict[str, str | None] = {}
    for item in args.benchmark:
        name, _, path = item.partition("=")
        benchmarks[name.strip()] = path.strip() or None
    try:
        count = write_code_rows(args.out, source=args.source, path=args.path, n=args.n,
                                seed=args.seed, benchmarks=benchmarks,
                                force_contaminated=args.force_contaminated,
                                preset=args.reward_preset, partial_tests=args.partial_tests,
                                format_bonus=args.format_bonus,
                                partial_seed=args.partial_seed)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"code-rows: {exc}", file=sys.stderr)
        return 2
    print(f"{count} stage-2 rows written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``stepreward paper code-rows ...`` with ``argv`` as its arguments.

    Example:
        >>> main(["code-rows", "--out", "rows.jsonl", "--path", "eurus.jsonl"])  # doctest: +SKIP
        0
    """
    ap = argparse.ArgumentParser(prog="stepreward paper")
    add_arguments(ap)
    return run(ap.parse_args(argv))
