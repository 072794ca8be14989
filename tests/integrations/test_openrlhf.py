"""OpenRLHF adapters against OpenRLHF's own loader and HTTP client (openrlhf 0.11.2)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest

import stepreward as sr

agent = pytest.importorskip("openrlhf.utils.agent", reason="needs openrlhf (see docs)")

from stepreward.integrations.openrlhf import (  # noqa: E402
    EXTRA_LOG_KEYS,
    extract_response,
    reward_file_path,
)
from stepreward.integrations.openrlhf.server import RewardServer  # noqa: E402

PROMPT = "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def labels(sandbox: sr.Sandbox) -> dict[str, object]:
    sample = sr.build_sample("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)",
                             kinds=("output", "state"), sandbox=sandbox)
    task = sr.CodeTask(task_id="add", prompt="add", entry_point="add",
                       tests=[sr.TestCase.call("add", (1, 2), 3),
                              sr.TestCase.call("add", (2, 2), 4)])
    return {"sample": sample, "stage1": json.dumps(sample.to_row()),
            "stage2": task.model_dump_json()}


def cases(labels: dict[str, object]) -> list[tuple[str, str, object, float]]:
    sample: sr.Sample = labels["sample"]  # type: ignore[assignment]
    gold = sample.gold_completion()
    wrong = sample.answer_text(["assert f(3) == 0", "0; int"])
    code = "<answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
    hostile = ("<answer>\n```python\nimport os\ndef add(a, b):\n    os._exit(0)\n```\n"
               "</answer>\x00")
    p1 = PROMPT.format(q=sample.prompt)
    p2 = PROMPT.format(q="Write add.")
    return [(p1, gold, labels["stage1"], 1.0), (p1, wrong, labels["stage1"], 0.0),
            (p1, "garbage \ud800", labels["stage1"], 0.0), (p2, code, labels["stage2"], 1.0),
            (p2, hostile, labels["stage2"], 0.0), (p2, code, "not json", 0.0)]


def test_response_extraction() -> None:
    assert extract_response("PROMPT answer<|im_end|>", "PROMPT ") == "answer"
    # A left-truncated prompt: the query starts inside it.
    assert extract_response("ZZZ the end of the prompt\nanswer</s>",
                            "aaa ZZZ the end of the prompt\n") == "answer"
    assert extract_response("junk<|im_start|>assistant\nhi<|im_end|>", "other") == "hi"


def test_reward_file_through_openrlhf_loader(labels: dict[str, object]) -> None:
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=reward_file_path())
    assert callable(executor.reward_func)
    for prompt, completion, label, want in cases(labels):
        query = prompt + completion + "<|im_end|>"
        (out,) = asyncio.run(executor._fetch_rewards_via_func([query], [prompt], [label]))
        assert out["rewards"].dtype.is_floating_point and out["rewards"].shape == (1,)
        assert float(out["rewards"][0]) == pytest.approx(want), (completion[:40], out)
        assert sorted(out["extra_logs"]) == sorted(EXTRA_LOG_KEYS)
    (bad,) = asyncio.run(executor._fetch_rewards_via_func(["x"], ["y"], ["not json"]))
    assert float(bad["extra_logs"]["stepreward/errors"][0]) == 1.0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = RewardServer("127.0.0.1", 0, workers=2, timeout_s=30)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    assert srv.in_flight == 0


def test_http_server_through_openrlhf_client(server: str, labels: dict[str, object]) -> None:
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=f"{server}/get_reward")
    for prompt, completion, label, want in cases(labels):
        query = prompt + completion + "<|im_end|>"
        (out,) = asyncio.run(executor._fetch_rewards_via_http([query], [prompt], [label]))
        assert out["rewards"] == [pytest.approx(want)] and out["scores"] == [pytest.approx(want)]
        assert sorted(out["extra_logs"]) == sorted(EXTRA_LOG_KEYS)


def test_http_edge_cases(server: str) -> None:
    import urllib.error
    import urllib.request

    def post(data: bytes) -> tuple[int, dict[str, object]]:
        req = urllib.request.Request(server, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert post(json.dumps({"query": [], "prompts": [], "labels": []}).encode()) == (
        200, {"rewards": [], "scores": [], "extra_logs": {}})
    assert post(b"{not json")[0] == 400
    assert post(b"[1, 2]")[0] == 400
    with urllib.request.urlopen(f"{server}/health", timeout=10) as r:
        health = json.loads(r.read())
    assert health["status"] == "ok" and "rlimits" in health["isolation"]


def test_burst_of_a_thousand_concurrent_requests(server: str,
                                                  labels: dict[str, object]) -> None:
    import aiohttp

    sample: sr.Sample = labels["sample"]  # type: ignore[assignment]
    prompt = PROMPT.format(q=sample.prompt)
    gold = prompt + sample.gold_completion()
    wrong = prompt + "nothing"

    async def burst() -> list[dict[str, object]]:
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def one(i: int) -> dict[str, object]:
                body = {"query": [gold if i % 2 == 0 else wrong], "prompts": [prompt],
                        "labels": [labels["stage1"]]}
                async with session.post(server, json=body) as resp:
                    assert resp.status == 200
                    data: dict[str, object] = await resp.json()
                    data["i"] = i
                    return data
            return await asyncio.gather(*(one(i) for i in range(1000)))

    results = asyncio.run(burst())
    assert len(results) == 1000
    for r in results:
        assert r["rewards"] == [1.0 if r["i"] % 2 == 0 else 0.0]  # type: ignore[operator]


def _openrlhf_parser() -> object:
    """OpenRLHF's own train_ppo_ray argument parser, built without importing Ray."""
    import argparse
    import ast
    import os
    from datetime import datetime

    import openrlhf

    path = os.path.join(os.path.dirname(openrlhf.__file__), "cli", "train_ppo_ray.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    main = next(n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))
    body = []
    for stmt in main.body:
        if isinstance(stmt, ast.Assign) and "parse_args" in ast.unparse(stmt.value):
            break
        body.append(stmt)
    namespace = {"argparse": argparse, "os": os, "datetime": datetime}
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), namespace)
    return namespace["parser"]


