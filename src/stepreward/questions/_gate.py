"""The gate an answer expression passes before it may run in the sandbox.

Two independent layers, both in the trainer and before anything runs:

1. RestrictedPython's restricted *expression* policy (``compile_restricted_eval``): no names or
   attributes starting with ``_`` (so no ``__import__``, ``__class__``, ``__globals__``...),
   no statements, and its other checks.
2. A scope-aware name check of our own. Names are resolved as Python resolves them: a
   comprehension's first iterable is evaluated in the enclosing scope, its targets bind in
   the comprehension, a lambda's defaults are evaluated outside it and its parameters bind
   inside. Every name that is *free* (not bound by an enclosing lambda or comprehension of
   the answer) must be a pure builtin (``sorted``, ``len``, ...) or, for an input answer, the
   function under test as the called function. No answer may bind the name of the function
   under test, a builtin or an underscore name, and walrus assignments are refused outright
   (at module level they would rebind globals such as ``f``).

The answer then runs in the sandbox, which is what contains it; the gate keeps a model from
reaching the file system, the result channel or the function's own code from an answer,
and from rebinding ``f`` to turn ``assert f(x) == <anything>`` into a tautology.
"""

from __future__ import annotations

import ast

__all__ = ["INTROSPECTION_ATTRIBUTES", "MAX_ANSWER_DEPTH", "SAFE_NAMES", "check_expression",
           "parse_answer", "program_globals"]

# Pure builtins an answer may use (no I/O, no introspection, no code objects).
SAFE_NAMES = frozenset({
    "True", "False", "None", "abs", "all", "any", "bool", "bytes", "chr", "complex", "dict",
    "divmod", "enumerate", "filter", "float", "frozenset", "int", "len", "list", "map", "max",
    "min", "ord", "pow", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple",
    "zip", "inf", "nan",
})
# Attributes that reach frames, code objects and through them any function's globals (a
# generator's gi_frame.f_globals['f'] is the function under test). RestrictedPython refuses
# the same list; checking it here too keeps the gate from depending on one layer.
INTROSPECTION_ATTRIBUTES = frozenset({
    "ag_await", "ag_code", "ag_frame", "co_code", "cr_await", "cr_code", "cr_frame",
    "cr_origin", "f_back", "f_builtins", "f_code", "f_generator", "f_globals", "f_locals",
    "f_trace", "gi_code", "gi_frame", "gi_yieldfrom", "tb_frame", "tb_next",
})
_MAX_TEXT = 100_000  # longer answers are refused before RestrictedPython compiles them
# Deeper answer trees are refused at parse time: ast.unparse, ast.dump and every visitor
# recurse about three frames per level, and a literal answer nests no deeper than this
# (parse_value's own limit).
MAX_ANSWER_DEPTH = 100


