"""The TRL environment, the sandboxed Python tool and concurrent rewards in TRL's own code: real
multi-turn tool-calling rollouts in GRPOTrainer on CPU, and AsyncGRPOTrainer's scoring code.

A random tiny model never emits a tool call, so the fixture first teaches it (a few dozen
optimizer steps) the conversations below; GRPO then samples near-greedily (temperature 0.1),
so each rollout follows them and the rewards can be checked exactly.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

import stepreward as sr

trl = pytest.importorskip("trl", reason="needs the trl extra")
torch = pytest.importorskip("torch")

from stepreward.integrations.trl import (  # noqa: E402
    AsyncReward,
    ExecutionReward,
    ExecVerifyEnv,
    FormatReward,
    UnitTestReward,
    concurrent_rewards,
    env_rows,
    run_python,
    to_trl_dataset,
)
from stepreward.integrations.trl import sample_rows as trl_sample_rows  # noqa: E402
from stepreward.recipe.tiny import build_tiny_model  # noqa: E402
from stepreward.rewards import episode_result, reward_for_turn  # noqa: E402
from stepreward.rows import sample_rows  # noqa: E402

PROGRAM = ("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)")
SYSTEM = "Be exact."
ASK = "Compute 6 * 7 with Python."
# The taught answers: the first right, the second wrong (the gold is "6; int").
ANSWERS = ["assert f(3) == 7", "5; int"]


def _call(name: str, **arguments: str) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": name, "arguments": arguments}}]}


def _tool(name: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "name": name, "content": content}


@pytest.fixture(scope="module")
def sample(sandbox: sr.Sandbox) -> sr.Sample:
    s = sr.build_sample(*PROGRAM, kinds=("output", "state"), max_per_kind=1, sandbox=sandbox)
    assert [q.kind for q in s.questions] == ["output", "state"]
    return s


Turn = tuple[list[dict[str, Any]], dict[str, Any], list[Any]]


def _conversations(sample: sr.Sample) -> list[list[Turn]]:
    """Two conversations, the environment's and the tool's, as their assistant turns:
    (history, the turn to learn, tools)."""
    env = ExecVerifyEnv()
    row = env_rows([sample], SYSTEM)[0]
    user = {"role": "user", "content": row["prompt"][-1]["content"] + env.reset(**row)}
    history: list[dict[str, Any]] = [row["prompt"][0], user]
    episode: list[Turn] = []
    for text in ANSWERS:
        call = _call("answer", text=text)
        episode.append((list(history), call, [env.answer]))
        history += [call, _tool("answer", env.answer(text))]
    episode.append((history, {"role": "assistant", "content": "Done."}, [env.answer]))
    ask = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ASK}]
    call = _call("run_python", code="print(6 * 7)")
    tool = [(ask, call, [run_python]),
            ([*ask, call, _tool("run_python", run_python("print(6 * 7)"))],
             {"role": "assistant", "content": "42"}, [run_python])]
    return [episode, tool]


def _teach(path: Path, convs: list[list[Turn]]) -> None:
    """Fit the model at ``path`` to the assistant turns of each conversation (one sequence per
    conversation, the loss on its assistant turns) until it reproduces them."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.chat_template_utils import qwen2_5_chat_template

    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = qwen2_5_chat_template
    model = AutoModelForCausalLM.from_pretrained(path)
    seqs = []
    for turns in convs:
        history, reply, tools = turns[-1]
        full = tok(tok.apply_chat_template([*history, reply], tools=tools, tokenize=False),
                   add_special_tokens=False)["input_ids"]
        labels = [-100] * len(full)
        for h, _, t in turns:
            prompt = tok(tok.apply_chat_template(h, tools=t, add_generation_prompt=True,
                                                 tokenize=False), add_special_tokens=False)
            start = len(prompt["input_ids"])
            assert full[:start] == prompt["input_ids"]  # TRL needs a prefix-preserving template
            end = full.index(tok.eos_token_id, start) + 1
            labels[start:end] = full[start:end]
        seqs.append((full, labels))
    width = max(len(f) for f, _ in seqs)
    ids = torch.tensor([f + [tok.pad_token_id] * (width - len(f)) for f, _ in seqs])
    mask = torch.tensor([[1] * len(f) + [0] * (width - len(f)) for f, _ in seqs])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in seqs])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    assert loss.item() < 0.05, loss.item()
    model.save_pretrained(path)
    tok.save_pretrained(path)


