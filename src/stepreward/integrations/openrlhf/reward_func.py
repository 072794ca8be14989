"""OpenRLHF reward-function file: pass this file's path as ``--reward.remote_url``.

OpenRLHF loads it by path in each rollout actor and calls ``reward_func(queries, prompts,
labels)`` (lists of one sample) from a worker thread. Labels are stepreward sample rows or
code tasks as JSON (what ``stepreward synth`` writes). ``rewards`` is the preset's reward,
``scores`` the raw correctness (for dynamic filtering), ``extra_logs`` the same keys on every
call. It never raises: a failure is a reward of 0 counted in ``stepreward/errors``.
"""

from __future__ import annotations

from typing import Any


def reward_func(queries: list[str], prompts: list[str], labels: list[Any]) -> dict[str, Any]:
    import torch

    try:
        from stepreward.integrations.openrlhf import (
            EXTRA_LOG_KEYS,
            extract_response,
            score_response,
        )
    except Exception:  # stepreward not importable on this node: fail soft, visibly
        n = len(queries)
        zeros = torch.zeros(n, dtype=torch.float32)
        return {"rewards": zeros, "scores": zeros.clone(),
                "extra_logs": {"stepreward/errors": torch.ones(n, dtype=torch.float32)}}
    rewards: list[float] = []
    scores: list[float] = []
    logs: dict[str, list[float]] = {k: [] for k in EXTRA_LOG_KEYS}
    for i, query in enumerate(queries):
        prompt = prompts[i] if i < len(prompts) else ""
        label = labels[i] if i < len(labels) else None
        try:
            reward, score, extra = score_response(extract_response(str(query), str(prompt or "")),
                                                  label)
        except Exception:
            reward, score, extra = 0.0, 0.0, {"stepreward/errors": 1.0}
        rewards.append(reward)
        scores.append(score)
        for k in EXTRA_LOG_KEYS:
            logs[k].append(float(extra.get(k, 0.0)))
    return {"rewards": torch.tensor(rewards, dtype=torch.float32),
            "scores": torch.tensor(scores, dtype=torch.float32),
            "extra_logs": {k: torch.tensor(v, dtype=torch.float32) for k, v in logs.items()}}
