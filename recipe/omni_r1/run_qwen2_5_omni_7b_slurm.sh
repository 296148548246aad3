#!/usr/bin/env bash
#SBATCH --job-name=omni_r1
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --exclusive
# Omni-R1 GRPO on Slurm: start Ray on every allocated node, then run main_ppo on the head node.
# The trainer uses 6 GPUs per node; the remaining GPUs of the allocation host the SAM2 detail pool.
set -euo pipefail

MODEL_PATH=${MODEL_PATH:?set MODEL_PATH}
TRAIN_FILES=${TRAIN_FILES:?set TRAIN_FILES}
VAL_FILES=${VAL_FILES:-$TRAIN_FILES}
# System 2 (frozen): SAM2.1 checkpoint + config, and the grounding VLM (Qwen2.5-VL / Qwen2.5-Omni style).
SAM2_CHECKPOINT=${SAM2_CHECKPOINT:?set SAM2_CHECKPOINT to sam2.1_hiera_large.pt}
SAM2_CONFIG=${SAM2_CONFIG:-configs/sam2.1/sam2.1_hiera_l.yaml}
GROUNDING_MODEL=${GROUNDING_MODEL:?set GROUNDING_MODEL to the frozen grounding model directory}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
TRAINER_GPUS_PER_NODE=${TRAINER_GPUS_PER_NODE:-6}

nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))
head=${nodes[0]}
head_ip=$(srun --nodes=1 --ntasks=1 -w "$head" hostname --ip-address | awk '{print $1}')
port=6379

srun --nodes=1 --ntasks=1 -w "$head" ray start --head --node-ip-address="$head_ip" --port=$port \
    --num-gpus="$GPUS_PER_NODE" --block &
sleep 10
for node in "${nodes[@]:1}"; do
    srun --nodes=1 --ntasks=1 -w "$node" ray start --address="$head_ip:$port" --num-gpus="$GPUS_PER_NODE" --block &
done
sleep 10

srun --overlap --nodes=1 --ntasks=1 -w "$head" env RAY_ADDRESS="$head_ip:$port" \
    python -m verl.trainer.main_ppo +recipe=omni_r1 \
    actor_rollout_ref.model.path="$MODEL_PATH" \
    data.train_files="$TRAIN_FILES" \
    data.val_files="$VAL_FILES" \
    system2.sam2.checkpoint="$SAM2_CHECKPOINT" \
    system2.sam2.config="$SAM2_CONFIG" \
    system2.grounding.model_path="$GROUNDING_MODEL" \
    actor_rollout_ref.rollout.name=vllm \
    trainer.n_gpus_per_node="$TRAINER_GPUS_PER_NODE" \
    trainer.nnodes="${#nodes[@]}" \
    "$@"
