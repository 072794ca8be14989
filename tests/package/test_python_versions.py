"""Which Python each part needs: the library 3.10+, the TRL extra and `make demo` 3.11+."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pyenv_python(version: str) -> str | None:
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False) \
        if shutil.which("pyenv") else None
    if root is None or root.returncode:
        return None
    found = sorted(Path(root.stdout.strip(), "versions").glob(f"{version}.*/bin/python"))
    return str(found[-1]) if found else None


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_refuses_an_old_python_in_one_line(tmp_path: Path) -> None:
    old = _pyenv_python("3.10")
    if old is None:
        pytest.skip("no Python 3.10 under pyenv")
    venv = tmp_path / "venv"
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "demo",
                           f"PYTHON={old}", f"VENV={venv}"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("make demo:")]
    assert len(ours) == 1 and "needs Python >= 3.11" in ours[0], done.stderr
    assert "TRL 1.16" in ours[0]
    assert not venv.exists(), "nothing may be installed before the check"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_check_passes_on_this_python() -> None:
    # The Makefile's check itself, read out of make, run on the suite's interpreter.
    code = subprocess.run(
        ["make", "--no-print-directory", "-s", "-C", str(ROOT), "-f", "Makefile", "-f", "-",
         "print-check"], input="print-check:\n\t@echo \"$$CHECK_DEMO_PYTHON\"\n",
        capture_output=True, text=True, timeout=60, check=True).stdout
    assert "sys.version_info >= (3, 11)" in code
    ok = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        check=False)
    assert (ok.returncode == 0) == (sys.version_info >= (3, 11)), ok.stderr


def test_readme_states_the_versions() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "Python ≥ 3.10" in readme and "Python ≥ 3.11" in readme
    assert 'requires-python = ">=3.10"' in (ROOT / "pyproject.toml").read_text()
