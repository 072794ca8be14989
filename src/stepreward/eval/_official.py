"""CRUXEval's own prompt format and answer extraction, for numbers comparable with its leaderboard.

The prompts are the benchmark's direct (no chain of thought) prompts with the two few-shot
examples each that CRUXEval ships (facebookresearch/cruxeval, ``prompts.py``; MIT licence,
Copyright (c) 2023 Meta). They are reproduced as benchmark data: a paraphrase would measure
another prompt. The model completes an assertion between ``[ANSWER]`` and ``[/ANSWER]``;
generation stops at ``[/ANSWER]``; the answer is read as CRUXEval reads it and graded by
execution, as everywhere else in this library.
"""

from __future__ import annotations

__all__ = ["OFFICIAL_BENCHES", "OFFICIAL_STOP", "official_answer", "official_prompt",
           "one_expression"]

OFFICIAL_BENCHES = ("cruxeval-o", "cruxeval-i")
OFFICIAL_STOP = "[/ANSWER]"

_OUTPUT = (
    "You are given a Python function and an assertion containing an input to the function. "
    "Complete the assertion with a literal (no unsimplified expressions, no function calls) "
    "containing the output when executing the provided code on the given input, even if the "
    "function is incorrect or incomplete. Do NOT output any extra information. Provide the "
    "full assertion with the correct output in [ANSWER] and [/ANSWER] tags, following the "
    "examples.\n\n"
    "[PYTHON]\ndef f(n):\n    return n\nassert f(17) == ??\n[/PYTHON]\n"
    "[ANSWER]\nassert f(17) == 17\n[/ANSWER]\n\n"
    "[PYTHON]\ndef f(s):\n    return s + \"a\"\nassert f(\"x9j\") == ??\n[/PYTHON]\n"
    "[ANSWER]\nassert f(\"x9j\") == \"x9ja\"\n[/ANSWER]\n\n"
    "[PYTHON]\n{code}\nassert f({input}) == ??\n[/PYTHON]\n[ANSWER]\n")

_INPUT = (
    "You will be given a function f and an output in the form f(??) == output. Find any input "
    "such that executing f on the input leads to the given output. There may be multiple "
    "answers, but you should only output one. In [ANSWER] and [/ANSWER] tags, complete the "
    "assertion with one such input that will produce the output when executing the "
    "function.\n\n"
    "[PYTHON]\ndef f(my_list):\n    count = 0\n    for i in my_list:\n"
    "        if len(i) % 2 == 0:\n            count += 1\n    return count\n"
    "assert f(??) == 3\n[/PYTHON]\n"
    "[ANSWER]\nassert f([\"mq\", \"px\", \"zy\"]) == 3\n[/ANSWER]\n\n"
    "[PYTHON]\ndef f(s1, s2):\n    return s1 + s2\nassert f(??) == \"banana\"\n[/PYTHON]\n"
    "[ANSWER]\nassert f(\"ba\", \"nana\") == \"banana\"\n[/ANSWER]\n\n"
    "[PYTHON]\n{code}\nassert f(??) == {output}\n[/PYTHON]\n[ANSWER]\n")


def official_prompt(bench: str, code: str, input: str, output: str) -> str:
    """CRUXEval's direct prompt for one item of ``cruxeval-o`` or ``cruxeval-i``. The input
    prompt shows the output only.

    Example:
        >>> official_prompt("cruxeval-o", "def f(x):\\n    return x", "1", "1").splitlines()[-3]
        'assert f(1) == ??'
    """
    if bench == "cruxeval-o":
        return _OUTPUT.replace("{code}", code).replace("{input}", input)
    if bench == "cruxeval-i":
        return _INPUT.replace("{code}", code).replace("{output}", output)
    raise ValueError(f"the official prompt format exists for {', '.join(OFFICIAL_BENCHES)} "
                     f"only, not {bench!r}")


def official_answer(bench: str, completion: str) -> str:
    """The answer CRUXEval reads from a direct-prompt completion: the text before
    ``[/ANSWER]``; for output prediction the part after ``==``, for input prediction the
    call before ``==`` without ``assert``.

    Example:
        >>> official_answer("cruxeval-o", "assert f(1) == [1, 2]\\n[/ANSWER]")
        '[1, 2]'
        >>> official_answer("cruxeval-i", "assert f(3, 'a') == 4\\n[/ANSWER]")
        "f(3, 'a')"
    """
    text = completion.split(OFFICIAL_STOP, maxsplit=1)[0]
    if "[ANSWER]" in text:
        text = text.split("[ANSWER]")[1]
    if bench == "cruxeval-o":
        if "==" in text:
            text = text.split("==")[1]
        return text.strip()
    if "==" in text:
        text = text.split("==")[0]
    if "assert" in text:
        text = text.split("assert")[1]
    return text.strip()


def one_expression(text: str) -> bool:
    """Whether ``text`` is one Python expression (what CRUXEval's check can run), read
    without evaluating it; very long or deeply nested text counts as not.

    Example:
        >>> one_expression("[1,\n 2]"), one_expression("17\ndef f(s):")
        (True, False)
    """
    import ast

    if not text.strip() or len(text) > 100_000:
        return False
    try:
        ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True
