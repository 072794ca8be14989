#!/usr/bin/env bash
# The method's data for the verl recipe: the OpenRLHF recipe's data.sh (stage-1 RL and SFT rows
# from `stepreward synth` with difficulty control and the execverify preset in each label;
# stage-2 Eurus-2-RL-Data code rows with the method's unit-test reward in each label), then the
# RL rows in verl's parquet layout under $OUT/verl: train, validation (stage 1) and code_train
# (stage 2). Its settings and variables are those of ../openrlhf/data.sh.
# PRINT_ARGS=1 prints the data commands' arguments and runs nothing.
set -euo pipefail
OUT=${OUT:-data}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OUT
"$HERE/../openrlhf/data.sh"
if [[ "${PRINT_ARGS:-0}" == 1 ]]; then exit 0; fi
ROWS=(python -m stepreward.integrations.verl rows)
"${ROWS[@]}" "$OUT/train.jsonl" --out "$OUT/verl/train.parquet"
"${ROWS[@]}" "$OUT/validation.jsonl" --split validation --out "$OUT/verl/validation.parquet"
"${ROWS[@]}" "$OUT/code_tasks_openrlhf.jsonl" --out "$OUT/verl/code_train.parquet"
