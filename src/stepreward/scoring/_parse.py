"""Finding the answer block in a completion and splitting it into one answer per question."""

from __future__ import annotations

import re
from typing import Any

from stepreward.types import ANSWER_CLOSE, ANSWER_OPEN

__all__ = ["AnswerBlock", "completion_text", "extract_answer_block", "extract_lenient_block",
           "missing_block_reason", "split_answers"]

MAX_LINE = 20_000  # longer answer lines are cut: nothing legitimate is that long
MAX_GROUP = 100_000  # characters of a multi-line answer (parse_value reads no more)
MAX_GROUP_LINES = 2_000
# Every pattern here is linear in its input: no two adjacent quantifiers can match the same
# characters, so a failed match backtracks over each character a bounded number of times.
_FENCE = re.compile(r"^\s*(```|~~~)[\w+-]*\s*$")
# "Answer 3:", "A3.", "Q3)", "(3)", "3." / "3:" / "3)" followed by a space, "- ", "* ".
_NUMBERED = re.compile(
    r"^\s*(?:(?:answer|ans|a|question|q)\s*(?:#\s*)?(\d+)\s*[:.)\]-]\s*"
    r"|\(?(\d+)\)\s+|(\d+)[.:]\s+|[-*•]\s+)", re.IGNORECASE)
# What can open a string or end the code of a line; brackets in between are counted.
_SPECIAL = re.compile(r'[#\\]|\'\'\'|"""|[\'"]')
_STRING_END = {
    "'": re.compile(r"(?:[^'\\]|\\.)*'", re.DOTALL),
    '"': re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL),
    "'''": re.compile(r"(?:[^'\\]|\\.|'(?!''))*'''", re.DOTALL),
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*"""', re.DOTALL),
}
_OPENERS, _CLOSERS = "([{", ")]}"
# Linear: a failed start scans to the end of the line only once per quote kind.
_SIMPLE_STRINGS = re.compile("'[^']*'|\"[^\"]*\"")


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


class _Scanner:
    """Tracks open brackets and strings across lines, as Python's tokenizer would.

    Linear: each character is looked at a bounded number of times (the patterns jump between
    the characters that matter). ``broken`` means the text cannot be the start of a valid
    multi-line expression (a bracket closed that was never opened, a plain string left open).
    """

    __slots__ = ("broken", "continued", "depth", "string")

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the quote of the string open at the end of a line
        self.continued = False  # a backslash continues the line
        self.broken = False

    @property
    def open(self) -> bool:
        return not self.broken and (self.depth > 0 or self.string is not None or self.continued)

    def feed(self, line: str) -> None:
        self.continued = False
        pos = 0
        if self.string is not None:
            pos = self._close_string(line, 0)
            if pos < 0:
                return
        if "\\" not in line and "'''" not in line and '"""' not in line:
            # The usual case, at C speed: drop plain strings, cut the comment, count.
            plain = _SIMPLE_STRINGS.sub("", line[pos:])
            if "'" not in plain and '"' not in plain:
                self._brackets(plain.partition("#")[0])
                return
        while True:
            m = _SPECIAL.search(line, pos)
            self._brackets(line[pos:m.start()] if m else line[pos:])
            if m is None or self.broken:
                return
            tok = m.group()
            pos = m.end()
            if tok == "#":
                return
            if tok == "\\":
                if line[pos:].strip():
                    self.broken = True
                else:
                    self.continued = True
                return
            self.string = tok
            pos = self._close_string(line, pos)
            if pos < 0:
                return

    def _brackets(self, code: str) -> None:
        # Counting, not walking: a closer before its opener within one stretch of code is
        # not noticed here, and the joined text must still parse (see _group_parses).
        self.depth += sum(map(code.count, _OPENERS)) - sum(map(code.count, _CLOSERS))
        if self.depth < 0:
            self.broken = True

    def _close_string(self, line: str, pos: int) -> int:
        quote = self.string
        assert quote is not None
        m = _STRING_END[quote].match(line, pos)
        if m is not None:
            self.string = None
            return m.end()
        if len(quote) == 1 and not line.endswith("\\"):
            self.broken = True  # a one-quote string ends at the end of its line
        return -1


def _may_open(line: str) -> bool:
    """False when ``line`` surely leaves nothing open (the usual case, decided at C speed)."""
    if "\\" in line or "'''" in line or '"""' in line:
        return True
    if "'" in line or '"' in line:
        # Without backslashes and triple quotes a string is a quote, no such quote, a quote.
        line = _SIMPLE_STRINGS.sub("", line)
        if "'" in line or '"' in line:
            return True
    return "#" in line or sum(map(line.count, _OPENERS)) > sum(map(line.count, _CLOSERS))


