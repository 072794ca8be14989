#!/usr/bin/env bash
# Stage 2 (unit-test GRPO) with OpenRLHF 0.11.x: the same settings as stage 1 (see stage1.sh),
# started from the stage-1 checkpoint on code tasks
# (`stepreward.integrations.openrlhf.code_task_rows`, whose labels carry the unit tests).
set -euo pipefail
export MODEL=${MODEL:-runs/stage1/final}
export DATA=${DATA:-data/code_tasks_openrlhf.jsonl}
exec "$(dirname "${BASH_SOURCE[0]}")/stage1.sh" "$@"
