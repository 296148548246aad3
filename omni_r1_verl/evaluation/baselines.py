"""Baselines of the paper's tables, run by the same harness (``omni-r1 eval --baseline NAME``).

* ``model`` (default): System 1 = ``--model``, System 2 = the ``system2`` section.
* ``zero-shot``: the same pipeline with the base Qwen2.5-Omni thinker as ``--model`` (Tables 1, 2 and 7, rows
  "Qwen2.5-Omni-7B†"); only the label differs, so the rows are comparable by construction.
* ``oracle`` (upper bound of keyframe selection): no System 1; keyframes spread evenly over the frames where the
  target is visible (``evaluation.oracle_keyframes``), the original expression as their description; refCOCOg
  prompts SAM2 with the ground-truth box.
* ``oracle-box`` (upper bound of System 1 and grounding): the oracle's keyframes with the ground-truth boxes of the
  objects visible there, which prompt SAM2 directly (what is left is SAM2's propagation).
* ``first-frame`` (lower bound): no System 1; System 2 alone grounds the original expression on the first frame.

System-2 prompt-style and checkpoint swaps (Tables 5 and 6) are ``system2`` overrides of any of these, e.g.
``system2.grounding.prompt_style=qwen_vl`` or ``system2.grounding.model_path=/ckpt/VisionReasoner-7B``. Pure module.
"""

from __future__ import annotations

from omni_r1_verl.contracts.rows import Task
from omni_r1_verl.contracts.system2 import KeyframeQuery
from omni_r1_verl.data.gt_store import GroundTruthStore
from omni_r1_verl.data.sampling import uniform_indices
from omni_r1_verl.evaluation.plan import Plan
from omni_r1_verl.evaluation.samples import EvalSample

#: Baseline names; the first runs the model under evaluation.
BASELINES = ("model", "zero-shot", "oracle", "oracle-box", "first-frame")
#: Baselines that run System 1.
WITH_SYSTEM1 = frozenset({"model", "zero-shot"})


def visible_frames(sample: EvalSample) -> list[int]:
    """Video frames where any ground-truth object is visible (from the row's per-frame areas)."""
    areas = sample.gt.areas
    return [f for f in range(sample.num_frames) if any(obj[f] > 0 for obj in areas)]


def oracle_plan(sample: EvalSample, keyframes: int) -> Plan:
    """Keyframes where the target is visible, the original expression as description (upper bound).

    Args:
        sample: The sample.
        keyframes: Most keyframes (evenly spread over the visible frames).

    Returns:
        The plan; a null expression (nothing visible) gets no keyframe, i.e. an empty prediction.
    """
    if sample.task is Task.IMAGE_GROUNDING:
        boxes = [list(map(float, b)) for b in sample.gt.boxes]
        if not boxes:
            return Plan(reason="the sample has no ground-truth box")
        return Plan([KeyframeQuery(clip_index=0, description=sample.expression, boxes=boxes)], [-1])
    visible = visible_frames(sample)
    if not visible:
        return Plan(reason="the target is visible on no frame")
    chosen = [visible[i] for i in uniform_indices(len(visible), keyframes)]
    return Plan([KeyframeQuery(clip_index=f, description=sample.expression) for f in chosen], [-1] * len(chosen))


def oracle_box_plan(sample: EvalSample, keyframes: int) -> Plan:
    """The oracle's keyframes, each with the ground-truth boxes of the objects visible on it (no grounding).

    Raises:
        omni_r1_verl.data.gt_store.GroundTruthStoreError: If the store cannot be read.
        KeyError: If the sample is not in the store.
    """
    plan = oracle_plan(sample, keyframes)
    if sample.task is Task.IMAGE_GROUNDING or not plan.keyframes:
        return plan
    frames = [k.clip_index for k in plan.keyframes]
    boxes = GroundTruthStore.open(sample.gt_store).boxes(sample.key, frames)  # inclusive pixel extents
    for i, query in enumerate(plan.keyframes):
        query.boxes = [
            [float(x1), float(y1), float(x2 + 1), float(y2 + 1)] for x1, y1, x2, y2 in boxes[:, i] if x1 >= 0
        ]
    return plan


def first_frame_plan(sample: EvalSample) -> Plan:
    """System 2 alone: the original expression grounded on the first frame (lower bound)."""
    return Plan([KeyframeQuery(clip_index=0, description=sample.expression)], [-1])


def baseline_plan(name: str, sample: EvalSample, oracle_keyframes: int) -> Plan:
    """The plan of a System-1-free baseline.

    Raises:
        ValueError: For a baseline that runs System 1, or an unknown name.
    """
    if name == "oracle":
        return oracle_plan(sample, oracle_keyframes)
    if name == "oracle-box":
        return oracle_box_plan(sample, oracle_keyframes)
    if name == "first-frame":
        return first_frame_plan(sample)
    raise ValueError(f"baseline {name!r} has no System-1-free plan; known: oracle, oracle-box, first-frame")
