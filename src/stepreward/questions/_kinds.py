"""The question kinds: the registry of :mod:`stepreward.questions._kind`, with the built-ins loaded.

``KINDS`` maps each registered kind's name to it, in order; everything that used to list kind
names (the reward's components, the command line's choices, the default selection) reads it.
"""

from __future__ import annotations

from collections.abc import Mapping

from stepreward.questions import kinds as _builtin  # noqa: F401  (registers the built-ins)
from stepreward.questions._kind import (
    REGISTRY,
    Candidate,
    Context,
    QuestionKind,
    register_kind,
    unregister_kind,
)
from stepreward.questions.kinds.input import numpy_input_call

__all__ = ["DEFAULT_KINDS", "KINDS", "Candidate", "Context", "QuestionKind", "get_kind",
           "io_kinds", "kinds_help", "numpy_input_call", "register_kind", "unregister_kind"]

#: Every registered kind by name, in order (a read-only view that follows registrations).
KINDS: Mapping[str, QuestionKind] = REGISTRY

#: The kinds asked when none are named: those that say ``default = True``.
DEFAULT_KINDS: tuple[str, ...] = tuple(name for name, k in KINDS.items() if k.default)


def get_kind(name: str) -> QuestionKind:
    """The registered kind called ``name``.

    Example:
        >>> get_kind("state").name
        'state'
    """
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown question kind {name!r}; known: {sorted(KINDS)}") from None


def io_kinds() -> tuple[str, ...]:
    """The names of the I/O kinds (the ones that gate the reward).

    Example:
        >>> io_kinds()
        ('output', 'input')
    """
    return tuple(name for name, k in KINDS.items() if k.is_io)


def kinds_help() -> str:
    """One line per kind, ``name: description``, for help texts.

    Example:
        >>> kinds_help().splitlines()[0]
        'output: predict the value the call returns (complete the assertion)'
    """
    return "\n".join(f"{name}: {k.description}" for name, k in KINDS.items())
