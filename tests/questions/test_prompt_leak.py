"""No prompt gives away the answer to its own input question, whatever renders it.

An input question asks for arguments that make the call return a given value, so its prompt
may depend on the program and that value only. Two checks over hand-written programs, all
CRUXEval items and synthesized ones, with every renderer (the sample prompt, the recipe's
compact prompt, TRL rows, dataset rows, narrated SFT examples, the OpenRLHF agent's turns,
the cruxeval-i bench):

* **the prompt does not depend on the call**: the same program and returned value with a
  probe call in place of the real one renders byte for byte the same prompt;
* **nothing of the call can be copied from it**: neither the call's text nor any argument's
  text (as written, or as its canonical literal) appears in it unless the program, the
  returned value or the fixed instructions hold it anyway, and no call of the entry point
  written in the prompt outside the program scores when given as the answer.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stepreward as sr
from programs import PAPER
from stepreward.eval import bench_items, run_eval
from stepreward.questions import render_prompt, sample_from_trace, split_kinds
from stepreward.questions._formats import compact_prompt
from stepreward.questions._sample import number_lines
from stepreward.synth import build_dataset, sft_record, synthesize
from stepreward.types import Question, Sample, Trace
from stepreward.values import NOT_LITERAL, render_literal, to_literal

PROBE_ARG = "'zz_probe_zz'"
SEEDS = (0, 5)  # one input question per run: the seed changes nothing, checked on two
STEP_KINDS = ("output", "next_statement", "state", "coverage", "branch")

# Programs whose arguments are easy to leak in odd ways: the output equals the input, the
# argument also appears in the program, keyword and constructor arguments, a recursive call
# written in the program, a call spread over lines.
HAND = [
    ("def f(a, b):\n    return a + b\n", "f(1, 2)"),
    (PAPER, "f([3, 4, 6, 9], 3)"),
    ("def f(text):\n    return text\n", "f('hello world')"),
    ("def f(x, sep=','):\n    return sep.join(x)\n", "f(['ab', 'cd'], sep='; ')"),
    ("def f(d):\n    return sorted(d.items())\n", "f(dict(k=12, j=345))"),
    ("def f(s):\n    return len(s)\n", "f(set([10, 20, 30]))"),
    ("def f(n):\n    if n == 0:\n        return 0\n    return f(n - 1) + 2\n", "f(3)"),
    ("def f(s):\n    return s.replace('abc', 'x')\n", "f('abcabc')"),
    ("def f(a, b):\n    return [a, b]\n", "f(\n    [1, 2, 3],\n    'tail',\n)"),
]


def _entry(call: str) -> str:
    node = ast.parse(call.strip(), mode="eval").body
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return node.func.id


def probe(t: Trace) -> Trace:
    """The same program and returned value, reached by a call that shares nothing with the
    real one: a prompt that differs between the two depends on the call."""
    return Trace(source=t.source, call=f"{_entry(t.call)}({PROBE_ARG})", status="ok",
                 result=t.result, python=t.python)


def needles(call: str) -> list[str]:
    """Texts that would give the call away: the call, and each argument as written and as
    its canonical literal; shorter than 3 characters (``0``, ``''``, ``[]``) they say
    nothing, as such texts appear in any prompt."""
    text = call.strip()
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call)
    out = [text]
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        out.append(ast.get_source_segment(text, arg) or ast.unparse(arg))
        try:
            lit = to_literal(ast.literal_eval(arg))
        except (ValueError, SyntaxError, TypeError):
            lit = NOT_LITERAL
        if lit is not NOT_LITERAL:
            out.append(render_literal(lit))
    return [n for n in dict.fromkeys(out) if len(n.strip()) >= 3]


def _fixed_text() -> str:
    """The instructions every prompt holds, whatever the program."""
    q = Question(kind="input", text="", info={"entry": "g", "output": 0})
    return render_prompt("", "g()", []) + render_prompt("", "g()", [q])


FIXED = _fixed_text()


def entry_calls(text: str, entry: str) -> list[str]:
    """Every ``entry(...)`` written in ``text``, parentheses balanced."""
    out = []
    for m in re.finditer(rf"\b{re.escape(entry)}\(", text):
        depth = 0
        for j in range(m.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                out.append(text[m.start():j + 1])
                break
    return out


def assert_hidden(text: str, sample: Sample, where: str) -> None:
    """Nothing of ``sample``'s call can be read off ``text`` (a prompt of its input question)."""
    (q,) = sample.questions
    assert q.kind == "input"
    shown = f"{number_lines(sample.source)}\n{sample.source}\n{render_literal(q.info['output'])}"
    for n in needles(sample.call):
        assert n not in text or n in shown or n in FIXED, (
            f"{where}: the prompt of {sample.call!r} shows {n!r}:\n{text}")


