"""Finding the code in a completion: the last fenced block, of the answer block or anywhere."""

from __future__ import annotations

import re
from typing import Literal

from stepreward.scoring._parse import extract_answer_block

__all__ = ["MAX_EXTRACT_CHARS", "ExtractMode", "extract_code"]

ExtractMode = Literal["answer_block", "last_block", "raw"]
# The rest of an opening fence's line: "```", spaces, an optional language, spaces, newline.
# Linear: the language must start with a letter, so the two space runs cannot trade characters.
_FENCE_OPEN = re.compile(r"[ \t]*(?:(?:python3|python|py)[ \t]*)?\n", re.IGNORECASE)
MAX_EXTRACT_CHARS = 4_000_000  # characters of a completion searched for code (its end)


def extract_code(completion: str, mode: ExtractMode = "answer_block") -> str | None:
    """The code in a completion, or None.

    ``answer_block``: the last fenced block inside the last ``<answer>...</answer>`` (or in
    the whole text when there is no answer block); ``last_block``: the last fenced block
    anywhere; ``raw``: the answer block's text, or the whole completion.

    Example:
        >>> extract_code("<answer>\\n```python\\ndef f():\\n    return 1\\n```\\n</answer>")
        'def f():\\n    return 1\\n'
    """
    if not isinstance(completion, str):
        return None
    if len(completion) > MAX_EXTRACT_CHARS:
        completion = completion[-MAX_EXTRACT_CHARS:]
    answer = extract_answer_block(completion)
    if mode == "raw":
        text = answer if answer is not None else completion
        return text if text.strip() else None
    scope = answer if (mode == "answer_block" and answer is not None) else completion
    code = _last_fenced_block(scope)
    return code if code is not None and code.strip() else None


def _last_fenced_block(text: str) -> str | None:
    """The code of the last fenced block (``` or ```python ... ```), scanning left to right
    as ``re.findall`` would, in linear time: a closing fence is searched once per block, and
    when an opening fence has none after it, no later one can have one either."""
    last = None
    pos = 0
    while True:
        start = text.find("```", pos)
        if start < 0:
            return last
        header = _FENCE_OPEN.match(text, start + 3)
        if header is None:
            pos = start + 1
            continue
        end = text.find("```", header.end())
        if end < 0:
            return last
        last = text[header.end():end]
        pos = end + 3

