"""Script tests read statically in the trainer: which names the replay stubs, and the script
that the task running the completion gets, with the expected side of each assert taken out.
"""

from __future__ import annotations

import ast
import builtins

from stepreward._textcache import TextCache

__all__ = ["recording_script", "script_names", "script_stubs"]

_BUILTINS = frozenset(dir(builtins))
# A task's script is read once for all the completions of a group; scripts come with the
# task's label, so the caches are bounded in bytes as well as entries.
_NAMES: TextCache[tuple[str, ...]] = TextCache(max_entries=512, max_bytes=32 << 20)
_RECORDING: TextCache[str] = TextCache(max_entries=512, max_bytes=32 << 20)


def _bound_at_top(tree: ast.Module) -> set[str]:
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            bound.update(n.id for n in ast.walk(node)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return bound


def _script_names(script: str) -> tuple[str, ...]:
    names = _NAMES.get(script)
    if names is None:
        names = _read_names(script)
        _NAMES.put(script, names)
    return names


def _read_names(script: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(script)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return tuple(sorted(loaded - _bound_at_top(tree) - _BUILTINS))


def script_names(script: str) -> list[str]:
    """Names the test script reads but does not bind at its top level, builtins aside: what
    the completion provides (its functions, constants, imports).

    Example:
        >>> script_names("import math\\nfor n in (1, 2):\\n    assert total(n) == sum(range(n))")
        ['total']
    """
    return list(_script_names(script))


def script_stubs(script: str, code: str) -> list[str]:
    """The functions the replay of a script test stubs: names the script reads freely that
    the completion's code binds at its top level. Never a builtin, whatever a task reports.

    Example:
        >>> script_stubs("assert total(3) == sum(range(3))", "def total(n):\\n    return 3")
        ['total']
    """
    try:
        defined = _bound_at_top(ast.parse(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [name for name in script_names(script) if name in defined]


class _Recording(ast.NodeTransformer):
    """Each assert becomes the evaluation of its calls that may reach the completion; its
    expected side (literals, and what builtins and module functions compute from them)
    does not exist in the task that runs the completion."""

    def __init__(self, modules: set[str], script_functions: set[str]) -> None:
        self.modules = modules  # names bound to imported modules
        self.script_functions = script_functions

    def _pure_callee(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in _BUILTINS and func.id not in self.script_functions
        return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
            func.value.id in self.modules

    def reaching(self, node: ast.expr) -> list[ast.expr]:
        """The maximal sub-expressions of ``node`` that may call into the completion."""
        if isinstance(node, ast.Call):
            if not self._pure_callee(node.func):
                return [node]
            out: list[ast.expr] = []
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                out += self.reaching(arg.value if isinstance(arg, ast.Starred) else arg)
            return out
        if isinstance(node, ast.Compare):
            return [part for side in (node.left, *node.comparators)
                    for part in self.reaching(side)]
        if isinstance(node, ast.BinOp):
            return self.reaching(node.left) + self.reaching(node.right)
        if isinstance(node, ast.UnaryOp):
            return self.reaching(node.operand)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [part for elt in node.elts for part in self.reaching(elt)]
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            # A later operand only runs when the earlier ones held; when one does not, the
            # test fails anyway, so running it in the first task changes no verdict.
            return [part for value in node.values for part in self.reaching(value)]
        if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
            inner = self.reaching(node.elt)
            if not inner:
                return []
            elt = inner[0] if len(inner) == 1 else ast.Tuple(elts=inner, ctx=ast.Load())
            return [ast.Call(func=ast.Name(id="list", ctx=ast.Load()),
                             args=[ast.GeneratorExp(elt=elt, generators=node.generators)],
                             keywords=[])]
        if any(isinstance(n, ast.Call) for n in ast.walk(node)):
            return [node]  # anything else that calls: kept whole
        return []  # a literal, a name, a subscript of them: the expected side

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        if any(isinstance(n, (ast.IfExp, ast.NamedExpr)) or (
                isinstance(n, ast.BoolOp) and isinstance(n.op, ast.Or))
               for n in ast.walk(node.test)):
            # `or` and `if-else` decide which calls run from the values compared: kept as
            # they are, so the first task makes exactly the calls the replay will.
            return node
        parts = self.reaching(node.test)
        value: ast.expr = ast.Tuple(elts=parts, ctx=ast.Load())
        return ast.copy_location(ast.Expr(value=value), node)


def recording_script(script: str) -> str:
    """The script for the task that runs the completion: every ``assert`` reduced to the
    calls in it that may reach the completion, in their order, with no expected value.

    The verdict comes from the replay of the original script without the completion (see
    docs/codegen.md); this one only has to make the same calls, so a completion that reads
    its caller's frame or the script's text finds no expected side to copy.

    Example:
        >>> print(recording_script("for n in (1, 2):\\n    assert total(n) == sum(range(n))"))
        for n in (1, 2):
            (total(n),)
    """
    recording = _RECORDING.get(script)
    if recording is None:
        recording = _record_calls(script)
        _RECORDING.put(script, recording)
    return recording


def _record_calls(script: str) -> str:
    try:
        tree = ast.parse(script)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return script  # the recording task reports the error as the replay would
    modules = {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
               if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names
               if isinstance(n, ast.Import)}
    functions = {n.name for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    try:
        new = ast.fix_missing_locations(_Recording(modules, functions).visit(tree))
        return ast.unparse(new)
    except (RecursionError, ValueError, MemoryError):
        return script