@pytest.fixture(scope="module")
def taught(sample: sr.Sample, request: pytest.FixtureRequest) -> Path:
    """The tiny model with a tool-calling chat template (TRL's Qwen2.5 one, whose tool-call
    format TRL parses), taught the conversations above; kept in pytest's cache under a key of
    everything it depends on, so a rerun skips the ~100 optimizer steps."""
    import hashlib

    import transformers

    torch.set_num_threads(1)
    torch.manual_seed(0)
    convs = _conversations(sample)
    key = hashlib.sha256(json.dumps(
        [[h, r, [t.__name__ for t in tools]] for conv in convs for h, r, tools in conv]
        + [torch.__version__, transformers.__version__, trl.__version__, sr.__version__],
        sort_keys=True).encode()).hexdigest()[:16]
    path = Path(request.config.cache.mkdir(f"stepreward-taught-{key}"))
    if not (path / "done").exists():
        build_tiny_model(path, force=True)
        _teach(path, convs)
        (path / "done").write_text("")
    return path


def _config(tmp_path: Path, **extra: Any) -> Any:
    given = {"max_completion_length": 256, **extra}
    return trl.GRPOConfig(
        output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2,
        max_steps=1, logging_steps=1, bf16=False, use_cpu=True, report_to="none", beta=0.0,
        save_strategy="no", remove_unused_columns=False, seed=0, temperature=0.1, **given)


def _trainer(path: Path, tmp_path: Path, rows: list[dict[str, Any]], rewards: list[Any],
             config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path),
        processing_class=AutoTokenizer.from_pretrained(path),
        args=_config(tmp_path, **(config or {})),
        train_dataset=to_trl_dataset(rows), reward_funcs=rewards, **kwargs)


def _logs(trainer: Any) -> dict[str, float]:
    return {k: v for entry in trainer.state.log_history for k, v in entry.items()}


# ---------------------------------------------------------------------------------- unit

def test_env_episode_without_a_trainer(sample: sr.Sample) -> None:
    env = ExecVerifyEnv()
    row = env_rows([sample])[0]
    first = env.reset(**row)
    assert first is not None and "1 | def f(a):" in first and "Question 1 of 2" in first
    reply = env.answer("assert f(3) == 7")
    assert reply.startswith("Question 1: Right.") and "Question 2 of 2" in reply
    reply = env.answer("6; int")
    assert "Question 2: Right." in reply and "100% right" in reply
    assert env.answer("7").startswith("All 2 questions are answered")
    assert env.get_reward() == 1.0 and env.result.correct
    # A new episode starts clean; an unreadable answer is a zero with a reason.
    env.reset(**row)
    assert "could not be read" in env.answer("assert f(3) ==")
    assert env.get_reward() == 0.0 and env.result.metrics["no_answer"] == 0.5
    # The label's preset applies: execverify pays 2 per right question.
    env.reset(**sample_rows([sample], reward_options={"preset": "execverify"})[0])
    env.answer("assert f(3) == 7")
    assert env.get_reward() == pytest.approx(1.0)  # (2 + 0) / 2 questions
    # Rows of another kind: no reward (TRL leaves None out of the mean), no crash.
    env.reset(prompt=[], label=json.dumps({"task_id": "t", "prompt": "", "tests": []}))
    assert env.get_reward() is None and "no open question" in env.answer("x")
    assert env.reset(prompt=[], label="{broken") is not None and env.get_reward() is None
    # TRL's tools are the public methods (as it lists them): exactly one here, with a schema.
    import inspect

    from transformers.utils import get_json_schema

    tools = [n for n, _ in inspect.getmembers(ExecVerifyEnv, predicate=inspect.isfunction)
             if n not in ("reset", "get_reward") and not n.startswith("_")]
    assert tools == ["answer"]
    schema = get_json_schema(env.answer)["function"]
    assert schema["name"] == "answer" and schema["parameters"]["required"] == ["text"]
    assert pickle.loads(pickle.dumps(ExecVerifyEnv(preset="execverify")))._preset == "execverify"


def test_run_python_tool() -> None:
    from transformers.utils import get_json_schema

    schema = get_json_schema(run_python)["function"]
    assert schema["parameters"]["required"] == ["code"]
    assert set(schema["parameters"]["properties"]) == {"code", "stdin"}
    assert run_python("print(input()[::-1])", "abc") == "status: ok\nexit code: 0\nstdout:\ncba\n"
    loop = run_python("while True:\n    pass")
    assert loop.startswith("status: timeout\nreason: ")
    err = run_python("1 / 0")
    assert err.startswith("status: error\nreason: ZeroDivisionError")
    assert "ZeroDivisionError" in err.split("stderr:")[-1]
    flood = run_python("print('x' * 100_000)")
    assert "characters cut" in flood and len(flood) < 3000
    escape = run_python("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)")
    assert escape.startswith("status: error")
    assert run_python(None).startswith("status: rejected")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- trainer

