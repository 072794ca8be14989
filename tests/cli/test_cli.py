"""The command line, run as a real subprocess through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = [sys.executable, "-m", "stepreward.cli"]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)


def test_help_everywhere() -> None:
    for args in ([], ["run"], ["demo"]):
        r = cli(*args, "--help")
        assert r.returncode == 0 and "usage: stepreward" in r.stdout


def test_run_file_human_and_json(tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n")
    data = tmp_path / "in.txt"
    data.write_text("1 2 3\n")
    r = cli("run", str(prog), "--stdin", str(data))
    assert r.returncode == 0 and r.stdout == "6\n"
    r = cli("run", str(prog), "--stdin", str(data), "--json")
    out = json.loads(r.stdout)
    assert out["status"] == "ok" and out["stdout"] == "6\n" and "rlimits" in out["isolation"]


def test_run_from_stdin_and_failures(tmp_path: Path) -> None:
    r = cli("run", "-", "--timeout", "0.3", stdin="while True:\n    pass\n")
    assert r.returncode == 1 and "timeout" in r.stderr
    r = cli("run", "-", "--json", stdin="raise ValueError('bad')\n")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["status"] == "error" and out["error_type"] == "ValueError"
    r = cli("run", str(tmp_path / "missing.py"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = cli("run", "-", "--timeout", "-1", stdin="pass\n")
    assert r.returncode == 2 and "timeout_s" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the demo's containment column assumes root")
def test_demo_table_and_json() -> None:
    r = cli("demo")
    assert r.returncode == 0
    assert "isolation:" in r.stdout and "fork bomb" in r.stdout
    r = cli("demo", "--json")
    out = json.loads(r.stdout)
    statuses = {row["program"]: row["status"] for row in out["results"]}
    assert statuses["function call"] == "ok"
    assert statuses["infinite loop"] == "timeout"
    assert statuses["memory bomb"] == "memory"
    assert statuses["forges its result"] == "crashed"
    assert statuses["reads /etc/passwd"] == "error"


PROGRAM = ("def f(nums, k):\n    out = []\n    for x in nums:\n        if x % k == 0:\n"
           "            out.append(x)\n    return out\n")


def test_trace_table_and_json(tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text(PROGRAM)
    r = cli("trace", str(prog), "--call", "f([3, 4], 3)")
    assert r.returncode == 0, r.stderr
    assert "out=[3]" in r.stdout and "status: ok" in r.stdout and "result: [3]" in r.stdout
    r = cli("trace", str(prog), "--call", "f([3, 4], 3)", "--json")
    data = json.loads(r.stdout)
    assert [s["line"] for s in data["steps"]] == [2, 3, 4, 5, 3, 4, 3, 6]
    r = cli("trace", str(prog), "--call", "f(", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == "error"


def test_sample_prompt_and_row(tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text(PROGRAM)
    r = cli("sample", str(prog), "--call", "f([3, 4], 3)", "--kinds", "output,branch")
    assert r.returncode == 0, r.stderr
    assert "Questions:" in r.stdout and "[output] assert f([3, 4], 3) == [3]" in r.stdout
    r = cli("sample", str(prog), "--call", "f([3, 4], 3)", "--json", "--seed", "3")
    row = json.loads(r.stdout)
    assert row["seed"] == 3 and row["prompt"].startswith("Below is a Python program")
    r = cli("sample", str(prog), "--call", "f([3, 4], 3)", "--kinds", "nope")
    assert r.returncode == 1 and "unknown question kind" in r.stderr


def test_score_command(tmp_path: Path) -> None:
    prog = tmp_path / "p.py"
    prog.write_text(PROGRAM)
    row = cli("sample", str(prog), "--call", "f([3, 4], 3)", "--kinds", "output", "--json")
    (tmp_path / "row.json").write_text(row.stdout)
    good = "<answer>\nassert f([3, 4], 3) == [3]\n</answer>"
    r = cli("score", str(tmp_path / "row.json"), "-", "--json", stdin=good)
    assert r.returncode == 0 and json.loads(r.stdout)["reward"] == 1.0
    r = cli("score", str(tmp_path / "row.json"), "-", stdin="no answer")
    assert "parse error: no <answer> block" in r.stdout and "reward (normalized" in r.stdout
    (tmp_path / "bad.json").write_text("{}")
    r = cli("score", str(tmp_path / "bad.json"), "-", stdin=good)
    assert r.returncode == 2 and "not a sample row" in r.stderr
