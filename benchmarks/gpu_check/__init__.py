"""The prepared GPU check: the project's GPU paths measured in one call, stage by stage (docs/cluster.md).

Stages (``benchmarks/gpu_check/stage_*.py``), each in its own process on a GPU:

* ``fsdp2``: a bf16 FSDP2 (NCCL, 1 rank) training step of the tiny Qwen2.5-Omni thinker on a long video + audio
  prompt, with log-prob and gradient parity against the unsharded model;
* ``fused``: fused log-probs through the thinker with verl's Triton kernel and its torch backend against plain
  logits, and both at the 7B LM-head shape (time, peak memory, parity);
* ``sam2``: SAM2.1-Large-shaped random weights propagating 32 objects through 24 frames of 720p;
* ``detail``: the detail engine's grouped pass of a GRPO group against one pass per rollout, on the same model.

Every stage also reports its peak GPU memory. Missing pieces (no GPU, no verl, no sam2) skip a stage, or a part of
one, with a ``SKIPPED`` line naming what is missing; ``--cpu-smoke`` runs every stage at tiny CPU sizes (CI).
Output: one parseable line per measurement (:mod:`benchmarks.gpu_check.report`).
"""
