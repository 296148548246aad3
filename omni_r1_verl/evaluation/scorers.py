"""The seam between the harness and :mod:`omni_r1_verl.metrics`: per-sample records and each benchmark's table.

A :class:`Scorer` receives one sample's predicted masks a few frames at a time (in any frame order) and reads the
matching ground truth from the store for just those frames, so a video's masks are never held whole. Its record is
a small dict the benchmark table aggregates (:func:`benchmark_table`); the harness stores it in the per-sample JSONL
and never aggregates anything else. Three ways a sample ends:

* :meth:`Scorer.finish`: System 2 delivered every frame;
* :meth:`Scorer.empty`: the prediction is legitimately empty (no valid moment, no box): scored as empty masks
  (which is right for a null expression); refCOCOg counts it as Seg-Zero counts a failed prediction;
* :meth:`Scorer.failed`: no prediction (an error): the official scripts' score of a missing prediction.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from omni_r1_verl.data.gt_store import GroundTruthStore
from omni_r1_verl.data.rle import resize_nearest
from omni_r1_verl.evaluation.config import EvalConfig
from omni_r1_verl.evaluation.samples import EvalSample
from omni_r1_verl.metrics import (
    RefAVSAccumulator,
    VideoAccumulator,
    failed_refavs_scores,
    failed_segzero_counts,
    failed_video_scores,
    mevis_table,
    refavs_table,
    refcocog_table,
    revos_table,
    segzero_counts,
)


class MissingGroundTruth(RuntimeError):
    """The sample's ground-truth masks cannot be read (no store, unknown key, damaged store)."""


class Scorer(ABC):
    """One sample's metric accumulation.

    Args:
        sample: The sample.
        cfg: The ``evaluation`` section.
    """

    def __init__(self, sample: EvalSample, cfg: EvalConfig) -> None:
        self.sample = sample
        self.cfg = cfg
        self.store: GroundTruthStore | None = None
        self.seconds = 0.0

    def open(self) -> None:
        """Open the ground truth (before any :meth:`update`).

        Raises:
            MissingGroundTruth: Naming the store and the key.
        """
        if not self.sample.gt_store:
            raise MissingGroundTruth(f"split has no ground-truth store (extra_info.gt_store is empty for {self.key})")
        try:
            self.store = GroundTruthStore.open(self.sample.gt_store)
            entry = self.store.entry(self.key)
        except (KeyError, OSError, RuntimeError) as err:
            raise MissingGroundTruth(str(err)) from err
        if (entry.num_frames, entry.height, entry.width) != (self.sample.num_frames, *self.hw):
            raise MissingGroundTruth(f"ground truth of {self.key} does not match the row's video size")
        self._begin()

    @property
    def key(self) -> str:
        """The sample's key (its ground-truth key)."""
        return self.sample.key

    @property
    def hw(self) -> tuple[int, int]:
        """Frame size of the video."""
        return self.sample.gt.height, self.sample.gt.width

    def update(self, frames: np.ndarray, pred: np.ndarray) -> None:
        """Add predicted masks.

        Args:
            frames: Video frame indices ``(T,)``.
            pred: bool ``(T, H, W)``.
        """
        start = time.perf_counter()
        self._update(np.asarray(frames, dtype=np.int64), np.asarray(pred, dtype=bool))
        self.seconds += time.perf_counter() - start

    def finish(self) -> dict[str, Any]:
        """The record after every frame was added."""
        start = time.perf_counter()
        record = self._finish()
        self.seconds += time.perf_counter() - start
        return record

    def empty(self) -> dict[str, Any]:
        """The record of an empty prediction (needs :meth:`open`)."""
        h, w = self.hw
        step = self.cfg.chunk_frames
        for start in range(0, self.sample.num_frames, step):
            frames = np.arange(start, min(start + step, self.sample.num_frames))
            self.update(frames, np.zeros((len(frames), h, w), dtype=bool))
        return self.finish()

    @abstractmethod
    def failed(self) -> dict[str, Any]:
        """The record of a missing prediction (works without the store)."""

    @abstractmethod
    def _begin(self) -> None:
        """Set up accumulators once the store is open."""

    @abstractmethod
    def _update(self, frames: np.ndarray, pred: np.ndarray) -> None: ...

    @abstractmethod
    def _finish(self) -> dict[str, Any]: ...


