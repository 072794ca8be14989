"""Model-backed synthesis (programs and input mutation) and empirical difficulty.

The W-n codes cite the reference implementation's defects that docs/method.md defines.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stepreward.synth._backends import Generator
from stepreward.synth._check import check_constraints, method_nodes
from stepreward.synth._constraints import Constraints
from stepreward.synth._pipeline import INPUTS_PER_PROGRAM, Item, features, normalized_hash
from stepreward.types import Sample

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox

__all__ = ["PAPER_FILTER", "DifficultyFilter", "estimate_difficulty", "model_synthesize",
           "mutation_prompt", "parse_program", "program_prompt"]

_CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def program_prompt(c: Constraints, rng: random.Random | None = None) -> str:
    """The instruction a model gets to write a program under constraints ``c``.

    Example:
        >>> "`append`" in program_prompt(Constraints(type="list", method="append"))
        True
    """
    rng = rng or random.Random(0)
    rules = [
        f"Write a small Python function that exercises the `{c.method}` operation of the "
        f"`{c.type}` type, and one line that calls it.",
        "Rules:",
        "- No comments and no default parameter values; every function takes at least one "
        "argument.",
        "- End with exactly one top-level line `print(NAME(ARGUMENTS))` that calls the entry "
        "function once, with literal arguments.",
    ]
    if c.nested_calls:
        rules.append(f"- Call `{c.method}` at least twice, at least once inside another call.")
    rules.append("- Use at least one other built-in method as well." if c.other_methods
                 else f"- Use no built-in method other than `{c.method}`.")
    rules.append("- Define a helper function and an entry function that calls it." if c.helper
                 else "- Define exactly one function.")
    if c.depth == 0:
        rules.append("- Use no if, for or while statements.")
    else:
        blueprint = list(c.blueprint) or [rng.choice(["if", "for", "while", "if-elif"])
                                          for _ in range(c.depth)]
        names = {"if": "if statement", "for": "for loop", "while": "while loop",
                 "if-elif": "if/elif chain"}
        chain = ", inside it ".join(f"{_article(names[b])} {names[b]}" for b in blueprint)
        rules.append(f"- Nest control flow exactly like this: {chain}.")
    rules.append("Answer with one ```python code block and nothing else.")
    return "\n".join(rules)


def mutation_prompt(source: str, call: str) -> str:
    """The instruction a model gets to change a program's inputs."""
    return ("Here is a Python program and the call that runs it:\n```python\n"
            f"{source.rstrip()}\nprint({call})\n```\n"
            "Write the same program with different literal arguments in the final print(...) "
            "call: same types, collections of at least five elements, nothing else changed. "
            "Answer with one ```python code block.")


def parse_program(text: str) -> tuple[str, str, str] | None:
    """(source without the final print, entry name, call) from a model's answer, or None.

    Example:
        >>> parse_program("```python\\ndef f(a):\\n    return a\\nprint(f(3))\\n```")
        ('def f(a):\\n    return a\\n', 'f', 'f(3)')
    """
    m = _CODE_BLOCK.search(text)
    if not m:
        return None
    code = m.group(1)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None
    prints = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
              and isinstance(n.value.func, ast.Name) and n.value.func.id == "print"]
    if len(prints) != 1 or len(prints[0].value.args) != 1:  # type: ignore[attr-defined]
        return None
    call_node = prints[0].value.args[0]  # type: ignore[attr-defined]
    if not (isinstance(call_node, ast.Call) and isinstance(call_node.func, ast.Name)):
        return None
    entry = call_node.func.id
    if not any(isinstance(n, ast.FunctionDef) and n.name == entry for n in tree.body):
        return None
    # Keep the module prelude (imports, constants, helpers): only the print line goes (W-8).
    tree.body = [n for n in tree.body if n is not prints[0]]
    return ast.unparse(tree) + "\n", entry, ast.unparse(call_node)


