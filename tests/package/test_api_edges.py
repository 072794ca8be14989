"""API edges a new user hits: misuse is a ValueError naming the problem, one form for parsed."""

from __future__ import annotations

import pytest

import stepreward as sr

SRC = "def f(x):\n    y = [x, 2]\n    return y\n"


@pytest.fixture(scope="module")
def sample() -> sr.Sample:
    return sr.build_sample(SRC, "f(1)", kinds=("output", "state"), seed=0)


@pytest.mark.parametrize(("row", "needle"), [
    ({"foo": 1}, "missing 'id', 'prompt', 'source', 'call', 'questions'"),
    ({"id": "x", "prompt": "p", "source": "", "call": "f()"}, "missing 'questions'"),
    ({"id": "x", "prompt": "p", "source": "", "call": "f()", "questions": 3}, "must be a list"),
])
def test_score_on_a_bad_row_is_a_value_error(row: dict[str, object], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        sr.score("x", row)


def test_score_on_a_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Sample, a Trace, a row dict"):
        sr.score("x", 42)  # type: ignore[arg-type]


ANSWERS = [
    ("assert f(1) == [1, 2]", "correct"),
    ("assert f(1) == [1, 3]", "wrong"),
    ("[1, 2]", "correct"),
    ("assert f(1) == [\n    1,\n    2\n]", "correct"),
    ("assert f(1) or True", "unparseable"),
    ("assert f(1) == f(1)", "unparseable"),
]


@pytest.mark.parametrize(("answer", "status"), ANSWERS)
@pytest.mark.parametrize("policy", ["literal", "execute"])
def test_parsed_is_the_answer_text_whatever_the_status(sample: sr.Sample, answer: str,
                                                       status: str, policy: str) -> None:
    state = sample.gold_answers()[1]
    completion = f"<answer>\n{answer}\n{state}\n</answer>"
    sc = sr.score(completion, sample, policy=policy)  # type: ignore[arg-type]
    out, st = sc.verdicts
    assert out.status == status, out
    assert out.parsed == answer
    assert st.parsed == state and st.status == "correct"
    missing = sr.score(f"<answer>\n{answer}\n</answer>", sample).verdicts[1]
    assert missing.status == "missing" and missing.parsed is None


def test_or_true_gets_a_reason_that_says_what_is_wrong(sample: sr.Sample) -> None:
    v = sr.score(sample.answer_text(["assert f(1) or True", "x"]), sample).verdicts[0]
    assert v.reason is not None and "`or` expression" in v.reason
    assert "assert f(1) == VALUE" in v.reason
    v = sr.score(sample.answer_text(["assert f(1) == f(1)", "x"]), sample).verdicts[0]
    assert v.reason == "the expected value must be a literal, not a call"


def test_sample_rows_takes_sample_objects(sample: sr.Sample) -> None:
    from stepreward.integrations.trl import ExecutionReward, sample_rows

    rows = sample_rows([sample])
    assert rows == sample_rows([sample.to_row()])
    reward = ExecutionReward()
    got = reward(prompts=[rows[0]["prompt"]], completions=[sample.gold_completion()],
                 sample=[rows[0]["sample"]])
    assert got == [1.0]
    with pytest.raises(TypeError, match="Sample objects or row dicts"):
        sample_rows(["not a row"])  # type: ignore[list-item]


def test_code_reward_takes_assertion_code_like_run_tests() -> None:
    code = "def median(x):\n    return sorted(x)[len(x) // 2]\n"
    completion = f"<answer>\n```python\n{code}```\n</answer>"
    asserts = "assert median([1, 2, 3]) == 2\nassert median([5, 1, 3]) == 3\n"
    assert sr.run_tests(code, asserts).pass_rate == 1.0
    assert sr.code_reward(completion, asserts).reward == 1.0
    assert sr.code_reward(completion, "assert median([1, 2, 3]) == 3").reward == 0.0
    assert sr.code_reward(completion, "").reward is None
    with pytest.raises(TypeError, match="assertion code as a string"):
        sr.code_reward(completion, ["assert median([1]) == 1"])  # type: ignore[list-item]
