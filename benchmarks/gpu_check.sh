#!/usr/bin/env bash
# The prepared GPU check (docs/cluster.md): FSDP2 bf16 training step of the tiny thinker with log-prob parity,
# fused log-probs (verl's Triton kernel vs its torch backend vs logits), SAM2.1-L-shaped propagation of 32 objects
# on 24 frames of 720p, and the detail engine's grouped vs per-rollout passes; peak GPU memory of each. Builds every
# model on the spot (random weights), installs carried wheels / sdists from .whl/ when the machine lacks them, skips
# what cannot run with a SKIPPED line, stays within --budget (420 s), and prints one line per measurement.
#
#   bash benchmarks/gpu_check.sh                 # on a GPU machine
#   bash benchmarks/gpu_check.sh --cpu-smoke     # every stage at tiny CPU sizes (CI)
#   bash benchmarks/gpu_check.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" -m benchmarks.gpu_check "$@"
