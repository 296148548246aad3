#!/usr/bin/env bash
# Omni-R1 GRPO on one 8-GPU node: FSDP actor + vLLM rollout on 6 GPUs, SAM2 detail pool on the remaining 2.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:?set MODEL_PATH to a Qwen2.5-Omni-7B (thinker or full) checkpoint directory}
TRAIN_FILES=${TRAIN_FILES:?set TRAIN_FILES to prepared parquet file(s), e.g. "[a.parquet,b.parquet]"}
VAL_FILES=${VAL_FILES:-$TRAIN_FILES}

python -m verl.trainer.main_ppo +recipe=omni_r1 \
    actor_rollout_ref.model.path="$MODEL_PATH" \
    data.train_files="$TRAIN_FILES" \
    data.val_files="$VAL_FILES" \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    trainer.n_gpus_per_node=6 \
    trainer.nnodes=1 \
    "$@"