def parse_answer(text: str, mode: str = "exec") -> ast.AST | None:
    """``ast.parse(text, mode=mode)`` for model text: None when it does not parse, is longer
    than 100,000 characters, or nests deeper than ``MAX_ANSWER_DEPTH`` (a 1,500-term sum, a
    long chain of unary minus signs or attributes), so nothing after it can run out of stack.

    Example:
        >>> parse_answer("assert f(1) == 2") is not None
        True
        >>> parse_answer("1" + " + 1" * 1500) is None
        True
    """
    if len(text) > _MAX_TEXT:
        return None
    try:
        tree = ast.parse(text, mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_ANSWER_DEPTH:
            return None
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def _restricted_errors(text: str) -> str | None:
    from RestrictedPython.compile import compile_restricted_eval  # ~20 ms, only when needed
    try:
        result = compile_restricted_eval(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError) as exc:
        return f"RestrictedPython refused the answer: {type(exc).__name__}"
    if result.errors:
        return f"RestrictedPython refused the answer: {result.errors[0]}"
    return None


def program_globals(source: str, entry: str | None) -> frozenset[str]:
    """The program's own variables: names its top level binds by plain assignment, which an
    input answer may read (CRUXEval writes ``f(thigh_o_two[:], 3, 3, 2)``). Not functions,
    classes or imports, not the function under test, builtins or underscore names.

    Example:
        >>> sorted(program_globals("a = [1]\nb: int = 2\nimport os\ndef f(x):\n    y = 1", "f"))
        ['a', 'b']
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    names: set[str] = set()
    for stmt in tree.body:
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets = [stmt.target]
        for target in targets:
            stack = [target]
            while stack:
                node = stack.pop()
                if isinstance(node, ast.Name):
                    names.add(node.id)
                elif isinstance(node, (ast.Tuple, ast.List)):
                    stack.extend(node.elts)
                elif isinstance(node, ast.Starred):
                    stack.append(node.value)
    return frozenset(n for n in names if n != entry and n not in SAFE_NAMES
                     and not n.startswith("_"))


class _Scopes:
    """Walks an expression with Python's scoping rules; records the first violation."""

    def __init__(self, entry: str | None, readable: frozenset[str] = frozenset()) -> None:
        self.entry = entry
        self.readable = readable  # the program's own variables, which may be read
        self.error: str | None = None
        self.calls_entry = False

    def fail(self, why: str) -> None:
        if self.error is None:
            self.error = why

    def bind(self, name: str, bound: set[str]) -> None:
        if name == self.entry:
            self.fail(f"the answer rebinds the function under test {name!r}")
        elif name in SAFE_NAMES or name.startswith("_") or name in self.readable:
            self.fail(f"the answer rebinds the name {name!r}")
        bound.add(name)

    def bind_target(self, target: ast.AST, bound: set[str]) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, bound)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.bind_target(elt, bound)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, bound)
        else:  # an attribute or subscript target assigns into an object
            self.fail("comprehension targets must be plain names")

    def visit(self, node: ast.AST, bound: frozenset[str]) -> None:
        if self.error is not None:
            return
        if isinstance(node, ast.Name):
            if node.id in bound:
                return
            if node.id == self.entry:
                self.fail(f"the answer uses the function under test {node.id!r}")
            elif node.id not in SAFE_NAMES and node.id not in self.readable:
                self.fail(f"the name {node.id!r} is not allowed in an answer")
            return
        if isinstance(node, (ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            self.fail("assignments and generators are not allowed in an answer")
            return
        if isinstance(node, ast.Attribute) and (node.attr.startswith("_")
                                                or node.attr in INTROSPECTION_ATTRIBUTES):
            self.fail(f"the attribute {node.attr!r} is not allowed in an answer")
            return
        if isinstance(node, ast.Lambda):
            self.visit_lambda(node, bound)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self.visit_comprehension(node, bound)
            return
        for child in ast.iter_child_nodes(node):
            self.visit(child, bound)

    def visit_lambda(self, node: ast.Lambda, bound: frozenset[str]) -> None:
        a = node.args
        for default in [*a.defaults, *(d for d in a.kw_defaults if d is not None)]:
            self.visit(default, bound)  # evaluated where the lambda is defined
        inner: set[str] = set(bound)
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
            if arg is not None:
                self.bind(arg.arg, inner)
        self.visit(node.body, frozenset(inner))

    def visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                            | ast.DictComp, bound: frozenset[str]) -> None:
        inner: set[str] = set(bound)
        for i, gen in enumerate(node.generators):
            if gen.is_async:
                self.fail("async comprehensions are not allowed in an answer")
                return
            # The first iterable is evaluated in the enclosing scope; later ones inside.
            self.visit(gen.iter, bound if i == 0 else frozenset(inner))
            self.bind_target(gen.target, inner)
            for cond in gen.ifs:
                self.visit(cond, frozenset(inner))
        scope = frozenset(inner)
        if isinstance(node, ast.DictComp):
            self.visit(node.key, scope)
            self.visit(node.value, scope)
        else:
            self.visit(node.elt, scope)


def check_expression(node: ast.expr, entry: str | None, *, call_of_entry: bool,
                     readable: frozenset[str] = frozenset()) -> str | None:
    """Why the answer expression ``node`` may not run, or None when it may.

    ``call_of_entry``: the expression must be a call of ``entry`` whose arguments pass the
    gate (an input answer, ``f(ARGS)``); otherwise ``entry`` may not appear at all (an output
    answer's value). ``readable``: further names the answer may read but not bind (the
    program's own variables, :func:`program_globals`, for input answers).

    Example:
        >>> check_expression(ast.parse("f([1, 2], lambda x: x.sort())", mode="eval").body,
        ...                  "f", call_of_entry=True) is None
        True
        >>> check_expression(ast.parse("[g(1) for g in [f] for f in [0]]", mode="eval").body,
        ...                  "f", call_of_entry=False)
        "the answer uses the function under test 'f'"
    """
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError, MemoryError):
        return "the answer is too deeply nested"
    if len(text) > _MAX_TEXT:
        return f"the answer is longer than {_MAX_TEXT} characters"
    scopes = _Scopes(entry, readable)
    try:
        if call_of_entry:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and entry is not None and node.func.id == entry):
                return f"expected a call of {entry}(...)"
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                scopes.visit(arg, frozenset())
        else:
            scopes.visit(node, frozenset())
    except RecursionError:
        return "the answer is too deeply nested"
    if scopes.error is not None:
        return scopes.error
    return _restricted_errors(text)