class VideoScorer(Scorer):
    """ReVOS and MeViS: DAVIS J, F (and ReVOS R) of the expression's objects over every frame."""

    robustness_benchmark = False

    def _begin(self) -> None:
        entry = self.store.entry(self.key)
        self.robustness = self.robustness_benchmark and entry.foreground >= 0
        self.acc = VideoAccumulator(
            robustness=self.robustness, pred_value=self.cfg.revos_pred_value, per_object=self.cfg.per_object
        )

    def _update(self, frames: np.ndarray, pred: np.ndarray) -> None:
        gt = self.store.masks(self.key, frames)
        fg = self.store.foreground(self.key, frames) if self.robustness else None
        self.acc.update(pred, gt, fg)

    def _finish(self) -> dict[str, Any]:
        if self.acc.num_frames != self.sample.num_frames:
            raise ValueError(f"{self.acc.num_frames} of {self.sample.num_frames} frames were scored")
        return {**self.acc.result(), **self._fields()}

    def failed(self) -> dict[str, Any]:
        robust = self.robustness_benchmark and self._has_foreground()
        return {**failed_video_scores(self.sample.num_objects, robust), **self._fields()}

    def _has_foreground(self) -> bool:
        try:
            return GroundTruthStore.open(self.sample.gt_store).entry(self.key).foreground >= 0
        except (KeyError, OSError, RuntimeError):
            return False

    def _fields(self) -> dict[str, Any]:
        return {"exp_type": self.sample.exp_type, "num_objects": self.sample.num_objects}


class RevosScorer(VideoScorer):
    """ReVOS: J, F and robustness R (with the store's foreground masks)."""

    robustness_benchmark = True


class RefAVSScorer(Scorer):
    """Ref-AVS: J (IoU), saliency F and null-set S, at ``evaluation.refavs_size`` like the official loader."""

    def _begin(self) -> None:
        self.acc = RefAVSAccumulator()

    def _resize(self, masks: np.ndarray) -> np.ndarray:
        size = self.cfg.refavs_size
        if not size or masks.shape[-2:] == (size, size):
            return masks
        return resize_nearest(masks, size, size)

    def _update(self, frames: np.ndarray, pred: np.ndarray) -> None:
        gt = self.store.masks(self.key, frames)
        union = gt.any(axis=0) if len(gt) else np.zeros(pred.shape, dtype=bool)
        self.acc.update(self._resize(pred), self._resize(union))

    def _finish(self) -> dict[str, Any]:
        return {**self.acc.result(), **self._fields()}

    def failed(self) -> dict[str, Any]:
        frames = self.sample.num_frames
        side = self.cfg.refavs_size
        pixels = frames * (side * side if side else self.hw[0] * self.hw[1])
        gt_frames = sum(any(obj[f] > 0 for obj in self.sample.gt.areas) for f in range(frames))
        return {**failed_refavs_scores(frames, pixels, gt_frames), **self._fields()}

    def _fields(self) -> dict[str, Any]:
        order = self.sample.index
        if self.store is not None:
            order = int(self.store.entry(self.key).meta.get("line", order))
        return {"subset": self.sample.exp_type or "test", "order": order}


class RefCOCOgScorer(Scorer):
    """refCOCOg: Seg-Zero's per-image intersection and union counts (gIoU, cIoU)."""

    def _begin(self) -> None:
        self.counts: dict[str, int] | None = None

    def _update(self, frames: np.ndarray, pred: np.ndarray) -> None:
        gt = self.store.masks(self.key, frames).any(axis=0)
        self.counts = segzero_counts(pred[0], gt[0])

    def _finish(self) -> dict[str, Any]:
        if self.counts is None:
            raise ValueError("no mask was scored")
        return dict(self.counts)

    def empty(self) -> dict[str, Any]:
        """Seg-Zero counts an answer without a usable box as a failed prediction."""
        return self.failed()

    def failed(self) -> dict[str, Any]:
        if self.store is not None:
            return failed_segzero_counts(self.store.masks(self.key, [0]).any(axis=0)[0])
        area = sum(obj[0] for obj in self.sample.gt.areas) if self.sample.gt.areas else 0
        return {"intersection": 0, "union": int(area), "failed": True}


#: Scorer of each benchmark.
SCORERS: dict[str, type[Scorer]] = {
    "revos": RevosScorer,
    "mevis": VideoScorer,
    "refavs": RefAVSScorer,
    "refcocog": RefCOCOgScorer,
}


def benchmark_table(benchmark: str, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The benchmark's official figures from per-sample metric records (any order).

    Args:
        benchmark: ``revos``, ``mevis``, ``refavs`` or ``refcocog``.
        records: ``{"key": ..., **scorer record}`` per sample.

    Returns:
        The table of :mod:`omni_r1_verl.metrics` (percent figures).
    """
    records = sorted(records, key=lambda r: str(r["key"]))
    if benchmark == "revos":
        return revos_table(records)
    if benchmark == "mevis":
        return mevis_table(records)
    if benchmark == "refavs":
        return refavs_table(records)
    if benchmark == "refcocog":
        return refcocog_table(records)
    raise ValueError(f"unknown benchmark {benchmark!r}")


def headline(benchmark: str, record: Mapping[str, Any]) -> float | None:
    """One sample's headline figure for the progress bar (J&F, or I/U for refCOCOg), in percent."""
    if benchmark == "refcocog":
        union = int(record.get("union", 0))
        return 100.0 * int(record.get("intersection", 0)) / union if union else None
    if benchmark == "refavs" and record.get("subset") == "null":
        return None
    if record.get("J") is None or record.get("F") is None:
        return None
    return 50.0 * (float(record["J"]) + float(record["F"]))
