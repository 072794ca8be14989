"""Worst-case parsing time: crafted lines of 320 KB and 4 MB through ``score()`` and
``extract_code()``.

Each case is a line built to make a backtracking regular expression blow up (long runs of
spaces between two quantifiers, fences, brackets and strings that never close). Every answer
line of a completion is the crafted line, so ``score()`` (literal policy; output,
next-statement and state questions) parses each one; ``extract_code()`` is the first step of
``code_reward()``. Items are characters: a linear parser costs the same per character at
both sizes, so "4 MB vs 320 KB" stays near 1x, where a quadratic one would fall to ~0.08x
(12.5x the input). ``tests/scoring/test_scoring.py`` holds the same property in CI by ratio.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import stepreward as sr
from conftest import Measure, Registry
from stepreward.codegen import extract_code

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
SIZES = {"320 KB": 320_000, "4 MB": 3_999_000}
WORST = "adversarial: worst-case completion (every crafted line, 3.9 MB)"


@pytest.fixture(scope="module")
def sample() -> sr.Sample:
    return sr.build_sample(SOURCE, "f([1, 2])", kinds=("output", "next_statement", "state"),
                           max_per_kind=2, seed=0)


def _block(case: str, size: int, k: int) -> str:
    # The crafted line answers every question; the completion stays within score()'s
    # 4,000,000-character window, so every line is parsed.
    line = CASES[case](size // k)
    return "<answer>\n" + "\n".join([line] * k) + "\n</answer>"


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("case", list(CASES))
def test_score(measure: Measure, sample: sr.Sample, case: str, size: str) -> None:
    block = _block(case, SIZES[size], len(sample.questions))
    result = measure(lambda: sr.score(block, sample), group=f"adversarial: {case}",
                     label=f"score() {size}", items=len(block), unit="chars",
                     baseline=None if size == "320 KB" else "score() 320 KB", rounds=3)
    assert 0.0 <= result.reward <= 1.0


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("case", list(CASES))
def test_extract(measure: Measure, sample: sr.Sample, case: str, size: str) -> None:
    block = _block(case, SIZES[size], len(sample.questions))
    measure(lambda: extract_code(block), group=f"adversarial: {case}",
            label=f"extract_code() {size}", items=len(block), unit="chars",
            baseline=None if size == "320 KB" else "extract_code() 320 KB", rounds=3)


def _worst() -> str:
    return "<answer>\n" + "\n".join(make(3_900_000 // len(CASES)) for make in CASES.values()) \
        + "\n</answer>"


def test_worst_score(measure: Measure, sample: sr.Sample) -> None:
    worst = _worst()
    result = measure(lambda: sr.score(worst, sample), group=WORST, label="score()",
                     items=1, unit="completions", rounds=2)
    assert result.reward == 0.0


def test_worst_code_reward(measure: Measure) -> None:
    worst = _worst()
    tests = [sr.TestCase.call("f", ([1, 2],), 3)]
    with sr.Sandbox(workers=1) as sb:
        result = measure(lambda: sr.code_reward(worst, tests, sandbox=sb), group=WORST,
                         label="code_reward()", items=1, unit="completions", rounds=2)
    assert result.reward == 0.0


def test_targets(ratios: Registry) -> None:
    # Every parser linear: at 12.5x the input, the cost per character may grow at
    # most 3x (a quadratic parser would cost 12.5x per character).
    for case in CASES:
        for fn in ("score()", "extract_code()"):
            ratios.check(f"adversarial: {case}", f"{fn} 4 MB", f"{fn} 320 KB", at_least=1 / 3,
                         why="linear parsing")
