"""Prompt formats: the full prompt a sample renders, and the compact form without instructions."""

from __future__ import annotations

from typing import Literal

__all__ = ["PROMPT_FORMATS", "PromptFormat", "compact_prompt", "render_as"]

#: ``full``: instructions, program, call, questions and the answer format; ``compact``: the
#: program, the call and the questions only (for models that learnt the format in SFT).
PromptFormat = Literal["full", "compact"]
PROMPT_FORMATS: tuple[str, ...] = ("full", "compact")


def compact_prompt(prompt: str) -> str:
    """A sample's prompt without its fixed instructions: the paragraphs from ``Program:`` up
    to (not including) the answer-format paragraph. A prompt of another shape is returned as
    it is.

    Example:
        >>> compact_prompt("Intro.\\n\\nProgram:\\n1 | x\\n\\nQuestions:\\n1. Q\\n\\nHow")
        'Program:\\n1 | x\\n\\nQuestions:\\n1. Q'
    """
    parts = prompt.split("\n\n")
    starts = [i for i, p in enumerate(parts) if p.startswith("Program:")]
    if not starts:
        return prompt
    kept = parts[starts[0]:]
    if len(kept) > 1 and kept[-1].startswith("How"):
        kept = kept[:-1]
    return "\n\n".join(kept)


def render_as(prompt: str, fmt: str) -> str:
    """A sample's full prompt in the format ``fmt`` (see ``PROMPT_FORMATS``).

    Example:
        >>> render_as("Intro.\\n\\nProgram:\\n1 | x\\n\\nHow", "compact")
        'Program:\\n1 | x'
    """
    if fmt == "full":
        return prompt
    if fmt == "compact":
        return compact_prompt(prompt)
    raise ValueError(f"unknown prompt format {fmt!r}; known: {', '.join(PROMPT_FORMATS)}")
