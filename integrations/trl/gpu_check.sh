#!/usr/bin/env bash
# A short stage-1 GRPO on one GPU with a locally built model (no hub, no internet), printing
# step time, generation time and the share of the step spent in stepreward's rewards.
#
# It needs torch and transformers on the machine. trl, datasets and stepreward's own small
# dependencies may be missing there: bring them as wheels (from a machine with pip access):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#     trl==1.16.0 datasets==5.2.0 dill==0.4.0 multiprocess==0.70.18 xxhash pyarrow \
#     pydantic pydantic-core annotated-types typing-inspection psutil
# then run from the repository root:  integrations/trl/gpu_check.sh [.whl]
set -euo pipefail
cd "$(dirname "$0")/../.."
WHEELS="${1:-.whl}"
if ! python3 -c "import trl, datasets, pydantic, psutil" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 - <<'PY'
import json, tempfile, time

import torch
import trl
from transformers import AutoModelForCausalLM, AutoTokenizer

import stepreward as sr
from stepreward.integrations.tiny import build_tiny_model
from stepreward.integrations.trl import ExecutionReward, FormatReward, sample_rows, to_trl_dataset
from stepreward.synth import build_dataset

assert torch.cuda.is_available(), "no GPU visible"
work = tempfile.mkdtemp(prefix="gpu-check-")
build_dataset(256, f"{work}/data", levels=(2, 3, 4), seed=0)
with open(f"{work}/data/train.jsonl") as f:
    rows = [json.loads(x) for x in f]
model_dir = build_tiny_model(f"{work}/model", hidden_size=1024, layers=16, heads=16, kv_heads=4)


class Timed:
    def __init__(self, inner):
        self.inner, self.__name__, self.seconds = inner, inner.__name__, 0.0

    def __call__(self, **kw):
        t0 = time.perf_counter()
        try:
            return self.inner(**kw)
        finally:
            self.seconds += time.perf_counter() - t0


rewards = [Timed(ExecutionReward()), Timed(FormatReward())]
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16).cuda()
params = sum(p.numel() for p in model.parameters())
steps = 5
config = trl.GRPOConfig(output_dir=f"{work}/out", per_device_train_batch_size=64,
                        num_generations=8, max_completion_length=128, max_steps=steps,
                        bf16=True, logging_steps=1, report_to="none", beta=0.0,
                        save_strategy="no", remove_unused_columns=False)
trainer = trl.GRPOTrainer(model=model, processing_class=AutoTokenizer.from_pretrained(model_dir),
                          args=config, train_dataset=to_trl_dataset(sample_rows(rows)),
                          reward_funcs=rewards)
t0 = time.perf_counter()
trainer.train()
total = time.perf_counter() - t0
reward_s = sum(r.seconds for r in rewards)
gen = [e.get("profiling/Time taken: GRPOTrainer._generate", e.get("generation_time"))
       for e in trainer.state.log_history]
gen = [g for g in gen if isinstance(g, (int, float))]
print(f"GPU: {torch.cuda.get_device_name(0)}; model {params / 1e6:.0f}M parameters (random, local)")
print(f"{steps} GRPO steps x 64 completions x 128 tokens: {total / steps:.2f} s per step")
if gen:
    print(f"generation: {sum(gen) / len(gen):.2f} s per step")
print(f"stepreward rewards: {reward_s / steps:.3f} s per step = {reward_s / total:.2%} of the step")
print(f"isolation layers: {', '.join(sr.Sandbox(workers=1).isolation)}")
PY
