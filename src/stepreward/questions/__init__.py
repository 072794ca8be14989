"""Question kinds, their selection from a trace, and prompt rendering."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepreward._lazy import lazy_exports

__all__ = [
    "DEFAULT_KINDS", "KINDS", "Candidate", "Context", "Question", "QuestionKind", "Sample",
    "build_sample", "build_samples", "check_kinds", "example_answer", "get_kind",
    "number_lines", "register_kind",
    "render_prompt", "sample_from_trace", "shown_call", "split_kinds", "unregister_kind",
]

if TYPE_CHECKING:
    from stepreward.questions._kinds import (
        DEFAULT_KINDS,
        KINDS,
        Candidate,
        Context,
        QuestionKind,
        get_kind,
        register_kind,
        unregister_kind,
    )
    from stepreward.questions._sample import (
        build_sample,
        build_samples,
        check_kinds,
        example_answer,
        number_lines,
        render_prompt,
        sample_from_trace,
        shown_call,
        split_kinds,
    )
    from stepreward.types import Question, Sample

__getattr__, __dir__ = lazy_exports(__name__, {
    "stepreward.questions._kinds": ["DEFAULT_KINDS", "KINDS", "Candidate", "Context",
                                    "QuestionKind", "get_kind", "register_kind",
                                    "unregister_kind"],
    "stepreward.questions._sample": ["build_sample", "build_samples",
                                     "check_kinds", "example_answer", "number_lines",
                                     "render_prompt",
                                     "sample_from_trace", "shown_call", "split_kinds"],
    "stepreward.types": ["Question", "Sample"],
})
