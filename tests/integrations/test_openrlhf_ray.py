"""OpenRLHF's real rollout actor on a local Ray cluster, calling stepreward's reward file.

The vLLM engine is a scripted stand-in (tests/stubs); everything else is OpenRLHF's code:
``RolloutRayActor`` -> ``SingleTurnAgentExecutor`` -> the reward file loaded by path.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import stepreward as sr

pytest.importorskip("openrlhf.utils.agent")
ray = pytest.importorskip("ray")

STUBS = str(Path(__file__).resolve().parents[1] / "stubs")
PROMPT = "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.slow
def test_rollout_actor_scores_with_the_reward_file(tmp_path: Path, sandbox: sr.Sandbox) -> None:
    from stepreward.integrations.openrlhf import reward_file_path
    from stepreward.recipe.tiny import build_tiny_model

    tok_dir = build_tiny_model(tmp_path / "tok")
    sample = sr.build_sample("def f(a):\n    b = a * 2\n    return b + 1\n", "f(3)",
                             kinds=("output", "state"), sandbox=sandbox)
    env = {"STEPREWARD_STUB_TOKENIZER": str(tok_dir),
           "STEPREWARD_STUB_COMPLETION": sample.gold_completion() + "<|im_end|>",
           "PYTHONPATH": os.pathsep.join([STUBS, *sys.path])}
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env},
             ignore_reinit_error=True)
    try:
        sys.path.insert(0, STUBS)
        from openrlhf.trainer.ray.vllm_engine import RolloutRayActor
        from transformers import AutoTokenizer
        from vllm import SamplingParams

        cls = RolloutRayActor if hasattr(RolloutRayActor, "options") else ray.remote(
            RolloutRayActor)
        actor = cls.options(num_cpus=1, num_gpus=0).remote(
            "model", remote_rm_url=reward_file_path(), num_gpus=0)
        tokenizer = AutoTokenizer.from_pretrained(tok_dir)
        outs = ray.get(actor.generate_responses.remote(
            PROMPT.format(q=sample.prompt), json.dumps(sample.to_row()),
            SamplingParams(max_tokens=256), 4096, tokenizer, num_samples=2), timeout=300)
        assert len(outs) == 2
        for out in outs:
            assert float(out["reward"][0]) == pytest.approx(1.0), out["extra_logs"]
            assert float(out["extra_logs"]["stepreward/stage1"][0]) == 1.0
    finally:
        ray.shutdown()
        if STUBS in sys.path:
            sys.path.remove(STUBS)
