#!/usr/bin/env bash
# The method's data for the OpenRLHF recipe: stage-1 RL rows and SFT rows from `stepreward
# synth` (equal level shares, 37.5% input-prediction rows, difficulty control through the
# policy model's and the solver's OpenAI-compatible servers, pass counts in every row), and
# stage-2 rows from Eurus-2-RL-Data code tasks (PRIME; hub, or PRIME_PATH for a local file),
# refused if they overlap the eval benchmarks.
# POLICY_URL/SOLVER_URL: vLLM servers of the policy model and the solver.
# MBPP_PLUS/HUMANEVAL_PLUS/CRUXEVAL: the benchmark files the stage-2 rows must not overlap;
# by default those of the $STEPREWARD_DATA folder (layout in docs/eval.md), else data/benchmarks.
# PRINT_ARGS=1 prints both commands' arguments and runs nothing.
set -euo pipefail
OUT=${OUT:-data}
BENCH_DATA=${STEPREWARD_DATA:-data/benchmarks}
SYNTH=(
  --n 32000 --levels 1-6 --seed 0 --validation 0.05 --sft 15000 --input-share 0.375
  --kinds output,next_statement,state --max-per-kind 5
  --preset execverify
  --difficulty-endpoint "${POLICY_URL:-http://127.0.0.1:8000/v1}"
  --difficulty-model "${POLICY_MODEL:-Qwen2.5-Coder-7B-Instruct}"
  --difficulty-samples 10 --max-pass 3
  --solver-endpoint "${SOLVER_URL:-http://127.0.0.1:8001/v1}"
  --solver-model "${SOLVER_MODEL:-QwQ-32B}" --solver-samples 1 --solver-temperature 0.6
  --filter-max-tokens 4096 --out "$OUT"
)
CODE=(
  code-rows --source prime --out "$OUT/code_tasks_openrlhf.jsonl"
  --reward-preset method --partial-tests 10 --format-bonus 0.05
  --benchmark "mbpp-plus=${MBPP_PLUS:-$BENCH_DATA/mbppplus/MbppPlus.jsonl.gz}"
  --benchmark "humaneval-plus=${HUMANEVAL_PLUS:-$BENCH_DATA/humanevalplus/HumanEvalPlus.jsonl.gz}"
  --benchmark "cruxeval=${CRUXEVAL:-$BENCH_DATA/cruxeval/cruxeval.jsonl}"
)
if [[ -n "${PRIME_PATH:-}" ]]; then CODE+=(--path "$PRIME_PATH"); fi
if [[ "${PRINT_ARGS:-0}" == 1 ]]; then
  printf '%s\n' "${SYNTH[@]}"; echo "--"; printf '%s\n' "${CODE[@]}"; exit 0
fi
stepreward synth "${SYNTH[@]}"
python -m stepreward.integrations.paper "${CODE[@]}"
