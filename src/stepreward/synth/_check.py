"""Checking, on the AST, that a program satisfies its constraint spec."""

from __future__ import annotations

import ast

from stepreward.synth._constraints import Constraints

__all__ = ["check_constraints", "method_nodes"]

_BINOPS = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "%": ast.Mod, "&": ast.BitAnd,
           "|": ast.BitOr, "^": ast.BitXor}
_CMPOPS = {"==": ast.Eq, "!=": ast.NotEq, ">=": ast.GtE, ">": ast.Gt, "<=": ast.LtE,
           "<": ast.Lt, "in": ast.In, "not in": ast.NotIn}
_AUGOPS = {"*=": ast.Mult, "&=": ast.BitAnd, "|=": ast.BitOr, "-=": ast.Sub, "^=": ast.BitXor}
_BUILTIN_CALLS = {"len": "len", "len()": "len", "bool()": "bool", "int()": "int",
                  "divmod": "divmod", "round": "round", "format()": "format",
                  "enumerate": "enumerate", "filter": "filter", "range": "range", "zip": "zip",
                  "reversed": "reversed"}


def _is_slice(node: ast.AST, lower: bool, upper: bool) -> bool:
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and \
        (node.slice.lower is not None) == lower and (node.slice.upper is not None) == upper


def method_nodes(tree: ast.AST, method: str) -> list[ast.AST]:
    """The AST nodes that use ``method`` (a vocabulary entry such as ``append`` or ``[:]``).

    Example:
        >>> len(method_nodes(ast.parse("x = s.strip().strip()"), "strip"))
        2
    """
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if method in _BUILTIN_CALLS:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id == _BUILTIN_CALLS[method]:
                found.append(node)
        elif method in ("math.ceil()", "math.floor()"):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == method[5:-2]:
                found.append(node)
        elif method == "str.format":
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "format":
                found.append(node)
        elif method in _AUGOPS:
            if isinstance(node, ast.AugAssign) and isinstance(node.op, _AUGOPS[method]):
                found.append(node)
        elif method in _CMPOPS:
            if isinstance(node, ast.Compare) and any(isinstance(o, _CMPOPS[method])
                                                     for o in node.ops):
                found.append(node)
        elif method in _BINOPS:
            if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS[method]):
                found.append(node)
        elif method in ("[index]", "dict[key]"):
            if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice) and \
                    isinstance(node.ctx, ast.Load):
                found.append(node)
        elif method == "dict[key] = value":
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript)
                                                    for t in node.targets):
                found.append(node)
        elif method == "[:]":
            if _is_slice(node, False, False):
                found.append(node)
        elif method == "[index1:index2]":
            if _is_slice(node, True, True):
                found.append(node)
        elif method == "[index:]":
            if _is_slice(node, True, False):
                found.append(node)
        elif method == "[:index2]":
            if _is_slice(node, False, True):
                found.append(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == method:
            found.append(node)
    return found


def _depth(node: ast.AST, d: int = 0) -> int:
    best = d
    for child in ast.iter_child_nodes(node):
        inc = isinstance(child, (ast.If, ast.For, ast.While))
        # An `elif` is a nested If in the AST but not deeper nesting in the code.
        if isinstance(node, ast.If) and isinstance(child, ast.If) and node.orelse == [child]:
            inc = False
        best = max(best, _depth(child, d + inc))
    return best


def _method_calls(tree: ast.AST) -> set[str]:
    return {n.func.attr for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}


def check_constraints(source: str, c: Constraints, entry: str = "f") -> dict[str, bool]:
    """Which parts of ``c`` the program satisfies, each verified on its AST.

    Example:
        >>> c = Constraints(type="str", method="upper", other_methods=False)
        >>> check_constraints("def f(s):\\n    return s.upper().upper()", c)["method"]
        True
    """
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    uses = method_nodes(tree, c.method)
    nested = len(uses) >= 2 or any(
        isinstance(parent, ast.Call) and any(u in ast.walk(parent) for u in uses if u is not
                                             parent)
        for parent in ast.walk(tree) if isinstance(parent, ast.Call))
    target_attr = c.method if c.method.isidentifier() else None
    others = _method_calls(tree) - {target_attr, "ceil", "floor", "format"}
    report = {
        "method": bool(uses),
        "nested_calls": (not c.nested_calls) or nested,
        "other_methods": bool(others) if c.other_methods else not others,
        "depth": _depth(tree) == c.depth,
        "functions": len(funcs) == (2 if c.helper else 1),
        "entry": any(f.name == entry for f in funcs),
    }
    if c.helper:
        main = next((f for f in funcs if f.name == entry), None)
        helpers = {f.name for f in funcs if f.name != entry}
        report["helper_called"] = main is not None and any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in helpers
            for n in ast.walk(main))
    if funcs:
        report["params"] = 1 <= len(funcs[0].args.args) <= c.params
    return report
