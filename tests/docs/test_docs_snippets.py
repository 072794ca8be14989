"""Code blocks of the docs run as written (a user copies them)."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _first_python_block(path: Path) -> str:
    match = re.search(r"```python\n(.*?)```", path.read_text(), re.DOTALL)
    assert match is not None
    return match.group(1)


def test_traces_md_example_runs_and_its_comments_hold() -> None:
    code = _first_python_block(DOCS / "traces.md")
    code = code.replace("print(s.prompt); ", "")
    scope: dict[str, object] = {}
    exec(compile(code, "traces.md", "exec"), scope)  # our own documentation, not model text
    t, s = scope["t"], scope["s"]
    assert t.next_line(4, 2) == 7  # type: ignore[attr-defined]
    assert t.value_after(7, 3, "k").to_python() == 6  # type: ignore[attr-defined]
    assert t.steps[0].changed == ("out",)  # type: ignore[attr-defined]
    assert s.gold_answers()[0] == "assert f([3, 4, 6, 9], 3) == [3]"  # type: ignore[attr-defined]


def test_trl_md_example_runs_as_written(tmp_path: Path) -> None:
    import os

    code = _first_python_block(DOCS / "trl.md")
    old = os.getcwd()
    os.chdir(tmp_path)  # its runs/ folders land here
    try:
        scope: dict[str, object] = {}
        exec(compile(code, "trl.md", "exec"), scope)  # our own documentation, not model text
    finally:
        os.chdir(old)
    state = scope["trainer"].state  # type: ignore[attr-defined]
    assert state.global_step == 2
    assert any("rewards/stepreward_execution/mean" in e for e in state.log_history)
