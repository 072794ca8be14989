"""Worst-case parsing time: crafted single lines of 20 KB to 4 MB through every parser.

Run: ``python bench/adversarial.py`` (``--json`` for machine output, ``--quick`` for sizes up
to 320 KB). Each case is a line built to make a backtracking regular expression blow up (long
runs of spaces between two quantifiers, fences that never close, brackets that never close,
strings that never end). It goes through ``score()`` (literal policy, a sample with output,
next-statement and state questions), ``code_reward()``'s extraction, the type-name
normaliser and the next-statement line-number prefix. Linear parsers take about 3x longer
for 3x the input; the growth table compares the two largest sizes (below ~1 ms is noise).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import stepreward as sr
from stepreward.codegen import extract_code
from stepreward.questions._kinds import _LINE_PREFIX
from stepreward.values import normalize_type_name

SOURCE = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"

# name -> a line of about n characters
CASES: dict[str, Callable[[int], str]] = {
    "type name: '<class' + spaces": lambda n: "1; <class" + " " * n + "x",
    "numbering: 'a' + spaces": lambda n: "a" + " " * n + "x",
    "numbering: 'answer #' + spaces": lambda n: "answer" + " " * (n // 2) + "#"
    + " " * (n // 2) + "x",
    "fence: '```' + spaces": lambda n: "```" + " " * n + "x",
    "fences never closed": lambda n: "```python\nx" * (n // 11),
    "brackets never closed": lambda n: "assert f([1]) == " + "[" * n,
    "string never closed": lambda n: "assert f([1]) == '''" + "x'" * (n // 2),
    "escaped quotes": lambda n: "assert f([1]) == '" + "\\'" * (n // 2),
    "line number prefix": lambda n: "1" + " " * n + "|",
    "line number, spaces to the end": lambda n: "1" + " " * n,
    "escaped strings, bracket open": lambda n: "assert f(1) == [" + "'\\'', " * (n // 6),
    "nested parentheses": lambda n: "(" * (n // 2) + ")" * (n // 2),
}


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = [20_000, 80_000, 320_000] if args.quick else [20_000, 80_000, 320_000, 1_280_000,
                                                          3_999_000]
    sample = sr.build_sample(SOURCE, "f([1, 2])", kinds=("output", "next_statement", "state"),
                             max_per_kind=2, seed=0)
    tests = [sr.TestCase.call("f", ([1, 2],), 3)]
    rows = []
    k = len(sample.questions)
    for name, make in CASES.items():
        for n in sizes:
            # The crafted line answers every question; the completion stays within score()'s
            # 4,000,000-character window, so every line is parsed.
            line = make(n // k)
            block = "<answer>\n" + "\n".join([line] * k) + "\n</answer>"
            rows.append({
                "case": name, "chars": len(block),
                "score_s": timed(lambda b=block: sr.score(b, sample)),  # type: ignore[misc]
                "extract_s": timed(lambda b=block: extract_code(b)),  # type: ignore[misc]
                "type_s": timed(  # the type name is what follows the last ';'
                    lambda x=line: normalize_type_name(x.rpartition(";")[2])),  # type: ignore[misc]
                "line_prefix_s": timed(lambda x=line: _LINE_PREFIX.match(x)),  # type: ignore[misc]
            })
    # One whole completion at the cap: every crafted line at once (~360 KB each).
    worst = "<answer>\n" + "\n".join(make(3_900_000 // len(CASES)) for make in CASES.values()) \
        + "\n</answer>"
    totals = {"chars": len(worst), "score_s": timed(lambda: sr.score(worst, sample), 1),
              "code_reward_s": timed(lambda: sr.code_reward(worst, tests), 1)}
    if args.json:
        print(json.dumps({"rows": rows, "worst_completion": totals}, indent=1))
        return
    print(f"{k} questions; each answer line is the crafted one, chars = whole completion\n")
    print(f"{'case':34} {'chars':>9} {'score()':>9} {'extract':>9} {'type':>9} "
          f"{'line no.':>9}")
    for r in rows:
        print(f"{r['case']:34} {r['chars']:>9} {r['score_s'] * 1e3:>7.1f}ms "
              f"{r['extract_s'] * 1e3:>7.1f}ms {r['type_s'] * 1e3:>7.2f}ms "
              f"{r['line_prefix_s'] * 1e3:>7.2f}ms")
    print("\ngrowth between the two largest sizes (linear: about "
          f"{sizes[-1] / sizes[-2]:.1f}x):")
    for name in CASES:
        a, b = [r for r in rows if r["case"] == name][-2:]
        ratio = b["score_s"] / max(a["score_s"], 1e-4)
        print(f"  {name:34} score() x{ratio:.1f}")
    print(f"\nworst-case completion ({totals['chars']:,} chars): score() "
          f"{totals['score_s']:.2f} s, code_reward() {totals['code_reward_s']:.2f} s")


if __name__ == "__main__":
    main()
