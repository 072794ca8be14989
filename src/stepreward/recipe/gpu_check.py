"""``stepreward gpu-check``: a short stage-1 GRPO on one GPU with a locally built model (no hub,
no internet), printing step time, generation time and the share of the step spent in
stepreward's rewards."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from typing import Any

__all__ = ["add_arguments", "main", "run", "run_gpu_check"]


class _Timed:
    """A reward function that adds up the time spent inside it (TRL's name kept)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.__name__, self.seconds = inner, inner.__name__, 0.0

    def __call__(self, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner(**kw)
        finally:
            self.seconds += time.perf_counter() - t0


def run_gpu_check(*, steps: int = 5, rows: int = 256, batch: int = 64, generations: int = 8,
                  completion_tokens: int = 128, hidden_size: int = 1024, layers: int = 16,
                  work: str | None = None) -> dict[str, Any]:
    """Train ``steps`` GRPO steps of a random local model (``hidden_size`` x ``layers``,
    bfloat16) on ``rows`` synthesized samples with stepreward's stage-1 rewards; returns
    the GPU's name, the parameter count, seconds per step, generation seconds per step (when
    TRL logs it) and the rewards' seconds and share per step. Needs a CUDA GPU.

    Example:
        >>> run_gpu_check(steps=5)["reward_share"] < 0.05  # doctest: +SKIP
        True
    """
    import torch

    if not torch.cuda.is_available():  # before trl and the data: say so at once
        raise RuntimeError("no GPU visible (torch.cuda.is_available() is False)")
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stepreward.integrations.trl import (
        ExecutionReward,
        FormatReward,
        sample_rows,
        to_trl_dataset,
    )
    from stepreward.recipe.tiny import build_tiny_model
    from stepreward.synth import build_dataset
    work = work or tempfile.mkdtemp(prefix="gpu-check-")
    build_dataset(rows, f"{work}/data", levels=(2, 3, 4), seed=0)
    with open(f"{work}/data/train.jsonl", encoding="utf-8") as f:
        data = [json.loads(x) for x in f]
    model_dir = build_tiny_model(f"{work}/model", hidden_size=hidden_size, layers=layers,
                                 heads=16, kv_heads=4)
    rewards = [_Timed(ExecutionReward()), _Timed(FormatReward())]
    model: Any = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16)
    model = model.cuda()
    params = sum(p.numel() for p in model.parameters())
    config = trl.GRPOConfig(output_dir=f"{work}/out", per_device_train_batch_size=batch,
                            num_generations=generations,
                            max_completion_length=completion_tokens, max_steps=steps,
                            bf16=True, logging_steps=1, report_to="none", beta=0.0,
                            save_strategy="no", remove_unused_columns=False)
    trainer = trl.GRPOTrainer(model=model,
                              processing_class=AutoTokenizer.from_pretrained(model_dir),
                              args=config, train_dataset=to_trl_dataset(sample_rows(data)),
                              reward_funcs=rewards)
    t0 = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - t0
    reward_s = sum(r.seconds for r in rewards)
    gen = [e.get("profiling/Time taken: GRPOTrainer._generate", e.get("generation_time"))
           for e in trainer.state.log_history]
    gen = [g for g in gen if isinstance(g, (int, float))]
    return {"gpu": torch.cuda.get_device_name(0), "parameters": params, "steps": steps,
            "completions_per_step": batch, "completion_tokens": completion_tokens,
            "step_s": total / steps,
            "generation_s": sum(gen) / len(gen) if gen else None,
            "reward_s": reward_s / steps, "reward_share": reward_s / total}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The GPU check's arguments (``stepreward gpu-check``).

    Example:
        >>> ap = argparse.ArgumentParser()
        >>> add_arguments(ap)
        >>> ap.parse_args([]).steps
        5
    """
    ap.add_argument("--steps", type=int, default=5, help="GRPO steps (default 5)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")


def run(args: argparse.Namespace) -> int:
    """Run the GPU check and print its figures; no GPU is one line on stderr, exit 2.

    Example:
        >>> run(argparse.Namespace(steps=5, json=False))  # doctest: +SKIP
        0
    """
    try:
        r = run_gpu_check(steps=args.steps)
    except (RuntimeError, ImportError) as exc:
        print(f"gpu-check: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    from stepreward.sandbox import Sandbox

    print(f"GPU: {r['gpu']}; model {r['parameters'] / 1e6:.0f}M parameters (random, local)")
    print(f"{r['steps']} GRPO steps x {r['completions_per_step']} completions x "
          f"{r['completion_tokens']} tokens: {r['step_s']:.2f} s per step")
    if r["generation_s"] is not None:
        print(f"generation: {r['generation_s']:.2f} s per step")
    print(f"stepreward rewards: {r['reward_s']:.3f} s per step = {r['reward_share']:.2%} of "
          "the step")
    print(f"isolation layers: {', '.join(Sandbox(workers=1).isolation)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``stepreward gpu-check`` with ``argv`` as its arguments (also ``python -m
    stepreward.recipe.gpu_check``, which ``integrations/trl/gpu_check.sh`` runs).

    Example:
        >>> main(["--steps", "5"])  # doctest: +SKIP
        0
    """
    ap = argparse.ArgumentParser(prog="stepreward gpu-check", description=__doc__)
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
