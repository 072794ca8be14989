#!/usr/bin/env bash
# The SFT warm-up with OpenRLHF 0.11.x (openrlhf.cli.train_sft), the method's settings:
# 2 epochs, 4096-token cutoff, lr 1e-5 with cosine decay and 10% warmup, global batch 128.
# Data: data/sft.jsonl from data.sh; `messages` holds system, user and assistant turns, so
# the prompt is everything but the last turn and the loss is on the assistant turn.
# PRINT_ARGS=1 prints the effective flags and runs nothing.
set -euo pipefail
MODEL=${MODEL:-/models/Qwen2.5-Coder-7B-Instruct}
DATA=${DATA:-data/sft.jsonl}
ARGS=(
  --model.model_name_or_path "$MODEL"
  --data.dataset "$DATA" --data.input_key messages --data.apply_chat_template
  --data.max_len 4096
  --train.max_epochs 2 --train.batch_size 128 --train.micro_batch_size 2
  --adam.lr 1e-5 --lr_scheduler cosine --lr_warmup_ratio 0.1
  --ds.zero_stage 3 --ds.param_dtype bf16 --model.gradient_checkpointing_enable
  --ckpt.output_dir "${OUT:-runs/sft}" --ckpt.save_hf
  --logger.logging_steps 1 --train.seed 42
)
if [[ "${PRINT_ARGS:-0}" == 1 ]]; then printf '%s\n' "${ARGS[@]}"; exit 0; fi
exec deepspeed --module openrlhf.cli.train_sft "${ARGS[@]}" "$@"
