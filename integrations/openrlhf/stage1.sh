#!/usr/bin/env bash
# Stage 1 (white-box GRPO) with OpenRLHF 0.11.x on a Ray cluster, the method's settings in
# current flag names (docs/recipe.md lists each next to the method's value): group-normalised
# advantages (GRPO), 8 samples per prompt, 128 prompts per rollout, updates on 64 prompts
# (512 samples), lr 1e-6 constant (no warmup, AdamW weight decay 0.01), no KL, 2048/4096
# lengths, 4 passes over the data (EPISODES; stage2.sh sets 5).
# Data: integrations/openrlhf/data.sh writes rows with `messages` (system + user prompt) and
# `label` (the sample, with the method's reward preset in its reward_options).
# The reward runs in the rollout actors (the reward file), or set REWARD_URL to a
# `stepreward serve` host: REWARD_URL=http://reward-host:5000/get_reward ./stage1.sh
# PRINT_ARGS=1 prints the effective flags and runs nothing.
set -euo pipefail
# The defaults chain the scripts run back to back: sft.sh writes runs/sft, this script
# writes runs/stage1/final, stage2.sh starts from it and writes runs/stage2/final.
MODEL=${MODEL:-runs/sft}
DATA=${DATA:-data/train.jsonl}
REWARD=${REWARD_URL:-$(stepreward openrlhf-path)}
ARGS=(
  --actor.model_name_or_path "$MODEL"
  --actor.num_nodes "${NODES:-1}" --actor.num_gpus_per_node "${GPUS:-8}"
  --ref.num_nodes "${NODES:-1}" --ref.num_gpus_per_node "${GPUS:-8}"
  --vllm.num_engines "${VLLM_ENGINES:-8}" --vllm.tensor_parallel_size 1
  --vllm.gpu_memory_utilization 0.6 --vllm.enable_sleep
  --train.colocate_all
  --data.prompt_dataset "$DATA" --data.input_key messages --data.apply_chat_template
  --data.label_key label --data.max_len 6144
  --reward.remote_url "$REWARD"
  --algo.advantage.estimator group_norm --algo.kl.init_coef 0
  --rollout.n_samples_per_prompt 8 --rollout.batch_size 128 --rollout.max_new_tokens 4096
  --rollout.temperature 1.0 --rollout.top_p 1.0 --rollout.micro_batch_size 16
  --train.batch_size 512 --train.micro_batch_size 4 --train.max_epochs 1
  --train.num_episodes "${EPISODES:-4}"
  --actor.adam.lr 1e-6 --actor.lr_scheduler constant --actor.lr_warmup_ratio 0
  --actor.adam.weight_decay 0.01 --actor.max_norm 1.0 --actor.eps_clip 0.2
  --actor.dual_clip 3 --actor.gradient_checkpointing_enable
  --ds.zero_stage 3 --ds.packing_samples
  --ckpt.output_dir "${OUT:-runs/stage1/final}"
  --logger.logging_steps 1 --train.seed 42
)
if [[ "${PRINT_ARGS:-0}" == 1 ]]; then printf '%s\n' "${ARGS[@]}"; exit 0; fi
exec python -m openrlhf.cli.train_ppo_ray "${ARGS[@]}" "$@"
