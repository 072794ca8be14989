"""Progress output: whole lines in logs, a bar on terminals, nothing when disabled."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from stepreward._progress import Progress


def test_log_files_get_whole_lines() -> None:
    out = io.StringIO()
    p = Progress(5, "items", desc="bench", stream=out, every_s=0.0)
    for i in range(1, 6):
        p.update(i)
    p.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[-1].startswith("bench: 5/5 items (100%)")
    assert len(lines) == 5


def test_rate_limited_and_disabled() -> None:
    out = io.StringIO()
    p = Progress(1000, "samples", stream=out, every_s=3600)
    for i in range(1, 1001):
        p.update(i)
    p.close()
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[-1]]  # the final one
    quiet = io.StringIO()
    q = Progress(3, "x", stream=quiet, enabled=False)
    q.update(3)
    q.close()
    assert quiet.getvalue() == ""


def test_eval_progress_in_a_log_file_is_line_based(shared_data: Path, tmp_path: Path) -> None:
    from stepreward.eval import bench_items

    items = bench_items("cruxeval-o", path=shared_data / "cruxeval" / "cruxeval.jsonl",
                        limit=4)
    replay = tmp_path / "c.jsonl"
    replay.write_text("".join(f'{{"id": "{it.id}", "completion": "x"}}\n' for it in items))
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        r = subprocess.run([sys.executable, "-m", "stepreward.cli", "eval", "--bench",
                            "cruxeval-o", "--completions", str(replay), "--data",
                            str(shared_data / "cruxeval" / "cruxeval.jsonl"), "--limit", "4",
                            "--out", str(tmp_path / "o")], stderr=err, stdout=subprocess.DEVNULL,
                           timeout=300, check=False)
    assert r.returncode == 0
    text = log.read_text()
    assert "\r" not in text and "cruxeval-o: 4/4 items (100%)" in text
