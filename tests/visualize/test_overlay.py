"""Overlay frames: masks blended exactly where they are, outlines inside them, keyframes marked when due."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

from omni_r1_verl.visualize import (
    Frame,
    Keyframe,
    OverlayRenderer,
    OverlayStyle,
    blend_masks,
    object_colour,
    read_video,
    write_overlay_video,
)
from omni_r1_verl.visualize.overlay import inner_edge
from omni_r1_verl.visualize.palette import moment_colour
from omni_r1_verl.visualize.video import VideoWriter


def _expected_fill(pixel, obj_id, alpha):
    return (1 - alpha) * np.asarray(pixel, float) + alpha * np.asarray(object_colour(obj_id), float)


def test_blend_changes_exactly_the_masked_pixels(clip):
    frame = clip.frame(3)
    out = blend_masks(frame.image, frame.masks, alpha=0.45, outline_px=2)
    union = frame.masks[0] | frame.masks[1]
    changed = (out != frame.image).any(axis=2)
    assert np.array_equal(changed, union)
    assert np.array_equal(frame.image, clip.pixels[3])  # the input is not modified


def test_fill_colour_and_outline(clip):
    frame = clip.frame(2)
    out = blend_masks(frame.image, {0: frame.masks[0]}, alpha=0.3, outline_px=2)
    box = frame.masks[0]
    edge = inner_edge(box, 2)
    ys, xs = np.nonzero(box & ~edge)
    for y, x in zip(ys[:: max(1, len(ys) // 5)], xs[:: max(1, len(xs) // 5)]):
        assert np.abs(out[y, x] - _expected_fill(frame.image[y, x], 0, 0.3)).max() <= 1
    assert (out[edge] == object_colour(0)).all()
    # A 2-pixel inner edge of an axis-aligned box is its outer two rows and columns.
    rows, cols = np.nonzero(box.any(axis=1))[0], np.nonzero(box.any(axis=0))[0]
    assert edge[rows[0] : rows[0] + 2, cols[0] : cols[-1] + 1].all()
    assert not edge[rows[0] + 2 : rows[-1] - 1, cols[0] + 2 : cols[-1] - 1].any()


def test_later_objects_are_drawn_on_top_and_shapes_are_checked(clip):
    image = clip.pixels[0]
    mask = np.zeros(image.shape[:2], bool)
    mask[10:30, 10:30] = True
    out = blend_masks(image, {5: mask, 6: mask}, alpha=1.0, outline_px=0)
    assert (out[mask] == object_colour(6)).all()
    with pytest.raises(ValueError, match="object 7"):
        blend_masks(image, {7: mask[:-1]})


def test_keyframe_marks_follow_time_and_hold(clip):
    k = Keyframe(time_s=4 / clip.fps, description="the box", moment=1)
    exact = OverlayRenderer(clip.fps, keyframes=[k], style=OverlayStyle(keyframe_hold_s=0.0, caption=False))
    held = OverlayRenderer(clip.fps, keyframes=[k], style=OverlayStyle(keyframe_hold_s=0.5, caption=False))
    assert [t for t in range(12) if exact.active_keyframe(t / clip.fps) == 0] == [4]
    assert [t for t in range(12) if held.active_keyframe(t / clip.fps) == 0] == [4, 5, 6, 7]
    marked, plain = exact.render(clip.frame(4)), exact.render(clip.frame(5))
    assert (marked[:, 0] == moment_colour(1)).all() and (marked[-1] == moment_colour(1)).all()
    assert np.array_equal(plain, blend_masks(clip.pixels[5], clip.frame(5).masks, alpha=0.45, outline_px=2))
    # The label (top left, inside the border) differs from the plain overlay.
    label = marked[3:20, 3:40] != blend_masks(clip.pixels[4], clip.frame(4).masks, outline_px=2)[3:20, 3:40]
    assert label.any()


def test_latest_of_overlapping_keyframes_wins(clip):
    keys = [Keyframe(1.0, "a", 0), Keyframe(1.2, "b", 1)]
    renderer = OverlayRenderer(clip.fps, keyframes=keys, style=OverlayStyle(keyframe_hold_s=1.0))
    assert renderer.active_keyframe(1.0) == 0 and renderer.active_keyframe(1.3) == 1
    assert renderer.active_keyframe(0.5) is None and renderer.active_keyframe(3.0) is None


def test_caption_is_drawn_at_the_bottom_only(clip):
    frame = Frame(clip.pixels[0], 0.0)
    out = OverlayRenderer(clip.fps, query="find the box that moves right").render(frame)
    changed_rows = np.flatnonzero((out != frame.image).any(axis=(1, 2)))
    assert len(changed_rows) and changed_rows.min() > frame.image.shape[0] // 2
    assert changed_rows.max() == frame.image.shape[0] - 1


def _plain_video(path, clip):
    with VideoWriter(path, clip.fps) as writer:
        for t in range(len(clip.pixels)):
            writer.write(clip.pixels[t])


def test_overlay_video_decodes_with_the_input_frames_and_differs_where_masks_are(clip, tmp_path):
    style = OverlayStyle(caption=False, keyframe_hold_s=0.0)
    info = write_overlay_video(tmp_path / "overlay.mp4", clip.frames(), clip.fps, style=style)
    _plain_video(tmp_path / "plain.mp4", clip)
    overlay, fps = read_video(tmp_path / "overlay.mp4")
    plain, _ = read_video(tmp_path / "plain.mp4")
    assert info.num_frames == len(overlay) == len(clip.pixels) and fps == pytest.approx(clip.fps)
    assert overlay.shape[1:3] == clip.pixels.shape[1:3]
    diff = np.abs(overlay.astype(int) - plain.astype(int)).max(axis=3)
    for t in range(len(clip.pixels)):
        union = clip.masks[0][t] | clip.masks[1][t]
        core = union & ~inner_edge(union, 3)  # away from edges, where chroma subsampling mixes colours
        near = union.copy()
        for _ in range(3):
            near[1:] |= near[:-1]
            near[:-1] |= near[1:]
            near[:, 1:] |= near[:, :-1]
            near[:, :-1] |= near[:, 1:]
        assert np.median(diff[t][core]) > 25
        assert np.percentile(diff[t][~near], 99) <= 8
    # The blended colour at a few pixels (codec tolerance).
    for t, (y, x) in [(0, (40, 26)), (5, (40, 41)), (9, (30 + 18, 128 - 34))]:
        obj = 0 if clip.masks[0][t][y, x] else 1
        assert clip.masks[obj][t][y, x]
        expected = _expected_fill(clip.pixels[t][y, x], obj, 0.45)
        assert np.abs(overlay[t][y, x] - expected).max() <= 10


def test_overlay_video_streams_its_frames(clip, tmp_path):
    alive = []

    def frames():
        for frame in clip.frames():
            image = frame.image.copy()
            weakref.finalize(image, alive.remove, id(image))
            alive.append(id(image))
            assert len(alive) <= 2, "the writer holds on to earlier frames"
            yield Frame(image, frame.time_s, frame.masks)

    info = write_overlay_video(tmp_path / "o.mp4", frames(), clip.fps, keyframes=[Keyframe(0.5, "x")], query="q")
    assert info.num_frames == len(clip.pixels)


def test_style_is_validated():
    with pytest.raises(ValueError, match="mask_alpha"):
        OverlayStyle(mask_alpha=1.5)
    with pytest.raises(ValueError, match="outline_px"):
        OverlayStyle(outline_px=-1)
    with pytest.raises(ValueError, match="fps"):
        OverlayRenderer(0.0)
