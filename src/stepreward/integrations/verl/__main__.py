"""``python -m stepreward.integrations.verl rows IN.jsonl... --out OUT.parquet``: verl's files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _read(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Convert prompt/label rows (``stepreward synth``, the paper's ``code-rows``, or
    :mod:`stepreward.rows`, as JSONL or parquet) into one verl parquet file.

    Example:
        >>> main(["rows", "data/train.jsonl", "--out", "data/verl/train.parquet"])  # doctest: +SKIP
        0
    """
    from stepreward.integrations.verl import verl_rows, write_parquet

    parser = argparse.ArgumentParser(prog="python -m stepreward.integrations.verl")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("rows", help="write verl's parquet layout from prompt/label rows")
    p.add_argument("inputs", nargs="+", type=Path, help="JSONL or parquet files of rows")
    p.add_argument("--out", required=True, type=Path, help="the parquet file to write")
    p.add_argument("--split", default="train", help="extra_info.split (default: train)")
    p.add_argument("--data-source", help="data_source of every row (default: "
                                         "stepreward/stage1 or stepreward/stage2 by label)")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    try:
        for path in args.inputs:
            rows.extend(_read(path))
        out = verl_rows(rows, split=args.split, data_source=args.data_source)
        write_parquet(out, args.out)
    except (OSError, ValueError, ImportError) as exc:  # bad files: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(out)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
