"""System 2 at evaluation: keyframes grounded at full resolution, SAM2 over the whole video, masks streamed.

:class:`System2Runner` wraps one :class:`~omni_r1_verl.detail.engine.DetailEngine` (the grounding model and SAM2 of
the ``system2`` section) and scores one sample at a time: the plan's keyframes, in whole-video frame indices, are
grounded on their original-resolution frames, SAM2 propagates the boxes in both directions through every frame of
the video at its native resolution (:meth:`DetailEngine.run_video`), and each chunk of predicted masks goes straight
to the benchmark's :class:`~omni_r1_verl.evaluation.scorers.Scorer` and, when asked, to the COCO RLE mask folder
(:class:`~omni_r1_verl.visualize.masks_io.MaskWriter`) and the MeViS submission PNGs. Nothing holds a video's masks.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from omni_r1_verl.contracts.system2 import DetailRequest, DetailStatus
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.evaluation.config import EvalConfig
from omni_r1_verl.evaluation.plan import Plan
from omni_r1_verl.evaluation.samples import EvalSample
from omni_r1_verl.evaluation.scorers import SCORERS, MissingGroundTruth, Scorer
from omni_r1_verl.metrics import MevisSubmission
from omni_r1_verl.visualize.masks_io import MaskWriter

#: Statuses whose prediction is legitimately empty (scored as empty masks, not as a failure).
EMPTY_STATUSES = frozenset(
    s.value for s in (DetailStatus.NO_VALID_MOMENT, DetailStatus.NO_BOXES, DetailStatus.INVALID_BOXES)
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def mask_dir_name(key: str) -> str:
    """A flat, safe folder name for a sample key (readable prefix + 8 hex digits of its hash)."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', key).strip('_')[-80:]}-{digest}"


class _Outputs:
    """Fans one sample's mask chunks out to the scorer and the optional writers, timing each."""

    def __init__(self, scorer: Scorer, masks: MaskWriter | None, submission: MevisSubmission | None, sample) -> None:
        self.scorer, self.masks, self.submission, self.sample = scorer, masks, submission, sample
        self.save_seconds = 0.0

    def __call__(self, frames: np.ndarray, pred: np.ndarray) -> None:
        self.scorer.update(frames, pred)
        self.write(frames, pred)

    def write(self, frames: np.ndarray, pred: np.ndarray) -> None:
        start = time.perf_counter()
        if self.masks is not None:
            for f, mask in zip(frames.tolist(), pred):
                self.masks.add(f, {1: mask})
        if self.submission is not None:
            names = self.sample.frame_names
            self.submission.add(self.sample.video, self.sample.exp_id, [names[f] for f in frames.tolist()], pred)
        self.save_seconds += time.perf_counter() - start

    def write_empty(self, chunk: int) -> None:
        h, w = self.sample.gt.height, self.sample.gt.width
        for start in range(0, self.sample.num_frames, chunk):
            frames = np.arange(start, min(start + chunk, self.sample.num_frames))
            self.write(frames, np.zeros((len(frames), h, w), dtype=bool))


