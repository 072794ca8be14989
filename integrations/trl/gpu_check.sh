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
# then run from the repository root:  integrations/trl/gpu_check.sh [.whl] [--steps N] [--json]
# (the check itself is stepreward.recipe.gpu_check, also `stepreward gpu-check`).
set -euo pipefail
cd "$(dirname "$0")/../.."
WHEELS="${1:-.whl}"
if ! python3 -c "import trl, datasets, pydantic, psutil" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 -m stepreward.recipe.gpu_check "${@:2}"
