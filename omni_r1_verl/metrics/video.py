"""Streaming per-sample scores of a referring video sample (ReVOS, MeViS): DAVIS J and F, ReVOS R, per object.

The evaluator feeds one sample's frames in chunks (``update``), in frame order, and keeps only per-frame numbers;
``result`` gives the sample's record (a small JSON-able dict) that the benchmark tables aggregate
(:func:`omni_r1_verl.metrics.revos.revos_table`, :func:`omni_r1_verl.metrics.mevis.mevis_table`). The record does
not depend on how the frames were chunked.

Per-expression J and F are the official ones: the union of the expression's objects against the predicted mask,
averaged over all frames. Per-object J and F (a diagnostic, no benchmark reports it) score the prediction against
one object with the pixels of the expression's other objects treated as void (DAVIS void pixels), so a prediction
that covers every object exactly scores 1 on each.
"""

from __future__ import annotations

import numpy as np

from omni_r1_verl.metrics.masks import BOUND_TH, j_and_f
from omni_r1_verl.metrics.records import mean
from omni_r1_verl.metrics.revos import revos_robustness


class VideoAccumulator:
    """J, F (and R) of one sample, accumulated over frame chunks.

    Args:
        bound_th: DAVIS boundary tolerance.
        robustness: Compute ReVOS R (every ``update`` then needs the foreground).
        pred_value: ReVOS R's value of a predicted pixel (see :func:`~omni_r1_verl.metrics.revos.revos_robustness`).
        per_object: Score each object of a multi-object expression separately too (one more J/F pass per object).
        keep_frames: Put the per-frame values in the record (``per_frame``).

    Example:
        >>> acc = VideoAccumulator(robustness=True)  # doctest: +SKIP
        >>> for frames in chunks:  # doctest: +SKIP
        ...     acc.update(pred[frames], store.masks(key, frames), store.foreground(key, frames))
        >>> record = {"key": key, **acc.result(), "exp_type": "referring", "num_objects": 1}  # doctest: +SKIP
    """

    def __init__(
        self,
        bound_th: float = BOUND_TH,
        robustness: bool = False,
        pred_value: int = 1,
        per_object: bool = True,
        keep_frames: bool = False,
    ) -> None:
        self.bound_th = bound_th
        self.robustness = robustness
        self.pred_value = pred_value
        self.per_object = per_object
        self.keep_frames = keep_frames
        self._j: list[float] = []
        self._f: list[float] = []
        self._r: list[float] = []
        self._objects: list[tuple[list[float], list[float]]] | None = None
        self._shape: tuple[int, ...] | None = None

    def update(self, pred: np.ndarray, gt: np.ndarray, foreground: np.ndarray | None = None) -> None:
        """Add frames.

        Args:
            pred: Predicted masks of these frames, ``(T, H, W)`` (or ``(H, W)``), the union over predicted objects.
            gt: Ground truth of the same frames: per-object masks ``(n_obj, T, H, W)`` as
                :meth:`~omni_r1_verl.data.gt_store.GroundTruthStore.masks` returns them (``n_obj`` may be 0), or
                one mask ``(T, H, W)``.
            foreground: The video's foreground ``(T, H, W)`` (needed when ``robustness`` is on).

        Raises:
            ValueError: On shapes that do not match each other or earlier chunks, or a missing foreground.
        """
        pred, objects = np.asarray(pred), np.asarray(gt)
        if pred.ndim == 2:  # one frame
            pred, objects = pred[None], objects[..., None, :, :]
        if objects.ndim == 3:  # one mask for the expression
            objects = objects[None]
        if pred.ndim != 3 or objects.ndim != 4 or objects.shape[1:] != pred.shape:
            raise ValueError(f"pred {np.shape(pred)} and gt {np.shape(gt)} do not match (gt: (n_obj, T, H, W))")
        shape = (objects.shape[0], *pred.shape[1:])
        if self._shape not in (None, shape):
            raise ValueError(f"chunk of {shape[0]} objects at {shape[1:]} after chunks of {self._shape}")
        self._shape = shape
        if self.robustness:
            if foreground is None:
                raise ValueError("robustness needs the video's foreground masks")
            foreground = np.asarray(foreground)
            foreground = foreground[None] if foreground.ndim == 2 else foreground
            self._r.extend(revos_robustness(pred, objects, foreground, self.pred_value).tolist())
        masks = objects != 0
        union = np.logical_or.reduce(masks, axis=0) if len(masks) else np.zeros(pred.shape, dtype=bool)
        j, f = j_and_f(pred, union, bound_th=self.bound_th)
        self._j.extend(j.tolist())
        self._f.extend(f.tolist())
        if self._objects is None:
            self._objects = [([], []) for _ in range(len(masks))]
        if len(masks) == 1:
            self._objects[0][0].extend(j.tolist())
            self._objects[0][1].extend(f.tolist())
        elif self.per_object:
            for i, (oj, of) in enumerate(self._objects):
                void = np.logical_or.reduce(np.delete(masks, i, axis=0), axis=0) & ~masks[i]
                j_i, f_i = j_and_f(pred, masks[i], void=void, bound_th=self.bound_th)
                oj.extend(j_i.tolist())
                of.extend(f_i.tolist())

    @property
    def num_frames(self) -> int:
        """Frames added so far."""
        return len(self._j)

    def result(self) -> dict:
        """The sample's record: ``frames``, ``J``, ``F``, ``JF`` (means over frames), ``R`` (with robustness),
        ``objects`` (``[{"J", "F"}]`` per object, when scored) and ``per_frame`` (with ``keep_frames``).

        Raises:
            ValueError: If no frame was added.
        """
        if not self._j:
            raise ValueError("no frames were added")
        j, f = mean(self._j), mean(self._f)
        out: dict = {"frames": len(self._j), "J": j, "F": f, "JF": (j + f) / 2}
        if self.robustness:
            out["R"] = mean(self._r)
        if self._objects is not None and all(oj for oj, _ in self._objects):
            out["objects"] = [{"J": mean(oj), "F": mean(of)} for oj, of in self._objects]
        if self.keep_frames:
            out["per_frame"] = {"J": list(self._j), "F": list(self._f), **({"R": list(self._r)} if self._r else {})}
        return out


def failed_video_scores(num_objects: int, robustness: bool = False) -> dict:
    """The record of a sample without a usable prediction: every figure 0, as the official ReVOS and MeViS
    scripts score a missing prediction (``frames`` is 0)."""
    out: dict = {"frames": 0, "J": 0.0, "F": 0.0, "JF": 0.0}
    if robustness:
        out["R"] = 0.0
    out["objects"] = [{"J": 0.0, "F": 0.0} for _ in range(num_objects)]
    return out
