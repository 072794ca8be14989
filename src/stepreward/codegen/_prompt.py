"""The code a task's prompt provides (helpers, imports), which a completion may not replace."""

from __future__ import annotations

import ast

from stepreward.types import CodeTask

__all__ = ["prompt_helpers", "with_prompt_helpers"]


def prompt_helpers(task: CodeTask) -> str:
    """The top-level imports, functions and classes of the task's prompt, except the entry
    point itself (the function the completion writes): ``""`` when the prompt is not Python.

    Example:
        >>> t = CodeTask(task_id="t", entry_point="decode",
        ...              prompt="import math\\ndef encode(s):\\n    return s + 'x'\\n"
        ...                     "def decode(s):\\n    '''Undo encode.'''\\n")
        >>> print(prompt_helpers(t))
        import math
        def encode(s):
            return s + 'x'
    """
    text = task.prompt or ""
    if "def " not in text and "class " not in text and "import " not in text:
        return ""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return ""
    entry = (task.entry_point or "").partition(".")[0]
    lines = text.splitlines()
    parts: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.name != entry):
            decorators = getattr(node, "decorator_list", [])
            first = min([node.lineno, *(d.lineno for d in decorators)])
            parts.append("\n".join(lines[first - 1:node.end_lineno or node.lineno]))
    return "\n".join(parts)


def with_prompt_helpers(code: str, task: CodeTask) -> str:
    """``code`` with the prompt's own helpers defined again after it, so that they win over
    any redefinition in the completion (HumanEval/50 gives ``encode_shift`` and asks for
    ``decode_shift``: a completion that makes both the identity must not pass).

    Example:
        >>> t = CodeTask(task_id="t", entry_point="g", prompt="def h():\\n    return 1\\n")
        >>> with_prompt_helpers("def h():\\n    return 2\\ndef g():\\n    return h()", t)
        'def h():\\n    return 2\\ndef g():\\n    return h()\\n\\n\\ndef h():\\n    return 1'
    """
    helpers = prompt_helpers(task)
    return f"{code.rstrip()}\n\n\n{helpers}" if helpers else code
