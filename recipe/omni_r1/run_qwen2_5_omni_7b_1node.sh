#!/usr/bin/env bash
# Omni-R1 GRPO on one 8-GPU node: FSDP actor + vLLM rollout on 6 GPUs, SAM2 detail pool on the remaining 2.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:?set MODEL_PATH to a Qwen2.5-Omni-7B (thinker or full) checkpoint directory}
TRAIN_FILES=${TRAIN_FILES:?set TRAIN_FILES to prepared parquet file(s), e.g. "[a.parquet,b.parquet]"}
VAL_FILES=${VAL_FILES:-$TRAIN_FILES}
# System 2 (frozen): SAM2.1 checkpoint + config, and the grounding VLM (Qwen2.5-VL / Qwen2.5-Omni style).
SAM2_CHECKPOINT=${SAM2_CHECKPOINT:?set SAM2_CHECKPOINT to sam2.1_hiera_large.pt}
SAM2_CONFIG=${SAM2_CONFIG:-configs/sam2.1/sam2.1_hiera_l.yaml}
GROUNDING_MODEL=${GROUNDING_MODEL:?set GROUNDING_MODEL to the frozen grounding model directory}

python -m verl.trainer.main_ppo +recipe=omni_r1 \
    actor_rollout_ref.model.path="$MODEL_PATH" \
    data.train_files="$TRAIN_FILES" \
    data.val_files="$VAL_FILES" \
    system2.sam2.checkpoint="$SAM2_CHECKPOINT" \
    system2.sam2.config="$SAM2_CONFIG" \
    system2.grounding.model_path="$GROUNDING_MODEL" \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.tensor_model_parallel_size=1 \
    trainer.n_gpus_per_node=6 \
    trainer.nnodes=1 \
    "$@"
