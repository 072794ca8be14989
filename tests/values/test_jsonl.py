"""The package's one JSON Lines reader: plain and gzip files, blank lines, errors with a place."""

from __future__ import annotations

import doctest
import gzip
from pathlib import Path

import pytest

import stepreward._jsonl as jsonl_module
from stepreward._jsonl import iter_jsonl, read_jsonl


def test_plain_and_gzip_files_read_the_same(tmp_path: Path) -> None:
    text = '{"id": "a"}\n\n  \n{"id": "b", "x": [1, 2]}\n'
    plain = tmp_path / "rows.jsonl"
    plain.write_text(text)
    packed = tmp_path / "rows.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as f:
        f.write(text)
    expected = [{"id": "a"}, {"id": "b", "x": [1, 2]}]
    assert read_jsonl(plain) == read_jsonl(packed) == expected
    assert read_jsonl(plain, limit=1) == expected[:1] and read_jsonl(plain, limit=0) == []


@pytest.mark.parametrize(("line", "needle"), [
    ("{oops", "rows.jsonl:2: not valid JSON"),
    ("[1, 2]", "rows.jsonl:2: expected a JSON object, got list"),
])
def test_a_bad_line_is_named_by_file_and_number(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n' + line + "\n")
    rows = iter_jsonl(path)
    assert next(rows) == {"id": 1}  # rows before the bad line are read
    with pytest.raises(ValueError, match=needle):
        next(rows)


def test_doctests() -> None:
    result = doctest.testmod(jsonl_module)
    assert result.failed == 0 and result.attempted >= 4
