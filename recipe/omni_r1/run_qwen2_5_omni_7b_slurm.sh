#!/usr/bin/env bash
#SBATCH --job-name=omni_r1
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --exclusive
#SBATCH --signal=B:TERM@120
# Omni-R1 on Slurm: one Ray cluster over the allocated nodes, then verl's main_ppo on the first (head) node.
#
#   sbatch recipe/omni_r1/run_qwen2_5_omni_7b_slurm.sh [HYDRA_OVERRIDES...]
#   bash recipe/omni_r1/run_qwen2_5_omni_7b_slurm.sh --dry-run --nodes 'gpu[01-02]:8' [HYDRA_OVERRIDES...]
#
# Every node gives the same GPUs to verl's trainer and the rest to the System-2 detail pool (grounding VLM + SAM2);
# `omni-r1 cluster plan` picks the split that fits a step and prints it with every command (docs/cluster.md).
# --dry-run prints that plan from a node list (HOSTS:GPUS; inside an allocation the allocation's) and exits: no
# Slurm, Ray or GPU needed. A real run writes per-node logs, the plan and the environment to LOG_DIR, starts Ray
# on every node with srun, waits (bounded) until every node has joined with its GPUs, runs main_ppo, and stops
# every Ray step on exit, failure, scancel or time limit.
#
# Environment: MODEL_PATH, TRAIN_FILES, VAL_FILES (default TRAIN_FILES), SAM2_CHECKPOINT, SAM2_CONFIG,
# GROUNDING_MODEL; RECIPE (omni_r1; or omni_r1_avs, omni_r1_vos, omni_r1_mix, omni_r1_dapo),
# SYSTEM2_GPUS_PER_NODE (auto), SYSTEM2_WORKERS_PER_GPU (1), ROLLOUT_TP (1), RAY_PORT (derived from the job id),
# RAY_WAIT_TIMEOUT (600 s), RAY_WAIT_INTERVAL (5 s), RAY_HEAD_IP (default: the head's first IPv4 address, or that of
# RAY_NETWORK_INTERFACE), LOG_DIR, PYTHON.
set -euo pipefail

dry_run=0
nodes_spec=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) dry_run=1; shift ;;
        --nodes) nodes_spec=${2:?--nodes needs HOSTS:GPUS}; shift 2 ;;
        --nodes=*) nodes_spec=${1#--nodes=}; shift ;;
        -h | --help) sed -n '/^# Omni-R1 on Slurm/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        *) break ;;
    esac
done

PYTHON=${PYTHON:-python}
OMNI_R1=("$PYTHON" -m omni_r1_verl.cli)
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

# Paths: put in the command as they are. The rest is composed by the planner to read the step's shape.
fixed=(
    "actor_rollout_ref.model.path=$model"
    "data.train_files=$train"
    "data.val_files=${VAL_FILES:-$train}"
    "system2.sam2.checkpoint=$sam2"
    "system2.sam2.config=${SAM2_CONFIG:-configs/sam2.1/sam2.1_hiera_l.yaml}"
    "system2.grounding.model_path=$grounding"
    "actor_rollout_ref.rollout.name=vllm"
)
composed=("actor_rollout_ref.rollout.tensor_model_parallel_size=${ROLLOUT_TP:-1}" "$@")
plan=(cluster plan --recipe "$RECIPE" --python "$PYTHON"
    --system2-gpus-per-node "${SYSTEM2_GPUS_PER_NODE:-auto}" --workers-per-gpu "${SYSTEM2_WORKERS_PER_GPU:-1}")
for override in "${fixed[@]}"; do plan+=(--set "$override"); done

if ((dry_run)); then
    if [[ -z $nodes_spec && -n ${SLURM_JOB_NODELIST:-} ]]; then
        nodes_spec="$SLURM_JOB_NODELIST:${SLURM_GPUS_PER_NODE##*:}"
    fi
    [[ -n $nodes_spec ]] || { echo "error: --dry-run needs --nodes HOSTS:GPUS, e.g. 'gpu[01-02]:8'" >&2; exit 2; }
    exec "${OMNI_R1[@]}" "${plan[@]}" --nodes "$nodes_spec" -- "${composed[@]}"
fi

[[ -n ${SLURM_JOB_ID:-} ]] || { echo "error: not in a Slurm job: submit with sbatch, or try --dry-run" >&2; exit 2; }
LOG_DIR=${LOG_DIR:-$PWD/logs/omni_r1_$SLURM_JOB_ID}
mkdir -p "$LOG_DIR"
# srun inherits the whole environment; since Slurm 22.05 it needs the CPU count of a task told again.
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-${SRUN_CPUS_PER_TASK:-}}
[[ -n $SRUN_CPUS_PER_TASK ]] || unset SRUN_CPUS_PER_TASK
step=(srun --export=ALL --nodes=1 --ntasks=1 --kill-on-bad-exit=1)
env | grep -E '^(CUDA_|HF_|HYDRA_|NCCL_|OMNI_R1_|PYTHONPATH|PYTORCH_|RAY_|SLURM_JOB|TORCH|TRANSFORMERS_|VLLM_|WANDB_PROJECT)' |
    grep -viE 'TOKEN|KEY|SECRET|PASSWORD' | sort >"$LOG_DIR/env.txt" || true

