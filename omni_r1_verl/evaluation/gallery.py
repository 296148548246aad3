"""``omni-r1 eval --visualize K``: the K best and K worst samples of a run, as a gallery (``OUT/gallery/``).

Samples are ranked by their headline figure (J&F in percent; I/U for refCOCOg; Ref-AVS null expressions have
none and are left out). Each entry shows what was segmented: the clip System 1 saw (all frames for short
videos), the predicted masks filled in colour and the ground truth outlined in white, each keyframe's boxes
(System 2's solid, the ground truth's dashed), J per frame, the metrics, System 1's answer, and an overlay video
of the whole video at the gallery's width.

Predicted masks come from the run's ``masks/`` folder (``--save-masks``; ``--visualize`` turns it on for the
samples it evaluates). A sample recorded without them is re-segmented: SAM2 alone, from the boxes its record
holds (no grounding model), into the same folder; that needs ``system2.sam2.checkpoint`` and gives the run's
masks up to the records' box rounding (1/1000 pixel).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from omni_r1_verl.contracts.rows import Task, resolve_under_root
from omni_r1_verl.contracts.system2 import KeyframeQuery
from omni_r1_verl.data.media import load_image
from omni_r1_verl.data.sampling import uniform_indices
from omni_r1_verl.evaluation.plan import Plan
from omni_r1_verl.evaluation.records import SAMPLES_FILE, load_records
from omni_r1_verl.evaluation.samples import EvalSample, read_samples
from omni_r1_verl.evaluation.scorers import headline
from omni_r1_verl.evaluation.system2 import mask_dir_name
from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.visualize import (
    Frame,
    Keyframe,
    MaskFolderError,
    MaskReader,
    OverlayStyle,
    VideoWriter,
    marks_from_answer,
    write_gallery,
)
from omni_r1_verl.visualize.draw import resize
from omni_r1_verl.visualize.overlay import OverlayRenderer
from omni_r1_verl.visualize.samples import GT_COLOUR, SampleView, outline, sample_entry

logger = logging.getLogger(__name__)

#: The gallery's folder inside a run.
GALLERY_DIR = "gallery"
#: Frames are drawn this wide.
WIDTH = 640
#: Ground-truth frames read at once for the overlay video.
_CHUNK = 32


class VisualizeError(ValueError):
    """The run cannot be drawn as asked (the message says why and what to do)."""


def rank(benchmark: str, records: Mapping[str, Mapping[str, Any]], k: int) -> tuple[list[str], list[str]]:
    """The keys of the ``k`` best samples (best first) and the ``k`` worst (worst first), never the same twice.

    Ties are broken by key, so the choice is the same for every run with these records.
    """
    scored = []
    for key, record in records.items():
        metrics = record.get("metrics")
        value = headline(benchmark, {"key": key, **metrics}) if isinstance(metrics, Mapping) else None
        if value is not None:
            scored.append((value, key))
    scored.sort(key=lambda item: (-item[0], item[1]))
    best = [key for _, key in scored[:k]]
    worst = [key for _, key in sorted(scored[len(best) :])[:k]]
    return best, worst


class _Frames:
    """A sample's frames at the gallery's width, with its predicted and ground-truth masks scaled to match."""

    def __init__(self, sample: EvalSample, masks: MaskReader | None) -> None:
        self.sample = sample
        self.masks = masks
        self.store = None
        if sample.gt_store:
            from omni_r1_verl.data.gt_store import GroundTruthStore

            try:
                self.store = GroundTruthStore.open(sample.gt_store)
                self.store.entry(sample.key)
            except Exception as err:  # noqa: BLE001 - drawn without the ground truth then
                logger.warning("gallery: no ground truth for %s (%s)", sample.key, err)
                self.store = None
        h, w = sample.gt.height, sample.gt.width
        self.size = (WIDTH, max(1, round(h * WIDTH / w)))
        self.scale = WIDTH / w

    def _small(self, mask: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        rows = (np.arange(self.size[1]) * h // self.size[1])[:, None]
        cols = (np.arange(self.size[0]) * w // self.size[0])[None, :]
        return mask[rows, cols]

    def gt(self, frames: list[int]) -> list[np.ndarray | None]:
        if self.store is None:
            return [None] * len(frames)
        union = self.store.masks(self.sample.key, frames).any(axis=0)
        return [self._small(m) for m in union]

    def image(self, f: int) -> np.ndarray:
        path = resolve_under_root(self.sample.root, self.sample.media.frames[f])
        return np.array(resize(np.asarray(load_image(path)), *self.size))  # writable

    def pred(self, f: int) -> dict[int, np.ndarray]:
        if self.masks is None or f not in self.masks.frames:
            return {}
        return {i: self._small(m) for i, m in self.masks.read(f).items()}


def _j(pred: Mapping[int, np.ndarray], gt: np.ndarray | None) -> str:
    if gt is None:
        return ""
    p = np.any(list(pred.values()), axis=0) if pred else np.zeros_like(gt)
    union = int((p | gt).sum())
    return f"J {int((p & gt).sum()) / union:.2f}" if union else "J 1.00 (both empty)"


def _view(sample: EvalSample, record: Mapping[str, Any], frames: _Frames, settings) -> tuple[SampleView, float]:
    n = sample.num_frames
    clip = [int(f) for f in record.get("clip") or []] if sample.task is Task.VOS else []
    virtual = settings.omni_data.fps
    shown = clip or uniform_indices(n, settings.evaluation.clip_frames).tolist()  # baselines, Ref-AVS, images
    fps = sample.media.fps if sample.media.fps > 0 else n * virtual / len(shown)  # the clip spans the video
    plan = record.get("plan") or {}
    boxes = {int(k["video_frame"]): k for k in record.get("keyframes") or [] if "video_frame" in k}
    keyframes, moments = [], ()
    if sample.task is Task.VOS and clip and record.get("answer") is not None:
        parsed = parse_answer(record["answer"], len(clip), virtual, settings.evaluation.answer)
        marks = marks_from_answer(parsed, np.asarray(clip) / fps)
        keyframes, moments = list(marks.keyframes), marks.moments
    else:
        keyframes = [Keyframe(int(k["video_frame"]) / fps, k.get("description", "")) for k in plan.get("keyframes", [])]
    video_frames = [int(k["video_frame"]) for k in plan.get("keyframes", [])][: len(keyframes)]
    shown = sorted(set(shown) | set(video_frames))
    gt = frames.gt(shown)
    pred = [frames.pred(f) for f in shown]
    scale = frames.scale
    view = SampleView(
        query=sample.expression,
        frames=[Frame(frames.image(f), f / fps, p) for f, p in zip(shown, pred)],
        fps=fps,
        moments=moments,
        keyframes=keyframes,
        gt_masks=gt,
        pred_boxes=[[[v * scale for v in b] for b in boxes.get(f, {}).get("pred_boxes", [])] for f in video_frames],
        gt_boxes=[[[v * scale for v in b] for b in boxes.get(f, {}).get("gt_boxes", [])] for f in video_frames],
        notes=[_j(p, g) for p, g in zip(pred, gt)],
        duration_s=n / fps,
    )
    return view, fps


def _overlay(path: Path, sample: EvalSample, frames: _Frames, fps: float, keyframes) -> Path:
    """The whole video at the gallery's width: predicted masks filled, the ground truth outlined."""
    renderer = OverlayRenderer(fps, keyframes=keyframes, query=sample.expression, style=OverlayStyle())

    def images() -> Iterator[np.ndarray]:
        for start in range(0, sample.num_frames, _CHUNK):
            chunk = list(range(start, min(start + _CHUNK, sample.num_frames)))
            for f, gt in zip(chunk, frames.gt(chunk)):
                image = frames.image(f)
                if gt is not None and gt.any():
                    outline(image, gt, GT_COLOUR, 2)
                yield renderer.render(Frame(image, f / fps, frames.pred(f)))

    with VideoWriter(path, fps, preset="ultrafast") as writer:
        for image in images():
            writer.write(image)
    return path


