"""Unit-test rewards for generated code: run tests in the sandbox, decide in the trainer."""

from __future__ import annotations

import ast
import json
import math
import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from stepreward.types import CodeTask, Limits, TestCase, TestFailure, TestReport
from stepreward.values import (
    NOT_LITERAL,
    NumpyArray,
    NumpyScalar,
    contains_numpy,
    from_literal,
    parse_value,
    to_literal,
    values_equal,
)

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["CodeScore", "code_reward", "code_reward_many", "extract_code", "infer_entry_point",
           "run_tests", "tests_from_assertions"]

ExtractMode = Literal["answer_block", "last_block", "raw"]
# The rest of an opening fence's line: "```", spaces, an optional language, spaces, newline.
# Linear: the language must start with a letter, so the two space runs cannot trade characters.
_FENCE_OPEN = re.compile(r"[ \t]*(?:(?:python3|python|py)[ \t]*)?\n", re.IGNORECASE)
MAX_EXTRACT_CHARS = 4_000_000  # characters of a completion searched for code (its end)
MAX_FALLBACK_TESTS = 20
SKIPPED = "not run: an earlier test timed out"
CHUNK = 128  # at most this many call tests per sandbox task...
CHUNK_BYTES = 1 << 20  # ...and about this much argument data


def _chunks(idx: list[int], cases: Sequence[TestCase]) -> Iterator[list[int]]:
    current: list[int] = []
    size = 0
    for i in idx:
        weight = len(json.dumps(cases[i].args, separators=(",", ":")))
        if current and (len(current) >= CHUNK or size + weight > CHUNK_BYTES):
            yield current
            current, size = [], 0
        current.append(i)
        size += weight
    if current:
        yield current


# ---------------------------------------------------------------------------------- extraction


def extract_code(completion: str, mode: ExtractMode = "answer_block") -> str | None:
    """The code in a completion, or None.

    ``answer_block``: the last fenced block inside the last ``<answer>...</answer>`` (or in
    the whole text when there is no answer block); ``last_block``: the last fenced block
    anywhere; ``raw``: the answer block's text, or the whole completion.

    Example:
        >>> extract_code("<answer>\\n```python\\ndef f():\\n    return 1\\n```\\n</answer>")
        'def f():\\n    return 1\\n'
    """
    if not isinstance(completion, str):
        return None
    if len(completion) > MAX_EXTRACT_CHARS:
        completion = completion[-MAX_EXTRACT_CHARS:]
    start = completion.rfind("<answer>")
    end = completion.find("</answer>", start + 8) if start >= 0 else -1
    answer = completion[start + 8:end] if start >= 0 and end >= 0 else None
    if mode == "raw":
        text = answer if answer is not None else completion
        return text if text.strip() else None
    scope = answer if (mode == "answer_block" and answer is not None) else completion
    code = _last_fenced_block(scope)
    return code if code is not None and code.strip() else None


def _last_fenced_block(text: str) -> str | None:
    """The code of the last fenced block (``` or ```python ... ```), scanning left to right
    as ``re.findall`` would, in linear time: a closing fence is searched once per block, and
    when an opening fence has none after it, no later one can have one either."""
    last = None
    pos = 0
    while True:
        start = text.find("```", pos)
        if start < 0:
            return last
        header = _FENCE_OPEN.match(text, start + 3)
        if header is None:
            pos = start + 1
            continue
        end = text.find("```", header.end())
        if end < 0:
            return last
        last = text[header.end():end]
        pos = end + 3


