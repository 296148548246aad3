"""Render every picture for a synthetic video: a quick look at the renderers without models.

``python -m omni_r1_verl.visualize.synthetic OUT`` writes ``OUT/overlay.mp4``, ``OUT/timeline.png``,
``OUT/masks/`` and ``OUT/rollout_gallery/step_0/index.html`` for a video of moving shapes
(:mod:`omni_r1_verl.data.synthetic.scene`) and a hand-written System-1 answer parsed by the reward's parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from omni_r1_verl.data.sampling import uniform_indices
from omni_r1_verl.data.synthetic.scene import describe, random_scene
from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.visualize.draw import save_png
from omni_r1_verl.visualize.gallery import GalleryEntry, gallery_dir, write_gallery, write_gallery_index
from omni_r1_verl.visualize.masks_io import MaskWriter
from omni_r1_verl.visualize.overlay import OverlayRenderer, format_time, write_overlay_video
from omni_r1_verl.visualize.timeline import render_timeline
from omni_r1_verl.visualize.types import Audio, Frame, marks_from_answer

#: Virtual frame rate System 1 is told (as in the recipe).
CLIP_FPS = 2.0


def render_synthetic(
    out: str | Path,
    *,
    height: int = 360,
    width: int = 640,
    num_frames: int = 60,
    fps: float = 10.0,
    clip_frames: int = 16,
    seed: int = 3,
) -> dict[str, Path]:
    """Render the overlay, timeline, masks and a two-entry gallery of one synthetic video.

    Args:
        out: Output folder.
        height: Frame height.
        width: Frame width.
        num_frames: Frames of the video.
        fps: Its frame rate.
        clip_frames: Frames of the clip System 1 "saw" (uniformly sampled; keyframes are clip frames).
        seed: Scene seed.

    Returns:
        Paths of ``overlay``, ``timeline``, ``masks`` and ``gallery`` (its ``index.html``).
    """
    out = Path(out)
    scene = random_scene(np.random.default_rng(seed), height, width, num_frames, 3, distinct_shapes=True)
    pixels, masks = scene.render()
    expression = describe(scene)[0]
    ids = [i + 1 for i in expression.objects]  # object ids as System 2 numbers them
    duration = num_frames / fps
    tone = scene.audio(list(expression.objects), duration)
    swell = 0.25 + 0.75 * np.abs(np.sin(np.arange(len(tone)) / 16_000 * np.pi / 2.5))
    audio = Audio((tone * swell).astype(np.float32), 16_000)

    def frame(t: int) -> Frame:
        return Frame(pixels[t], t / fps, {obj_id: masks[obj_id - 1, t] for obj_id in ids})

    clip = uniform_indices(num_frames, clip_frames)
    query = f"Please segment {expression.text}. Where is it, and when is it easiest to see?"
    answer_text = (
        "<think>The target is easy to spot early on, and again near the end when it is clear of the others."
        "</think><answer>["
        f'{{"start_time": "00:01.0", "end_time": "00:02.5", "description": "{expression.text} on its own"}},'
        f'{{"start_time": "00:05.5", "end_time": "00:06.5", "description": "{expression.text}, '
        'seen clearly once more and fully visible, with nothing in front of it"}]</answer>'
    )
    parsed = parse_answer(answer_text, len(clip), CLIP_FPS)
    marks = marks_from_answer(parsed, clip / fps)

    overlay = write_overlay_video(
        out / "overlay.mp4",
        (frame(t) for t in range(num_frames)),
        fps,
        keyframes=marks.keyframes,
        query=query,
        audio=audio,
    )
    with MaskWriter(out / "masks", {i: expression.text for i in ids}) as writer:
        for t in range(num_frames):
            writer.add(t, frame(t).masks, time_s=t / fps)
    timeline = render_timeline(
        [frame(int(t)) for t in clip],
        query=query,
        moments=marks.moments,
        keyframes=marks.keyframes,
        audio=audio,
        duration_s=duration,
    )
    save_png(out / "timeline.png", timeline)

    renderer = OverlayRenderer(fps, keyframes=marks.keyframes, query=query)
    stills = [renderer.render(frame(min(num_frames - 1, round(k.time_s * fps)))) for k in marks.keyframes]
    best = GalleryEntry(
        title=f"synthetic/{seed} (best)",
        query=query,
        answer=answer_text,
        score=2.41,
        terms={"r_k": 0.82, "r_a": 0.74, "r_g": 0.69, "format": 1.0, "length": 0.16},
        timeline=timeline,
        frames=stills,
        frame_captions=[f"K{i + 1} \u00b7 {format_time(k.time_s)}" for i, k in enumerate(marks.keyframes)],
        details={"sample_id": f"synthetic-{seed}", "detail status": "ok", "objects": str(ids)},
        video=overlay.path,
    )
    broken = "<think>It must be the one at the top.</think><answer>the one at the top</answer>"
    worst_marks = marks_from_answer(parse_answer(broken, len(clip), CLIP_FPS), clip / fps)
    worst = GalleryEntry(
        title=f"synthetic/{seed} (worst)",
        query=query,
        answer=broken,
        score=0.0,
        terms={"r_k": 0.0, "r_a": 0.0, "r_g": 0.0, "format": 0.0, "length": 0.0},
        timeline=render_timeline(
            [Frame(pixels[int(t)], t / fps) for t in clip],
            query=query,
            moments=worst_marks.moments,
            keyframes=worst_marks.keyframes,
            audio=audio,
            duration_s=duration,
        ),
        details={"sample_id": f"synthetic-{seed}", "detail status": "no_valid_moment"},
    )
    step = gallery_dir(out, 0)
    page = write_gallery(step, [best, worst], "Rollouts at step 0", subtitle="synthetic example")
    write_gallery_index(step.parent)
    return {"overlay": overlay.path, "timeline": out / "timeline.png", "masks": out / "masks", "gallery": page}


def synthetic_rollout(
    root: str | Path, *, num_frames: int = 10, height: int = 96, width: int = 128, seed: int = 0, split: str = "valid"
) -> dict:
    """A training rollout as the reward manager sees it, on disk: frames, a ground-truth store and the row.

    The row is a prepared ``vos`` row of a synthetic video (frames under ``root/frames``, its ground truth in the
    store ``root/gt``, an 8-frame clip), the response has one moment, and the System-2 result gives each keyframe
    the target's box shifted by a few pixels and per-frame pixel counts of a shifted mask.

    Args:
        root: Folder (created).
        num_frames: Frames of the video.
        height: Frame height.
        width: Frame width.
        seed: Scene seed.
        split: ``extra_info.split`` (``train`` for a training rollout).

    Returns:
        ``text``, ``ground_truth`` (JSON), ``extra_info``, ``detail`` (a ``DetailResult`` dict) and ``metrics``
        (the reward terms of :func:`omni_r1_verl.scoring.score_response`): the arguments of
        :func:`omni_r1_verl.visualize.rollout.rollout_entry`.
    """
    from PIL import Image

    from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
    from omni_r1_verl.contracts.system2 import DetailResult, KeyframeDetail, MaskOverlap
    from omni_r1_verl.data.gt_store import GroundTruthWriter
    from omni_r1_verl.data.rle import encode
    from omni_r1_verl.data.rows import make_row
    from omni_r1_verl.scoring import score_response

    root = Path(root)
    (root / "frames").mkdir(parents=True, exist_ok=True)
    scene = random_scene(np.random.default_rng(seed), height, width, num_frames, 2, distinct_shapes=True)
    pixels, masks = scene.render()
    expression = describe(scene)[0]
    target = masks[list(expression.objects)].any(axis=0)  # (F, H, W)
    names = []
    for t in range(num_frames):
        names.append(f"frames/{t:05d}.png")
        Image.fromarray(pixels[t]).save(root / names[-1])
    key = f"synthetic/{seed}"
    with GroundTruthWriter(root / "gt") as writer:
        obj = writer.add_object(encode(target), height, width)
        writer.add_sample(key, [obj], num_frames, height, width)
    areas = [target.sum(axis=(1, 2)).astype(int).tolist()]
    gt = GroundTruth(Task.VOS, key, num_frames, height, width, 1, areas=areas)
    row = make_row(
        data_source="synthetic",
        content=expression.text,
        ground_truth=gt,
        media=MediaRef(frames=names, fps=10.0),
        split=split,
        sample_id=key,
        expression=expression.text,
    )
    extra = {**row["extra_info"], "dataset_root": str(root), "gt_store": str(root / "gt"), "index": 0}
    clip = uniform_indices(num_frames, 8).tolist()
    extra["clip"] = {"frame_indices": clip, "fps": CLIP_FPS}
    text = (
        "<think>It is clear in the middle of the clip.</think><answer>"
        f'[{{"start_time": "00:01.0", "end_time": "00:02.0", "description": "{expression.text}"}}]</answer>'
    )
    parsed = parse_answer(text, len(clip), CLIP_FPS)
    shifted = np.roll(target[clip], 3, axis=2)
    keyframes = []
    for k in parsed.keyframes:
        ys, xs = np.nonzero(target[clip[k.frame]])
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)) if len(xs) else None
        pred = ((box[0] + 3, box[1], box[2] + 3, box[3]),) if box else ()
        keyframes.append(KeyframeDetail(k.frame, pred, (box,) if box else (), 0, k.description))
    overlap = MaskOverlap.of_clip(
        (shifted & target[clip]).sum(axis=(1, 2)).tolist(), (shifted | target[clip]).sum(axis=(1, 2)).tolist()
    )
    detail = DetailResult("ok", tuple(keyframes), masks=overlap).to_dict()
    metrics = score_response(text, gt.to_json(), extra, detail).to_metrics()
    return {"text": text, "ground_truth": gt.to_json(), "extra_info": extra, "detail": detail, "metrics": metrics}


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m omni_r1_verl.visualize.synthetic OUT [--height H --width W ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--height", type=int, default=360, help="frame height (default 360)")
    parser.add_argument("--width", type=int, default=640, help="frame width (default 640)")
    parser.add_argument("--frames", type=int, default=60, help="frames of the video (default 60)")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate (default 10)")
    parser.add_argument("--seed", type=int, default=3, help="scene seed (default 3)")
    args = parser.parse_args(argv)
    paths = render_synthetic(
        args.out, height=args.height, width=args.width, num_frames=args.frames, fps=args.fps, seed=args.seed
    )
    for name, path in paths.items():
        print(f"{name:9s} {path}")


if __name__ == "__main__":
    main()
