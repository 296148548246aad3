"""A training rollout as a gallery entry, from what the reward sees of it.

:func:`rollout_entry` takes one trajectory's response text, its row's ``reward_model.ground_truth`` and
``extra_info`` (dataset root, media, sampled clip, ground-truth store), the System-2 result the agent loop attached
and the reward terms, and draws the clip System 1 saw: the timeline of its moments and keyframes, and a few stills.

Masks: training keeps no predicted masks (the System-2 result carries boxes and per-frame pixel counts only, so
that nothing large crosses Ray), so the stills show what the reward scored: System 2's boxes on each keyframe
(solid) against the ground-truth boxes (dashed), the ground-truth masks outlined on every frame, and each frame's
J = |pred ∩ gt| / |pred ∪ gt| from the pixel counts. Pure: frames and masks are read from the dataset and the
ground-truth store by path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from omni_r1_verl.contracts.clip import read_clip
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task, resolve_under_root
from omni_r1_verl.contracts.system2 import DetailResult, DetailSchemaError
from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.scoring.config import AnswerConfig
from omni_r1_verl.visualize.draw import resize
from omni_r1_verl.visualize.gallery import GalleryEntry
from omni_r1_verl.visualize.samples import SampleView, sample_entry
from omni_r1_verl.visualize.types import Frame, Keyframe, marks_from_answer

logger = logging.getLogger(__name__)

#: Reward terms shown on the page and the stills, by task (``reward_extra_info`` keys -> labels).
TERMS: dict[Task, tuple[tuple[str, str], ...]] = {
    Task.VOS: (
        ("keyframe_reward", "R_K"),
        ("alignment_reward", "R_A"),
        ("consistency_reward", "R_G"),
        ("format_reward", "format"),
        ("length_reward", "length"),
    ),
    Task.AVS: (("detection_reward", "detection"), ("format_reward", "format"), ("length_reward", "length")),
    Task.IMAGE_GROUNDING: (("grounding_reward", "grounding"), ("format_reward", "format")),
}


def _frames(root: str, media: MediaRef, indices: list[int], width: int) -> tuple[list[np.ndarray], float]:
    """The clip's frames, resized to ``width``, and the scale applied to original pixels."""
    from omni_r1_verl.data.media import load_image, load_video_frames

    if media.audio_in_video:  # one container: decode the clip's frames at (nearly) native size
        path = resolve_under_root(root, media.frames[0])
        images = list(load_video_frames(path, indices, 28 * 28, 4096 * 4096))
    else:
        images = [np.asarray(load_image(resolve_under_root(root, media.frames[i]))) for i in indices]
    h, w = images[0].shape[:2]
    scale = width / w
    if scale != 1.0:  # small videos are enlarged too, so the writing on the stills stays legible
        size = (width, max(1, round(h * scale)))
        images = [resize(image, *size) for image in images]
    return images, scale


