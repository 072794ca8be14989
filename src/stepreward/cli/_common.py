"""What the subcommands share: tables, short text, limits from flags, reading a source, and
old option names that still work."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["Renamed", "limits_of", "read_source", "short", "table"]


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, sep, *body])


def short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def limits_of(args: argparse.Namespace) -> Any:
    from stepreward.types import Limits

    kwargs: dict[str, Any] = {}
    if getattr(args, "timeout", None) is not None:
        kwargs["timeout_s"] = args.timeout
    if getattr(args, "memory_mb", None) is not None:
        kwargs["memory_mb"] = args.memory_mb
    return Limits(**kwargs)


def read_source(path: str, what: str) -> str | None:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        print(f"stepreward {what}: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None


class Renamed(argparse.Action):
    """An option's old name: sets the new option's value and says on stderr that it is old."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str,
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"{parser.prog}: {option_string} is deprecated: use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)
