"""The paper's benchmarks on fixtures in their real formats, replay semantics, data discovery
and the eval CLI's errors."""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from stepreward.eval import bench_items, pass_at_k, run_eval
from stepreward.eval._reval import grade_reval, incremental_consistency, reval_gold_completion
from stepreward.eval._tasks import _lcb_tests, load_livecodebench
from stepreward.questions import build_sample
from stepreward.scoring import score

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
EXE = [sys.executable, "-m", "stepreward.cli", "eval"]


def write_replay(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "completion": c}) + "\n" for i, c in rows))
    return path


def code_completion(code: str) -> str:
    return f"<answer>\n```python\n{code}\n```\n</answer>"


# ------------------------------------------------------------ non-literal original inputs


@pytest.mark.parametrize(("call", "equivalent"), [
    ("f(dict(f = 1, h = 2, j = 3, k = 4))", "f({'f': 1, 'h': 2, 'j': 3, 'k': 4})"),
    ("f(dict(did=0), 'u')", "f({'did': 0}, 'u')"),
    ("f(['b', 'vzjmc'], dict())", "f(['b', 'vzjmc'], {})"),
    ("f(set([3, 1]))", "f({1, 3})"),
    ("f(frozenset((1, 2)), -3)", "f(frozenset({1, 2}), -3)"),
    ("f(tuple('ab'), list((1,)))", "f(('a', 'b'), [1])"),
    ("f(dict(a=tuple([1, -2])))", "f({'a': (1, -2)})"),
])
def test_constructor_inputs_get_an_input_question(call: str, equivalent: str) -> None:
    s = build_sample("def f(*args):\n    return repr(args)", call, kinds=("input",))
    [q] = s.questions
    assert q.kind == "input" and q.gold_text.startswith(f"assert {call} == ")
    assert score(s.gold_completion(), s).reward == 1.0
    other = s.answer_text([q.gold_text.replace(call, equivalent, 1)])
    assert score(other, s).verdicts[0].correct


@pytest.mark.parametrize("call", ["f(list(range(10**9)))", "f(open('x'))",
                                  "f(__import__('os'))", "f(getattr(str, 'upper'))"])
def test_unsafe_calls_are_not_inputs(call: str) -> None:
    with pytest.raises(ValueError):
        build_sample("def f(*args):\n    return len(args)", call, kinds=("input",))


@pytest.mark.parametrize("call", ["f(bytes(10))", "f(dict(**{}))", "f(str.upper('a'))",
                                  "f(tuple(x for x in 'ab'))"])
def test_other_pure_expressions_are_inputs_checked_by_running(call: str) -> None:
    # Not constructors over literals, but within the answer gate: the gold (and any other
    # answer) is checked by running the program on it in the sandbox.
    s = build_sample("def f(*args):\n    return len(args)", call, kinds=("input",))
    assert score(s.gold_completion(), s).reward == 1.0
    assert score(s.answer_text(["assert f(7) == 1"]), s).reward == 1.0
    assert score(s.answer_text(["assert f() == 1"]), s).reward == 0.0


def test_cruxeval_i_asks_the_dict_constructor_items(shared_data: Path) -> None:
    items = {it.id for it in bench_items("cruxeval-i",
                                         path=shared_data / "cruxeval" / "cruxeval.jsonl")}
    assert {"sample_378", "sample_459", "sample_694", "sample_760"} <= items


# ------------------------------------------------------------ replay: every completion


