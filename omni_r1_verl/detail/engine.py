"""System 2 for one job, in-process: frames -> grounding -> SAM2 -> per-rollout scores against the ground truth.

A job is the requests of one GRPO group that share a video, a clip and a ground truth. The engine decodes the
clip once, grounds each distinct (keyframe, description) once, tracks each distinct object once (identical prompts
of different rollouts are shared), folds every rollout's masks into its own union on the fly, and compares it with
the ground-truth union frame by frame. Only pixel counts leave the worker. Bad input never raises: every request
gets a result with an explicit status. The Ray worker (:mod:`omni_r1_verl.detail.worker`) wraps this class; the
benchmark and evaluators can use it directly.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from omni_r1_verl.contracts.system2 import (
    DetailRequest,
    DetailResult,
    DetailStatus,
    KeyframeDetail,
    MaskOverlap,
    rounded_box,
)
from omni_r1_verl.detail.association import ObjectPrompt, associate, plan_objects
from omni_r1_verl.detail.boxes import Rejection, mask_box, validate_box
from omni_r1_verl.detail.clip import ClipFrames, load_clip
from omni_r1_verl.detail.config import SECTION, DetailConfig
from omni_r1_verl.detail.devices import compute_dtype, resolve_device
from omni_r1_verl.detail.ground_truth import GroundTruthSource, open_ground_truth
from omni_r1_verl.detail.grounders.base import Grounder, get_grounder_cls
from omni_r1_verl.detail.segmenters.base import Segmenter, get_segmenter_cls

logger = logging.getLogger(__name__)


@dataclass
class JobOutcome:
    """Results of a job plus what it cost.

    Attributes:
        results: One result per request, in request order.
        unique_objects: SAM2 objects tracked after de-duplication.
        total_objects: Objects the rollouts asked for.
        timings: Seconds per stage for the whole job.
    """

    results: list[DetailResult]
    unique_objects: int = 0
    total_objects: int = 0
    timings: dict[str, float] = field(default_factory=dict)


#: ``sink(frames, masks)`` of :meth:`DetailEngine.run_video`: positions in the request's frame list (int64 ``(T,)``)
#: and the union of the predicted objects on those frames (bool ``(T, H, W)``, original resolution), or with
#: ``per_object=True`` each object's mask (bool ``(T, n_objects, H, W)``, objects in :attr:`VideoOutcome.prompts`
#: order).
VideoSink = Callable[[np.ndarray, np.ndarray], None]


@dataclass
class VideoOutcome:
    """What :meth:`DetailEngine.run_video` did for one request.

    Attributes:
        status: ``ok`` (every frame's mask went to the sink), ``no_boxes`` / ``invalid_boxes`` (nothing to track: the
            prediction is empty) or ``error`` (unreadable frames, a model failure; see ``message``).
        keyframes: Per keyframe, the accepted boxes and the rejected-box count (no ground-truth boxes: the engine
            does not read the ground truth here).
        message: Why, for any status but ``ok``.
        objects: SAM2 objects tracked.
        frames: Frames delivered to the sink.
        timings: Seconds per stage (``load_frames``, ``grounding``, ``segmentation`` (sink time included), ``total``).
        prompts: The tracked objects (their conditioning frames and boxes), in the order of ``per_object`` masks.
    """

    status: DetailStatus
    keyframes: tuple[KeyframeDetail, ...] = ()
    message: str = ""
    objects: int = 0
    frames: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    prompts: tuple[ObjectPrompt, ...] = ()


class _FrameUnions:
    """Folds the segmenter's per-(object, frame) masks into per-frame unions (or per-object stacks) and hands
    complete frames to a sink.

    A frame is complete once every object delivered its mask there (the segmenter delivers each pair exactly once,
    forward frames first, then backward ones), so only the frames still waiting for an object are held.
    """

    def __init__(self, num_objects: int, chunk: int, sink: VideoSink, per_object: bool = False) -> None:
        self.num_objects = num_objects
        self.chunk = max(1, chunk)
        self.sink = sink
        self.per_object = per_object
        self.pending: dict[int, list] = {}
        self.ready: list[tuple[int, np.ndarray]] = []
        self.delivered = 0

    def add(self, frame: int, indices: Sequence[int], masks: torch.Tensor) -> None:
        entry = self.pending.get(frame)
        if self.per_object:
            if entry is None:
                entry = self.pending[frame] = [np.zeros((self.num_objects, *masks.shape[-2:]), dtype=bool), 0]
            entry[0][list(indices)] = masks.cpu().numpy()
        elif entry is None:
            entry = self.pending[frame] = [masks.any(dim=0).cpu().numpy(), 0]
        else:
            entry[0] |= masks.any(dim=0).cpu().numpy()
        entry[1] += len(indices)
        if entry[1] >= self.num_objects:
            self.ready.append((frame, self.pending.pop(frame)[0]))
            if len(self.ready) >= self.chunk:
                self.flush()

    def flush(self) -> None:
        if self.ready:
            frames = np.array([f for f, _ in self.ready], dtype=np.int64)
            masks = np.stack([m for _, m in self.ready])
            self.ready = []
            self.delivered += len(frames)
            self.sink(frames, masks)


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


@dataclass
class _Rollout:
    """Per-request working state."""

    request: DetailRequest
    accepted: list[list[tuple[float, float, float, float]]]
    rejected: list[int]
    status: DetailStatus | None = None
    error: str = ""

    def fail(self, status: DetailStatus, error: str) -> None:
        if self.status is None:
            self.status, self.error = status, error


class DetailEngine:
    """Loads the segmenter (and the grounding model when configured) once; runs jobs.

    Args:
        cfg: The detail config.
        device: ``auto`` (GPU when visible), ``cpu`` or ``cuda[:N]``.

    Raises:
        FileNotFoundError: When a configured checkpoint is missing (the message names the config key).
    """

    def __init__(self, cfg: DetailConfig, device: str = "auto"):
        self.cfg = cfg
        self.device = resolve_device(device)
        cfg.check_paths()
        seg_cls = get_segmenter_cls(cfg.sam2.backend)
        self.segmenter: Segmenter = seg_cls(cfg.sam2, self.device, compute_dtype(cfg.sam2.dtype, self.device))
        self.grounder: Grounder | None = None
        if cfg.grounding.model_path:
            g_cls = get_grounder_cls(cfg.grounding.backend, self.device)
            self.grounder = g_cls(cfg.grounding, self.device, compute_dtype(cfg.grounding.dtype, self.device))
        self.label = f"{socket.gethostname()}:{os.getpid()}"
        self._stores: dict[str, GroundTruthSource] = {}

    def describe(self) -> dict[str, Any]:
        """Loaded backends, device and process (for logs and pool stats)."""
        return {
            "worker": self.label,
            "device": str(self.device),
            "segmenter": self.segmenter.describe(),
            "grounder": self.grounder.describe() if self.grounder else None,
        }

    def run_job(self, requests: Sequence[DetailRequest]) -> JobOutcome:
        """Run System 2 for requests; requests with different merge keys are processed as separate jobs.

        Args:
            requests: The requests.

        Returns:
            Results in request order and the job's cost.
        """
        by_key: dict[str, list[int]] = defaultdict(list)
        for i, req in enumerate(requests):
            by_key[req.merge_key()].append(i)
        results: list[DetailResult | None] = [None] * len(requests)
        outcome = JobOutcome(results)  # type: ignore[arg-type]  # every slot is filled below
        for indices in by_key.values():
            part = self._run_group([requests[i] for i in indices])
            for i, result in zip(indices, part.results):
                results[i] = result
            outcome.unique_objects += part.unique_objects
            outcome.total_objects += part.total_objects
            for stage, seconds in part.timings.items():
                outcome.timings[stage] = outcome.timings.get(stage, 0.0) + seconds
        return outcome

    def _run_group(self, requests: list[DetailRequest]) -> JobOutcome:
        timer = _Timer()
        start = time.perf_counter()
        head = requests[0]
        rollouts = [_Rollout(r, [[] for _ in r.keyframes], [0] * len(r.keyframes)) for r in requests]
        gt_masks = None
        try:
            with timer("load_frames"):
                clip = load_clip(head.dataset_root, head.frame_paths)
            with timer("ground_truth"):
                gt_masks = self._ground_truth(head, clip)
        except Exception as err:  # noqa: BLE001 - any unreadable input becomes an explicit per-request error
            logger.warning("detail job %s: %s", head.group_key, err)
            timings = {**timer.seconds, "total": time.perf_counter() - start}
            results = [
                DetailResult.for_request(r, DetailStatus.ERROR, str(err), timings=timings, worker=self.label)
                for r in requests
            ]
            return JobOutcome(results, timings=timings)
        with timer("grounding"):
            self._collect_boxes(rollouts, clip)
        for state in rollouts:
            self._box_status(state)
        plan = plan_objects([self._objects(s) if s.status is None else [] for s in rollouts])
        unions = None
        active = [i for i, s in enumerate(rollouts) if s.status is None]
        if active:
            try:
                with timer("segmentation"):
                    unions = self._segment(clip, plan, active)
            except Exception as err:  # noqa: BLE001 - a model failure must not take the worker down
                logger.exception("detail job %s: segmentation failed", head.group_key)
                for i in active:
                    rollouts[i].fail(DetailStatus.ERROR, f"segmentation failed: {type(err).__name__}: {err}")
                unions = None
            finally:
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        with timer("scoring"):
            counts = self._score(unions, gt_masks, clip) if unions is not None else None
        timings = {**timer.seconds, "total": time.perf_counter() - start}
        results = []
        gt_boxes = self._gt_boxes(gt_masks, {kf.clip_index for r in requests for kf in r.keyframes})
        for slot, state in enumerate(rollouts):
            keyframes = [
                KeyframeDetail(
                    frame=int(kf.clip_index),
                    description=kf.description,
                    pred_boxes=tuple(rounded_box(b) for b in state.accepted[k]),
                    gt_boxes=tuple(rounded_box(b) for b in gt_boxes[kf.clip_index]),
                    rejected_boxes=state.rejected[k],
                )
                for k, kf in enumerate(state.request.keyframes)
            ]
            if state.status is None:
                row = active.index(slot)
                masks = MaskOverlap.of_clip(counts[0][row], counts[1][row])
                results.append(
                    DetailResult(
                        DetailStatus.OK, tuple(keyframes), masks=masks, timings=dict(timings), worker=self.label
                    )
                )
            else:
                results.append(
                    DetailResult.failure(
                        state.status, state.error, keyframes=keyframes, timings=timings, worker=self.label
                    )
                )
        return JobOutcome(results, plan.unique, plan.total, timings)

    def _ground_truth(self, request: DetailRequest, clip: ClipFrames) -> np.ndarray:
        root = request.gt_root or request.dataset_root
        if root not in self._stores:
            self._stores[root] = open_ground_truth(self.cfg.gt_store, root)
        masks = np.asarray(self._stores[root].masks(request.gt_key, request.frame_indices), dtype=bool)
        if masks.ndim != 4 or masks.shape[1] != clip.num_frames:
            raise ValueError(
                f"ground truth {request.gt_key!r} has shape {masks.shape}, expected (n_obj, {clip.num_frames}, H, W)"
            )
        return masks

    def _collect_boxes(self, rollouts: list[_Rollout], clip: ClipFrames) -> None:
        """Fill accepted boxes and rejection counts; ground each distinct (frame, description) once."""
        queries: dict[tuple[int, str], list[tuple[_Rollout, int]]] = defaultdict(list)
        for state in rollouts:
            for k, kf in enumerate(state.request.keyframes):
                if kf.boxes is not None:
                    self._accept(state, k, kf.boxes, malformed=0, clip=clip)
                else:
                    queries[(kf.clip_index, kf.description)].append((state, k))
        if not queries:
            return
        if self.grounder is None:
            for users in queries.values():
                for state, _ in users:
                    state.fail(
                        DetailStatus.ERROR,
                        f"keyframes need grounding but {SECTION}.grounding.model_path is not set",
                    )
            return
        keys = list(queries)
        try:
            outputs = self.grounder.ground([clip.image(f) for f, _ in keys], [d for _, d in keys])
        except Exception as err:  # noqa: BLE001 - a model failure must not take the worker down
            logger.exception("grounding failed")
            for users in queries.values():
                for state, _ in users:
                    state.fail(DetailStatus.ERROR, f"grounding failed: {type(err).__name__}: {err}")
            return
        for key, output in zip(keys, outputs):
            for state, k in queries[key]:
                self._accept(state, k, output.boxes, output.malformed, clip)

    def _accept(self, state: _Rollout, k: int, boxes: Sequence[Any], malformed: int, clip: ClipFrames) -> None:
        min_size = self.cfg.grounding.min_box_size
        state.rejected[k] += malformed
        for box in boxes:
            try:
                checked = validate_box([float(v) for v in box], clip.height, clip.width, min_size)
            except (TypeError, ValueError):
                checked = Rejection.MALFORMED
            if isinstance(checked, Rejection):
                state.rejected[k] += 1
            elif checked not in state.accepted[k]:
                state.accepted[k].append(checked)

    @staticmethod
    def _box_status(state: _Rollout) -> None:
        if state.status is not None:
            return
        if not any(state.accepted):
            if sum(state.rejected):
                state.fail(DetailStatus.INVALID_BOXES, f"all {sum(state.rejected)} boxes were rejected")
            else:
                state.fail(DetailStatus.NO_BOXES, "the grounding model returned no box")

    def _objects(self, state: _Rollout) -> list[ObjectPrompt]:
        keyframe_boxes = [(kf.clip_index, boxes) for kf, boxes in zip(state.request.keyframes, state.accepted)]
        return associate(keyframe_boxes, self.cfg.sam2.association, self.cfg.sam2.association_iou)

    def _segment(self, clip: ClipFrames, plan, active: list[int]) -> torch.Tensor:
        """Per active rollout, the union of its objects' masks on every frame: bool ``(R, F, H, W)``."""
        owners: list[list[int]] = [[] for _ in plan.objects]
        for row, slot in enumerate(active):
            for obj in plan.members[slot]:
                owners[obj].append(row)
        with torch.inference_mode():
            unions = torch.zeros(
                (len(active), clip.num_frames, clip.height, clip.width), dtype=torch.bool, device=self.device
            )

            def sink(frame: int, indices: Sequence[int], masks: torch.Tensor) -> None:
                rows_of: dict[int, list[int]] = defaultdict(list)
                for pos, obj in enumerate(indices):
                    for row in owners[obj]:
                        rows_of[row].append(pos)
                for row, positions in rows_of.items():
                    unions[row, frame] |= masks[positions].any(dim=0).to(unions.device)

            self.segmenter.propagate(clip, plan.objects, sink)
        return unions

    def _score(self, unions: torch.Tensor, gt_masks: np.ndarray, clip: ClipFrames) -> tuple[list, list]:
        """Per rollout and frame: |pred ∩ gt| and |pred ∪ gt| of the union masks."""
        with torch.inference_mode():
            gt = torch.from_numpy(gt_masks.any(axis=0)).to(unions.device)  # (F, h, w)
            if gt.shape[-2:] != unions.shape[-2:]:
                unions = F.interpolate(unions.float(), size=gt.shape[-2:], mode="nearest") > 0.5
            inter = (unions & gt).sum(dim=(-2, -1)).cpu().tolist()
            union = (unions | gt).sum(dim=(-2, -1)).cpu().tolist()
        return inter, union

    @staticmethod
    def _gt_boxes(gt_masks: np.ndarray, frames: set[int]) -> dict[int, list[tuple[float, float, float, float]]]:
        """Ground-truth boxes on the given clip frames: one per object visible there."""
        boxes: dict[int, list] = {}
        for frame in frames:
            found = (mask_box(obj[frame]) for obj in gt_masks)
            boxes[frame] = [box for box in found if box is not None]
        return boxes

    def run_video(
        self, request: DetailRequest, sink: VideoSink, chunk_frames: int = 8, per_object: bool = False
    ) -> VideoOutcome:
        """System 2 over every frame of a request, masks streamed (evaluation; training uses :meth:`run_job`).

        The keyframes are grounded on their full-resolution frames (or use their given boxes), the boxes become SAM2
        objects (``sam2.association``), and SAM2 propagates them through every frame of ``request.frame_paths``
        (``sam2.propagation``, both directions by default). Each frame's union mask goes to ``sink`` once, in
        chunks of ``chunk_frames`` frames, in the order frames complete (not necessarily frame order); only frames
        still waiting for an object are held. Never raises for bad input or a model failure.

        Args:
            request: The frames (a whole video for evaluation) and keyframes (``clip_index`` into ``frame_paths``).
            sink: Receives ``(frame positions, masks)`` (see :data:`VideoSink`); an exception in it is an ``error``.
            chunk_frames: Frames per sink call.
            per_object: Hand the sink each object's mask instead of their union (``omni-r1 infer``).

        Returns:
            The outcome (the sink saw every frame iff its status is ``ok``).
        """
        timer = _Timer()
        start = time.perf_counter()
        state = _Rollout(request, [[] for _ in request.keyframes], [0] * len(request.keyframes))
        objects: list[ObjectPrompt] = []
        unions = None
        try:
            with timer("load_frames"):
                clip = load_clip(request.dataset_root, request.frame_paths)
            with timer("grounding"):
                self._collect_boxes([state], clip)
            self._box_status(state)
            if state.status is None:
                objects = plan_objects([self._objects(state)]).objects
                unions = _FrameUnions(len(objects), chunk_frames, sink, per_object)
                with timer("segmentation"), torch.inference_mode():
                    self.segmenter.propagate(clip, objects, unions.add)
                    unions.flush()
                if unions.delivered != clip.num_frames or unions.pending:
                    delivered = f"{unions.delivered}/{clip.num_frames}"
                    state.fail(DetailStatus.ERROR, f"the segmenter delivered {delivered} frames")
        except Exception as err:  # noqa: BLE001 - unreadable frames, model or sink failures become an explicit error
            logger.warning("detail video %s: %s: %s", request.gt_key, type(err).__name__, err)
            state.fail(DetailStatus.ERROR, f"{type(err).__name__}: {err}")
        finally:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        keyframes = tuple(
            KeyframeDetail(
                frame=int(kf.clip_index),
                description=kf.description,
                pred_boxes=tuple(rounded_box(b) for b in state.accepted[k]),
                rejected_boxes=state.rejected[k],
            )
            for k, kf in enumerate(request.keyframes)
        )
        return VideoOutcome(
            status=state.status or DetailStatus.OK,
            keyframes=keyframes,
            message=state.error,
            objects=len(objects),
            frames=unions.delivered if unions is not None else 0,
            timings={**timer.seconds, "total": time.perf_counter() - start},
            prompts=tuple(objects),
        )
