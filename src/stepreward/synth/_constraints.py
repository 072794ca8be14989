"""What a synthesized program must contain: the constraint spec, checked against the vocabulary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stepreward.synth import vocab

__all__ = ["Constraints"]


class Constraints(BaseModel):
    """What a synthesized program must contain (frozen and hashable).

    ``type``/``method``: the method under test (see :data:`stepreward.synth.VOCABULARY`);
    ``nested_calls``: call it at least twice, at least once nested in another call;
    ``other_methods``: use at least one other built-in method; ``helper``: a helper function
    that the entry point calls; ``depth``: control-flow nesting depth 0-3; ``blueprint``: the
    constructs outermost first (sampled when empty); ``params``: number of parameters;
    ``max_lines``: upper bound on the function's length; ``allow_exceptions``: keep programs
    whose run raises (their samples then have no output question).

    Example:
        >>> Constraints(type="str", method="replace", depth=1).depth
        1
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    method: str
    nested_calls: bool = True
    other_methods: bool = True
    helper: bool = False
    depth: int = Field(0, ge=0, le=3)
    blueprint: tuple[Literal["if", "for", "while", "if-elif"], ...] = ()
    params: int = Field(2, ge=1, le=3)
    max_lines: int = Field(24, ge=3, le=80)
    allow_exceptions: bool = False

    @model_validator(mode="after")
    def _check(self) -> Constraints:
        known = vocab.VOCABULARY  # looked up per call: users may extend or replace it
        if self.type not in known:
            raise ValueError(f"unknown type {self.type!r}; known: {sorted(known)}")
        if self.method not in known[self.type]:
            raise ValueError(f"{self.method!r} is not a method of {self.type!r} in the vocabulary")
        if self.blueprint and len(self.blueprint) != self.depth:
            raise ValueError(f"blueprint has {len(self.blueprint)} constructs for depth "
                             f"{self.depth}")
        return self