class System2Runner:
    """Scores samples with one detail engine.

    Args:
        benchmark: The benchmark (selects the scorer).
        detail: The ``system2`` section.
        cfg: The ``evaluation`` section.
        out_dir: The run's output folder (``masks/``, ``submission/`` are written below it).
        save_masks: Write every sample's predicted masks as COCO RLE (``masks/<sample>/``).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
    """

    def __init__(
        self,
        benchmark: str,
        detail: DetailConfig,
        cfg: EvalConfig,
        out_dir: str | Path,
        save_masks: bool = False,
        device: str = "auto",
    ) -> None:
        from omni_r1_verl.detail.engine import DetailEngine

        self.benchmark = benchmark
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.save_masks = save_masks
        self.engine = DetailEngine(detail, device)

    def describe(self) -> dict[str, Any]:
        """The engine's backends and process."""
        return self.engine.describe()

    def run(self, sample: EvalSample, plan: Plan) -> dict[str, Any]:
        """Run System 2 on one sample and score it. Never raises for a sample's own problems.

        Args:
            sample: The sample.
            plan: Its keyframes (whole-video frame indices).

        Returns:
            The System-2 part of the record: ``status``, ``reason``, ``keyframes`` (predicted and ground-truth
            boxes), ``objects``, ``metrics``, ``masks`` (folder, with ``save_masks``), ``timings``, ``worker``.
        """
        start = time.perf_counter()
        scorer = SCORERS[self.benchmark](sample, self.cfg)
        out: dict[str, Any] = {"status": "ok", "reason": "", "keyframes": [], "objects": 0, "worker": self.engine.label}
        timings: dict[str, float] = {}
        try:
            scorer.open()
        except MissingGroundTruth as err:
            return self._finish(out, scorer, "error", f"ground truth: {err}", scorer.failed(), timings, start)
        writers = self._writers(sample, scorer)
        if not plan.keyframes:
            writers.write_empty(self.cfg.chunk_frames)
            status = DetailStatus.NO_VALID_MOMENT.value
            return self._finish(out, scorer, status, plan.reason, scorer.empty(), timings, start, writers)
        request = DetailRequest(
            group_key=sample.key,
            rollout_id=sample.key,
            dataset_root=sample.root,
            frame_paths=list(sample.media.frames),
            frame_indices=list(range(len(sample.media.frames))),
            gt_key=sample.key,
            keyframes=plan.keyframes,
            gt_root=sample.gt_store,
        )
        outcome = self.engine.run_video(request, writers, chunk_frames=self.cfg.chunk_frames)
        timings.update({k: v for k, v in outcome.timings.items() if k != "total"})
        out["objects"] = outcome.objects
        out["keyframes"] = self._keyframes(scorer, outcome.keyframes)
        if outcome.status is DetailStatus.OK:
            try:
                metrics = scorer.finish()
            except ValueError as err:
                return self._finish(out, scorer, "error", f"scoring: {err}", scorer.failed(), timings, start)
            status, reason = "ok", ""
        elif outcome.status in (DetailStatus.NO_BOXES, DetailStatus.INVALID_BOXES):
            writers.write_empty(self.cfg.chunk_frames)
            status, reason, metrics = outcome.status.value, outcome.message, scorer.empty()
        else:
            status, reason, metrics = outcome.status.value, outcome.message, scorer.failed()
            if writers.submission is not None:
                writers.write_empty(self.cfg.chunk_frames)  # the server needs every PNG
        return self._finish(out, scorer, status, reason, metrics, timings, start, writers)

    def _writers(self, sample: EvalSample, scorer: Scorer) -> _Outputs:
        masks = None
        if self.save_masks:
            masks = MaskWriter(self.out_dir / "masks" / mask_dir_name(sample.key), {1: sample.expression})
        submission = None
        if self.benchmark == "mevis" and self.cfg.mevis_submission:
            submission = MevisSubmission(self.out_dir / "submission")
        return _Outputs(scorer, masks, submission, sample)

    def _keyframes(self, scorer: Scorer, keyframes) -> list[dict[str, Any]]:
        frames = [k.frame for k in keyframes]
        gt = scorer.store.boxes(scorer.key, frames) if scorer.store is not None and frames else None
        out = []
        for i, k in enumerate(keyframes):
            entry = {**k.to_dict(), "video_frame": k.frame}
            entry.pop("frame")
            entry["gt_boxes"] = [] if gt is None else [b.tolist() for b in gt[:, i] if b[0] >= 0]
            out.append(entry)
        return out

    def _finish(self, out, scorer, status, reason, metrics, timings, start, writers=None) -> dict[str, Any]:
        timings = dict(timings)
        save = writers.save_seconds if writers is not None else 0.0
        timings["metrics"] = scorer.seconds
        timings["save"] = save
        if "segmentation" in timings:  # the sink ran inside SAM2's loop: keep SAM2's own time apart
            timings["sam2"] = max(0.0, timings.pop("segmentation") - scorer.seconds - save)
        timings["system2"] = time.perf_counter() - start
        if writers is not None and writers.masks is not None and (status == "ok" or status in EMPTY_STATUSES):
            writers.masks.close()  # a failed sample's folder stays without index.json: unfinished, never read
            out["masks"] = str(writers.masks.directory.relative_to(self.out_dir))
        out.update(status=status, reason=reason, metrics=metrics, timings=timings)
        return out
