"""Reading JSON Lines files: the one reader of the package (plain or gzip, blank lines skipped)."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["iter_jsonl", "read_jsonl"]


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The JSON object on each non-blank line of ``path`` (gzip-compressed when it ends in .gz).

    A line that is not a JSON object is a ValueError naming the file and the line.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        ...     _ = f.write('{"id": 1}\\n\\n{"id": 2}\\n')
        >>> [row["id"] for row in iter_jsonl(f.name)]
        [1, 2]
    """
    p = Path(path)
    f: IO[str]
    with (gzip.open(p, "rt", encoding="utf-8") if p.suffix == ".gz"
          else p.open(encoding="utf-8")) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{p}:{number}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{p}:{number}: expected a JSON object, got "
                                 f"{type(row).__name__}")
            yield row


def read_jsonl(path: str | os.PathLike[str], limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of :func:`iter_jsonl` as a list, the first ``limit`` of them when given.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        ...     _ = f.write('{"id": 1}\\n{"id": 2}\\n')
        >>> read_jsonl(f.name, limit=1)
        [{'id': 1}]
    """
    rows: list[dict[str, Any]] = []
    for row in iter_jsonl(path):
        if limit is not None and len(rows) >= limit:
            break
        rows.append(row)
    return rows
