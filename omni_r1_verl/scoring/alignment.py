"""Frame-instruction alignment reward R_A and the RefAVS detection reward (box IoU, Hungarian matching).

For each grounded keyframe i System 2 predicted boxes P_i; the ground truth has boxes G_i (objects visible on
that frame). With ``m_i`` the matched IoU sum of the Hungarian assignment (maximum total IoU), ``n_obj`` the
number of GT objects and K the number of keyframes::

    iou   = sum_i m_i / sum_i |G_i|                 (normalize = "gt", the reference's avg_iou)
          = sum_i m_i / sum_i max(|P_i|, |G_i|)      (normalize = "max", the paper's 1 - L_Hungarian)
    count = -count_penalty * sum_i | |P_i| - |G_i| | / (max(n_obj, 1) * K)
    R_A   = iou + count

Missing boxes lose their IoU and cost ``count``; excess boxes cost ``count`` (and, with ``max``, dilute the IoU).
A keyframe whose System-2 output could not be parsed scores as "no boxes". The RefAVS detection reward is the
``max``-normalised matched IoU on frame 0 (a single GT box and a single prediction give their plain IoU; an
empty prediction on a null target gives 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from omni_r1_verl.contracts.system2 import KeyframeDetail
from omni_r1_verl.scoring.boxes import match_boxes
from omni_r1_verl.scoring.config import AlignmentConfig, BoxConfig


@dataclass(frozen=True)
class AlignmentTerms:
    """R_A for one rollout.

    Attributes:
        iou: Normalised matched IoU in [0, 1].
        count: Box-count penalty (<= 0).
        keyframes: Keyframes scored.
        invalid_boxes: Predicted boxes rejected (non-finite, inverted, outside the image, beyond the cap).
        unparsed_keyframes: Keyframes whose System-2 output could not be parsed.
        no_gt: No keyframe had a visible GT object (``iou`` is then 0).
    """

    iou: float = 0.0
    count: float = 0.0
    keyframes: int = 0
    invalid_boxes: int = 0
    unparsed_keyframes: int = 0
    no_gt: bool = False

    @property
    def total(self) -> float:
        """R_A = iou + count."""
        return self.iou + self.count


def alignment_terms(
    keyframes: Sequence[KeyframeDetail],
    num_objects: int,
    height: int,
    width: int,
    config: AlignmentConfig,
    boxes: BoxConfig,
) -> AlignmentTerms:
    """Compute R_A from System 2's per-keyframe boxes.

    Args:
        keyframes: The grounded keyframes of one rollout.
        num_objects: GT objects of the expression.
        height: Original frame height (boxes are clipped to it).
        width: Original frame width.
        config: R_A constants.
        boxes: Box conventions.

    Returns:
        The terms (all zero when there are no keyframes).
    """
    if not keyframes:
        return AlignmentTerms()
    matched = denominator = mismatch = 0.0
    invalid = unparsed = gt_total = 0
    for kf in keyframes:
        pred = kf.pred_boxes if kf.parsed else ()
        unparsed += not kf.parsed
        m = match_boxes(pred, kf.gt_boxes, height, width, boxes.pixel_inclusive, boxes.max_boxes)
        invalid += m.invalid_pred
        matched += m.iou_sum
        gt_total += m.num_gt
        denominator += m.num_gt if config.normalize == "gt" else max(m.num_pred, m.num_gt)
        mismatch += abs(m.num_pred - m.num_gt)
    iou = matched / denominator if denominator > 0 else 0.0
    count = -config.count_penalty * mismatch / (max(num_objects, 1) * len(keyframes))
    return AlignmentTerms(
        iou=min(iou, 1.0),
        count=count,
        keyframes=len(keyframes),
        invalid_boxes=invalid,
        unparsed_keyframes=unparsed,
        no_gt=gt_total == 0,
    )


@dataclass(frozen=True)
class DetectionTerms:
    """RefAVS detection reward for one rollout.

    Attributes:
        iou: Matched IoU normalised by ``max(#pred, #gt)``, in [0, 1].
        invalid_boxes: Predicted boxes rejected.
        unparsed: System 2's output could not be parsed.
    """

    iou: float = 0.0
    invalid_boxes: int = 0
    unparsed: bool = False


def detection_terms(keyframe: KeyframeDetail | None, height: int, width: int, boxes: BoxConfig) -> DetectionTerms:
    """Score System 2's boxes on the RefAVS keyframe (frame 0) against the GT box(es).

    Args:
        keyframe: The grounded frame, or ``None`` when System 2 produced none.
        height: Frame height.
        width: Frame width.
        boxes: Box conventions.

    Returns:
        The terms. No prediction and no GT object (a null target) scores 1, unless System 2's output was
        unparsable or held only invalid boxes.
    """
    if keyframe is None:
        return DetectionTerms()
    pred = keyframe.pred_boxes if keyframe.parsed else ()
    m = match_boxes(pred, keyframe.gt_boxes, height, width, boxes.pixel_inclusive, boxes.max_boxes)
    denominator = max(m.num_pred, m.num_gt)
    if denominator:
        iou = m.iou_sum / denominator
    else:  # nothing to find and nothing claimed: correct only if System 2 answered cleanly
        iou = 1.0 if keyframe.parsed and m.invalid_pred == 0 else 0.0
    return DetectionTerms(iou=min(iou, 1.0), invalid_boxes=m.invalid_pred, unparsed=not keyframe.parsed)