@pytest.mark.parametrize("script", ["stage1.sh", "stage2.sh"])
def test_recipe_flags_parse_with_openrlhf(script: str) -> None:
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(["bash", str(root / "integrations" / "openrlhf" / script)],
                         env={**os.environ, "PRINT_ARGS": "1", "REWARD_URL": reward_file_path()},
                         capture_output=True, text=True, check=True).stdout
    args = _openrlhf_parser().parse_args(out.splitlines())  # type: ignore[attr-defined]
    values = vars(args)
    assert values["reward.remote_url"] == reward_file_path()
    assert values["algo.advantage.estimator"] == "group_norm"
    assert values["rollout.n_samples_per_prompt"] == 8 and values["data.label_key"] == "label"


LLAMA_TURN = ("<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n")
LLAMA_PROMPT = ("<|start_header_id|>user<|end_header_id|>\n\n{q}<|eot_id|>"
                "<|start_header_id|>assistant<|end_header_id|>\n\n")


@pytest.fixture(scope="module")
def agent_run(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Runs one episode through OpenRLHF's own MultiTurnAgentExecutor with a scripted engine
    (a vLLM stand-in that answers each turn from a list)."""
    import importlib.util
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from stepreward.integrations.openrlhf import agent_file_path
    from stepreward.recipe.tiny import build_tiny_model

    spec = importlib.util.spec_from_file_location("agent_func", agent_file_path())
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    executor = module.AgentExecutor()
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(
        str(tmp_path_factory.mktemp("tok"))))

    class Engine:
        def __init__(self, texts: list[str]) -> None:
            self.texts = list(texts)

        async def generate(self, tokens: list[int], params: object,
                           multi_modal_data: object = None) -> object:
            text = self.texts.pop(0)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            return SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, text=text,
                                                            finish_reason="stop")])

    def run(prompt: str, label: str, answers: list[str],
            max_length: int = 8192) -> dict[str, object]:
        params = SimpleNamespace(max_tokens=64, logprobs=None)
        out: dict[str, object] = asyncio.run(executor.execute(
            prompt, label, params, max_length, tokenizer,
            Engine([f"<answer>{a}</answer>" for a in answers])))
        out["text"] = tokenizer.decode(out["observation_tokens"],  # type: ignore[arg-type]
                                       skip_special_tokens=False)
        out["prompt_tokens"] = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        return out

    run.tokenizer = tokenizer  # type: ignore[attr-defined]
    run.Engine = Engine  # type: ignore[attr-defined]
    return run


def _logs(out: dict[str, object]) -> dict[str, float]:
    return {k: float(v) for k, v in out["extra_logs"].items()}  # type: ignore[attr-defined]


def test_agent_episode_scores_are_the_whole_episode(labels: dict[str, object],
                                                    agent_run: object) -> None:
    from stepreward.integrations.openrlhf import agent_rows

    sample: sr.Sample = labels["sample"]  # type: ignore[assignment]
    n = len(sample.questions)
    assert n >= 2
    (row,) = agent_rows([sample])
    prompt = PROMPT.format(q=row["prompt"])
    run = agent_run
    gold = run(prompt, row["label"], sample.gold_answers())  # type: ignore[operator]
    # OpenRLHF keeps the last step's scores: the whole episode's, not the last turn's 1/n.
    assert gold["reward"] == pytest.approx(1.0) and gold["scores"] == pytest.approx(1.0)
    assert len(gold["action_ranges"]) == n
    logs = _logs(gold)
    assert sorted(logs) == sorted(EXTRA_LOG_KEYS)
    assert logs["stepreward/accuracy"] == 1.0 and logs["stepreward/correct"] == 1.0
    half = run(prompt, row["label"],  # type: ignore[operator]
               [sample.gold_answers()[0]] + ["wrong"] * (n - 1))
    assert half["reward"] == pytest.approx(1 / n) and half["scores"] == pytest.approx(1 / n)
    logs = _logs(half)
    # The logs cover every turn, not only the last one (which was wrong).
    assert logs["stepreward/accuracy"] == pytest.approx(1 / n)
    assert logs["stepreward/output_accuracy"] == 1.0  # question 1 is the output question
    assert "Question 2 of" in half["text"]
    (binary,) = agent_rows([sample], scores="binary")
    assert run(prompt, binary["label"], sample.gold_answers())["scores"] == 1.0  # type: ignore[operator]
    assert run(prompt, binary["label"],  # type: ignore[operator]
               [sample.gold_answers()[0]] + ["wrong"] * (n - 1))["scores"] == 0.0


def test_agent_episode_cut_short_counts_unreached_questions(labels: dict[str, object],
                                                            agent_run: object) -> None:
    from stepreward.integrations.openrlhf import agent_rows

    sample: sr.Sample = labels["sample"]  # type: ignore[assignment]
    n = len(sample.questions)
    (row,) = agent_rows([sample])
    prompt = PROMPT.format(q=row["prompt"])
    probe = agent_run(prompt, row["label"], sample.gold_answers())  # type: ignore[operator]
    first_turn_end = probe["action_ranges"][1][0]
    # Room for the first answer and its feedback only: OpenRLHF stops before turn 2.
    cut = agent_run(prompt, row["label"], sample.gold_answers(),  # type: ignore[operator]
                    max_length=first_turn_end)
    assert len(cut["action_ranges"]) == 1
    assert cut["scores"] == pytest.approx(1 / n) and cut["reward"] == pytest.approx(1 / n)
    assert _logs(cut)["stepreward/no_answer"] == pytest.approx((n - 1) / n)


def test_agent_first_question_sits_in_the_user_turn(labels: dict[str, object],
                                                    agent_run: object) -> None:
    from stepreward.integrations.openrlhf import agent_rows, sample_rows

    sample: sr.Sample = labels["sample"]  # type: ignore[assignment]
    opener = "<|im_start|>assistant\n"
    # Rows written for the agent: the user message already holds the first question.
    (row,) = agent_rows([sample])
    out = agent_run(PROMPT.format(q=row["prompt"]), row["label"],  # type: ignore[operator]
                    sample.gold_answers())
    user_turn = out["text"].split(opener, 1)[0]
    assert "Question 1 of" in user_turn and user_turn.count("Question 1 of") == 1
    # Single-turn rows: the agent puts the first question inside the user turn too.
    (plain,) = sample_rows([sample])
    out = agent_run(PROMPT.format(q=plain["prompt"]), plain["label"],  # type: ignore[operator]
                    sample.gold_answers())
    assert "Question 1 of" in out["text"].split(opener, 1)[0]
    assert out["reward"] == pytest.approx(1.0)


def test_agent_turn_template_travels_in_the_label(labels: dict[str, object],
                                                  agent_run: object,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from stepreward.integrations.openrlhf import agent_rows

    sample: sr.Sample = labels["sample"]  # type: ignore[assignment]
    (row,) = agent_rows([sample], turn=LLAMA_TURN)
    assert json.loads(row["label"])["openrlhf"]["turn"] == LLAMA_TURN
    # The driver's environment does not reach Ray actors; nothing is read from it.
    monkeypatch.setenv("STEPREWARD_AGENT_TURN", "<junk>{content}</junk>")
    out = agent_run(LLAMA_PROMPT.format(q=row["prompt"]), row["label"],  # type: ignore[operator]
                    sample.gold_answers())
    text = out["text"]
    assert "<junk>" not in text and "<|im_start|>" not in text
    assert "<|start_header_id|>user<|end_header_id|>\n\nQuestion 2 of" in text
    assert out["reward"] == pytest.approx(1.0) and out["scores"] == pytest.approx(1.0)
    # Single-turn rows in Llama's layout: the question goes before Llama's assistant opener.
    plain = sr.Sample.from_row(sample.to_row())
    label = json.dumps({**plain.to_row(), "openrlhf": {"turn": LLAMA_TURN}})
    out = agent_run(LLAMA_PROMPT.format(q=plain.prompt), label,  # type: ignore[operator]
                    sample.gold_answers())
    head = out["text"].split("<|start_header_id|>assistant", 1)[0]
    assert "Question 1 of" in head


def test_agent_bad_label_ends_the_episode_with_zero(agent_run: object) -> None:
    out = agent_run(PROMPT.format(q="hi"), "not json", ["x", "y"])  # type: ignore[operator]
    assert out["reward"] == 0.0 and out["scores"] == 0.0
    assert _logs(out)["stepreward/errors"] == 1.0 and len(out["action_ranges"]) == 1


def test_scores_are_correctness_not_the_shaped_reward(labels: dict[str, object],
                                                      server: str, agent_run: object) -> None:
    from types import SimpleNamespace

    from stepreward.integrations.openrlhf import sample_rows

    sample: sr.Sample = labels["sample"]  # type: ignore[assignment]
    answers = sample.gold_answers()
    out_index = [q.kind for q in sample.questions].index("output")
    # The output answer wrong, the step answers right: the gate pays 0, half is right.
    gated = sample.answer_text([("assert f(3) == 0" if i == out_index else a)
                                for i, a in enumerate(answers)])
    share = (len(answers) - 1) / len(answers)
    prompt = PROMPT.format(q=sample.prompt)
    file_executor = agent.SingleTurnAgentExecutor(remote_rm_url=reward_file_path())
    http_executor = agent.SingleTurnAgentExecutor(remote_rm_url=f"{server}/get_reward")
    for mode, want in ((None, share), ("share", share), ("binary", 0.0)):
        (row,) = sample_rows([sample], scores=mode)
        query = prompt + gated + "<|im_end|>"
        (out,) = asyncio.run(file_executor._fetch_rewards_via_func([query], [prompt],
                                                                   [row["label"]]))
        assert float(out["rewards"][0]) == 0.0
        assert float(out["scores"][0]) == pytest.approx(want), mode
        (got,) = asyncio.run(http_executor._fetch_rewards_via_http([query], [prompt],
                                                                   [row["label"]]))
        assert got["rewards"] == [0.0] and got["scores"] == [pytest.approx(want)]
    assert float(out["extra_logs"]["stepreward/accuracy"][0]) == pytest.approx(share)
    # OpenRLHF's own single-turn rollout: the `scores` it hands to dynamic filtering.
    (row,) = sample_rows([sample])
    engine = agent_run.Engine([gated])  # type: ignore[attr-defined]
    done = asyncio.run(file_executor.execute(prompt, row["label"],
                                             SimpleNamespace(max_tokens=None, logprobs=None),
                                             8192, agent_run.tokenizer,  # type: ignore[attr-defined]
                                             engine))
    assert float(done["reward"][0]) == 0.0 and float(done["scores"][0]) == pytest.approx(share)


def test_the_multi_turn_agent_never_raises_on_hostile_answers() -> None:
    import importlib.util

    from stepreward.integrations.openrlhf import agent_file_path

    spec = importlib.util.spec_from_file_location("agent_func_hostile", agent_file_path())
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    src = "def f(a, b):\n    c = a + b\n    d = c * 2\n    return d\n"
    texts = ["1" * 5000 + ": 5", "assert f(1, 2) == " + "-" * 200_000 + "1",
             "assert f(1, 2) == " + " + ".join(["1"] * 1500),
             "assert f(" + " + ".join(["1"] * 1500) + ", 2) == 6", "²", "1" * 5000]
    for kinds in (("output",), ("input",), ("next_statement",), ("state",)):
        label = json.dumps(sr.build_sample(src, "f(1, 2)", kinds=kinds).to_row())
        for text in texts:
            instance = module.AgentInstance()
            asyncio.run(instance.reset({"label": label, "observation": ""}))
            out = asyncio.run(instance.step({"action_text": f"<answer>\n{text}\n</answer>"}))
            assert float(out["rewards"]) == 0.0, (kinds, text[:40])


def test_the_multi_turn_agent_never_raises_on_a_label_template_it_cannot_format() -> None:
    """A label's turn template with another field (``{oops}``) falls back to ChatML instead
    of raising at the second turn; the episode still pays the right answers."""
    import importlib.util

    from stepreward.integrations.openrlhf import agent_file_path

    spec = importlib.util.spec_from_file_location("agent_func_template", agent_file_path())
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    sample = sr.build_sample("def f(a, b):\n    c = a + b\n    return c * 2\n", "f(1, 2)",
                             kinds=("output", "next_statement"))
    n = len(sample.questions)
    assert n >= 2
    label = json.dumps({**sample.to_row(), "openrlhf": {"turn": "{content} {oops}"}})
    instance = module.AgentInstance()
    asyncio.run(instance.reset({"label": label, "observation": ""}))
    total = 0.0
    for i, gold in enumerate(sample.gold_answers()):
        out = asyncio.run(instance.step({"action_text": f"<answer>\n{gold}\n</answer>"}))
        total += float(out["rewards"])
        assert out["done"] is (i == n - 1)
        if i < n - 1:
            assert "<|im_start|>user" in out["environment_feedback"]
    assert total == pytest.approx(1.0)


def test_a_turn_whose_grading_fails_earns_zero_and_the_episode_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever grading raises (MemoryError here) stays out of the rollout: the turn earns 0,
    counts in ``stepreward/errors``, and the next question is asked."""
    import importlib.util

    import stepreward.rewards
    from stepreward.integrations.openrlhf import agent_file_path

    spec = importlib.util.spec_from_file_location("agent_func_failing", agent_file_path())
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    sample = sr.build_sample("def f(a, b):\n    c = a + b\n    return c * 2\n", "f(1, 2)",
                             kinds=("output", "next_statement"))
    instance = module.AgentInstance()
    asyncio.run(instance.reset({"label": json.dumps(sample.to_row()), "observation": ""}))

    def broken(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(stepreward.rewards, "reward_for_turn", broken)
    out = asyncio.run(instance.step({"action_text": "<answer>\n1\n</answer>"}))
    assert float(out["rewards"]) == 0.0 and out["done"] is False
    assert float(out["extra_logs"]["stepreward/errors"]) > 0
    assert "Question 2 of" in out["environment_feedback"]
    monkeypatch.undo()
    n = len(sample.questions)
    paid = 0.0
    for gold in sample.gold_answers()[1:]:
        out = asyncio.run(instance.step({"action_text": f"<answer>\n{gold}\n</answer>"}))
        paid += float(out["rewards"])
    assert out["done"] is True and paid == pytest.approx((n - 1) / n)
    assert float(out["scores"]) == pytest.approx((n - 1) / n)
