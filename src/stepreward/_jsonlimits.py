"""Bounds on JSON text from untrusted processes, checked before a byte of it is decoded.

``json.loads`` spends about 200 bytes of memory and a few hundred nanoseconds under the GIL
per value it builds, so a record of a few megabytes of ``[],[],...`` from a sandboxed task
costs the trainer hundreds of megabytes and seconds. :func:`json_shape` counts the values and
the nesting depth of a JSON text at C speed (strings are skipped, so their contents never
count) and says why it is over the bounds; standard library only, as the sandbox imports it.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DEPTH", "count_values", "json_shape", "loads_bounded"]

MAX_DEPTH = 512  # below the interpreter's recursion limit, which json's decoder also obeys
# A string is quote, no quote, quote once escaped backslashes and quotes are gone: linear (a
# pattern that skips escapes itself retries from every escaped quote of an unclosed string).
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b'[]{}"\\')


def _count(text: bytes) -> int:
    return text.count(b",") + text.count(b":") + text.count(b"[") + text.count(b"{") + 1


def count_values(text: str | bytes) -> int:
    """A quick upper bound on the values in a JSON text (separators inside strings count too).

    Example:
        >>> count_values('[1, [2, 3], {"a": 4}]')
        8
    """
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return _count(raw)


def json_shape(text: str | bytes, *, max_items: int, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``text`` holds more than ``max_items`` values or nests deeper than ``max_depth``;
    None when it is within both (it may still be malformed JSON: the decoder says so).

    The count is an upper bound (every value follows a ``,``, ``:``, ``[`` or ``{``, or is the
    whole document), exact for the attacks that matter: many small containers. Linear, and
    mostly at C speed: strings are only taken apart when counting through them is over.

    Example:
        >>> json_shape(b'{"a": [1, 2, "x,y"]}', max_items=8) is None
        True
        >>> json_shape("[" + "[]," * 10 + "[]]", max_items=8)
        'more than 8 values (23)'
        >>> json_shape("[[[[1]]]]", max_items=10, max_depth=3)
        'nested deeper than 3'
    """
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    items = _count(raw)
    if items > max_items and b'"' in raw:
        raw = _STRING.sub(b"0", raw.replace(b"\\\\", b"").replace(b'\\"', b""))
        items = _count(raw)
    if items > max_items:
        return f"more than {max_items} values ({items})"
    if raw.count(b"[") + raw.count(b"{") > max_depth:
        # Brackets, quotes and backslashes only; then strings without brackets are "" and go
        # at C speed, and the pattern runs only over what strings with brackets remain.
        brackets = raw.translate(None, _NOT_BRACKETS)
        if b'"' in brackets:
            brackets = brackets.replace(b"\\\\", b"").replace(b'\\"', b"").replace(b'""', b"")
            if b'"' in brackets:
                brackets = _STRING.sub(b"", brackets)
        # Each pass drops the innermost level: empty within max_depth passes, or too deep.
        for _ in range(max_depth):
            if not brackets:
                return None
            brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if brackets:
            return f"nested deeper than {max_depth}"
    return None


def loads_bounded(text: str | bytes, *, max_items: int, max_depth: int = MAX_DEPTH) -> object:
    """``json.loads`` after :func:`json_shape`; ValueError (never RecursionError or
    MemoryError) for text over the bounds or not JSON.

    Example:
        >>> loads_bounded('[1, {"a": 2}]', max_items=10)
        [1, {'a': 2}]
    """
    import json

    problem = json_shape(text, max_items=max_items, max_depth=max_depth)
    if problem is not None:
        raise ValueError(f"JSON over the bounds: {problem}")
    try:
        return json.loads(text)
    except (RecursionError, MemoryError) as exc:
        raise ValueError(f"JSON could not be decoded: {type(exc).__name__}") from None
