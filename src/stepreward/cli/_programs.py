"""The subcommands on one program: ``demo``, ``run``, ``trace``, ``sample`` and ``score``."""

from __future__ import annotations

import argparse
import json
import sys

from stepreward.cli._common import limits_of, read_source, short, table

__all__ = ["DEMO_PROGRAMS", "cmd_demo", "cmd_run", "cmd_sample", "cmd_score", "cmd_trace"]

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
            rows.append((name, r.status, f"{r.duration_s * 1000:.1f} ms", short(shown)))
        print(table(rows, ("program", "status", "time", "output / reason")))
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
    with Sandbox(workers=1, limits=limits_of(args)) as sb:
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


def cmd_trace(args: argparse.Namespace) -> int:
    from stepreward.trace._api import trace

    source = read_source(args.file, "trace")
    if source is None:
        return 2
    t = trace(source, args.call, limits_of(args) if args.timeout else None,
              max_steps=args.max_steps)
    if args.json:
        print(t.model_dump_json(indent=2))
        return 0 if t.status in ("ok", "exception") else 1
    lines = source.splitlines()
    rows = []
    for s in t.steps:
        code = lines[s.line - 1].strip() if s.line <= len(lines) else ""
        changed = ", ".join(f"{n}={short(s.state_after[n].repr, 30)}" for n in s.changed)
        rows.append((str(s.line), str(s.occurrence), "  " * s.depth + short(code, 50),
                     changed))
    if rows:
        print(table(rows, ("line", "#", "code", "changed")))
    tail = [f"status: {t.status}"]
    if t.result is not None:
        tail.append(f"result: {short(t.result.repr, 80)}")
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

    source = read_source(args.file, "sample")
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

    row_text = read_source(args.sample, "score")
    if row_text is None:
        return 2
    try:
        sample = Sample.from_row(row_text)
    except (ValueError, KeyError, TypeError) as exc:
        print(f"stepreward score: {args.sample} is not a sample row: {exc}", file=sys.stderr)
        return 2
    completion = read_source(args.completion, "score")
    if completion is None:
        return 2
    sc = score(completion, sample, preset=args.preset, policy=args.policy,
               float_tol=args.float_tol)
    if args.json:
        print(sc.model_dump_json(indent=2))
        return 0
    rows = []
    for i, (q, v) in enumerate(zip(sample.questions, sc.verdicts, strict=True), 1):
        rows.append((str(i), q.kind, v.status, short(v.reason or "", 60)))
    print(table(rows, ("#", "kind", "verdict", "reason")))
    if sc.parse_error:
        print(f"\nparse error: {sc.parse_error}")
    comps = ", ".join(f"{k}={v:.2f}" for k, v in sc.components.items() if v is not None)
    print(f"\nreward ({sc.preset}, {sc.policy}): {sc.reward:.4f}   [{comps}]")
    return 0
