"""The reasoning-gym dataset stepreward_execverify, through reasoning-gym's own factory."""

from __future__ import annotations

import doctest
import json
import time
from pathlib import Path

import pytest

rg = pytest.importorskip("reasoning_gym")

from reasoning_gym.coaching.base_curriculum import (  # noqa: E402
    DefaultCurriculumContext,
    RangeAttributeMode,
)
from reasoning_gym.factory import (  # noqa: E402
    DATASETS,
    create_curriculum,
    get_score_answer_fn,
    has_curriculum,
)
from reasoning_gym.utils import extract_answer  # noqa: E402

import stepreward.integrations.reasoning_gym as srg  # noqa: E402  (registers the dataset)

NAME = "stepreward_execverify"


def _data(**kw: object) -> srg.ExecVerifyDataset:
    return rg.create_dataset(NAME, **{"seed": 3, "size": 12, **kw})


def test_factory_finds_the_dataset_and_curriculum() -> None:
    assert DATASETS[NAME] == (srg.ExecVerifyDataset, srg.ExecVerifyConfig)
    assert has_curriculum(NAME)
    data = _data(levels=[1, 2], kinds=["output"])
    assert isinstance(data, srg.ExecVerifyDataset) and len(data) == 12
    entry = data[0]
    assert set(entry) == {"question", "answer", "metadata"}
    meta = entry["metadata"]
    assert meta["source_dataset"] == NAME and meta["source_index"] == 0
    assert meta["level"] in (1, 2) and meta["kinds"] == ["output"]
    json.dumps(entry)  # items are plain JSON, as reasoning-gym's pipelines expect
    srg.register()  # a second registration is a no-op, not reasoning-gym's "already registered"


def test_items_are_reproducible_and_item_i_comes_from_seed_plus_i() -> None:
    a, b = _data(), _data()
    forward = [a[i] for i in range(6)]
    backward = [b[i] for i in reversed(range(6))][::-1]
    assert forward == backward  # the same items whatever the order they are read in
    shifted = _data(seed=3 + 4)
    assert shifted[0] == {**a[4], "metadata": {**a[4]["metadata"], "source_index": 0}}
    assert _data(seed=4)[0]["question"] != a[0]["question"]
    assert [e["question"] for e in a] == [e["question"] for e in forward + [a[i] for i in
                                                                           range(6, 12)]]


def test_gold_scores_one_wrong_scores_zero() -> None:
    data = _data(kinds=["output", "input", "next_statement", "state"], size=16)
    seen = set()
    for entry in data:
        seen.update(entry["metadata"]["kinds"])
        gold = entry["answer"]
        assert data.score_answer(gold, entry) == 1.0
        # what a model writes, through reasoning-gym's own answer extraction
        completion = f"<think>step by step</think>\n<answer>\n{gold}\n</answer>"
        assert data.score_answer(extract_answer(completion), entry) == 1.0
        assert data.score_answer(completion, entry) == 1.0
        assert data.score_answer("assert f(0) == 987654321", entry) == 0.0
        assert data.score_answer("", entry) == 0.0
        assert data.score_answer(None, entry) == 0.0  # type: ignore[arg-type]
        # reasoning-gym's default scorer pays a substring of the oracle; this one does not
        assert data.score_answer(f"{gold} or maybe something else entirely", entry) == 0.0
    assert {"output", "input", "next_statement", "state"} <= seen
    assert get_score_answer_fn(NAME)(data[0]["answer"], data[0]) == 1.0


def test_any_input_that_gives_the_output_is_right(tmp_path: Path) -> None:
    entry = srg.make_entry("def f(xs, k):\n    return sorted(xs)[:k]", "f([5, 1, 4], 2)",
                           "input")
    assert "f([5, 1, 4], 2)" not in entry["question"] and "f(??)" in entry["question"]
    score = srg.ExecVerifyDataset(srg.ExecVerifyConfig()).score_answer
    assert entry["answer"] == "assert f([5, 1, 4], 2) == [1, 4]"
    assert score("assert f([4, 1], 2) == [1, 4]", entry) == 1.0    # never seen, runs right
    assert score("f([9, 4, 1, 7], 2)", entry) == 1.0                 # the bare call form
    assert score("assert f([4, 2], 2) == [1, 4]", entry) == 0.0     # runs, returns [2, 4]
    marker = tmp_path / "pwned"
    hostile = [f"assert f(__import__('os').system('touch {marker}'), 2) == [1, 4]",
               "assert f([2, 3], 2) == f([2, 3], 2)",
               "assert f(*[[1, 4]] * 10**9, 2) == [1, 4]",
               "f(" * 5000 + ")" * 5000,
               "[1, 4] " + "x" * 1_000_000]
    start = time.monotonic()
    assert [score(h, entry) for h in hostile] == [0.0] * len(hostile)
    assert time.monotonic() - start < 60
    assert not marker.exists()


def test_generated_input_items_hide_the_call_and_accept_other_arguments() -> None:
    data = _data(kinds=["input"], size=6)
    for entry in data:
        label = json.loads(entry["metadata"]["label"])
        assert entry["metadata"]["kinds"] == ["input"]
        assert label["call"] not in entry["question"]
        assert f"{label['entry']}(??)" in entry["question"]


def test_config_is_validated_with_value_errors() -> None:
    bad = [dict(levels=[0]), dict(levels=[7]), dict(levels="12"), dict(levels=[]),
           dict(kinds=["outputs"]), dict(kinds="output"), dict(kinds=[]), dict(size=0),
           dict(size=1.5), dict(min_level=4, max_level=2), dict(min_level=0),
           dict(max_level=9), dict(levels=[1], min_level=2), dict(max_per_kind=0),
           dict(seed="x"), dict(reward_options=[1])]
    for kw in bad:
        with pytest.raises(ValueError) as info:
            rg.create_dataset(NAME, **kw)
        assert str(info.value), kw
    with pytest.raises(TypeError):
        rg.create_dataset(NAME, level=3)  # not a field: the dataclass says so


def test_index_errors() -> None:
    data = _data(size=3, levels=[1])
    assert data[-1] == data[2]
    with pytest.raises(IndexError):
        data[3]
    with pytest.raises(TypeError):
        data["0"]  # type: ignore[index]
    assert len(list(data)) == 3


def test_curriculum_over_levels() -> None:
    cur = create_curriculum(NAME)
    assert list(cur.attributes) == ["level"]
    assert cur.generate_configuration({"seed": 0}).effective_levels == (1,)
    cur.set_attr_level("level", 3)
    cfg = cur.generate_configuration({"seed": 0, "size": 4})
    assert cfg.effective_levels == (1, 2, 3, 4)
    upper = DefaultCurriculumContext(mode=RangeAttributeMode.UPPER_BOUND)
    assert cur.generate_configuration({"seed": 0}, upper).effective_levels == (4,)
    while cur.increment_attr_level("level"):
        pass
    assert cur.get_attr_level("level") == 5
    last = cur.generate_configuration({"seed": 0, "size": 3, "kinds": ["output"]}, upper)
    data = srg.ExecVerifyDataset(last)
    assert [data[i]["metadata"]["level"] for i in range(3)] == [6, 6, 6]
    with pytest.raises(ValueError):
        cur.set_attr_level("level", 6)


def test_levels_are_drawn_from_the_config() -> None:
    data = _data(levels=[2, 5], size=20, kinds=["output"])
    levels = [e["metadata"]["level"] for e in data]
    assert set(levels) == {2, 5}


def test_doctests() -> None:
    result = doctest.testmod(srg, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
