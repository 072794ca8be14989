"""build_sample refuses samples that would be no use, and says why."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import stepreward as sr
from stepreward.questions import build_samples, sample_from_trace

RAISES = "def f(x):\n    y = [1, 2]\n    return y[x]\n"
RANDOM = "import random\ndef f():\n    return random.random()\n"
SEEDED = "import random\ndef f():\n    random.seed(3)\n    return random.random()\n"
ENDLESS = "def f():\n    i = 0\n    while True:\n        i += 1\n"
PRINTS = "import time\ndef f(x):\n    print(time.time())\n    return x + 1\n"
GOOD = "def f(x):\n    y = x * 2\n    return y + 1\n"


@pytest.mark.parametrize(("source", "call", "needle"), [
    (GOOD, "g(1)", "before any line of the program ran"),
    (RAISES, "f(5)", "raised IndexError"),
    (RANDOM, "f()", "not deterministic"),
    (ENDLESS, "f()", "did not finish"),
    ("def f(x):\n    return object()\n", "f(1)", "no question of the kinds output"),
    ("def f(:\n", "f()", "cannot build a sample"),
    ("def f():\n    while True:\n        pass\n", "f()", "did not finish"),
])
def test_useless_samples_raise_with_a_reason(source: str, call: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        sr.build_sample(source, call, kinds=("output",) if "object" in source else
                        ("output", "next_statement", "state"))


def test_keep_asks_only_about_the_steps_that_ran() -> None:
    s = sr.build_sample(RAISES, "f(5)", on_incomplete="keep")
    assert s.questions
    assert all(q.kind != "output" for q in s.questions)
    assert sr.score(s.gold_completion(), s).reward == 1.0
    t = sr.trace(ENDLESS, "f()")
    assert t.truncated
    s = sample_from_trace(t, ("next_statement", "state"), on_incomplete="keep")
    assert s.questions and all(q.kind != "output" for q in s.questions)
    # The last traced step has no known successor, so it is never asked about.
    last = t.steps[-1]
    assert all((q.line, q.occurrence) != (last.line, last.occurrence) for q in s.questions
               if q.kind == "next_statement")


def test_an_unknown_function_is_refused_even_with_keep() -> None:
    with pytest.raises(ValueError, match="check that the call names a function"):
        sr.build_sample(GOOD, "g(1)", on_incomplete="keep")


def test_determinism_check_accepts_seeded_chance_and_unseen_prints() -> None:
    assert sr.build_sample(SEEDED, "f()", kinds=("output",)).questions
    # Only the printed text differs between runs: no gold answer depends on it.
    assert sr.build_sample(PRINTS, "f(1)", kinds=("output",)).questions
    s = sr.build_sample(RANDOM, "f()", kinds=("output",), determinism="skip")
    assert s.questions[0].kind == "output"


def test_bad_modes_are_value_errors() -> None:
    with pytest.raises(ValueError, match="determinism"):
        sr.build_sample(GOOD, "f(1)", determinism="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_incomplete"):
        sr.build_sample(GOOD, "f(1)", on_incomplete="ignore")  # type: ignore[arg-type]


def test_build_samples_gives_none_for_each_useless_item() -> None:
    out = build_samples([(GOOD, "f(1)"), (RANDOM, "f()"), (RAISES, "f(5)"), (GOOD, "g(1)")])
    assert [s is None for s in out] == [False, True, True, True]
    kept = build_samples([(RAISES, "f(5)")], on_incomplete="keep", determinism="skip")
    assert kept[0] is not None and kept[0].questions


def _cli(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stepreward.cli", "sample", "-", *args],
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_cli_follows_the_same_rules() -> None:
    r = _cli("--call", "g(1)", stdin=GOOD)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "before any line of the program ran" in r.stderr
    r = _cli("--call", "f()", stdin=RANDOM)
    assert r.returncode == 1 and "not deterministic" in r.stderr
    r = _cli("--call", "f(5)", "--on-incomplete", "keep", "--json", stdin=RAISES)
    assert r.returncode == 0, r.stderr
    assert all(q["kind"] != "output" for q in json.loads(json.loads(r.stdout)["questions"]))
