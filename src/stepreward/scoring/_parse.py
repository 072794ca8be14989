"""Finding the answer block in a completion and splitting it into one answer per question."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["AnswerBlock", "completion_text", "extract_answer_block", "split_answers"]

OPEN, CLOSE = "<answer>", "</answer>"
MAX_LINE = 20_000  # longer answer lines are cut: nothing legitimate is that long
_FENCE = re.compile(r"^\s*(```|~~~)[\w+-]*\s*$")
# "Answer 3:", "A3.", "Q3)", "(3)", "3." / "3:" / "3)" followed by a space, "- ", "* ".
_NUMBERED = re.compile(
    r"^\s*(?:(?:answer|ans|a|question|q)\s*#?\s*(\d+)\s*[:.)\]-]\s*"
    r"|\(?(\d+)\)\s+|(\d+)[.:]\s+|[-*•]\s+)", re.IGNORECASE)


def completion_text(completion: Any) -> str | None:
    """The text of a completion: a string, or the last message of a chat (TRL's format).

    Example:
        >>> completion_text([{"role": "assistant", "content": "hi"}])
        'hi'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        last = completion[-1]
        if isinstance(last, dict) and isinstance(last.get("content"), str):
            return str(last["content"])
    if isinstance(completion, dict) and isinstance(completion.get("content"), str):
        return str(completion["content"])
    return None


class AnswerBlock:
    """The lines of the last answer block, and whether they carried explicit numbers."""

    __slots__ = ("lines", "numbers")

    def __init__(self, lines: list[str], numbers: list[int | None]) -> None:
        self.lines = lines
        self.numbers = numbers


def extract_answer_block(text: str) -> str | None:
    """The text between the last ``<answer>`` and the ``</answer>`` after it, or None.

    Example:
        >>> extract_answer_block("<answer>1</answer> then <answer>\\n2\\n</answer>")
        '\\n2\\n'
    """
    start = text.rfind(OPEN)
    if start < 0:
        return None
    end = text.find(CLOSE, start + len(OPEN))
    if end < 0:
        return None
    return text[start + len(OPEN):end]


def split_answers(block: str) -> AnswerBlock:
    """Normalise an answer block into answer lines.

    Drops blank lines and code fences, turns CRLF into LF, and removes numbering such as
    ``Answer 3:``, ``3.`` or ``(3)`` (remembering the number, to align answers that skip one).

    Example:
        >>> split_answers("```\\nAnswer 1: 5\\n\\n2. yes\\n```").lines
        ['5', 'yes']
    """
    lines: list[str] = []
    numbers: list[int | None] = []
    for raw in block.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line or _FENCE.match(line):
            continue
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE]
        number: int | None = None
        m = _NUMBERED.match(line)
        if m and m.end() < len(line):
            digits = m.group(1) or m.group(2) or m.group(3)
            rest = line[m.end():].strip()
            # "3. -1" is numbered; "-1" alone and "- 1" as a bullet are not confused: a bare
            # bullet is only stripped when something non-numeric follows it.
            if digits is not None or not rest.lstrip("-").isdigit():
                number = int(digits) if digits is not None else None
                line = rest
        lines.append(line)
        numbers.append(number)
    return AnswerBlock(lines, numbers)