def _resegment(settings, sample: EvalSample, record: Mapping[str, Any], runner) -> None:
    """SAM2 from the record's boxes, into ``OUT/masks/<sample>/``."""
    queries = [
        KeyframeQuery(clip_index=int(k["video_frame"]), description=k.get("description", ""), boxes=k["pred_boxes"])
        for k in record.get("keyframes") or []
        if k.get("pred_boxes")
    ]
    if queries:
        runner.run(sample, Plan(keyframes=queries, clip_frames=[-1] * len(queries)))


def visualize_run(settings, k: int, progress: bool = True) -> Path:
    """Draw the ``k`` best and ``k`` worst samples of a run (see the module docstring).

    Args:
        settings: The run's :class:`~omni_r1_verl.evaluation.runner.EvalSettings` (its ``out`` holds the records).
        k: Samples per end.
        progress: Show a progress bar.

    Returns:
        The gallery's ``index.html``.

    Raises:
        VisualizeError: When the run has no scored sample, or a sample needs re-segmenting and no SAM2 checkpoint
            is configured.
    """
    from tqdm import tqdm

    s = settings
    records, _ = load_records(s.out / SAMPLES_FILE)
    best, worst = rank(s.benchmark, records, k)
    if not best:
        raise VisualizeError(f"{s.out / SAMPLES_FILE} has no scored sample to draw; run the evaluation first")
    rows = {key: (row, n) for n, (key, row, problem) in enumerate(read_samples(s.data)) if row is not None}
    chosen = [(key, "best") for key in best] + [(key, "worst") for key in worst]

    def masks_dir(key: str) -> Path:
        return s.out / "masks" / mask_dir_name(key)

    missing = [
        key for key, _ in chosen if records[key].get("status") == "ok" and not (masks_dir(key) / "index.json").is_file()
    ]
    runner = None
    if missing:
        try:
            s.system2.check_paths()
        except FileNotFoundError as err:
            raise VisualizeError(
                f"{len(missing)} of the samples to draw have no saved masks (e.g. {missing[0]}): rerun with "
                f"--save-masks, or configure SAM2 to re-segment them from the recorded boxes ({err})"
            ) from None
        from omni_r1_verl.evaluation.system2 import System2Runner

        sam2_only = dataclasses.replace(s.system2, grounding=dataclasses.replace(s.system2.grounding, model_path=""))
        runner = System2Runner(s.benchmark, sam2_only, s.evaluation, s.out, save_masks=True, device=s.device)
    out = s.out / GALLERY_DIR
    entries = []
    for rank_i, (key, end) in enumerate(tqdm(chosen, desc="gallery", unit="sample", disable=not progress)):
        record = records[key]
        row, position = rows[key]
        sample = EvalSample.from_row(row, position)
        if key in missing:
            _resegment(s, sample, record, runner)
        try:
            masks = MaskReader(masks_dir(key)) if (masks_dir(key) / "index.json").is_file() else None
        except MaskFolderError as err:
            logger.warning("gallery: %s: %s; drawn without masks", key, err)
            masks = None
        frames = _Frames(sample, masks)
        view, fps = _view(sample, record, frames, s)
        metrics = record["metrics"]
        score = headline(s.benchmark, {"key": key, **metrics})
        terms = {name: metrics[name] for name in ("J", "F") if isinstance(metrics.get(name), (int, float))}
        video = None
        if sample.num_frames > 1:
            video = _overlay(out / "videos" / f"{rank_i:03d}.mp4", sample, frames, fps, view.keyframes)
        details = {
            "sample": key,
            "baseline": s.baseline,
            "status": f"{record.get('status')}{': ' + record['reason'] if record.get('reason') else ''}",
            "masks": "saved" if key not in missing else "re-segmented from the recorded boxes",
        }
        entries.append(
            sample_entry(
                view,
                title=f"{key} ({end})",
                answer=record.get("answer") or "",
                score=score,
                terms=terms,
                details=details,
                video=video,
            )
        )
    label = "I/U %" if s.benchmark == "refcocog" else "J&F %"
    subtitle = f"{len(best)} best and {len(worst)} worst of {len(records)} samples by {label} ({s.out})"
    return write_gallery(out, entries, f"{s.benchmark} {s.split}: best and worst samples", subtitle=subtitle)
