"""Assertion-style test code turned into call tests, and the function such code tests."""

from __future__ import annotations

import ast
import math
from typing import Any

from stepreward.types import TestCase
from stepreward.values import parse_value

__all__ = ["infer_entry_point", "tests_from_assertions"]


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, parse_value(ast.unparse(node))
    except (ValueError, RecursionError):
        return False, None


def _tolerance(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) and value >= 0


def _as_call_test(test: ast.expr, names: set[str], fn_name: str) -> TestCase | None:
    """``assert f(args) == v``, ``abs(f(args) - v) < tol``, ``assert f(args)``, ``not f(args)``."""
    def call_args(node: ast.AST) -> tuple[bool, tuple[Any, ...], dict[str, Any]]:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in names):
            return False, (), {}
        args = []
        for a in node.args:
            ok, v = _literal(a)
            if not ok or isinstance(a, ast.Starred):
                return False, (), {}
            args.append(v)
        kwargs = {}
        for k in node.keywords:
            ok, v = _literal(k.value)
            if not ok or k.arg is None:
                return False, (), {}
            kwargs[k.arg] = v
        return True, tuple(args), kwargs

    try:
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, right, op = test.left, test.comparators[0], test.ops[0]
            if isinstance(op, ast.Eq):
                for call_side, value_side in ((left, right), (right, left)):
                    ok, args, kwargs = call_args(call_side)
                    if ok:
                        lit_ok, expected = _literal(value_side)
                        if lit_ok:
                            return TestCase.call(fn_name, args, expected, kwargs=kwargs)
            if isinstance(op, (ast.Lt, ast.LtE)) and isinstance(left, ast.Call) and \
                    isinstance(left.func, ast.Name) and left.func.id == "abs" and \
                    len(left.args) == 1 and isinstance(left.args[0], ast.BinOp) and \
                    isinstance(left.args[0].op, ast.Sub):
                ok, args, kwargs = call_args(left.args[0].left)
                lit_ok, expected = _literal(left.args[0].right)
                tol_ok, tol = _literal(right)
                if ok and lit_ok and tol_ok and isinstance(tol, (int, float)) and \
                        not isinstance(tol, bool) and tol > 0:
                    # The assertion's own semantics: an absolute tolerance, strict or not.
                    return TestCase.call(fn_name, args, expected, kwargs=kwargs,
                                         atol=float(tol), compare="abs_lt" if isinstance(
                                             op, ast.Lt) else "abs_le")
        if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and \
                test.func.attr == "isclose" and isinstance(test.func.value, ast.Name) and \
                test.func.value.id == "math" and len(test.args) == 2:
            # math.isclose exactly: |a - b| <= max(rel_tol * max(|a|, |b|), abs_tol), with its
            # own defaults (rel_tol 1e-9, abs_tol 0).
            ok, args, kwargs = call_args(test.args[0])
            lit_ok, expected = _literal(test.args[1])
            tols = {"rel_tol": 1e-9, "abs_tol": 0.0}
            for k in test.keywords:
                tol_ok, tol = _literal(k.value)
                if k.arg in tols and tol_ok and _tolerance(tol):
                    tols[k.arg] = float(tol)
                else:
                    ok = False
            if ok and lit_ok:
                return TestCase.call(fn_name, args, expected, kwargs=kwargs, compare="isclose",
                                     rtol=tols["rel_tol"], atol=tols["abs_tol"])
        if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and \
                test.func.attr in ("allclose", "isclose", "array_equal") and \
                isinstance(test.func.value, ast.Name) and test.func.value.id in ("np", "numpy") \
                and len(test.args) == 2:
            # numpy's own checks exactly: |a - b| <= atol + rtol * |b| elementwise (rtol 1e-5,
            # atol 1e-8 unless the test says, an explicit 0 included), array_equal exact.
            ok, args, kwargs = call_args(test.args[0])
            lit_ok, expected = _literal(test.args[1])
            exact = test.func.attr == "array_equal"
            tols = {"rtol": 0.0 if exact else 1e-05, "atol": 0.0 if exact else 1e-08}
            equal_nan = False
            for k in test.keywords:
                tol_ok, tol = _literal(k.value)
                if k.arg in tols and not exact and tol_ok and _tolerance(tol):
                    tols[k.arg] = float(tol)
                elif k.arg == "equal_nan" and tol_ok and isinstance(tol, bool):
                    equal_nan = tol
                else:
                    ok = False
            if ok and lit_ok:
                return TestCase.call(fn_name, args, expected, kwargs=kwargs,
                                     compare="allclose_nan" if equal_nan else "allclose",
                                     rtol=tols["rtol"], atol=tols["atol"])
        ok, args, kwargs = call_args(test)
        if ok:
            return TestCase.call(fn_name, args, None, kwargs=kwargs, compare="truthy")
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            ok, args, kwargs = call_args(test.operand)
            if ok:
                return TestCase.call(fn_name, args, None, kwargs=kwargs, compare="falsy")
    except ValueError:  # not literal-encodable
        return None
    return None