class RecordingEnv(ExecVerifyEnv):
    """ExecVerifyEnv as TRL drives it, keeping each episode's answers and reward."""

    episodes: ClassVar[list[tuple[list[str], float | None]]] = []

    def get_reward(self) -> float | None:
        reward = super().get_reward()
        answers = [t.details.verdicts[0].parsed for t in self._turns]  # type: ignore[union-attr]
        RecordingEnv.episodes.append((answers, reward))
        return reward


def tool_text(completions: list[Any], **kwargs: Any) -> list[float]:
    """1.0 when the conversation holds a tool result; logs the tool results it saw."""
    seen = [" | ".join(m["content"] for m in c if m.get("role") == "tool") for c in completions]
    kwargs["log_extra"]("tool_results", seen)
    tool_text.seen.extend(seen)  # type: ignore[attr-defined]
    return [float(bool(s)) for s in seen]


tool_text.seen = []  # type: ignore[attr-defined]


def test_env_in_grpo_trainer(taught: Path, sample: sr.Sample, tmp_path: Path) -> None:
    RecordingEnv.episodes.clear()
    tool_text.seen.clear()  # type: ignore[attr-defined]
    trainer = _trainer(taught, tmp_path, env_rows([sample], SYSTEM) * 2, [tool_text],
                       environment_factory=RecordingEnv)
    trainer.train()
    logs = _logs(trainer)
    # Every rollout answered both questions through the tool, the first right, the second
    # wrong: an episode reward of 0.5 from the reward core, logged under the class name.
    assert RecordingEnv.episodes and all(a == ANSWERS for a, _ in RecordingEnv.episodes)
    assert {r for _, r in RecordingEnv.episodes} == {0.5}
    turns = [reward_for_turn(f"<answer>\n{a}\n</answer>", sample.to_row(), i)
             for i, a in enumerate(ANSWERS)]
    assert episode_result(sample.to_row(), turns).reward == 0.5
    assert logs["rewards/RecordingEnv/mean"] == pytest.approx(0.5)
    assert logs["tools/call_frequency"] == pytest.approx(2.0)
    assert logs["tools/failure_frequency"] == 0.0
    feedback = tool_text.seen[0]  # type: ignore[attr-defined]
    assert "Question 1: Right." in feedback and "Question 2: Wrong." in feedback
    assert "The true answer: 6; int" in feedback