# ---------------------------------------------------------------------------------- assertions


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, parse_value(ast.unparse(node))
    except (ValueError, RecursionError):
        return False, None


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
            ok, args, kwargs = call_args(test.args[0])
            lit_ok, expected = _literal(test.args[1])
            tols = [1e-9]
            for k in test.keywords:
                tol_ok, tol = _literal(k.value)
                if k.arg in ("rel_tol", "abs_tol") and tol_ok and isinstance(tol, (int, float)):
                    tols.append(float(tol))
                else:
                    ok = False
            if ok and lit_ok:
                return TestCase.call(fn_name, args, expected, kwargs=kwargs, atol=max(tols))
        if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and \
                test.func.attr in ("allclose", "isclose", "array_equal") and \
                isinstance(test.func.value, ast.Name) and test.func.value.id in ("np", "numpy") \
                and len(test.args) == 2:
            # numpy's own checks: compared as run_tests compares numpy values (EvalPlus).
            ok, args, kwargs = call_args(test.args[0])
            lit_ok, expected = _literal(test.args[1])
            atol = 0.0
            for k in test.keywords:
                tol_ok, tol = _literal(k.value)
                if k.arg in ("atol", "rtol") and tol_ok and isinstance(tol, (int, float)) \
                        and not isinstance(tol, bool) and tol >= 0:
                    atol = max(atol, float(tol))
                elif not (k.arg == "equal_nan" and tol_ok and isinstance(tol, bool)):
                    ok = False
            if test.func.attr != "array_equal" and atol == 0.0:
                atol = NUMPY_ATOL
            if ok and lit_ok:
                return TestCase.call(fn_name, args, expected, kwargs=kwargs, atol=atol)
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


