"""One validated item from one random generator: random access for procedural datasets."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from stepreward.synth._check import check_constraints
from stepreward.synth._gen import generate_program
from stepreward.synth._inputs import make_value, mutate_value, render_args
from stepreward.synth._pipeline import (
    INPUTS_PER_PROGRAM,
    LEVELS,
    Item,
    _check,
    features,
    level_constraints,
    normalized_hash,
)
from stepreward.synth.vocab import pairs

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["synthesize_one"]


def synthesize_one(rng: random.Random, levels: Sequence[int] = (1, 2, 3, 4, 5, 6), *,
                   sandbox: Sandbox | None = None, max_attempts: int = 200) -> Item:
    """One validated item drawn from ``rng`` alone: same generator state, same item.

    :func:`synthesize` makes a stream whose item *i* depends on the items before it (it
    deduplicates and balances levels); datasets indexed by position (reasoning-gym's item
    *i* comes from ``Random(seed + i)``) need each item from its own generator. The level is
    drawn from ``levels``, then each attempt draws a (type, method) pair of the vocabulary
    and a program for it, and applies the same filters as :func:`synthesize` (constraints
    checked on the AST; traced in the sandbox on its input and mutations; a bounded literal
    result, the method under test run, no dead code). The item is the program's first input.
    Raises ValueError for unknown levels and RuntimeError when ``max_attempts`` fail.

    Example:
        >>> a = synthesize_one(random.Random(7), [2])
        >>> b = synthesize_one(random.Random(7), [2])
        >>> (a.source, a.call, a.level) == (b.source, b.call, 2)
        True
    """
    from stepreward.trace._api import default_sandbox, trace_many

    levels = list(levels)
    if not levels or any(lv not in LEVELS for lv in levels):
        raise ValueError(f"levels must be a non-empty subset of {sorted(LEVELS)}, got {levels}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    sb = sandbox or default_sandbox()
    vocab = pairs()
    level = rng.choice(levels)
    for attempt in range(max_attempts):
        type_, method = rng.choice(vocab)
        c = level_constraints(level, type_, method)
        program = generate_program(c, rng)
        if program is None or not all(check_constraints(program.source, c,
                                                        program.entry).values()):
            continue
        values = [make_value(t, rng) for _, t in program.params]
        calls = [f"{program.entry}({render_args(values)})"]
        for _ in range(INPUTS_PER_PROGRAM - 1):
            mutated = [mutate_value(t, v, rng) for (_, t), v in zip(program.params, values,
                                                                      strict=True)]
            calls.append(f"{program.entry}({render_args(mutated)})")
        # The first two inputs cover most programs; the others run only when they do not.
        traces = trace_many([(program.source, call) for call in calls[:2]], sandbox=sb,
                            max_steps=2000)
        why = _check(program, traces)
        if why == "dead code":
            traces += trace_many([(program.source, call) for call in calls[2:]], sandbox=sb,
                                 max_steps=2000)
            why = _check(program, traces)
        if why is not None:
            continue
        return Item(source=program.source, call=calls[0], entry=program.entry, level=level,
                    constraints=program.constraints, trace=traces[0],
                    features=features(program.source, traces[0]),
                    program_id=normalized_hash(program.source), index=attempt)
    raise RuntimeError(f"no level-{level} program passed the filters in {max_attempts} "
                       f"attempts")
