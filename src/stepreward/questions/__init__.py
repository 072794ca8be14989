"""Question kinds, their selection from a trace, and prompt rendering."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

__all__ = [
    "DEFAULT_KINDS", "KINDS", "Question", "QuestionKind", "Sample", "build_sample",
    "build_samples", "get_kind", "number_lines", "render_prompt", "sample_from_trace",
]

if TYPE_CHECKING:
    from stepreward.questions._kinds import KINDS, QuestionKind, get_kind
    from stepreward.questions._sample import (
        DEFAULT_KINDS,
        build_sample,
        build_samples,
        number_lines,
        render_prompt,
        sample_from_trace,
    )
    from stepreward.types import Question, Sample

__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.questions._kinds": ["KINDS", "QuestionKind", "get_kind"],
    "stepreward.questions._sample": ["DEFAULT_KINDS", "build_sample", "build_samples",
                                     "number_lines", "render_prompt", "sample_from_trace"],
    "stepreward.types": ["Question", "Sample"],
})
