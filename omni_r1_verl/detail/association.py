"""From keyframe boxes to SAM2 objects, and from a group's rollouts to one de-duplicated object list (pure).

System 2 knows nothing about object identity across keyframes (the reference used the ground truth as an oracle:
Hungarian-matched GT rows became SAM2 object ids). Two ground-truth-free rules are offered:

* ``per_box``: every (keyframe, box) is its own SAM2 object, prompted on that frame only; the rollout is scored on
  the union of its objects' masks, so identity never matters.
* ``iou_chain``: boxes of consecutive keyframes are linked by Hungarian matching on box IoU (links below a
  threshold start a new object), giving multi-frame conditioned objects and fewer of them.

:func:`plan_objects` then merges the objects of all rollouts of a group: identical prompts (same frames, same boxes)
become one SAM2 object whose masks are shared, which is what greedy System-2 grounding produces whenever rollouts
agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from omni_r1_verl.detail.boxes import Box

#: Decimals kept when boxes are compared for de-duplication (sub-pixel noise does not split objects).
BOX_DECIMALS = 3


@dataclass(frozen=True)
class ObjectPrompt:
    """One SAM2 object: a box on each of its conditioning frames.

    Attributes:
        prompts: ``((clip_index, (x1, y1, x2, y2)), ...)`` in original pixels, sorted by frame, one box per frame.
    """

    prompts: tuple[tuple[int, Box], ...]

    def __post_init__(self) -> None:
        frames = [f for f, _ in self.prompts]
        if not frames or frames != sorted(set(frames)):
            raise ValueError(f"an object needs one box per frame on sorted, distinct frames, got {frames}")

    @classmethod
    def make(cls, prompts: Sequence[tuple[int, Sequence[float]]]) -> ObjectPrompt:
        """Build with rounded boxes and frames sorted.

        Args:
            prompts: ``(clip_index, box)`` pairs.

        Returns:
            The object.
        """
        items = sorted((int(f), tuple(round(float(v), BOX_DECIMALS) for v in box)) for f, box in prompts)
        return cls(tuple(items))  # type: ignore[arg-type]

    @property
    def frames(self) -> tuple[int, ...]:
        """Conditioning frames, ascending."""
        return tuple(f for f, _ in self.prompts)

    @property
    def first_frame(self) -> int:
        """Earliest conditioning frame (bidirectional propagation splits there)."""
        return self.prompts[0][0]

    def box_at(self, frame: int) -> Box:
        """The box on a conditioning frame.

        Args:
            frame: One of :attr:`frames`.

        Returns:
            The box.
        """
        for f, box in self.prompts:
            if f == frame:
                return box
        raise KeyError(f"object has no prompt on frame {frame}")


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x1, y1, x2, y2]`` boxes in continuous coordinates (0 for empty unions).

    Args:
        a: First box.
        b: Second box.

    Returns:
        The IoU in ``[0, 1]``.
    """
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def associate(
    keyframe_boxes: Sequence[tuple[int, Sequence[Sequence[float]]]],
    method: str = "per_box",
    iou_threshold: float = 0.3,
) -> list[ObjectPrompt]:
    """Turn one rollout's accepted boxes into SAM2 objects.

    Args:
        keyframe_boxes: ``(clip_index, boxes)`` per keyframe; keyframes on the same frame are pooled.
        method: ``per_box`` or ``iou_chain`` (see the module docstring).
        iou_threshold: Smallest IoU that links boxes of consecutive keyframes (``iou_chain``).

    Returns:
        Distinct objects (duplicates within the rollout are merged).
    """
    by_frame: dict[int, list[tuple[float, ...]]] = {}
    for frame, boxes in keyframe_boxes:
        pooled = by_frame.setdefault(int(frame), [])
        for box in boxes:
            key = tuple(round(float(v), BOX_DECIMALS) for v in box)
            if key not in pooled:
                pooled.append(key)
    if method == "per_box":
        objects = [ObjectPrompt.make([(f, b)]) for f in sorted(by_frame) for b in by_frame[f]]
    elif method == "iou_chain":
        objects = _chain(by_frame, iou_threshold)
    else:
        raise ValueError(f"unknown association {method!r}")
    return list(dict.fromkeys(objects))


def _chain(by_frame: dict[int, list[tuple[float, ...]]], iou_threshold: float) -> list[ObjectPrompt]:
    from scipy.optimize import linear_sum_assignment

    tracks: list[list[tuple[int, tuple[float, ...]]]] = []
    previous: list[int] = []  # tracks that got a box on the previous keyframe
    for frame in sorted(by_frame):
        boxes = by_frame[frame]
        linked: dict[int, int] = {}
        if previous and boxes:
            iou = np.array([[box_iou(tracks[t][-1][1], b) for b in boxes] for t in previous])
            rows, cols = linear_sum_assignment(-iou)
            linked = {int(c): previous[r] for r, c in zip(rows, cols) if iou[r, c] >= iou_threshold}
        current = []
        for j, box in enumerate(boxes):
            if j in linked:
                tracks[linked[j]].append((frame, box))
                current.append(linked[j])
            else:
                tracks.append([(frame, box)])
                current.append(len(tracks) - 1)
        previous = current
    return [ObjectPrompt.make(track) for track in tracks]


@dataclass
class ObjectPlan:
    """The de-duplicated SAM2 objects of a job and which rollouts own them.

    Attributes:
        objects: Unique objects, in first-seen order.
        members: ``members[r]`` = indices into ``objects`` of rollout ``r``'s objects.
        total: Objects before de-duplication (the sum over rollouts).
    """

    objects: list[ObjectPrompt]
    members: list[list[int]]
    total: int

    @property
    def unique(self) -> int:
        """Objects SAM2 actually tracks."""
        return len(self.objects)


def plan_objects(per_rollout: Sequence[Sequence[ObjectPrompt]]) -> ObjectPlan:
    """Merge the objects of several rollouts; identical prompts are tracked once and shared.

    Args:
        per_rollout: Objects of each rollout (possibly empty).

    Returns:
        The plan.
    """
    index: dict[ObjectPrompt, int] = {}
    members: list[list[int]] = []
    total = 0
    for objects in per_rollout:
        own = []
        for obj in objects:
            total += 1
            own.append(index.setdefault(obj, len(index)))
        members.append(sorted(set(own)))
    return ObjectPlan(objects=list(index), members=members, total=total)
