#!/usr/bin/env bash
# Stage 2 (unit-test GRPO) with OpenRLHF 0.11.x: the settings of stage1.sh, started from the
# stage-1 checkpoint, 5 passes over Eurus-2-RL-Data code tasks. data.sh writes those rows;
# their labels carry the method's reward options (all tests pass: 1, else the pass rate over
# the first 10 tests, plus 0.05 only when some test passes), read by the reward file/server.
set -euo pipefail
export MODEL=${MODEL:-runs/stage1/final}
export DATA=${DATA:-data/code_tasks_openrlhf.jsonl}
export EPISODES=${EPISODES:-5}
export OUT=${OUT:-runs/stage2/final}
exec "$(dirname "${BASH_SOURCE[0]}")/stage1.sh" "$@"
