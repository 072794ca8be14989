"""Question kinds, their selection from a trace, and prompt rendering."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "DEFAULT_KINDS", "KINDS", "Question", "QuestionKind", "Sample", "build_sample",
    "build_samples", "check_kinds", "get_kind", "number_lines", "render_prompt",
    "sample_from_trace", "shown_call", "split_kinds",
]

if TYPE_CHECKING:
    from stepreward.questions._kinds import KINDS, QuestionKind, get_kind
    from stepreward.questions._sample import (
        DEFAULT_KINDS,
        build_sample,
        build_samples,
        check_kinds,
        number_lines,
        render_prompt,
        sample_from_trace,
        shown_call,
        split_kinds,
    )
    from stepreward.types import Question, Sample

_WHERE = {
    "KINDS": "_kinds", "QuestionKind": "_kinds", "get_kind": "_kinds",
    "DEFAULT_KINDS": "_sample", "build_sample": "_sample", "build_samples": "_sample",
    "number_lines": "_sample", "render_prompt": "_sample", "sample_from_trace": "_sample",
    "check_kinds": "_sample", "shown_call": "_sample", "split_kinds": "_sample",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in ("Question", "Sample"):
        from stepreward import types

        return getattr(types, name)
    if name in _WHERE:
        return getattr(importlib.import_module(f"stepreward.questions.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'stepreward.questions' has no attribute {name!r}")
