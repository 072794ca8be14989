"""Tasks for registries: one sample per seed (synthesize_one, generate_task), synth rows."""

from __future__ import annotations

import doctest
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import stepreward.integrations.tasks as tasks_module
from stepreward.integrations.tasks import (
    check_kinds,
    check_levels,
    generate_task,
    read_sample_rows,
    task_prompt,
)
from stepreward.questions import build_sample
from stepreward.rewards import reward_for
from stepreward.synth import synthesize_one


def test_generate_task_is_byte_identical_and_each_seed_stands_alone() -> None:
    one = generate_task(40, [3], ["state", "output"], max_per_kind=2)
    two = generate_task(40, [3], ["state", "output"], max_per_kind=2)
    assert one.sample.to_row() == two.sample.to_row()
    item = synthesize_one(random.Random(40), [3])
    assert item.call == one.sample.call and item.source == one.sample.source
    mixed = [generate_task(s, [1, 2], ["output", "input", "state"], mixed=True,
                           input_share=0.5) for s in range(12)]
    assert {t.kinds for t in mixed} == {("input",), ("output", "state")}
    for t in mixed:
        assert (t.sample.call in t.sample.prompt) == (t.kinds != ("input",))
        assert task_prompt(t.sample) == t.sample.prompt
    with pytest.raises(ValueError):
        generate_task(0, [1], ["output"], max_per_kind=0)
    with pytest.raises(ValueError):
        synthesize_one(random.Random(0), [9])


def test_a_task_is_the_same_in_another_process() -> None:
    code = ("import json; from stepreward.integrations.tasks import generate_task; "
            "print(json.dumps(generate_task(7, [2, 4], ['output', 'input', 'state'])"
            ".sample.to_row(), sort_keys=True))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    here = generate_task(7, [2, 4], ["output", "input", "state"]).sample.to_row()
    assert out == json.dumps(here, sort_keys=True)


def test_generated_gold_answers_earn_full_reward() -> None:
    for seed in range(10):
        task = generate_task(seed, kinds=["output", "input", "next_statement", "state"])
        sample = task.sample
        assert task.level in range(1, 7) and task.kinds[0] in sample.kinds
        gold = sample.answer_text(sample.gold_answers())
        result = reward_for(gold, sample.to_row())
        assert result.correct and result.score == 1.0, result.reason
        assert reward_for(sample.answer_text(["0"] * len(sample.questions)),
                          sample.to_row()).score < 1.0


def test_task_prompt_hides_only_input_calls() -> None:
    src = "def f(x, y):\n    return x * y"
    out = build_sample(src, "f(3, 4)", kinds=["output"])
    inp = build_sample(src, "f(3, 4)", kinds=["input"])
    assert task_prompt(out) == out.prompt and "Call: f(3, 4)" in out.prompt
    assert "f(3, 4)" not in inp.prompt and task_prompt(inp) == inp.prompt
    # A sample stored before input prompts hid the call still gets a prompt without it.
    old = inp.model_copy(update={"prompt": inp.prompt.replace("f(??)", "f(3, 4)")})
    assert "Call: f(3, 4)" in old.prompt
    hidden = task_prompt(old)
    assert "f(3, 4)" not in hidden and "Call: f(??)" in hidden
    assert inp.questions[0].text in hidden


def _write_rows(folder: Path) -> list[dict[str, object]]:
    rows = []
    for level, (src, call, kind) in enumerate([
            ("def f(x):\n    return x + 1", "f(1)", "output"),
            ("def f(x):\n    return [x] * 2", "f('a')", "input"),
            ("def f(x):\n    y = x * 2\n    return y", "f(5)", "state")], start=1):
        sample = build_sample(src, call, kinds=[kind])
        rows.append({**sample.to_row(), "level": level,
                     "label": json.dumps(sample.to_row())})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    return rows


def test_read_sample_rows(tmp_path: Path) -> None:
    rows = _write_rows(tmp_path / "synth")
    assert read_sample_rows(tmp_path / "synth") == rows
    assert read_sample_rows(tmp_path / "synth" / "train.jsonl", levels=[2, 3]) == rows[1:]
    with pytest.raises(ValueError, match=r"no validation\.jsonl"):
        read_sample_rows(tmp_path / "synth", split="validation")
    with pytest.raises(ValueError, match="does not exist"):
        read_sample_rows(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="no stage-1 sample rows of levels"):
        read_sample_rows(tmp_path / "synth", levels=[6])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"questions": []}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: a row is a JSON object"):
        read_sample_rows(bad)
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: not a JSON line"):
        read_sample_rows(bad)
    code = tmp_path / "code.jsonl"
    code.write_text(json.dumps({"task_id": "t", "prompt": "p", "tests": []}) + "\n")
    with pytest.raises(ValueError, match="holds no stage-1 sample rows"):
        read_sample_rows(code)


def test_checks_say_what_is_wrong() -> None:
    assert check_levels({4, 2}) == (2, 4)
    for bad in ([], [0], [True], "12", None, [1, 7]):
        with pytest.raises(ValueError, match="levels"):
            check_levels(bad)
    for bad in ([], ["outputs"], "output", None):
        with pytest.raises(ValueError, match="kinds"):
            check_kinds(bad)
    with pytest.raises(ValueError, match="input_share"):
        generate_task(0, input_share=1.5)


def test_doctests() -> None:
    result = doctest.testmod(tasks_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
