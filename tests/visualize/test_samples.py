"""Sample entries: boxes and ground-truth outlines drawn exactly where they belong; a training rollout drawn with
System 2's boxes, the ground truth and each frame's J from the pixel counts."""

from __future__ import annotations

import numpy as np

from omni_r1_verl.visualize.overlay import inner_edge
from omni_r1_verl.visualize.palette import moment_colour
from omni_r1_verl.visualize.rollout import rollout_entry
from omni_r1_verl.visualize.samples import GT_COLOUR, draw_box, outline
from omni_r1_verl.visualize.synthetic import synthetic_rollout


def test_boxes_are_drawn_on_their_edges_only_and_clipped():
    image = np.zeros((40, 60, 3), np.uint8)
    draw_box(image, [10, 5, 30, 25], (255, 0, 0), width=2)
    painted = (image != 0).any(axis=2)
    ring = np.zeros_like(painted)
    ring[5:25, 10:30] = True
    ring[7:23, 12:28] = False
    assert np.array_equal(painted, ring)
    dashed = np.zeros_like(image)
    draw_box(dashed, [10, 5, 30, 25], (255, 0, 0), width=1, dash=3)
    top = (dashed[5, 10:30] != 0).any(axis=1)
    assert top.any() and not top.all()
    clipped = np.zeros_like(image)
    draw_box(clipped, [50, 30, 90, 80], (0, 255, 0), width=1)
    assert (clipped[30, 50:60] != 0).any(axis=1).all() and not (clipped[:30] != 0).any()
    untouched = np.zeros_like(image)
    for box in ([float("nan"), 0, 5, 5], [70, 70, 80, 80], [5, 5, 5, 9], ["a", 1, 2, 3]):
        draw_box(untouched, box, (0, 0, 255))
    assert not untouched.any()


def test_the_ground_truth_outline_is_its_inner_edge():
    image = np.full((30, 30, 3), 7, np.uint8)
    mask = np.zeros((30, 30), bool)
    mask[5:20, 8:25] = True
    outline(image, mask, width=2)
    changed = (image != 7).any(axis=2)
    assert np.array_equal(changed, inner_edge(mask, 2)) and (image[changed] == GT_COLOUR).all()


def test_a_rollout_shows_system2_boxes_the_ground_truth_and_j(tmp_path):
    rollout = synthetic_rollout(tmp_path, num_frames=8, height=48, width=64)
    entry = rollout_entry(**rollout, title="r", stills=3, width=320)
    assert list(entry.terms) == ["R_K", "R_A", "R_G", "format", "length"]
    assert entry.terms["R_G"] == rollout["metrics"]["consistency_reward"] and entry.score == rollout["metrics"]["score"]
    keyframes = rollout["detail"]["keyframes"]
    masks = rollout["detail"]["masks"]
    for still, caption, kf in zip(entry.frames, entry.frame_captions, keyframes):
        f = kf["frame"]
        assert caption.startswith(f"K{keyframes.index(kf) + 1} ") and "1 box" in caption
        assert caption.endswith(f"J {masks['intersection'][f] / masks['union'][f]:.2f}")
        assert still.shape == (240, 320, 3)
        x1, y1, x2, _ = (round(v * 5) for v in kf["pred_boxes"][0])  # 64 px wide, drawn 320 px wide
        assert (still[y1 + 1, (x1 + min(x2, 320)) // 2] == moment_colour(0)).all()  # the box's top edge
    assert entry.timeline is not None and entry.details["System 2"] == "ok"
