"""The stages, in the order they run."""

from __future__ import annotations

from benchmarks.gpu_check.stage_common import Stage


def _stages() -> dict[str, Stage]:
    from benchmarks.gpu_check import stage_detail, stage_fsdp2, stage_fused, stage_sam2

    return {s.STAGE.name: s.STAGE for s in (stage_fsdp2, stage_fused, stage_sam2, stage_detail)}


#: Stage name -> stage.
STAGES: dict[str, Stage] = _stages()
