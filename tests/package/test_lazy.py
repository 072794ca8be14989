"""The lazy exports of every package: each public name loads, and says where it comes from."""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import stepreward._lazy as lazy_module
from stepreward._lazy import lazy_exports

SRC = Path(__file__).resolve().parents[2] / "src"


def _lazy_packages() -> dict[str, dict[str, str]]:
    """Package -> {name: module} from each ``lazy_exports`` call in the source, read with ast."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted((SRC / "stepreward").rglob("__init__.py")):
        package = ".".join(path.relative_to(SRC).parent.parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports":
                mapping = ast.literal_eval(node.args[1])
                out[package] = {name: module for module, names in mapping.items()
                                for name in names}
    return out


def _type_checking_imports(package: str) -> dict[str, str]:
    """{name: module} of the package's ``if TYPE_CHECKING:`` imports (what mypy sees)."""
    path = SRC.joinpath(*package.split("."), "__init__.py")
    out = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                out.update({a.asname or a.name: stmt.module for a in stmt.names})
    return out


def test_every_package_uses_the_helper() -> None:
    packages = _lazy_packages()
    assert set(packages) == {"stepreward", "stepreward.codegen", "stepreward.eval",
                             "stepreward.questions", "stepreward.recipe", "stepreward.sandbox",
                             "stepreward.scoring", "stepreward.synth", "stepreward.trace"}
    for path in (SRC / "stepreward").rglob("__init__.py"):
        assert "def __getattr__" not in path.read_text(), path


@pytest.mark.parametrize("package", sorted(_lazy_packages()))
def test_all_names_load_from_the_module_the_package_names(package: str) -> None:
    where = _lazy_packages()[package]
    module = importlib.import_module(package)
    exported = set(module.__all__) - {"__version__"}
    assert exported == set(where), exported ^ set(where)
    typed = _type_checking_imports(package)
    for name in sorted(exported):
        value = getattr(module, name)
        source = importlib.import_module(where[name])
        if where[name] == f"{package}.{name}":  # the root's `trace`: the package itself
            assert value is source
        else:
            assert value is getattr(source, name)
            assert typed[name] == where[name], name  # mypy reads the same module
    assert set(dir(module)) >= exported


def test_a_subpackage_is_an_attribute_before_anyone_imports_it() -> None:
    # `sr.integrations` raised AttributeError until `import stepreward.integrations` ran.
    code = textwrap.dedent("""
        import sys
        import stepreward as sr
        assert "stepreward.integrations" not in sys.modules
        assert sr.integrations.__name__ == "stepreward.integrations"
        assert sr.eval.__name__ == "stepreward.eval" and callable(sr.eval.run_eval)
        for missing in ("nope", "_layers_", "__wrapped__"):
            try:
                getattr(sr, missing)
            except AttributeError as exc:
                assert repr(missing) in str(exc), exc
            else:
                raise AssertionError(missing)
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_the_helper_refuses_a_name_from_two_modules_and_a_bare_string() -> None:
    pkg = types.ModuleType("demo_pkg")
    with pytest.raises(ValueError, match="'x' is exported from both 'a' and 'b'"):
        lazy_exports(pkg, {"a": ["x"], "b": ["x"]})
    with pytest.raises(TypeError, match="must be a list"):
        lazy_exports(pkg, {"json": "dumps"})


def test_a_loaded_name_is_kept_in_the_namespace() -> None:
    pkg = types.ModuleType("demo_pkg")
    pkg.__getattr__, pkg.__dir__ = lazy_exports(pkg, {"json": ["dumps"]})  # type: ignore
    assert "dumps" not in vars(pkg)
    assert pkg.dumps is importlib.import_module("json").dumps
    assert "dumps" in vars(pkg) and "dumps" in dir(pkg)


def test_doctests() -> None:
    result = doctest.testmod(lazy_module)
    assert result.failed == 0 and result.attempted >= 6
