"""The execute policy agrees with the official CRUXEval grader on all 800 problems.

The official rule (facebookresearch/cruxeval, evaluation/utils_general.py): an output
answer containing ``f(<input>)`` is wrong, an input answer without ``f(`` is wrong, otherwise
``<code>\\nassert <output> == <answer>`` must run without error (3 s limit). It is replayed
here in the sandbox, next to ``score(..., policy="execute")`` on the same answers.
"""

from __future__ import annotations

import json
import pprint
from pathlib import Path

import pytest

import stepreward as sr
from stepreward.questions import build_samples
from stepreward.values import parse_value


def official(sb: sr.Sandbox, row: dict[str, str], mode: str, g: str) -> bool:
    if mode == "input" and "f(" not in g:
        return False
    if mode == "output" and f"f({row['input']})" in g:
        return False
    code = f"{row['code']}\nassert {row['output']} == {g}"
    return sb.run(code, limits=sr.Limits(timeout_s=3)).status == "ok"


def perturb_output(o: str) -> list[str]:
    value = parse_value(o)
    out = [o, f"({o})", f"[{o}]", repr(str(value)) if not isinstance(value, str) else "None"]
    if isinstance(value, bool):
        out.append(repr(not value))
    elif isinstance(value, int):
        out += [repr(value + 1), f"{value} + 0", repr(float(value))]
    elif isinstance(value, str):
        out += [repr(value + "x"), repr(value.upper()), f"{o} + ''"]
    elif isinstance(value, list):
        out += [repr(value[::-1]), f"{o} + []", repr(tuple(value))]
    elif isinstance(value, tuple):
        out += [repr(list(value))]
    elif isinstance(value, dict):
        out += ["{}", repr(list(value.items()))]
    pretty = pprint.pformat(value, width=16)  # spread over lines, as models pretty-print
    if "\n" in pretty:
        out.append(pretty)
    return out


def completion(answer: str) -> str:
    """A one-answer completion; the answer may span lines."""
    return f"<answer>\n{answer}\n</answer>"


@pytest.fixture(scope="module")
def rows(shared_data: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in
            (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()]


def test_output_prediction_agreement(rows: list[dict[str, str]], sandbox: sr.Sandbox) -> None:
    samples = build_samples([(r["code"], f"f({r['input']})") for r in rows],
                            kinds=("output",), sandbox=sandbox)
    completions, targets, expected = [], [], []
    for row, s in zip(rows, samples, strict=True):
        assert s is not None and s.questions and s.questions[0].kind == "output"
        for g in [*perturb_output(row["output"]), f"f({row['input']})"]:
            completions.append(completion(f"assert f({row['input']}) == {g}"))
            targets.append(s)
            expected.append(official(sandbox, row, "output", g))
    scores = sr.score_many(completions, targets, policy="execute", sandbox=sandbox)
    disagree = [(t.id, c, e) for t, c, e, sc in zip(targets, completions, expected, scores,
                                                     strict=True)
                if (sc.reward == 1.0) != e]
    assert disagree == []
    assert sum(expected) >= len(rows)  # at least every gold answer is right


def test_input_prediction_agreement(rows: list[dict[str, str]], sandbox: sr.Sandbox) -> None:
    samples = build_samples([(r["code"], f"f({r['input']})") for r in rows],
                            kinds=("input",), sandbox=sandbox)
    completions, targets, expected = [], [], []
    asked = 0
    for i, (row, s) in enumerate(zip(rows, samples, strict=True)):
        if s is None:  # no input question: an input that is not a literal, e.g.
            assert parse_args_fails(row["input"])  # ''.join(['A'] * 20)
            continue
        asked += 1
        # The gold input (also spread over lines), and the inputs of two other problems
        # (sometimes right by chance).
        for g in (f"f({row['input']})", f"f(\n    {row['input']}\n)",
                  f"f({rows[(i + 1) % len(rows)]['input']})",
                  f"f({rows[(i + 7) % len(rows)]['input']})"):
            completions.append(completion(f"assert {g} == {row['output']}"))
            targets.append(s)
            expected.append(official(sandbox, row, "input", g))
    scores = sr.score_many(completions, targets, policy="execute", sandbox=sandbox)
    disagree = [(t.id, c, e) for t, c, e, sc in zip(targets, completions, expected, scores,
                                                     strict=True)
                if (sc.reward == 1.0) != e]
    assert disagree == []
    assert asked >= 780 and sum(expected) >= 2 * asked


def parse_args_fails(args: str) -> bool:
    try:
        parse_value(f"({args},)")
    except ValueError:
        return True
    return False


@pytest.mark.slow
def test_official_input_generations_replay_to_the_official_pass1(shared_data: Path,
                                                                   tmp_path: Path) -> None:
    """CRUXEval's published CodeLlama-7B input generations (10 per problem), replayed through
    ``stepreward eval --bench cruxeval-i``: the same verdict as the official scored file for
    every sample, and its pass@1. Needs a clone of facebookresearch/cruxeval in
    ``CRUXEVAL_REPO`` (its ``samples/`` folder, unzipped as the repository holds it)."""
    import os

    from stepreward.eval import run_eval

    repo = os.environ.get("CRUXEVAL_REPO")
    if not repo:
        pytest.skip("set CRUXEVAL_REPO to a clone of facebookresearch/cruxeval")
    name = "codellama-7b_temp0.2_input"
    gens = json.loads((Path(repo) / "samples" / "model_generations" / f"sample_{name}" /
                       "generations.json").read_text())
    official = json.loads((Path(repo) / "samples" / "evaluation_results" /
                           f"sample_scored_{name}.json").read_text())
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps({"id": k, "completion": f"<answer>\n{g}\n</answer>"})
                              + "\n" for k, gs in gens.items() for g in gs))
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    r = run_eval("cruxeval-i", tmp_path / "out", replay=replay, data=str(data))
    ours: dict[str, list[bool]] = {}
    for line in (tmp_path / "out" / "completions.jsonl").read_text().splitlines():
        row = json.loads(line)
        ours.setdefault(row["id"], []).append(bool(row["correct"]))
    scored = official["raw_scored_generations"]
    assert {k: v for k, v in ours.items() if v != scored[k]} == {}
    # Every problem is asked, sample_258 too (its input reads a global of the program).
    assert set(ours) == set(gens)
    assert r["pass@1"] == pytest.approx(official["pass_at_1"], abs=1e-9)