class AnswerBlock:
    """The lines of the last answer block, and whether they carried explicit numbers.

    ``lines`` are stripped and without numbering, ``raw`` the same lines as written (for
    the continuation lines of a multi-line answer, whose text must not lose a leading
    ``1:`` of a pretty-printed dict).
    """

    __slots__ = ("lines", "numbers", "raw")

    def __init__(self, lines: list[str], numbers: list[int | None],
                 raw: list[str] | None = None) -> None:
        self.lines = lines
        self.numbers = numbers
        self.raw = raw if raw is not None else list(lines)

    def answer(self, i: int, multiline: bool = True) -> tuple[str, int]:
        """The answer that starts at line ``i``, and the index of the line after it.

        With ``multiline``, a line that leaves a bracket, brace, parenthesis or string open
        continues over the following lines until it is closed, so a pretty-printed value
        or an ``assert f(x) == [`` spread over several lines is one answer. A group that is
        never closed within the block (or within ``MAX_GROUP`` characters) is not one: the
        line stands alone, so a continuation never swallows the next answers.

        Example:
            >>> b = split_answers("assert f(1) == [\\n    1,\\n    2,\\n]\\nyes")
            >>> b.answer(0), b.answer(4)
            (('assert f(1) == [\\n    1,\\n    2,\\n]', 4), ('yes', 5))
        """
        line = self.lines[i]
        if not multiline or i + 1 >= len(self.raw):
            return line, i + 1
        if not _may_open(line):
            return line, i + 1
        scan = _Scanner()
        scan.feed(line)
        if not scan.open:
            return line, i + 1
        size = len(line)
        end = min(len(self.raw), i + MAX_GROUP_LINES)
        for j in range(i + 1, end):
            size += len(self.raw[j]) + 1
            if size > MAX_GROUP:
                break
            scan.feed(self.raw[j])
            if scan.broken:
                break
            if not scan.open:
                return "\n".join([line, *self.raw[i + 1:j + 1]]), j + 1
        return line, i + 1

    def whole(self) -> str | None:
        """Every line of the block as one answer (None when longer than ``MAX_GROUP``)."""
        if not self.lines:
            return None
        size = sum(len(r) + 1 for r in self.raw)
        if size > MAX_GROUP:
            return None
        return "\n".join([self.lines[0], *self.raw[1:]])


def extract_answer_block(text: str) -> str | None:
    """The text between the last ``<answer>`` and the ``</answer>`` after it, or None.

    The one reading of the answer block: scoring, the stage-2 rewards and the evaluation all
    find it here.

    Example:
        >>> extract_answer_block("<answer>1</answer> then <answer>\\n2\\n</answer>")
        '\\n2\\n'
    """
    start = text.rfind(ANSWER_OPEN)
    if start < 0:
        return None
    end = text.find(ANSWER_CLOSE, start + len(ANSWER_OPEN))
    if end < 0:
        return None
    return text[start + len(ANSWER_OPEN):end]


def missing_block_reason(text: str) -> str:
    """Why :func:`extract_answer_block` found no block in ``text``.

    Example:
        >>> missing_block_reason("<answer>\\n1")
        'the last <answer> block is not closed'
    """
    if ANSWER_OPEN not in text:
        return f"no {ANSWER_OPEN} block"
    return f"the last {ANSWER_OPEN} block is not closed"


_FENCED = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
MAX_OPEN_BLOCK = 20_000  # characters read after an <answer> left open


def extract_lenient_block(text: str) -> str | None:
    """Where a lenient reader finds the answers when no closed ``<answer>`` block exists: an
    ``<answer>`` left open at the end of the text (what follows it, at most 20,000
    characters), or else the content of the last fenced block; None when neither exists.

    Only one region is ever read, as in the strict case: a completion that lists several
    candidates in several blocks is graded on the last one alone.

    Example:
        >>> extract_lenient_block("the result is\\n<answer>\\n[1, 2]")
        '\\n[1, 2]'
        >>> extract_lenient_block("so\\n```python\\n3\\n```\\nthat is it")
        '3\\n'
    """
    start = text.rfind(ANSWER_OPEN)
    if start >= 0:
        return text[start + len(ANSWER_OPEN):][:MAX_OPEN_BLOCK]
    last = None
    for m in _FENCED.finditer(text):
        last = m
    return last.group(2) if last else None


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
    raws: list[str] = []
    for raw in block.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line or _FENCE.match(line):
            continue
        raws.append(raw.rstrip())
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
                # No question has a number of ten digits (and int() refuses 4,300 of them):
                # such a label is dropped like any other, but aligns nothing.
                number = int(digits) if digits is not None and len(digits) < 10 else None
                line = rest
        lines.append(line)
        numbers.append(number)
    return AnswerBlock(lines, numbers, raws)