def test_run_python_in_grpo_trainer(taught: Path, tmp_path: Path) -> None:
    tool_text.seen.clear()  # type: ignore[attr-defined]
    rows = [{"prompt": [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": ASK}]}] * 2
    trainer = _trainer(taught, tmp_path, rows, [tool_text], tools=[run_python])
    trainer.train()
    logs = _logs(trainer)
    assert logs["tools/call_frequency"] == pytest.approx(1.0)
    assert logs["rewards/tool_text/mean"] == 1.0
    assert tool_text.seen == ["status: ok\nexit code: 0\nstdout:\n42\n"] * 2  # type: ignore[attr-defined]


class Rendezvous:
    """A real stepreward reward that first waits (bounded) for the other rewards of the
    batch: it records whether all of them were running at the same time."""

    def __init__(self, inner: Any, barrier: threading.Barrier, met: list[bool],
                 timeout: float) -> None:
        self.inner, self.barrier, self.met, self.timeout = inner, barrier, met, timeout
        self.__name__ = inner.__name__

    def __call__(self, **kwargs: Any) -> list[float | None]:
        try:
            self.barrier.wait(timeout=self.timeout)
            self.met.append(True)
        except threading.BrokenBarrierError:
            self.met.append(False)
        result: list[float | None] = self.inner(**kwargs)
        return result


def _rendezvous(timeout: float) -> tuple[list[Any], list[bool]]:
    inner = [ExecutionReward(), UnitTestReward(), FormatReward()]
    barrier, met = threading.Barrier(len(inner)), []  # type: ignore[var-annotated]
    return [Rendezvous(r, barrier, met, timeout) for r in inner], met


def test_concurrent_rewards_run_together_in_grpo_trainer(taught: Path, sample: sr.Sample,
                                                         tmp_path: Path) -> None:
    rows = trl_sample_rows([sample], system_prompt=SYSTEM) * 2
    short = {"max_completion_length": 16}
    # TRL's default: sync rewards one after another, so the first waits in vain.
    rewards, met = _rendezvous(timeout=0.5)
    _trainer(taught, tmp_path, rows, rewards, short).train()
    assert met and not any(met)
    # All async: TRL gathers them, and each finds the others running (the long timeout is
    # only a bound; they meet as soon as all three have started).
    rewards, met = _rendezvous(timeout=60)
    wrapped = concurrent_rewards(rewards)
    assert all(isinstance(r, AsyncReward) for r in wrapped)
    trainer = _trainer(taught, tmp_path, rows, wrapped, short)
    trainer.train()
    assert met and all(met)
    logs = _logs(trainer)
    # Names, metrics and per-completion reasons survive the wrapping.
    assert "rewards/stepreward_execution/mean" in logs
    assert "stepreward_execution/output_accuracy" in logs


def test_concurrent_rewards_leaves_async_and_models_alone() -> None:
    async def already(**kwargs: Any) -> list[float]:
        return [0.0]

    wrapped = concurrent_rewards([already, "some/model-id", len])
    assert wrapped[0] is already and wrapped[1] == "some/model-id"
    assert isinstance(wrapped[2], AsyncReward) and wrapped[2].__name__ == "len"
    again = concurrent_rewards(wrapped)
    assert again[2] is wrapped[2]


def test_async_grpo_scoring_has_no_per_kind_metrics(taught: Path, sample: sr.Sample) -> None:
    """AsyncGRPOTrainer scores in its rollout loop (a spawned child in training) with no
    log_metric/log_extra: stepreward rewards still return the right values there, and only
    ``rewards/<name>`` reaches the logs; the per-kind accuracies of GRPOTrainer do not (the
    documented limit). The loop here is TRL's own, built without its vLLM server."""
    import multiprocessing as mp

    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl.experimental.async_grpo.async_rollout_worker import (
        RolloutGroup,
        TrainingSequence,
        _AsyncRolloutLoop,
    )

    ctx = mp.get_context("spawn")
    rewards = [pickle.loads(pickle.dumps(r)) for r in (ExecutionReward(), FormatReward())]
    tok = AutoTokenizer.from_pretrained(taught)
    loop = _AsyncRolloutLoop(
        model_name="tiny", dataset=Dataset.from_list(trl_sample_rows([sample])),
        reward_funcs=rewards, processing_class=tok, eos_token_ids=[tok.eos_token_id],
        rollout_buffer=ctx.Queue(), model_version_value=ctx.Value("i", 0),
        heartbeat_value=ctx.Value("d", 0.0), failed_event=ctx.Event(),
        exception_info_queue=ctx.Queue(maxsize=1), metrics_queue=ctx.Queue(),
        num_generations=2)
    label = json.dumps(sample.to_row())
    completions = [[{"role": "assistant", "content": sample.gold_completion()}],
                   [{"role": "assistant", "content": "no answer"}]]
    seqs = [[TrainingSequence(input_ids=[1, 2], completion_mask=[0, 1],
                              old_log_probs=[0.0, 0.0], rollout_id=str(i))] for i in range(2)]
    group = RolloutGroup(
        prompts=[[{"role": "user", "content": sample.prompt}]] * 2,
        reward_kwargs={"sample": [label] * 2, "task": [None] * 2},
        completions=completions, completions_ids=[[1], [1]], completions_sequences=seqs,
        tool_call_counts=[0, 0], tool_failure_counts=[0, 0], model_version=0, group_id=0,
        env_rewards=[None, None], rollout_rewards=[None, None])
    samples = asyncio.run(loop._score_group(group))
    metrics = [s.metrics for s in samples]
    assert [m["rewards/stepreward_execution"] for m in metrics] == [1.0, 0.0]
    assert [m["rewards/stepreward_format"] for m in metrics] == [1.0, 0.0]
    assert all(not any("accuracy" in k for k in m) for m in metrics), metrics


def test_docs_example_runs_as_written(tmp_path: Path) -> None:
    import os
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "trl-environments.md").read_text()
    env_example, tool_example = re.findall(r"```python\n(.*?)```", text, re.DOTALL)[:2]
    old = os.getcwd()
    os.chdir(tmp_path)  # its runs/ folders land here
    try:
        scope: dict[str, Any] = {}
        exec(compile(env_example, "trl-environments.md", "exec"), scope)  # our own docs
        exec(compile(tool_example, "trl-environments.md", "exec"), {})
    finally:
        os.chdir(old)
    state = scope["trainer"].state
    assert state.global_step == 1
    assert any("rewards/ExecVerifyEnv/mean" in e for e in state.log_history)