def model_synthesize(constraints: Sequence[Constraints], backend: Generator, *,
                     levels: Sequence[int] | None = None, seed: int = 0, mutate: bool = True,
                     sandbox: Sandbox | None = None, temperature: float = 0.8,
                     max_tokens: int = 1024) -> tuple[list[Item], dict[str, int]]:
    """Programs written by a model under ``constraints``, filtered like generated ones.

    Each answer must hold one code block ending in ``print(f(...))``; the program is traced
    in the sandbox on its call (and, with ``mutate``, on calls whose arguments the model
    changed), and kept when it returns a bounded literal, exercises the method under test and
    meets every constraint on its AST. Returns the items and the count of rejects per reason.
    """
    from stepreward.trace._api import trace_many

    rng = random.Random(seed)
    rejects: dict[str, int] = {}

    def reject(why: str) -> None:
        rejects[why] = rejects.get(why, 0) + 1

    answers = backend.generate([program_prompt(c, rng) for c in constraints], 1,
                               temperature=temperature, max_tokens=max_tokens, seed=seed)
    parsed: list[tuple[int, Constraints, str, str, list[str]]] = []
    for i, (c, outs) in enumerate(zip(constraints, answers, strict=True)):
        p = parse_program(outs[0]) if outs else None
        if p is None:
            reject("no program with a single print(f(...)) call")
            continue
        source, entry, call = p
        report = check_constraints(source, c, entry)
        if not all(report.values()):
            reject("constraint not met (" + ", ".join(k for k, v in report.items() if not v)
                   + ")")
            continue
        parsed.append((i, c, source, entry, [call]))
    if mutate and parsed:
        prompts = [mutation_prompt(src, calls[0]) for _, _, src, _, calls in parsed]
        mutated = backend.generate(prompts, INPUTS_PER_PROGRAM - 1, temperature=0.4,
                                   max_tokens=max_tokens, seed=seed + 1)
        for (_, _, src, entry, calls), outs in zip(parsed, mutated, strict=True):
            for text in outs:
                p = parse_program(text)
                if p and p[1] == entry and normalized_hash(p[0]) == normalized_hash(src):
                    calls.append(p[2])
    flat = [(src, call) for _, _, src, _, calls in parsed for call in calls]
    traces = trace_many(flat, sandbox=sandbox, max_steps=2000)
    items: list[Item] = []
    k = 0
    seen: set[tuple[str, str]] = set()
    for i, c, src, entry, calls in parsed:
        ts = traces[k:k + len(calls)]
        k += len(calls)
        lines = {getattr(n, "lineno", -1) for n in method_nodes(ast.parse(src), c.method)}
        level = levels[i] if levels else 0
        pid = normalized_hash(src)
        for call, t in zip(calls, ts, strict=True):
            if t.status != "ok" or t.truncated or t.result is None or not t.result.askable:
                reject("does not run to a literal result")
                continue
            if not lines & t.executed_lines:
                reject("method under test not executed")
                continue
            if (pid, call) in seen:
                reject("duplicate input")
                continue
            seen.add((pid, call))
            items.append(Item(source=src, call=call, entry=entry, level=level, constraints=c,
                              trace=t, features=features(src, t), program_id=pid, index=i))
    return items, rejects


@dataclass(frozen=True)
class DifficultyFilter:
    """Keep items that a reference model solves at most ``max_pass`` times out of ``n``."""

    n: int = 10
    max_pass: int = 3
    temperature: float = 1.0
    match: str = "exact"  # "exact": stepreward's grader; "substring": the reference's test

    def keep(self, pass_count: int) -> bool:
        return pass_count <= self.max_pass


PAPER_FILTER = DifficultyFilter(n=10, max_pass=3)


def estimate_difficulty(samples: Sequence[Sample], backend: Generator, *,
                        flt: DifficultyFilter = PAPER_FILTER, max_tokens: int = 1024,
                        seed: int = 0) -> list[int]:
    """How many of ``flt.n`` sampled answers solve each sample's output question.

    Answers are graded with :func:`stepreward.score` (``match="exact"``), or, as the
    reference does, by finding the result's repr anywhere in the answer (``"substring"``).
    """
    from stepreward.scoring._score import score

    outputs = [next((q for q in s.questions if q.kind == "output"), None) for s in samples]
    if any(q is None for q in outputs):
        raise ValueError("every sample needs an output question")
    prompts = [s.prompt for s in samples]
    answers = backend.generate(prompts, flt.n, temperature=flt.temperature,
                               max_tokens=max_tokens, seed=seed)
    counts = []
    for s, q, outs in zip(samples, outputs, answers, strict=True):
        assert q is not None
        if flt.match == "substring":
            gold = q.gold_text.split("==", 1)[-1].strip()
            counts.append(sum(gold in o for o in outs))
        else:
            counts.append(sum(score(o, s).components.get("output") == 1.0 for o in outs))
    return counts
