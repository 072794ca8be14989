#!/usr/bin/env bash
# Stage 2 (unit-test GRPO) with verl 0.9.x: the settings of stage1.sh, started from the stage-1
# checkpoint (its actor exported to Hugging Face format), 5 epochs over Eurus-2-RL-Data code
# tasks. Each label carries the method's reward (all tests pass: 1, else the pass rate over the
# first 10 tests, +0.05 for <answer> tags only when some test passes). The reference switched
# to verl's `prime` reward manager for its process pool and timeouts; here the sandbox runs the
# tests with per-test deadlines, so the naive manager of stage1.sh is kept. Validation runs on
# the stage-1 held-out rows (execution reasoning kept while code generation is trained); set
# VAL to a code-task parquet file to validate on those instead.
set -euo pipefail
export MODEL=${MODEL:-runs/verl/stage1/hf}
export TRAIN=${TRAIN:-data/verl/code_train.parquet}
export VAL=${VAL:-data/verl/validation.parquet}
export EPOCHS=${EPOCHS:-5}
export TEST_FREQ=${TEST_FREQ:-500}
export NAME=${NAME:-stage2}
export OUT=${OUT:-runs/verl/stage2}
exec "$(dirname "${BASH_SOURCE[0]}")/stage1.sh" "$@"