# Each node's Slurm name and GPU count, and the head's address (this batch script runs on the head).
# shellcheck disable=SC2016  # expanded on each node
nodes_spec=$(srun --export=ALL --nodes="$SLURM_JOB_NUM_NODES" --ntasks-per-node=1 \
    bash -c 'echo "$SLURMD_NODENAME:${SLURM_GPUS_ON_NODE:-$(nvidia-smi -L | wc -l)}"' | sort | paste -sd, -)
head=${SLURMD_NODENAME:-$(hostname -s)}
if [[ -n ${RAY_HEAD_IP:-} ]]; then
    head_ip=$RAY_HEAD_IP
elif [[ -n ${RAY_NETWORK_INTERFACE:-} ]]; then
    head_ip=$(ip -4 -o addr show dev "$RAY_NETWORK_INTERFACE" scope global | awk 'NR == 1 {split($4, a, "/"); print a[1]}')
else
    head_ip=$(hostname -I | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/) {print $i; exit}}')
fi
[[ -n $head_ip ]] || { echo "error: no IPv4 address on $head ${RAY_NETWORK_INTERFACE:+($RAY_NETWORK_INTERFACE)}" >&2; exit 1; }
port=${RAY_PORT:-$((20000 + SLURM_JOB_ID % 20000))}

"${OMNI_R1[@]}" "${plan[@]}" --nodes "$nodes_spec" --head "$head" --head-ip "$head_ip" --port "$port" \
    ${SLURM_CPUS_PER_TASK:+--cpus-per-node "$SLURM_CPUS_PER_TASK"} --temp-dir "/tmp/ray_$SLURM_JOB_ID" \
    --out "$LOG_DIR" -- "${composed[@]}"
# shellcheck source=/dev/null
source "$LOG_DIR/layout.sh"

pids=()
nodes_of=()
# shellcheck disable=SC2329  # the EXIT trap runs it
stop_ray() {
    local status=$? alive pid
    trap - EXIT INT TERM
    if ((${#pids[@]})); then
        echo "stopping ${#pids[@]} srun step(s) (Ray on ${nodes_of[*]})" >&2
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in $(seq 60); do
            alive=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            ((alive)) || break
            sleep 1
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    exit "$status"
}
trap stop_ray EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Names the Ray steps that already exited, with the end of their log.
report_dead() {
    local i
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "ray on ${nodes_of[$i]} exited; end of $LOG_DIR/ray-${nodes_of[$i]}.log:" >&2
            tail -n 5 "$LOG_DIR/ray-${nodes_of[$i]}.log" >&2 || true
        fi
    done
}
wait_for() {
    "${OMNI_R1[@]}" cluster wait --layout "$LOG_DIR/layout.json" --timeout "${RAY_WAIT_TIMEOUT:-600}" \
        --interval "${RAY_WAIT_INTERVAL:-5}" --log-dir "$LOG_DIR" "$@" || { report_dead; return 1; }
}

"${step[@]}" -w "$OMNI_R1_HEAD" "${OMNI_R1_RAY_HEAD[@]}" >"$LOG_DIR/ray-$OMNI_R1_HEAD.log" 2>&1 &
pids+=($!)
nodes_of+=("$OMNI_R1_HEAD")
wait_for --only "$OMNI_R1_HEAD"
for i in "${!OMNI_R1_WORKERS[@]}"; do
    node=${OMNI_R1_WORKERS[$i]}
    command="OMNI_R1_RAY_WORKER_${i}[@]"
    "${step[@]}" -w "$node" "${!command}" >"$LOG_DIR/ray-$node.log" 2>&1 &
    pids+=($!)
    nodes_of+=("$node")
done
wait_for

"${step[@]}" --overlap -w "$OMNI_R1_HEAD" env RAY_ADDRESS="$OMNI_R1_RAY_ADDRESS" "${OMNI_R1_MAIN_PPO[@]}" \
    > >(tee -a "$LOG_DIR/main_ppo.log") 2>&1 &
driver=$!
pids=("$driver" "${pids[@]}")
nodes_of=("$OMNI_R1_HEAD (main_ppo)" "${nodes_of[@]}")
status=0
wait "$driver" || status=$?
echo "main_ppo exited with status $status; logs in $LOG_DIR" >&2
exit "$status"
