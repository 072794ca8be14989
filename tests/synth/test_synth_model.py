"""Model-backed synthesis and difficulty, against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

import stepreward as sr
from stepreward.synth import (
    PAPER_FILTER,
    DifficultyFilter,
    GenerationError,
    OpenAICompatible,
    estimate_difficulty,
    level_constraints,
    model_synthesize,
    parse_program,
    program_prompt,
)

PROGRAM = """```python
def f(text, n):
    loud = text.upper().strip()
    parts = loud.split()
    out = []
    for p in parts:
        out.append(p.upper()[:n])
    return out

print(f('ab cd ef', 2))
```"""
MUTATED = PROGRAM.replace("f('ab cd ef', 2)", "f('hello big world', 3)")
NO_CODE = "Sure! Here is what I would do: call upper twice."
FLAT = PROGRAM.replace("    for p in parts:\n        out.append(p.upper()[:n])\n",
                       "    out.append(parts[0])\n")


class _Handler(BaseHTTPRequestHandler):
    calls: ClassVar[list[dict[str, object]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append(body)
        prompt = body["messages"][-1]["content"]
        n = int(body.get("n", 1))
        if "explode" in prompt:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")
            return
        if "different literal arguments" in prompt:
            texts = [MUTATED] * n
        elif "exercises the `upper` operation" in prompt:
            texts = [PROGRAM if "nest control flow" in prompt.lower() else FLAT]
        elif "exercises" in prompt:
            texts = [NO_CODE]
        else:  # a question prompt: answer right on the first 2 of n samples
            gold = prompt.split("??")[0].split("assert ")[-1].strip()
            texts = [f"<answer>\nassert {gold} == {body['gold']}\n</answer>" if i < 2
                     else "<answer>\nwrong\n</answer>" for i in range(n)] \
                if "gold" in body else ["<answer>\nnope\n</answer>"] * n
        payload = {"choices": [{"index": i, "message": {"role": "assistant", "content": t}}
                               for i, t in enumerate(texts)]}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.calls = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_parse_program_keeps_the_prelude() -> None:
    text = ("```python\nimport math\nK = 2\ndef f(x):\n    return math.ceil(x) * K\n"
            "print(f(2.5))\n```")
    source, entry, call = parse_program(text)  # type: ignore[misc]
    assert source.startswith("import math\nK = 2\n") and entry == "f" and call == "f(2.5)"
    assert parse_program("no code") is None
    assert parse_program("```python\ndef f(x):\n    return x\nprint(f(1))\nprint(f(2))\n```") \
        is None


def test_prompt_states_the_constraints() -> None:
    text = program_prompt(level_constraints(6, "list", "append"))
    assert "`append`" in text and "helper" in text and "Nest control flow" in text
    assert "no if, for or while" in program_prompt(level_constraints(1, "str", "upper"))


def test_model_synthesis_through_http(server: str, sandbox: sr.Sandbox) -> None:
    backend = OpenAICompatible(server, model="fake")
    constraints = [level_constraints(3, "str", "upper"), level_constraints(2, "str", "upper"),
                   level_constraints(3, "list", "sort")]
    items, rejects = model_synthesize(constraints, backend, levels=[3, 2, 3], seed=1,
                                      sandbox=sandbox)
    # The L3 program and its mutated sibling are kept; the answer without a code block is
    # rejected; the flat program answered to the L2 prompt is checked against L2's rules.
    assert [it.call for it in items if it.level == 3] == ["f('ab cd ef', 2)",
                                                         "f('hello big world', 3)"]
    assert items[0].trace.result.to_python() == ["AB", "CD", "EF"]
    assert rejects.get("no program with a single print(f(...)) call") == 1
    assert sum(rejects.values()) >= 1
    assert all(body["model"] == "fake" for body in _Handler.calls)
    # Items feed the normal sample builder.
    s = sr.questions.sample_from_trace(items[0].trace, ("output", "state"), 3, seed=0)
    assert sr.score(s.gold_completion(), s).reward == 1.0


def test_backend_errors_are_clear(server: str) -> None:
    backend = OpenAICompatible(server, model="fake", retries=1)
    with pytest.raises(GenerationError, match="500"):
        backend.generate(["please explode"], 1)
    with pytest.raises(GenerationError, match="cannot reach"):
        OpenAICompatible("http://127.0.0.1:9/v1", model="x", timeout_s=2,
                         retries=1).generate(["hi"])
    with pytest.raises(ValueError, match="http"):
        OpenAICompatible("ftp://x", model="x")


class _Scripted:
    """A backend that answers each output question right ``k`` times out of n."""

    def __init__(self, right: list[int]) -> None:
        self.right = right

    def generate(self, prompts: list[str], n: int = 1, *, temperature: float = 1.0,
                 max_tokens: int = 512, seed: int | None = None) -> list[list[str]]:
        return [[self.golds[p] if i < k else "<answer>\nassert f() == None\n</answer>"
                 for i in range(n)] for p, k in zip(prompts, self.right, strict=True)]

    golds: ClassVar[dict[str, str]] = {}


def test_empirical_difficulty_and_the_paper_filter(sandbox: sr.Sandbox) -> None:
    samples = [sr.build_sample(f"def f(a):\n    return a * {m}\n", "f(3)", kinds=("output",),
                               sandbox=sandbox) for m in (2, 5, 7)]
    backend = _Scripted([0, 3, 9])
    backend.golds = {s.prompt: s.gold_completion() for s in samples}
    counts = estimate_difficulty(samples, backend)
    assert counts == [0, 3, 9]
    assert [PAPER_FILTER.keep(c) for c in counts] == [True, True, False]
    # The reference's substring test counts a bare "6" inside any text as a pass.
    loose = DifficultyFilter(n=10, max_pass=3, match="substring")
    backend2 = _Scripted([0, 0, 0])
    backend2.golds = {}
    counts = estimate_difficulty(samples, backend2, flt=loose)
    assert counts[0] == 0
    with pytest.raises(ValueError, match="output question"):
        from stepreward.questions import sample_from_trace

        no_output = sample_from_trace(sr.trace("def f():\n    return 1\n", "f()",
                                               sandbox=sandbox), ("state",))
        estimate_difficulty([no_output], backend)
