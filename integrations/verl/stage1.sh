#!/usr/bin/env bash
# Stage 1 (white-box GRPO) with verl 0.9.x, the trainer the method's reference implementation
# uses: its stage_one_rl.sh (docs/recipe.md lists each setting next to the method's value) in
# verl 0.9's key names. GRPO with std-normalised advantages, 8 samples per prompt, 128 prompts
# per rollout, updates on 64 prompts, lr 1e-6 constant (AdamW weight decay 0.01, clip 1.0),
# clip ratio 0.2/0.2 with dual clip 3, token-mean loss, no KL, 2048/4096 lengths, 4 epochs.
# The reward is stepreward's verl function (`stepreward verl-path`) through verl's naive
# reward manager; each label carries its reward preset (data.sh writes `execverify`).
# Data: integrations/verl/data.sh writes the parquet files.
# PRINT_ARGS=1 prints the Hydra overrides, one per line, and runs nothing.
set -euo pipefail
MODEL=${MODEL:-runs/sft}
TRAIN=${TRAIN:-data/verl/train.parquet}
VAL=${VAL:-data/verl/validation.parquet}
REWARD=${REWARD_PATH:-$(stepreward verl-path)}
# verl scores in REWARD_WORKERS Ray actors, each with its own sandbox pool: split the node's
# CPUs between them (STEPREWARD_WORKERS sets each pool's size; docs/verl.md).
REWARD_WORKERS=${REWARD_WORKERS:-8}
CPUS=$(nproc)
SANDBOX_WORKERS=${STEPREWARD_WORKERS:-$(( CPUS / REWARD_WORKERS > 0 ? CPUS / REWARD_WORKERS : 1 ))}
ARGS=(
  algorithm.adv_estimator=grpo
  algorithm.norm_adv_by_std_in_grpo=True
  algorithm.use_kl_in_reward=False
  "data.train_files=$TRAIN"
  "data.val_files=$VAL"
  data.prompt_key=prompt
  data.train_batch_size=128
  data.max_prompt_length=2048
  data.max_response_length=4096
  data.filter_overlong_prompts=True
  data.truncation=error
  data.shuffle=True
  "actor_rollout_ref.model.path=$MODEL"
  actor_rollout_ref.model.use_remove_padding=True
  actor_rollout_ref.model.enable_gradient_checkpointing=True
  actor_rollout_ref.actor.optim.lr=1e-6
  actor_rollout_ref.actor.optim.lr_scheduler_type=constant
  actor_rollout_ref.actor.optim.lr_warmup_steps_ratio=0.0
  actor_rollout_ref.actor.optim.weight_decay=0.01
  actor_rollout_ref.actor.optim.clip_grad=1.0
  actor_rollout_ref.actor.ppo_mini_batch_size=64
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1
  actor_rollout_ref.actor.ppo_epochs=1
  actor_rollout_ref.actor.clip_ratio_low=0.2
  actor_rollout_ref.actor.clip_ratio_high=0.2
  actor_rollout_ref.actor.clip_ratio_c=3.0
  actor_rollout_ref.actor.loss_agg_mode=token-mean
  actor_rollout_ref.actor.use_kl_loss=False
  actor_rollout_ref.actor.kl_loss_coef=0.0
  actor_rollout_ref.actor.entropy_coeff=0.0
  actor_rollout_ref.actor.fsdp_config.param_offload=True
  actor_rollout_ref.actor.fsdp_config.optimizer_offload=True
  actor_rollout_ref.rollout.name=vllm
  actor_rollout_ref.rollout.n=8
  actor_rollout_ref.rollout.temperature=1.0
  actor_rollout_ref.rollout.top_p=1.0
  "actor_rollout_ref.rollout.tensor_model_parallel_size=${ROLLOUT_TP:-4}"
  actor_rollout_ref.rollout.gpu_memory_utilization=0.9
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1
  reward.reward_manager.name=naive
  "reward.num_workers=$REWARD_WORKERS"
  "+ray_kwargs.ray_init.runtime_env.env_vars.STEPREWARD_WORKERS=$SANDBOX_WORKERS"
  "reward.custom_reward_function.path=$REWARD"
  reward.custom_reward_function.name=compute_score
  "trainer.n_gpus_per_node=${GPUS:-8}"
  "trainer.nnodes=${NODES:-1}"
  "trainer.total_epochs=${EPOCHS:-4}"
  "trainer.test_freq=${TEST_FREQ:-5000}"
  trainer.save_freq=500
  trainer.project_name=stepreward
  "trainer.experiment_name=${NAME:-stage1}"
  "trainer.default_local_dir=${OUT:-runs/verl/stage1}"
  "trainer.logger=${LOGGER:-[console]}"
)
if [[ "${PRINT_ARGS:-0}" == 1 ]]; then printf '%s\n' "${ARGS[@]}"; exit 0; fi
exec python -m verl.trainer.main_ppo "${ARGS[@]}" "$@"
