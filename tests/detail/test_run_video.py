"""DetailEngine.run_video: every frame's union mask reaches the sink once, in chunks; failures are statuses."""

from __future__ import annotations

import numpy as np
from conftest import tiny_config

from omni_r1_verl.contracts.system2 import DetailStatus, KeyframeQuery
from omni_r1_verl.detail.engine import DetailEngine


def test_every_frame_once_in_chunks_and_failures_as_statuses(tiny_assets, clip):
    engine = DetailEngine(tiny_config(tiny_assets), device="cpu")
    seen: list[tuple[list[int], tuple]] = []
    boxes = [KeyframeQuery(clip_index=3, boxes=[clip.box(0, 3)]), KeyframeQuery(clip_index=1, boxes=[clip.box(1, 1)])]
    outcome = engine.run_video(clip.request("r", boxes), lambda f, m: seen.append((f.tolist(), m.shape)), 4)
    assert outcome.status is DetailStatus.OK and outcome.objects == 2 and outcome.frames == clip.num_frames
    frames = [f for chunk, _ in seen for f in chunk]
    assert sorted(frames) == list(range(clip.num_frames)) and max(len(c) for c, _ in seen) <= 4
    assert all(shape == (len(chunk), 72, 96) for chunk, shape in seen)
    assert outcome.keyframes[0].pred_boxes and "sam2" not in outcome.timings and "segmentation" in outcome.timings

    seen.clear()
    degenerate = [KeyframeQuery(clip_index=0, boxes=[[5.0, 5.0, 5.0, 9.0]])]
    outcome = engine.run_video(clip.request("r", degenerate), lambda f, m: seen.append(f), 4)
    assert outcome.status is DetailStatus.INVALID_BOXES and not seen and outcome.keyframes[0].rejected_boxes == 1

    (clip.root / clip.frame_paths[2]).write_bytes(b"broken")
    outcome = engine.run_video(clip.request("r", boxes), lambda f, m: seen.append(f), 4)
    assert outcome.status is DetailStatus.ERROR and clip.frame_paths[2].split("/")[-1] in outcome.message

    def failing_sink(frames: np.ndarray, masks: np.ndarray) -> None:
        raise RuntimeError("disk full")

    (clip.root / clip.frame_paths[2]).write_bytes((clip.root / clip.frame_paths[1]).read_bytes())
    outcome = engine.run_video(clip.request("r", boxes[:1]), failing_sink, 4)
    assert outcome.status is DetailStatus.ERROR and "disk full" in outcome.message


def test_per_object_masks_are_the_union_split_by_object(tiny_assets, clip):
    engine = DetailEngine(tiny_config(tiny_assets), device="cpu")
    boxes = [KeyframeQuery(clip_index=3, boxes=[clip.box(0, 3)]), KeyframeQuery(clip_index=1, boxes=[clip.box(1, 1)])]
    unions: dict[int, np.ndarray] = {}
    split: dict[int, np.ndarray] = {}
    engine.run_video(clip.request("r", boxes), lambda f, m: unions.update(zip(f.tolist(), m)), 4)
    outcome = engine.run_video(clip.request("r", boxes), lambda f, m: split.update(zip(f.tolist(), m)), 4, True)
    assert outcome.status is DetailStatus.OK and sorted(split) == list(range(clip.num_frames))
    assert all(split[f].shape == (2, 72, 96) and np.array_equal(split[f].any(axis=0), unions[f]) for f in split)
    # Objects come in prompt order (sorted by first conditioning frame), each with its keyframe's box.
    assert [p.prompts for p in outcome.prompts] == [((1, tuple(clip.box(1, 1))),), ((3, tuple(clip.box(0, 3))),)]
