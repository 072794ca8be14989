"""REval (DREval): its four runtime-behaviour tasks and its incremental-consistency score.

REval (Chen et al., 2024; github.com/r-eval/REval) asks, for a program, an input and a list
of ``(lineno, var)`` probes: does the line run (coverage), what is ``var`` after it runs
(state: a value and its type, any execution counts), which line runs next (path: any
execution counts; ``-1`` when the function returns), and the whole output assertion. Its
incremental consistency (IC) scores each probe 1, 0.5, 0.25 or 0.125 when the tasks are right
in that order up to a point and wrong from there on, and 0 when a later task is right after
an earlier one was wrong.

Data: ``DREval_data.jsonl`` (``code``, ``entry_point``, ``inputs``: argument tuples written as
``"(a, b,)"``) and ``DREval_tasks.jsonl`` (``idx``, ``tasks``: ``input_idx``, ``task``: a
list of ``{"lineno", "var"}``, ``output_pred``). Ground truth comes from stepreward's own
trace of each call in the sandbox. The ClassEval half of DREval (classes driven by unittest
methods) is skipped and counted: its probes refer to a test method's generated source.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepreward._jsonl import read_jsonl
from stepreward.values import normalize_type_name, parse_value, values_equal

__all__ = [
    "REvalCase",
    "REvalProbe",
    "grade_reval",
    "incremental_consistency",
    "load_reval",
    "reval_gold_completion",
]

_INSTRUCTIONS = (
    "Answer every question in order inside <answer> and </answer>, one line each, numbered "
    "like the questions:\n"
    "- coverage: YES or NO;\n"
    "- state: the value and its type separated by a semicolon, e.g. `[1, 2]; list` (or Nil if "
    "the line never runs);\n"
    "- path: the line number that runs next (-1 if the function returns; Nil if the line "
    "never runs);\n"
    "- output: the completed assertion.")


@dataclass
class REvalProbe:
    """One ``(lineno, var)`` probe with its ground truth from the trace."""

    line: int
    var: str
    covered: bool
    values: list[tuple[str, Any]]  # (type name, decoded value) after each execution
    next_lines: list[int]


@dataclass
class REvalCase:
    """One program run (a DREval item with one of its inputs) and its probes."""

    id: str
    code: str
    call: str
    output_pred: str
    result: Any
    probes: list[REvalProbe] = field(default_factory=list)

    def prompt(self) -> str:
        """The prompt: numbered code, the call, the questions and the answer format."""
        lines = self.code.split("\n")
        numbered = "\n".join(f"{i + 1}\t{line}" for i, line in enumerate(lines))
        qs = []
        for p in self.probes:
            code_line = lines[p.line - 1].strip()
            qs.append(f"Is line {p.line} (`{code_line}`) executed when `{self.call}` runs? "
                      "(coverage)")
            qs.append(f"What is the value of `{p.var}` right after line {p.line} "
                      f"(`{code_line}`) runs, and its type? (state)")
            qs.append(f"Which line runs right after line {p.line} (`{code_line}`)? (path)")
        qs.append(f"Complete the assertion: {self.output_pred} (output)")
        body = "\n".join(f"{i + 1}. {q}" for i, q in enumerate(qs))
        return (f"```python\n{numbered}\n```\n\nThe program runs `{self.call}`.\n\n{body}\n\n"
                f"{_INSTRUCTIONS}")


def _is_class_item(code: str, entry: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return True
    return any(isinstance(n, ast.ClassDef) and n.name == entry for n in tree.body)


def load_reval(path: str | os.PathLike[str], *, limit: int | None = None
               ) -> tuple[list[REvalCase], int]:
    """REval cases from a local copy: ``path`` is the folder holding ``DREval_data.jsonl``
    and ``DREval_tasks.jsonl`` (REval's ``data/``), or the data file with the tasks file
    beside it. Returns the cases (one per program and input, traced in the sandbox) and the
    number of ClassEval items skipped.

    Example:
        >>> cases, skipped = load_reval("REval/data")  # doctest: +SKIP
    """
    from stepreward.trace._api import trace_many

    p = Path(path)
    folder = p if p.is_dir() else p.parent
    data_file = p if p.is_file() else folder / "DREval_data.jsonl"
    tasks_file = folder / "DREval_tasks.jsonl"
    if not data_file.is_file() or not tasks_file.is_file():
        raise FileNotFoundError(f"REval needs DREval_data.jsonl and DREval_tasks.jsonl in "
                                f"{folder} (REval's data/ folder)")
    data = read_jsonl(data_file)
    tasks = read_jsonl(tasks_file)[:limit]
    skipped = 0
    pending: list[tuple[str, str, str, str, list[dict[str, Any]]]] = []
    for t in tasks:
        d = data[int(t["idx"])]
        code, entry = str(d["code"]), str(d["entry_point"])
        if _is_class_item(code, entry):
            skipped += 1
            continue
        for pair in t["tasks"]:
            args = str(d["inputs"][int(pair["input_idx"])]).strip()
            inner = args[1:-1].rstrip().rstrip(",") if args.startswith("(") else args
            pending.append((f"{t['task_id']}/{pair['input_idx']}", code, f"{entry}({inner})",
                            str(pair["output_pred"]), list(pair["task"])))
    traces = trace_many([(code, call) for _, code, call, _, _ in pending])
    cases = []
    for (cid, code, call, output_pred, probes), tr in zip(pending, traces, strict=True):
        if tr.status != "ok" or tr.result is None or not tr.result.is_literal:
            skipped += 1
            continue
        case = REvalCase(id=cid, code=code, call=call, output_pred=output_pred,
                         result=tr.result.to_python())
        for probe in probes:
            line, var = int(probe["lineno"]), str(probe["var"])
            steps = [s for s in tr.steps if s.line == line]
            values = [(v.type_name, v.to_python()) for s in steps
                      for v in [s.state_after.get(var)] if v is not None and v.is_literal]
            nexts = sorted({n for s in steps
                            for n in [tr.next_line(s.line, s.occurrence)] if n is not None})
            case.probes.append(REvalProbe(line=line, var=var, covered=bool(steps),
                                          values=values, next_lines=nexts))
        cases.append(case)
    return cases, skipped


def reval_gold_completion(case: REvalCase) -> str:
    """A completion that answers every question of a case right (for tests and replays)."""
    from stepreward.values import render_literal, to_literal

    answers = []
    for p in case.probes:
        answers.append("YES" if p.covered else "NO")
        if p.values:
            type_name, value = p.values[-1]
            answers.append(f"{render_literal(to_literal(value))}; {type_name}")
        else:
            answers.append("Nil")
        answers.append(str(p.next_lines[0]) if p.next_lines else "Nil")
    answers.append(case.output_pred.replace("??", render_literal(to_literal(case.result))))
    return "<answer>\n" + "\n".join(f"{i + 1}. {a}" for i, a in enumerate(answers)) + \
        "\n</answer>"


_NUMBER = re.compile(r"^\s*(\d{1,9})\s*[.):]\s*")  # no question has a 10-digit number


def _answers(completion: str, count: int) -> list[str | None] | None:
    from stepreward.scoring._parse import extract_answer_block

    block = extract_answer_block(completion)
    if block is None:
        return None
    lines = [ln for ln in block.strip().split("\n") if ln.strip()]
    out: list[str | None] = [None] * count
    numbered = all(_NUMBER.match(ln) for ln in lines)
    for i, ln in enumerate(lines):
        m = _NUMBER.match(ln)
        k = int(m.group(1)) - 1 if numbered and m else i
        if 0 <= k < count:
            out[k] = ln[m.end():].strip() if m else ln.strip()
    return out


def _coverage(ans: str, gold: bool) -> bool:
    head = ans.strip().strip("`*").upper()[:3]
    yes, no = "YES" in head or head.startswith("TRU"), "NO" in head or head.startswith("FAL")
    return yes != no and yes == gold


def _state(ans: str, probe: REvalProbe) -> bool:
    text = ans.strip().strip("`")
    if text.capitalize() == "Nil" or text == "[Nil]":
        return not probe.values
    value_text, sep, type_text = text.rpartition(";")
    if not sep or not probe.values:
        return False
    try:
        value = parse_value(value_text)
    except ValueError:
        return False
    type_name = normalize_type_name(type_text)
    return any(normalize_type_name(t) == type_name and type(value).__name__ == t
               and values_equal(value, v, float_tol=1e-6) for t, v in probe.values)


def _path(ans: str, probe: REvalProbe, code_lines: list[str]) -> bool:
    text = ans.strip().strip("`")
    if not probe.next_lines:
        # The line never runs: REval leaves this answer undefined; "Nil" (or -1) says so.
        return text.capitalize() in ("Nil", "-1", "None")
    m = re.match(r"^(?:line\s*)?(-?\d{1,9})\b", text, re.IGNORECASE)
    lines = [int(m.group(1))] if m else [i + 1 for i, ln in enumerate(code_lines)
                                        if ln.strip() == text]
    return any(n in probe.next_lines for n in lines)


def _output(ans: str, case: REvalCase) -> bool:
    from stepreward.questions._gate import parse_answer

    tree = parse_answer(ans.strip().strip("`"))  # bounded: nothing recursive sees a deep tree
    if not isinstance(tree, ast.Module) or len(tree.body) != 1 or \
            not isinstance(tree.body[0], ast.Assert):
        return False
    test = tree.body[0].test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    if ast.dump(test.left) != ast.dump(ast.parse(case.call, mode="eval").body):
        return False
    try:
        value = parse_value(ast.unparse(test.comparators[0]))
    except ValueError:
        return False
    return values_equal(value, case.result, float_tol=1e-6)


def incremental_consistency(coverage: bool, state: bool, path: bool, output: bool) -> float:
    """REval's IC score of one probe: right in task order up to a point, wrong after it.

    Example:
        >>> incremental_consistency(True, True, False, False)
        0.25
        >>> incremental_consistency(True, False, True, True)
        0.0
    """
    pattern = (coverage, state, path, output)
    for k, score in ((4, 1.0), (3, 0.5), (2, 0.25), (1, 0.125)):
        if all(pattern[:k]) and not any(pattern[k:]):
            return score
    return 0.0


def grade_reval(completion: str, case: REvalCase) -> dict[str, Any]:
    """Grade one completion: per-question verdicts (coverage, state, path per probe, then
    output), the item's correctness (all right) and its mean IC score.

    Example:
        >>> c = REvalCase(id="x", code="def f(a):\\n    b = a + 1\\n    return b",
        ...               call="f(1)", output_pred="assert f(1) == ??", result=2,
        ...               probes=[REvalProbe(2, "b", True, [("int", 2)], [3])])
        >>> grade_reval(reval_gold_completion(c), c)["reval_ic"]
        1.0
    """
    count = 3 * len(case.probes) + 1
    answers = _answers(completion, count)
    code_lines = case.code.split("\n")
    verdicts: list[dict[str, Any]] = []

    def add(kind: str, ans: str | None, ok: bool) -> bool:
        status = "missing" if ans is None else ("correct" if ok else "wrong")
        verdicts.append({"kind": kind, "status": status, "correct": ok})
        return ok

    def graded(check: Any, ans: str | None, *args: Any) -> bool:
        if ans is None:
            return False
        try:
            return bool(check(ans, *args))
        except Exception:  # model text: never raises into the eval run
            return False

    got = answers or [None] * count
    flags = []
    for i, p in enumerate(case.probes):
        c_ans, s_ans, p_ans = got[3 * i], got[3 * i + 1], got[3 * i + 2]
        flags.append((add("coverage", c_ans, graded(_coverage, c_ans, p.covered)),
                      add("state", s_ans, graded(_state, s_ans, p)),
                      add("path", p_ans, graded(_path, p_ans, p, code_lines))))
    o_ans = got[-1]
    out_ok = add("output", o_ans, graded(_output, o_ans, case))
    ic = [incremental_consistency(*f, out_ok) for f in flags]
    return {"correct": all(v["correct"] for v in verdicts), "verdicts": verdicts,
            "parse_error": None if answers is not None else "no <answer> block",
            "reval_ic": sum(ic) / len(ic) if ic else None, "reval_probes": len(ic)}