def tests_from_assertions(test_code: str, entry_point: str,
                          candidate: str = "candidate") -> list[TestCase]:
    """Turn assertion-style test code into call tests where possible.

    Handles HumanEval's ``def check(candidate): assert candidate(...) == ...`` and MBPP's
    top-level ``assert f(...) == ...``. Asserts of the forms ``CALL == VALUE``,
    ``abs(CALL - VALUE) < TOL``, ``CALL`` and ``not CALL`` with literal arguments become call
    tests; if anything else remains, the whole test code (with ``check(entry_point)``) is
    added as one script test.

    Example:
        >>> [t.kind for t in tests_from_assertions("assert f(1) == 2\\nassert f(2) > 1", "f")]
        ['call', 'script']
    """
    tree = ast.parse(test_code)
    names = {candidate, entry_point}
    tests: list[TestCase] = []
    leftover = False
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef)
                  and n.name == "check"), None)
    bodies: list[list[ast.stmt]] = [[n for n in tree.body if not isinstance(
        n, (ast.FunctionDef, ast.Import, ast.ImportFrom))]]
    if check is not None:
        bodies.append(check.body)
    for body in bodies:
        for stmt in body:
            if isinstance(stmt, ast.Assert):
                case = _as_call_test(stmt.test, names, entry_point)
                if case is not None:
                    tests.append(case)
                    continue
                leftover = True
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # a docstring
            elif isinstance(stmt, ast.Assign) and check is not None and body is bodies[0]:
                continue  # module constants such as METADATA (used by the script if any)
            else:
                leftover = True
    if leftover:
        # Test files rely on math being imported by their harness (MBPP+ does).
        script = "import math\n" + test_code + (
            f"\n\ncheck({entry_point})\n" if check is not None else "")
        tests.append(TestCase(kind="script", script=script))
    return tests


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    names.add(target.id)
    return names


# What ast.parse raises on model code besides SyntaxError: deep nesting (a 200,000-character
# chain of unary signs) runs the parser out of stack or memory.
_PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)


def _root_functions(code: str, also_used: set[str]) -> list[str]:
    """Top-level functions of ``code`` that nothing else in it (or ``also_used``) calls."""
    try:
        tree = ast.parse(code)
    except _PARSE_ERRORS:
        return []
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    used: set[str] = set(also_used)
    for node in tree.body:
        own = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        used.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id != own)
    return [d.name for d in defs if d.name not in used]


def infer_entry_point(test_code: str, code: str | None = None) -> str:
    """The function that assertion-style ``test_code`` tests, when that is unambiguous.

    In order: a top-level ``check(name)`` call; for HumanEval's ``def check(candidate)``
    without one, the one top-level function of ``code`` that nothing else calls (helpers
    are called by the entry point or by the test code); otherwise the single function that
    the test code calls and does not define (MBPP's ``assert f(...) == ...``), narrowed to
    the functions ``code`` defines when there are several. Raises ``ValueError`` naming
    the candidates when it is ambiguous.

    Example:
        >>> infer_entry_point("assert add(1, 2) == 3\\nassert set(add(0, 0)) == set()")
        'add'
        >>> infer_entry_point("def check(candidate):\\n    assert candidate(1) == 2\\n",
        ...                   "def helper(x):\\n    return x\\n"
        ...                   "def inc(x):\\n    return helper(x) + 1")
        'inc'
    """
    import builtins

    try:
        tree = ast.parse(test_code)
    except _PARSE_ERRORS as exc:
        raise ValueError(f"the test code does not parse: {type(exc).__name__}") from None
    named: set[str] = set()
    for stmt in tree.body:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and \
                call.func.id == "check" and len(call.args) == 1 and \
                isinstance(call.args[0], ast.Name):
            named.add(call.args[0].id)
    if len(named) == 1:
        return named.pop()
    if len(named) > 1:
        raise ValueError(f"ambiguous entry point: check() is called with {sorted(named)}; "
                         "pass entry_point=")
    defined = _top_level_names(tree)
    params = {a.arg for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))
              for a in n.args.args + n.args.kwonlyargs + n.args.posonlyargs}
    called = sorted({n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Name)} - defined - params - set(dir(builtins)))
    has_check = any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body)
    code_defs: list[str] | None = None
    if code is not None:
        try:
            code_tree = ast.parse(code)
        except _PARSE_ERRORS:
            code_tree = None
        if code_tree is not None:
            code_defs = [n.name for n in code_tree.body
                         if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if has_check:
        if code is None or code_defs is None:
            raise ValueError("the test code's check(candidate) does not name the function: "
                             "pass entry_point= (or code that defines it)")
        test_names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        # (HumanEval/33's test calls the entry point by its own name too.)
        roots = code_defs if len(code_defs) == 1 else (
            _root_functions(code, test_names) or _root_functions(code, set()))
        if len(roots) == 1:
            return roots[0]
        raise ValueError(f"ambiguous entry point: the code defines {roots or code_defs} "
                         "and check(candidate) does not say which; pass entry_point=")
    if not called:
        # A function named like a builtin (Mbpp/126 tests its own ``sum``): the calls that
        # are the asserted comparison's operands.
        direct: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert):
                t = node.test
                operands = [t.left, *t.comparators] if isinstance(t, ast.Compare) else [t]
                direct.update(o.func.id for o in operands if isinstance(o, ast.Call)
                              and isinstance(o.func, ast.Name))
        called = sorted(direct - defined - params)
    if len(called) > 1 and code_defs is not None:
        called = [c for c in called if c in code_defs] or called
    if len(called) == 1:
        return called[0]
    raise ValueError(f"ambiguous entry point: the test code calls {called or 'no function'}; "
                     "pass entry_point=")


tests_from_assertions.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
