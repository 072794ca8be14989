"""The ``stepreward`` command line: one subcommand per job, ``--json`` where results are printed.

:func:`main` is the console script; :func:`build_parser` the parser it runs. The subcommands
live by topic: ``_programs`` (demo, run, trace, sample, score), ``_data`` (synth, eval,
models), ``_trainers`` (serve and the trainers' paths and launchers), and the method's
(recipe, ablation, paper, gpu-check) in :mod:`stepreward.recipe.commands`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from stepreward.cli._parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stepreward`` console script.

    Example:
        >>> main(["run", "-", "--json"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:  # invalid limits and similar user errors
        print(f"stepreward {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 2


def _one_line(exc: ValueError) -> str:
    """A user error in one line (pydantic's report spans many, with a URL)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ())) or "value"
            parts.append(f"{where}: {err.get('msg', 'invalid')} (got {err.get('input')!r})")
        return "; ".join(parts)
    return " ".join(str(exc).split())