def _ground_truth(extra_info: Mapping[str, Any], gt: GroundTruth, indices: list[int], shape) -> list:
    store = str(extra_info.get("gt_store") or "")
    if not store or not gt.gt_key:
        return []
    from omni_r1_verl.data.gt_store import GroundTruthStore

    try:
        masks = GroundTruthStore.open(store).masks(gt.gt_key, indices).any(axis=0)
    except Exception as err:  # noqa: BLE001 - a picture without ground truth is still a picture
        logger.warning("rollout gallery: no ground truth for %s (%s: %s)", gt.gt_key, type(err).__name__, err)
        return []
    h, w = shape
    if masks.shape[1:] == (h, w):
        return list(masks)
    rows = (np.arange(h) * masks.shape[1] // h)[:, None]
    cols = (np.arange(w) * masks.shape[2] // w)[None, :]
    return [m[rows, cols] for m in masks]


def rollout_entry(
    *,
    text: str,
    ground_truth: str | Mapping[str, Any],
    extra_info: Mapping[str, Any],
    detail: Mapping[str, Any] | None,
    metrics: Mapping[str, float],
    title: str,
    answer_config: AnswerConfig | None = None,
    stills: int = 4,
    width: int = 640,
) -> GalleryEntry:
    """Draw one rollout.

    Args:
        text: The decoded response.
        ground_truth: ``reward_model.ground_truth`` of its row.
        extra_info: ``extra_info`` of its row (``dataset_root``, ``media``, ``clip``, ``gt_store``, ``expression``).
        detail: The System-2 result dict (``DetailResult.to_dict()``), or ``None``.
        metrics: The reward manager's ``reward_extra_info`` (``score`` and the terms).
        title: The entry's heading.
        answer_config: The reward's parser limits (the same keyframes as the agent loop chose).
        stills: Most stills.
        width: Frames are drawn this wide.

    Returns:
        The entry (raises on unreadable frames or a malformed row: the caller decides).
    """
    gt = GroundTruth.from_json(ground_truth)
    media = MediaRef.from_json(extra_info["media"])
    clip = read_clip(extra_info)
    indices = list(clip.frame_indices) if clip is not None and gt.task is Task.VOS else [0]
    images, scale = _frames(str(extra_info["dataset_root"]), media, indices, width)
    if media.fps > 0:  # video seconds
        fps, times, duration = media.fps, np.asarray(indices, np.float64) / media.fps, gt.num_frames / media.fps
    else:  # the native rate is unknown: System 1's virtual time (clip frame k at k / fps)
        fps = clip.fps if clip is not None else 1.0
        times, duration = np.arange(len(indices)) / fps, None
    gt_masks = _ground_truth(extra_info, gt, indices, images[0].shape[:2])
    result = None
    if isinstance(detail, Mapping):
        try:
            result = DetailResult.from_dict(detail)
        except DetailSchemaError as err:
            logger.warning("rollout gallery: unreadable System-2 result (%s)", err)
    if gt.task is Task.VOS and clip is not None:
        parsed = parse_answer(text, clip.num_frames, clip.fps, answer_config)
        marks = marks_from_answer(parsed, times)
        moments, keyframes = marks.moments, marks.keyframes
        clip_frames = [k.frame for k in parsed.keyframes]
    else:
        parsed = parse_answer(text, 1, clip.fps if clip is not None else 1.0, answer_config)
        moments, keyframes = (), (Keyframe(0.0, parsed.answer),) if parsed.answer else ()
        clip_frames = [0] * len(keyframes)
    pred_boxes, gt_boxes = [], []
    by_frame = {k.frame: k for k in result.keyframes} if result is not None else {}
    for frame in clip_frames:
        found = by_frame.get(frame)
        pred_boxes.append([[v * scale for v in b] for b in found.pred_boxes] if found else [])
        gt_boxes.append([[v * scale for v in b] for b in found.gt_boxes] if found else [])
    notes = [""] * len(images)
    if result is not None and result.masks is not None:
        for f, inter, union in zip(result.masks.frames, result.masks.intersection, result.masks.union):
            if 0 <= f < len(notes):
                notes[f] = f"J {inter / union:.2f}" if union else "J 1.00 (both empty)"
    view = SampleView(
        query=str(extra_info.get("expression", "")),
        frames=[Frame(image, float(t)) for image, t in zip(images, times)],
        fps=fps,
        moments=moments,
        keyframes=keyframes,
        gt_masks=gt_masks,
        pred_boxes=pred_boxes,
        gt_boxes=gt_boxes,
        notes=notes,
        duration_s=duration if gt.task is Task.VOS else None,
    )
    terms = {label: float(metrics[key]) for key, label in TERMS[gt.task] if key in metrics}
    details = {
        "sample": str(extra_info.get("sample_id", "")),
        "System 2": f"{result.status.value}{': ' + result.message if result.message else ''}" if result else "none",
        "clip frames": ", ".join(map(str, indices)),
        "problems": ", ".join(p.value for p in parsed.problems) or "none",
    }
    score = float(metrics["score"]) if "score" in metrics else None
    return sample_entry(view, title=title, answer=text, score=score, terms=terms, details=details, stills=stills)
