#!/usr/bin/env bash
# Omni-R1 on one GPU node: verl's main_ppo starts Ray itself; the node's GPUs are split between the trainer (FSDP
# actor + ref, vLLM rollout) and the System-2 detail pool (grounding VLM + SAM2) by `omni-r1 cluster plan`, which
# picks the fewest System-2 GPUs the step fits (4 + 4 on 8 GPUs with the recipe's 8 prompts x 8 rollouts).
#
#   bash recipe/omni_r1/run_qwen2_5_omni_7b_1node.sh [HYDRA_OVERRIDES...]
#   bash recipe/omni_r1/run_qwen2_5_omni_7b_1node.sh --dry-run [HYDRA_OVERRIDES...]   # print the plan, run nothing
#
# Environment: MODEL_PATH, TRAIN_FILES, VAL_FILES (default TRAIN_FILES), SAM2_CHECKPOINT, SAM2_CONFIG,
# GROUNDING_MODEL; RECIPE (omni_r1; or omni_r1_avs, omni_r1_vos, omni_r1_mix, omni_r1_dapo), NGPUS (default: the
# GPUs nvidia-smi lists, 8 in a dry run), SYSTEM2_GPUS_PER_NODE (auto), SYSTEM2_WORKERS_PER_GPU (1), ROLLOUT_TP (1),
# PYTHON.
set -euo pipefail

dry_run=0
case "${1:-}" in
    --dry-run) dry_run=1; shift ;;
    -h | --help) sed -n '/^# Omni-R1 on one GPU node/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac

PYTHON=${PYTHON:-python}
RECIPE=${RECIPE:-omni_r1}

# A required setting; a dry run shows <NAME> for one that is not set.
setting() {
    if [[ -n ${!1:-} ]]; then
        printf '%s' "${!1}"
    elif ((dry_run)); then
        printf '<%s>' "$1"
    else
        echo "error: set $1 ($2)" >&2
        return 2
    fi
}
model=$(setting MODEL_PATH "a Qwen2.5-Omni-7B thinker or full checkpoint directory")
train=$(setting TRAIN_FILES "prepared parquet file(s), e.g. [a.parquet,b.parquet]")
sam2=$(setting SAM2_CHECKPOINT "sam2.1_hiera_large.pt")
grounding=$(setting GROUNDING_MODEL "the frozen grounding model directory")
if [[ -z ${NGPUS:-} ]]; then
    if ((dry_run)); then NGPUS=8; else NGPUS=$(nvidia-smi -L | wc -l); fi
fi

plan=(-m omni_r1_verl.cli cluster plan --local --nodes "localhost:$NGPUS" --recipe "$RECIPE" --python "$PYTHON"
    --system2-gpus-per-node "${SYSTEM2_GPUS_PER_NODE:-auto}" --workers-per-gpu "${SYSTEM2_WORKERS_PER_GPU:-1}"
    --set "actor_rollout_ref.model.path=$model"
    --set "data.train_files=$train"
    --set "data.val_files=${VAL_FILES:-$train}"
    --set "system2.sam2.checkpoint=$sam2"
    --set "system2.sam2.config=${SAM2_CONFIG:-configs/sam2.1/sam2.1_hiera_l.yaml}"
    --set "system2.grounding.model_path=$grounding"
    --set "actor_rollout_ref.rollout.name=vllm")
composed=("actor_rollout_ref.rollout.tensor_model_parallel_size=${ROLLOUT_TP:-1}" "$@")

if ((dry_run)); then
    exec "$PYTHON" "${plan[@]}" -- "${composed[@]}"
fi
overrides=$("$PYTHON" "${plan[@]}" --format overrides -- "${composed[@]}")  # the plan itself goes to stderr
mapfile -t overrides <<<"$overrides"
exec "$PYTHON" -m verl.trainer.main_ppo "+recipe=$RECIPE" "${overrides[@]}"