def copies(text: str, sample: Sample) -> list[str]:
    """Answers a policy could copy from ``text``: the entry point's calls written outside
    the program, each as a completion."""
    entry = sample.questions[0].info["entry"]
    out = render_literal(sample.questions[0].info["output"])
    return [sample.answer_text([f"assert {c} == {out}".replace("\n", " ")])
            for c in entry_calls(text, entry) if c not in sample.source]


def _items(sb: sr.Sandbox, shared_data: Path) -> list[tuple[str, Trace]]:
    rows = [json.loads(x) for x in
            (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()]
    pairs = [*HAND, *((r["code"], f"f({r['input']})") for r in rows)]
    traces = sr.trace_many(pairs, sandbox=sb)
    out = [(f"hand/{i}" if i < len(HAND) else str(rows[i - len(HAND)]["id"]), t)
           for i, t in enumerate(traces)]
    return out


@pytest.fixture(scope="module")
def synth_items(sandbox: sr.Sandbox) -> list[Any]:
    return list(synthesize(24, levels=(1, 2, 3, 4, 5, 6), seed=11, sandbox=sandbox))


@pytest.fixture(scope="module")
def traces(sandbox: sr.Sandbox, shared_data: Path,
           synth_items: list[Any]) -> list[tuple[str, Trace]]:
    return [*_items(sandbox, shared_data),
            *((f"synth/{it.program_id}/{it.index}", it.trace) for it in synth_items)]


def _input_samples(traces: list[tuple[str, Trace]],
                   seeds: tuple[int, ...] = SEEDS) -> Iterator[tuple[str, int, Trace, Sample]]:
    for name, t in traces:
        for seed in seeds:
            s = sample_from_trace(t, ("input",), max_per_kind=1, seed=seed,
                                  on_incomplete="keep")
            if s.questions:
                yield name, seed, t, s


CHATML = "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


def _agent(sample: Sample, observation: str) -> tuple[Any, str]:
    """An OpenRLHF agent instance for ``sample`` and the text of its first turn."""
    from stepreward.integrations.openrlhf import agent_file_path

    spec = importlib.util.spec_from_file_location("agent_func_leak", agent_file_path())
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    agent = module.AgentInstance()
    state = {"observation": observation, "label": json.dumps(sample.to_row())}
    return agent, str(asyncio.run(agent.reset(state))["observation"])


def renderings(sample: Sample, *, agent: bool) -> dict[str, str]:
    """Every text a model is shown for ``sample``, by renderer (never the label)."""
    from stepreward import rows
    from stepreward.integrations import openrlhf, trl

    out = {"prompt": sample.prompt, "compact": compact_prompt(sample.prompt)}
    for chat in (True, False):
        for multi in (True, False):
            row = rows.sample_rows([sample], "sys", chat=chat, multi_turn=multi)[0]
            out[f"rows chat={chat} multi_turn={multi}"] = json.dumps(row["prompt"])
        out[f"trl chat={chat}"] = json.dumps(
            trl.sample_rows([sample], chat=chat, system_prompt="sys")[0]["prompt"])
    for name, make in (("openrlhf", openrlhf.sample_rows), ("openrlhf agent", openrlhf.agent_rows)):
        row = make([sample], system_prompt="sys")[0]
        out[f"{name} rows"] = json.dumps([row["prompt"], row["messages"]])
    if agent:
        # The agent's first turn, after a single-turn row's prompt and after an agent row's.
        out["agent turn"] = _agent(sample, CHATML.format(q=sample.prompt))[1]
        first = openrlhf.agent_rows([sample])[0]["prompt"]
        out["agent turn, agent row"] = _agent(sample, CHATML.format(q=first))[1]
    return out


def test_input_prompts_depend_on_the_program_and_the_value_only(
        traces: list[tuple[str, Trace]]) -> None:
    asked = 0
    agent_ok = importlib.util.find_spec("openrlhf") is not None
    for k, (name, seed, t, s) in enumerate(_input_samples(traces)):
        asked += 1
        p = sample_from_trace(probe(t), ("input",), max_per_kind=1, seed=seed)
        assert p.questions and p.questions[0].info["output"] == s.questions[0].info["output"]
        agent = agent_ok and k % 50 == 0  # the agent's turns on a spread of samples
        real, fake = renderings(s, agent=agent), renderings(p, agent=agent)
        for where, text in real.items():
            assert text == fake[where], f"{name}: the {where} text depends on the call"
            assert_hidden(text, s, f"{name} ({where})")
    assert asked >= 2 * 790  # every CRUXEval item with a literal input, and the others


def test_copying_a_call_off_the_prompt_never_scores(
        traces: list[tuple[str, Trace]], sandbox: sr.Sandbox) -> None:
    completions, samples = [], []
    for _name, _seed, _t, s in _input_samples(traces, seeds=(0,)):
        for text in renderings(s, agent=False).values():
            for c in copies(text, s):
                completions.append(c)
                samples.append(s)
    # On the old prompts every sample had its call written in it: one copy at least each.
    scores = sr.score_many(completions, samples, policy="execute", sandbox=sandbox)
    paid = [(s.call, c) for s, c, sc in zip(samples, completions, scores, strict=True)
            if sc.reward > 0]
    assert paid == []


def test_cruxeval_i_copying_the_call_line_scores_zero(shared_data: Path,
                                                      tmp_path: Path) -> None:
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    items = bench_items("cruxeval-i", path=data, limit=50)
    rows = []
    for it in items:
        assert it.sample is not None
        assert_hidden(it.prompt, it.sample, f"cruxeval-i {it.id}")
        assert it.prompt == render_prompt(it.sample.source, f"f({PROBE_ARG})",
                                          it.sample.questions)
        m = re.search(r"^Call: (.*)$", it.prompt, re.M)
        copied = m.group(1) if m else ""
        rows.append(json.dumps({"id": it.id, "completion": f"<answer>\n{copied}\n</answer>"}))
    replay = tmp_path / "copy.jsonl"
    replay.write_text("\n".join(rows) + "\n")
    r = run_eval("cruxeval-i", tmp_path / "out", replay=replay, data=str(data), limit=50)
    assert r["graded_items"] == 50 and r["pass@1"] == 0.0


def test_dataset_rows_and_sft_examples_hide_the_call(tmp_path: Path,
                                                     synth_items: list[Any]) -> None:
    build_dataset(24, tmp_path, levels=[1, 3, 5], seed=2, input_share=0.5, sft=6,
                  validation_fraction=0.2)
    seen = 0
    for split in ("train", "validation", "sft"):
        for row in map(json.loads, (tmp_path / f"{split}.jsonl").read_text().splitlines()):
            s = Sample.from_row(json.loads(row["label"] if "label" in row else row["sample"]))
            if s.questions[0].kind != "input":
                assert f"Call: {s.call.strip()}" in row["prompt"]  # the others need it
                continue
            seen += 1
            shown = [row["prompt"], *(m["content"] for m in row["messages"]
                                      if m["role"] != "assistant")]
            for text in shown:
                assert_hidden(text, s, f"{split} row {s.id}")
                assert not copies(text, s) or all("??" in c for c in copies(text, s))
            assert row["prompt"] == render_prompt(s.source, f"f({PROBE_ARG})", s.questions)
    assert seen >= 10
    # The narrated SFT example of an input question: the rationale may try the call, the
    # prompt may not show it.
    for it in synth_items[:8]:
        rec = sft_record(it, "input", seed=0)
        fake = dataclasses.replace(it, call=f"{it.entry}({PROBE_ARG})", trace=probe(it.trace))
        assert rec["prompt"] == sft_record(fake, "input", seed=0)["prompt"]
        assert rec["messages"][:-1] == sft_record(fake, "input", seed=0)["messages"][:-1]
        assert_hidden(rec["prompt"], Sample.from_row(json.loads(rec["sample"])), "sft")
        assert it.call.strip() in rec["completion"]


@pytest.mark.parametrize("other", STEP_KINDS)
def test_input_never_shares_a_sample_with_kinds_that_show_the_call(
        other: str, sandbox: sr.Sandbox, tmp_path: Path) -> None:
    t = sr.trace(PAPER, "f([3, 4, 6, 9], 3)", sandbox=sandbox)
    kinds = ("input", other)
    with pytest.raises(ValueError, match="cannot share a sample") as err:
        sample_from_trace(t, kinds)
    assert "split_kinds" in str(err.value)
    with pytest.raises(ValueError, match="cannot share a sample"):
        sr.build_sample(PAPER, "f([3, 4, 6, 9], 3)", kinds=kinds, sandbox=sandbox)
    with pytest.raises(ValueError, match="cannot share a sample"):  # not a list of Nones
        sr.build_samples([(PAPER, "f([3, 4, 6, 9], 3)")], kinds=kinds, sandbox=sandbox)
    with pytest.raises(ValueError, match="input_share"):  # before any synthesis
        build_dataset(4, tmp_path, kinds=kinds)
    assert not list(tmp_path.iterdir())
    # Split, each group is a sample: the input one hides the call, the other shows it.
    groups = split_kinds(kinds)
    assert groups == [("input",), (other,)]
    for group in groups:
        s = sample_from_trace(t, group, seed=1)
        if group == ("input",):
            assert_hidden(s.prompt, s, "split")
            assert "Call: f(??)" in s.prompt
        elif s.questions:
            assert "Call: f([3, 4, 6, 9], 3)" in s.prompt
    q_in = sample_from_trace(t, ("input",)).questions
    q_other = sample_from_trace(t, (other,)).questions
    if q_other:
        with pytest.raises(ValueError, match="cannot share a sample"):
            render_prompt(PAPER, t.call, [*q_in, *q_other])


def test_split_kinds_keeps_order_and_leaves_other_kinds_together() -> None:
    assert split_kinds(("output", "input", "state")) == [("output", "state"), ("input",)]
    assert split_kinds(("input", "input")) == [("input",)]
    assert split_kinds(("next_statement", "state")) == [("next_statement", "state")]
    with pytest.raises(ValueError, match="not a string"):
        split_kinds("input")


def test_agent_refuses_a_mixed_label_with_zero_reward() -> None:
    pytest.importorskip("openrlhf.utils.agent")
    mixed = Sample(id="m", source="def f(a):\n    return a\n", call="f(12345)",
                   prompt="p", kinds=("input", "coverage"), questions=[
                       Question(kind="input", text="assert f(??) == 12345",
                                gold="12345", gold_text="assert f(12345) == 12345",
                                info={"entry": "f", "output": 12345}),
                       Question(kind="coverage", text="Does line 2 run?", line=2, gold=True,
                                gold_text="yes")])
    agent, text = _agent(mixed, "OBS")
    assert text == "OBS"  # refused: nothing of the program or the call added
    out = asyncio.run(agent.step({"action_text": "<answer>\nf(12345)\n</answer>"}))
    assert float(out["rewards"]) == 0.0 and out["done"]
    from stepreward import rows

    with pytest.raises(ValueError, match="cannot share a sample"):
        rows.sample_rows([mixed], multi_turn=True)