def _root_functions(code: str, also_used: set[str]) -> list[str]:
    """Top-level functions of ``code`` that nothing else in it (or ``also_used``) calls."""
    tree = ast.parse(code)
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
        >>> infer_entry_point("assert add(1, 2) == 3\nassert set(add(0, 0)) == set()")
        'add'
        >>> infer_entry_point("def check(candidate):\n    assert candidate(1) == 2\n",
        ...                   "def helper(x):\n    return x\ndef inc(x):\n    return helper(x) + 1")
        'inc'
    """
    import builtins

    try:
        tree = ast.parse(test_code)
    except SyntaxError as exc:
        raise ValueError(f"the test code does not parse: {exc}") from None
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
        except SyntaxError:
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


# ---------------------------------------------------------------------------------- running


def _normalise_stdout(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _judge_call(case: TestCase, raw: list[Any]) -> tuple[bool, str, Any]:
    status = raw[0]
    if status == "timeout":
        return False, "timed out", None
    if status == "skipped":
        return False, SKIPPED, None
    if status == "error":
        return False, f"raised {raw[1]}: {raw[2]}", None
    if status == "nonliteral":
        truth = raw[2] if len(raw) > 2 else None
        if case.compare in ("truthy", "falsy") and isinstance(truth, bool):
            ok = truth if case.compare == "truthy" else not truth
            return ok, f"returned a {'falsy' if case.compare == 'truthy' else 'truthy'} value", None
        return False, f"returned a {raw[1]}, not a plain value", None
    got_lit = raw[1]
    if case.compare == "equal" and got_lit == case.expected:
        return True, "", got_lit  # the same canonical encoding: the same value and type
    try:
        got = from_literal(got_lit)
    except ValueError:
        return False, "returned a malformed value", None
    if case.compare in ("truthy", "falsy") and type(got) is NumpyArray and got.size != 1:
        # `assert f(x)` raises there too: an array's truth value is ambiguous.
        return False, "returned an array, whose truth value is ambiguous", got_lit
    if case.compare == "truthy":
        return bool(got), "returned a falsy value", got_lit
    if case.compare == "falsy":
        return not got, "returned a truthy value", got_lit
    if case.compare in ("abs_lt", "abs_le"):
        return _within(got, from_literal(case.expected), case.atol,
                       case.compare == "abs_le"), "wrong value", got_lit
    expected = from_literal(case.expected)
    if contains_numpy(got) or contains_numpy(expected):
        ok = _numpy_close(got, expected, case.atol or NUMPY_ATOL)
        return ok, "" if ok else _numpy_mismatch(got, expected), got_lit
    try:
        ok = values_equal(got, expected, float_tol=case.atol) if case.atol else \
            values_equal(got, expected)
    except (TypeError, ValueError):  # beyond the comparison's size bounds
        ok = False
    return ok, "wrong value", got_lit


def _replay_script(sb: Sandbox, script: str, recorded: dict[str, Any],
                   lim: Limits) -> tuple[bool, str, Any]:
    """The verdict of a script test: the task that ran the code only recorded the values
    its functions returned; the test script runs again, without the code, on those values,
    so nothing the code does (an always-equal object, a forged report) can pass it."""
    if not recorded.get("passed"):
        return False, str(recorded.get("reason")), None  # a failure the code could only fake
    try:
        payload = {"script": script, "records": list(recorded["records"]),
                   "values": dict(recorded["values"]), "modules": dict(recorded["modules"]),
                   "functions": [str(f) for f in recorded["functions"]]}
    except (KeyError, TypeError, ValueError):
        return False, "not gradeable: malformed records", None
    res = sb.call("stepreward.codegen._child:run_script_replay", payload, limits=lim)
    value = res.value if res.ok and isinstance(res.value, dict) else None
    if value is None:
        return False, f"the test script's replay {res.status}: {res.reason}", None
    return bool(value.get("passed")), str(value.get("reason")), None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


# EvalPlus's comparison of float outputs: np.allclose-style |got - expected| <= atol +
# rtol * |expected|, with atol 1e-6 where the task sets none; NaN matches NaN.
NUMPY_RTOL = 1e-07
NUMPY_ATOL = 1e-06


def _close(x: Any, y: Any, atol: float) -> bool:
    if type(x) is complex or type(y) is complex:
        cx, cy = complex(x), complex(y)
        return _close(cx.real, cy.real, atol) and _close(cx.imag, cy.imag, atol)
    x_nan = type(x) is float and math.isnan(x)
    y_nan = type(y) is float and math.isnan(y)
    if x_nan or y_nan:
        return x_nan and y_nan
    if x == y:  # also equal infinities
        return True
    try:
        return bool(abs(x - y) <= atol + NUMPY_RTOL * abs(y))
    except OverflowError:
        return False


def _numpy_close(got: Any, expected: Any, atol: float, depth: int = 0) -> bool:
    """EvalPlus-style: arrays (or the lists given for them) of the same shape, float or
    complex elements within ``atol`` (allclose), others exactly equal; numpy scalars as their
    values; lists, tuples and dicts elementwise."""
    if depth > 100:
        return False
    got = got.value if type(got) is NumpyScalar else got
    expected = expected.value if type(expected) is NumpyScalar else expected
    tg, te = type(got), type(expected)
    if tg is NumpyArray or te is NumpyArray:
        try:
            a = got if tg is NumpyArray else NumpyArray.from_data(got)
            b = expected if te is NumpyArray else NumpyArray.from_data(expected)
        except ValueError:  # not array-like: a dict, a ragged list, mixed strings...
            return False
        if a.shape != b.shape:
            return False
        if (a.dtype == "str") != (b.dtype == "str"):
            return False
        xs, ys = a.flat(), b.flat()
        return all(_numpy_close(x, y, atol, depth + 1) for x, y in zip(xs, ys, strict=True))
    numbers = (bool, int, float, complex)
    if tg in numbers and te in numbers:
        if float in (tg, te) or complex in (tg, te):
            return _close(got, expected, atol)
        return bool(got == expected)
    if tg in (list, tuple) and te is tg:
        return len(got) == len(expected) and all(
            _numpy_close(x, y, atol, depth + 1) for x, y in zip(got, expected, strict=True))
    if tg is dict and te is dict:
        return got.keys() == expected.keys() and all(
            _numpy_close(got[k], expected[k], atol, depth + 1) for k in got)
    try:
        return values_equal(got, expected)
    except (TypeError, ValueError):
        return False


def _numpy_mismatch(got: Any, expected: Any) -> str:
    """Why a numpy result failed, in words (the shape when that is what differs)."""
    if type(got) is NumpyArray or type(expected) is NumpyArray:
        try:
            a = got if type(got) is NumpyArray else NumpyArray.from_data(got)
            b = expected if type(expected) is NumpyArray else NumpyArray.from_data(expected)
        except ValueError:
            return "wrong value: not an array of the expected shape"
        if a.shape != b.shape:
            return f"wrong shape: {a.shape}, expected {b.shape}"
    return "wrong value"


def _within(got: Any, expected: Any, tol: float, inclusive: bool) -> bool:
    """``abs(got - expected) < tol`` (or ``<=``) as Python evaluates it, on plain numbers."""
    numbers = (int, float, complex)
    got = got.value if type(got) is NumpyScalar else got
    expected = expected.value if type(expected) is NumpyScalar else expected
    if not (isinstance(got, numbers) and isinstance(expected, numbers)):
        return False  # the assertion would raise TypeError: a failure
    try:
        diff = abs(got - expected)
    except (OverflowError, TypeError):
        return False
    return bool(diff <= tol if inclusive else diff < tol)


def run_tests(code: str, tests: Sequence[TestCase] | str, *, entry_point: str | None = None,
              sandbox: Sandbox | None = None, timeout_s: float = 1.0,
              total_timeout_s: float = 30.0, memory_mb: int = 512,
              max_fallback_tests: int = MAX_FALLBACK_TESTS) -> TestReport:
    """Run ``code`` against ``tests`` in the sandbox and report what passed.

    ``tests`` is a list of :class:`TestCase` or a string of assertion-style test code (then
    ``entry_point`` names the function, or :func:`infer_entry_point` finds it; see
    :func:`tests_from_assertions`). Call tests of one
    function run in one task, each with its own ``timeout_s``; if that task dies (a crash, an
    early ``os._exit``, the total deadline), the first ``max_fallback_tests`` run one per task
    and the rest fail. Expected values stay in the trainer: the task only reports values.

    Example:
        >>> run_tests("def add(a, b):\\n    return a + b", [TestCase.call("add", (1, 2), 3)]).passed
        1
    """
    from stepreward.trace._api import default_sandbox

    t0 = time.monotonic()
    if isinstance(tests, str):
        if not entry_point:
            # A solution that does not parse fails every test anyway (load_error); any name
            # does for building them.
            try:
                entry_point = infer_entry_point(tests, code if isinstance(code, str) else None)
            except ValueError:
                if isinstance(code, str) and _parses(code):
                    raise
                entry_point = "candidate"
        tests = tests_from_assertions(tests, entry_point)
    cases = list(tests)
    if not isinstance(code, str) or not code.strip():
        return TestReport(total=len(cases), status="unparsed", reason="no code")
    if not cases:
        return TestReport(status="no_tests", reason="no tests")
    sb = sandbox or default_sandbox()
    outcome: list[tuple[bool, str, Any] | None] = [None] * len(cases)
    load_problem: str | None = None

    def limits(seconds: float) -> Limits:
        return Limits(timeout_s=min(max(seconds, 0.5), total_timeout_s), memory_mb=memory_mb,
                      max_result_bytes=256 << 20)

    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        if c.kind == "call":
            groups.setdefault(c.fn_name or "", []).append(i)
    # (kind, test indices, target, payload, task deadline)
    jobs: list[tuple[str, list[int], str, dict[str, Any], float]] = []
    for fn, all_idx in groups.items():
        # Chunks keep payloads and results bounded and let one runaway test cost only its
        # chunk; they run concurrently on the pool.
        for idx in _chunks(all_idx, cases):
            jobs.append(("call", idx, "run_call_tests",
                         {"code": code, "fn_name": fn, "timeout_s": timeout_s,
                          "cases": [[cases[i].args, cases[i].kwargs] for i in idx]},
                         timeout_s * len(idx) + 2))
    io_idx = [i for i, c in enumerate(cases) if c.kind == "io"]
    if io_idx:
        jobs.append(("io", io_idx, "run_io_tests",
                     {"code": code, "timeout_s": timeout_s,
                      "stdins": [cases[i].stdin or "" for i in io_idx]},
                     timeout_s * len(io_idx) + 2))
    for i, c in enumerate(cases):
        if c.kind == "script":
            jobs.append(("script", [i], "run_script_record",
                         {"code": code, "script": c.script, "timeout_s": timeout_s},
                         max(timeout_s * 5, 5.0)))
    timed_out = False
    retry: list[int] = []

    def submit(job: tuple[str, list[int], str, dict[str, Any], float]) -> Any:
        return sb.call_submit(f"stepreward.codegen._child:{job[2]}", job[3],
                              limits=limits(job[4]))

    def collect(job: tuple[str, list[int], str, dict[str, Any], float], res: Any) -> None:
        nonlocal load_problem, timed_out
        kind, idx = job[0], job[1]
        value = res.value if res.ok and isinstance(res.value, dict) else None
        if value is None:
            if res.status == "timeout":
                # The task ignored its per-test deadlines until the sandbox killed it:
                # rerunning its tests would only pay that again.
                timed_out = True
                for i in idx:
                    outcome[i] = (False, "timed out (the task's deadline)", None)
            elif kind == "script":
                outcome[idx[0]] = (False, f"the test script {res.status}: {res.reason}", None)
            else:
                retry.extend(idx)
            return
        if value.get("status") in ("load_error", "missing"):
            load_problem = load_problem or str(value.get("reason"))
            for i in idx:
                outcome[i] = (False, str(value.get("reason")), None)
            return
        if kind == "script":
            outcome[idx[0]] = _replay_script(sb, job[3]["script"], value, limits(job[4]))
            return
        results = value.get("results")
        if not isinstance(results, list) or len(results) != len(idx):
            retry.extend(idx)
            return
        for i, raw in zip(idx, results, strict=True):
            try:
                if raw[0] in ("timeout", "skipped"):
                    timed_out = True
                if kind == "call":
                    outcome[i] = _judge_call(cases[i], raw)
                elif raw[0] == "skipped":
                    outcome[i] = (False, SKIPPED, None)
                else:
                    printed = raw[-1] if isinstance(raw[-1], str) else ""
                    ok = raw[0] == "ok" and _normalise_stdout(printed) == _normalise_stdout(
                        cases[i].expected_stdout or "")
                    reason = "wrong output" if raw[0] == "ok" else (
                        "timed out" if raw[0] == "timeout" else f"{raw[0]}: {raw[1:2]}")
                    outcome[i] = (ok, reason, printed[:200])
            except (IndexError, TypeError, ValueError):
                outcome[i] = (False, "malformed result", None)

    # Probe first: when a completion needs several tasks, its first task runs alone, and
    # the rest only if none of its tests timed out and the code loaded. A looping
    # completion then costs one per-test timeout, not one per chunk (or a script's 5 s).
    rest = jobs
    if len(jobs) > 1:
        collect(jobs[0], submit(jobs[0]).result())
        rest = jobs[1:]
        if timed_out or load_problem:
            reason = load_problem or SKIPPED
            for job in rest:
                for i in job[1]:
                    outcome[i] = (False, reason, None)
            rest = []
    for job, fut in [(job, submit(job)) for job in rest]:
        collect(job, fut.result())
    # A task that died took every result with it: rerun those tests one per task.
    for n, i in enumerate(sorted(retry)):
        if timed_out:
            outcome[i] = (False, SKIPPED, None)
            continue
        if n >= max_fallback_tests or time.monotonic() - t0 > total_timeout_s:
            outcome[i] = (False, "not run: an earlier test crashed the process", None)
            continue
        c = cases[i]
        payload: dict[str, Any]
        if c.kind == "call":
            payload = {"code": code, "fn_name": c.fn_name, "timeout_s": timeout_s,
                       "cases": [[c.args, c.kwargs]]}
            res = sb.call("stepreward.codegen._child:run_call_tests", payload,
                          limits=limits(timeout_s + 1))
            value = res.value if res.ok and isinstance(res.value, dict) else None
            if value and value.get("status") == "ok" and len(value.get("results", [])) == 1:
                outcome[i] = _judge_call(c, value["results"][0])
                timed_out = value["results"][0][:1] == ["timeout"]
            else:
                timed_out = res.status == "timeout"
                outcome[i] = (False, f"the process {res.status}: {res.reason}", None)
        else:
            payload = {"code": code, "timeout_s": timeout_s, "stdins": [c.stdin or ""]}
            res = sb.call("stepreward.codegen._child:run_io_tests", payload,
                          limits=limits(timeout_s + 1))
            value = res.value if res.ok and isinstance(res.value, dict) else None
            first: Any = value.get("results", [None])[0] if value else None
            ok = isinstance(first, list) and bool(first) and first[0] == "ok" and \
                _normalise_stdout(str(first[-1])) == _normalise_stdout(c.expected_stdout or "")
            timed_out = res.status == "timeout" or (isinstance(first, list) and
                                                    first[:1] == ["timeout"])
            outcome[i] = (ok, "wrong output" if first else f"the process {res.status}", None)
    failures = []
    passed = 0
    for i, o in enumerate(outcome):
        ok, reason, got = o if o is not None else (False, "not run", None)
        if ok:
            passed += 1
        else:
            failures.append(TestFailure(index=i, reason=reason, got=got))
    status: Literal["ok", "load_error"] = "load_error" if load_problem and passed == 0 else "ok"
    return TestReport(passed=passed, total=len(cases), failures=failures, status=status,
                      reason=load_problem, duration_s=time.monotonic() - t0)


class CodeScore:
    """A stage-2 reward with the test report behind it."""

    __slots__ = ("code", "parse_error", "report", "reward")

    def __init__(self, reward: float | None, report: TestReport | None, code: str | None,
                 parse_error: str | None) -> None:
        self.reward = reward
        self.report = report
        self.code = code
        self.parse_error = parse_error

    def __repr__(self) -> str:
        passed = f"{self.report.passed}/{self.report.total}" if self.report else "-"
        return f"CodeScore(reward={self.reward}, passed={passed}, error={self.parse_error!r})"


def code_reward(completion: Any, task: CodeTask | Sequence[TestCase] | str | None, *,
                mode: Literal["pass_rate", "all_or_nothing"] = "pass_rate",
                format_bonus: float = 0.0, bonus_on_fail: bool = False,
                extract: ExtractMode = "answer_block", sandbox: Sandbox | None = None,
                timeout_s: float = 1.0) -> CodeScore:
    """Reward a completion that should contain code by the tests it passes.

    ``mode``: the pass rate (default) or 1 only when every test passes. ``format_bonus`` is
    added when the completion has an ``<answer>`` block with code in it — only if at least
    one test passes, unless ``bonus_on_fail`` (the reference pays it only with a pass).
    Never raises for any completion; a completion without code scores 0 with a reason. A
    task without tests (or None) is not a code-generation task: the reward is None, which
    TRL reads as "not applicable". ``task`` may also be assertion-style test code, as
    :func:`run_tests` takes it (the entry point inferred; when the completion's code leaves it
    ambiguous, the reward is 0 with the reason).

    Example:
        >>> tests = [TestCase.call("sq", (3,), 9)]
        >>> code_reward("<answer>\\n```python\\ndef sq(x):\\n    return x * x\\n```\\n</answer>",
        ...             tests).reward
        1.0
    """
    from stepreward.scoring._parse import completion_text

    tests: list[TestCase] | str
    if task is None:
        tests = []
    elif isinstance(task, str):
        tests = task if task.strip() else []
    elif isinstance(task, CodeTask):
        tests = task.tests
    else:
        tests = list(task)
        if not all(isinstance(t, TestCase) for t in tests):
            raise TypeError("code_reward takes a CodeTask, a list of TestCase or assertion "
                            "code as a string")
    if not tests:
        return CodeScore(None, None, None, "not a code-generation task (no tests)")
    text = completion_text(completion)
    if text is None:
        return CodeScore(0.0, None, None, "completion is not text")
    code = extract_code(text, extract)
    if code is None:
        return CodeScore(0.0, None, None, "no code block found")
    try:
        report = run_tests(code, tests, sandbox=sandbox, timeout_s=timeout_s)
    except ValueError as exc:  # assertion code whose entry point this code leaves ambiguous
        return CodeScore(0.0, None, code, str(exc))
    if report.status not in ("ok", "load_error"):
        return CodeScore(0.0, report, code, report.reason)
    base = report.pass_rate if mode == "pass_rate" else float(
        report.total > 0 and report.passed == report.total)
    formatted = "<answer>" in text and "</answer>" in text
    bonus = format_bonus if formatted and (report.passed > 0 or bonus_on_fail) else 0.0
    return CodeScore(base + bonus, report, code, None)


def code_reward_many(completions: Sequence[Any],
                     tasks: Sequence[CodeTask | Sequence[TestCase] | None], *,
                     max_concurrency: int = 16, **options: Any) -> list[CodeScore]:
    """:func:`code_reward` over a batch, concurrently (the sandbox pool does the work).

    Example:
        >>> code_reward_many([], [])
        []
    """
    if len(completions) != len(tasks):
        raise ValueError(f"got {len(completions)} completions for {len(tasks)} tasks")
    if not completions:
        return []
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, min(max_concurrency, len(completions)))) as pool:
        return list(pool.map(lambda ct: code_reward(ct[0], ct[1], **options),
                             zip(completions, tasks, strict=True)))


def literal_or_raise(value: Any) -> Any:
    lit = to_literal(value)
    if lit is NOT_LITERAL:
        raise ValueError(f"not a literal value: {type(value).__name__}")
    return lit


tests_from_assertions.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