@pytest.mark.parametrize("bench", ["cruxeval-o", "cruxeval-i"])
def test_replay_grades_every_completion_and_pass1_matches_the_verdicts(
        bench: str, shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items(bench, path=data, limit=16)
    rows = []
    for k, it in enumerate(items):
        assert it.sample is not None
        gold = it.sample.gold_completion()
        wrong = it.sample.answer_text(["assert f(0) == 'nope'" if bench == "cruxeval-i"
                                       else "assert f() == 'nope'"])
        # 2, 3 or 4 completions per item with a known number right.
        for j in range(2 + k % 3):
            rows.append((it.id, gold if (j + k) % 2 else (wrong if j % 3 else "no block")))
    replay = write_replay(tmp_path / "r.jsonl", rows)
    r = run_eval(bench, tmp_path / "out", replay=replay, data=str(data), limit=16)
    logged = [json.loads(x) for x in (tmp_path / "out" / "completions.jsonl").open()]
    assert len(logged) == len(rows) == r["samples_graded"]
    per_item: dict[str, list[bool]] = {}
    for row in logged:
        per_item.setdefault(row["id"], []).append(all(v["correct"] for v in row["verdicts"]))
    expected = sum(pass_at_k(len(v), sum(v), 1) for v in per_item.values()) / len(per_item)
    assert r["pass@1"] == pytest.approx(100 * expected)
    assert r["samples_per_item"] == "2-4"
    # The per-kind accuracy is over the same samples with the same weights (each item's
    # samples averaged, then the items): on a one-question bench it equals pass@1.
    verdicts = [v for row in logged for v in row["verdicts"]]
    kind = "input" if bench == "cruxeval-i" else "output"
    assert r["accuracy_per_kind"][kind] == pytest.approx(r["pass@1"])
    # Unparsed: every sample counts, not only each item's first.
    bad: dict[str, list[bool]] = {}
    for row in logged:
        bad.setdefault(row["id"], []).extend(
            v["status"] in ("unparseable", "missing") for v in row["verdicts"])
    unparsed = sum(sum(v) / len(v) for v in bad.values()) / len(bad)
    assert any(v["status"] == "missing" or v["status"] == "unparseable" for v in verdicts)
    assert r["unparsed_rate"] == pytest.approx(100 * unparsed)
    # --samples still caps.
    capped = run_eval(bench, tmp_path / "cap", replay=replay, data=str(data), limit=16, samples=1)
    assert capped["samples_graded"] == len(items)


def test_replay_of_few_items_warns_and_counts_only_those(
        shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items("cruxeval-o", path=data, limit=40)
    replay = write_replay(tmp_path / "r.jsonl",
                          [(it.id, it.sample.gold_completion()) for it in items[:5]]  # type: ignore[union-attr]
                          + [("not-an-item", "x")])
    proc = subprocess.run([*EXE, "--bench", "cruxeval-o", "--data", str(data), "--limit", "40",
                           "--completions", str(replay), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "covers 5 of 40 items" in proc.stderr and "1 of its ids match no item" in proc.stderr
    # The progress counter runs over the covered items, in whole lines when not a terminal.
    assert "cruxeval-o: 5/5 items" in proc.stderr and "\r" not in proc.stderr
    r = json.loads((tmp_path / "o" / "results.json").read_text())
    assert r["graded_items"] == 5 and r["items_without_completions"] == 35
    assert r["pass@1"] == 100.0 and r["unknown_completion_ids"] == 1


# ------------------------------------------------------------ data discovery and errors


def test_steprewards_data_folder_is_found_without_data(shared_data: Path, tmp_path: Path) -> None:
    env = {**os.environ, "STEPREWARD_DATA": str(shared_data)}
    items = bench_items("cruxeval-o", path=shared_data / "cruxeval" / "cruxeval.jsonl", limit=3)
    replay = write_replay(tmp_path / "g.jsonl",
                          [(it.id, it.sample.gold_completion()) for it in items])  # type: ignore[union-attr]
    proc = subprocess.run([*EXE, "--bench", "cruxeval-o", "--limit", "3", "--completions",
                           str(replay), "--out", str(tmp_path / "o"), "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pass@1"] == 100.0
    # A folder without the bench's data names what it looked for.
    env["STEPREWARD_DATA"] = str(tmp_path)
    proc = subprocess.run([*EXE, "--bench", "mbpp-plus", "--completions", str(replay),
                           "--out", str(tmp_path / "o2")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 2 and "mbppplus/MbppPlus.jsonl.gz" in proc.stderr
    assert not (tmp_path / "o2").exists()


def test_no_data_offline_fails_fast_and_names_the_flag(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("STEPREWARD_DATA",
                                                             "HF_HUB_OFFLINE")}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens: the hub is unreachable
    (tmp_path / "r.jsonl").write_text('{"id": "sample_0", "completion": "x"}\n')
    t0 = time.monotonic()
    proc = subprocess.run([*EXE, "--bench", "cruxeval-o", "--completions",
                           str(tmp_path / "r.jsonl"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert time.monotonic() - t0 < 20
    assert proc.returncode == 2 and "--data FILE" in proc.stderr
    assert "STEPREWARD_DATA" in proc.stderr and "pass path=" not in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_wrong_bench_file_is_a_clear_error(shared_data: Path, tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"id": "sample_0", "completion": "x"}\n')
    proc = subprocess.run([*EXE, "--bench", "mbpp-plus", "--data",
                           str(shared_data / "cruxeval" / "cruxeval.jsonl"), "--completions",
                           str(tmp_path / "r.jsonl"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "does not look like mbpp-plus data" in proc.stderr
    assert not (tmp_path / "o").exists()
    # A completions file of another bench (no id matches) is refused too.
    proc = subprocess.run([*EXE, "--bench", "mbpp", "--data", str(FIX / "mbpp" / "mbpp.jsonl"),
                           "--completions", str(tmp_path / "r.jsonl"), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no id of this mbpp run" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_default_max_tokens_fits_long_reasoning() -> None:
    proc = subprocess.run([*EXE, "--help"], capture_output=True, text=True, timeout=60)
    assert "default 12288" in proc.stdout and "reval" in proc.stdout


# ------------------------------------------------------------ the paper's benchmarks


def test_reval_gold_replay_and_incremental_consistency(tmp_path: Path) -> None:
    items = bench_items("reval", path=FIX / "reval")
    # DREval/2 is a ClassEval item (skipped); the two function items have two inputs each.
    assert [it.id for it in items] == ["DREval/0/0", "DREval/0/1", "DREval/1/0", "DREval/1/1"]
    first = items[0].reval
    assert first is not None and first.call == "running_max([1, 3, 2, 5])"
    assert [(p.line, p.var, p.covered, p.next_lines) for p in first.probes] == [
        (6, "best", True, [7]), (7, "result", True, [4])]
    assert [v for _, v in first.probes[1].values] == [[1], [1, 3], [1, 3, 3], [1, 3, 3, 5]]
    gold = [(it.id, reval_gold_completion(it.reval)) for it in items]  # type: ignore[arg-type]
    r = run_eval("reval", tmp_path / "gold", replay=write_replay(tmp_path / "g.jsonl", gold),
                 data=str(FIX / "reval"))
    assert r["pass@1"] == 100.0 and r["reval_consistency"] == 100.0
    assert r["consistency"] == 100.0 and set(r["accuracy_per_kind"]) == {
        "coverage", "state", "path", "output"}
    # Known errors on the first case (two probes): probe 1 wrong from the path on (0.25),
    # probe 2 with only the state wrong but the path right (0: inconsistent).
    answers = ["YES", "5; int", "5", "YES", "[1]; str", "4",
               "assert running_max([1, 3, 2, 5]) == [0]"]
    text = "<answer>\n" + "\n".join(f"{i + 1}. {a}" for i, a in enumerate(answers)) + \
        "\n</answer>"
    g = grade_reval(text, first)
    assert [v["correct"] for v in g["verdicts"]] == [True, True, False, True, False, True,
                                                     False]
    assert g["reval_ic"] == pytest.approx((0.25 + 0.0) / 2)
    # Any execution's value counts for state; the type must match.
    ok = ["YES", "3; int", "7", "YES", "[1, 3]; list", "4",
          "assert running_max([1, 3, 2, 5]) == [1, 3, 3, 5]"]
    assert grade_reval("<answer>\n" + "\n".join(ok) + "\n</answer>", first)["correct"]
    assert grade_reval("no answer", first)["parse_error"] is not None
    assert incremental_consistency(True, True, True, False) == 0.5


def test_livecodebench_exec_gold_and_wrong(tmp_path: Path) -> None:
    data = FIX / "livecodebench" / "execution.jsonl"
    items = bench_items("livecodebench-exec", path=data)
    assert [it.id for it in items] == ["sample_0", "sample_1", "sample_2"]
    gold = [(it.id, it.sample.gold_completion()) for it in items]  # type: ignore[union-attr]
    r = run_eval("livecodebench-exec", tmp_path / "g", data=str(data),
                 replay=write_replay(tmp_path / "g.jsonl", gold))
    assert r["pass@1"] == 100.0
    wrong = [*gold[:2], ("sample_2", "<answer>\nassert isAcronym(words = ['alice', 'bob', "
                                     "'charlie'], s = 'abc') == False\n</answer>")]
    r = run_eval("livecodebench-exec", tmp_path / "w", data=str(data),
                 replay=write_replay(tmp_path / "w.jsonl", wrong))
    assert r["pass@1"] == pytest.approx(200 / 3)


LCB_SOLUTIONS = {
    "abc999_a": "a, b = map(int, input().split())\nprint(a + b)",
    "2824": ("class Solution:\n    def countPairs(self, nums, target):\n        return sum("
             "1 for i in range(len(nums)) for j in range(i + 1, len(nums)) "
             "if nums[i] + nums[j] < target)"),
    "2828": ("class Solution:\n    def isAcronym(self, words, s):\n"
             "        return ''.join(w[0] for w in words) == s"),
}


def test_livecodebench_codegen_stdin_and_functional(tmp_path: Path) -> None:
    data = FIX / "livecodebench" / "code_generation.jsonl"
    tasks = {t.task_id: t for t in load_livecodebench(data)}
    assert [t.kind for t in tasks["abc999_a"].tests] == ["io", "io", "io"]  # 1 public + 2 private
    assert [t.kind for t in tasks["2828"].tests] == ["call", "call"]
    assert "starter code" in tasks["2824"].prompt
    gold = [(tid, code_completion(code)) for tid, code in LCB_SOLUTIONS.items()]
    r = run_eval("livecodebench", tmp_path / "g", data=str(data),
                 replay=write_replay(tmp_path / "g.jsonl", gold))
    assert r["pass@1"] == 100.0
    # Off by one on the functional task, and a stdin program that prints the wrong sum.
    broken = [("abc999_a", code_completion("a, b = map(int, input().split())\nprint(a - b)")),
              ("2824", code_completion(LCB_SOLUTIONS["2824"].replace("< target",
                                                                        "<= target"))),
              ("2828", gold[2][1])]
    r = run_eval("livecodebench", tmp_path / "b", data=str(data),
                 replay=write_replay(tmp_path / "b.jsonl", broken))
    assert r["pass@1"] == pytest.approx(100 / 3)


def test_livecodebench_private_tests_never_unpickle_objects() -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    blob = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(ValueError, match="unreadable LiveCodeBench test list"):
        _lcb_tests(blob)


def test_mbpp_base_gold_and_broken(tmp_path: Path) -> None:
    data = FIX / "mbpp" / "mbpp.jsonl"
    items = bench_items("mbpp", path=data)
    assert [(it.id, it.task.entry_point, len(it.task.tests)) for it in items] == [  # type: ignore[union-attr]
        ("Mbpp/11", "remove_Occ", 3), ("Mbpp/17", "square_perimeter", 3),
        ("Mbpp/18", "remove_dirty_chars", 2)]
    assert "assert square_perimeter(10)==40" in items[1].prompt
    gold = [(it.id, code_completion(it.task.canonical_solution or "")) for it in items]  # type: ignore[union-attr]
    r = run_eval("mbpp", tmp_path / "g", data=str(data),
                 replay=write_replay(tmp_path / "g.jsonl", gold))
    assert r["pass@1"] == 100.0
    broken = [*gold[:2], ("Mbpp/18", code_completion("def remove_dirty_chars(a, b):\n"
                                                     "    return a"))]
    r = run_eval("mbpp", tmp_path / "b", data=str(data),
                 replay=write_replay(tmp_path / "b.jsonl", broken))
    assert r["pass@1"] == pytest.approx(200 / 3)


def test_bigcodebench_unittest_contract(tmp_path: Path) -> None:
    data = FIX / "bigcodebench" / "bigcodebench.jsonl"
    proc = subprocess.run([*EXE, "--bench", "bigcodebench", "--data", str(data), "--completions",
                           str(write_replay(tmp_path / "none.jsonl", [("BigCodeBench/900", "")])),
                           "--out", str(tmp_path / "o"), "--json"],
                          capture_output=True, text=True, timeout=300)
    # The task whose library is not installed is skipped, and said so.
    assert proc.returncode == 0, proc.stderr
    assert "1 BigCodeBench tasks skipped" in proc.stderr and "BigCodeBench/902" in proc.stderr
    items = bench_items("bigcodebench", path=data)
    assert [it.id for it in items] == ["BigCodeBench/900", "BigCodeBench/901"]
    gold = [(it.id, code_completion(it.task.canonical_solution or "")) for it in items]  # type: ignore[union-attr]
    r = run_eval("bigcodebench", tmp_path / "g", data=str(data),
                 replay=write_replay(tmp_path / "g.jsonl", gold))
    assert r["pass@1"] == 100.0
    # One failing test method fails the task (the whole TestCases suite must pass).
    broken = [gold[0], ("BigCodeBench/901", code_completion(
        "import itertools\ndef task_func(n):\n    return list(itertools.combinations("
        "range(n), 2)) or None"))]
    r = run_eval("bigcodebench", tmp_path / "b", data=str(data),
                 replay=write_replay(tmp_path / "b.jsonl", broken))
    assert r["pass@1"] == 50.0


def test_reval_grading_never_raises_on_hostile_answers() -> None:
    from stepreward.eval._reval import REvalCase, REvalProbe, grade_reval

    case = REvalCase(id="x", code="def f(a):\n    b = a + 1\n    return b", call="f(1)",
                     output_pred="assert f(1) == ??", result=2,
                     probes=[REvalProbe(2, "b", True, [("int", 2)], [3])])
    for answers in (["1" * 5000 + ". yes", "2; int", "3", "assert f(1) == 2"],
                    ["yes", "2; int", "line " + "9" * 5000, "assert f(1) == 2"],
                    ["yes", "2; int", "3", "assert f(1) == " + " + ".join(["1"] * 1500)],
                    ["yes", "2; int", "3", "assert f(1) == " + "-" * 200_000 + "2"]):
        text = "<answer>\n" + "\n".join(answers) + "\n</answer>"
        graded = grade_reval(text, case)  # never raises
        assert len(graded["verdicts"]) == 4 and graded["reval_ic"] is not None
        assert graded["verdicts"][1]["status"] == "correct"  # the state answer is fine
