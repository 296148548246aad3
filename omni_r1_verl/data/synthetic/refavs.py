"""Synthetic RefAVS datasets in the RefAVSBench layout, and synthetic media for a real ``metadata.csv``.

Each video is a scene of distinct shapes, one or two of which are sounding: the audio is the mix of their tones
(each shape has its own pitch), so "the object making the high-pitched sound" is answerable from the audio and
the frames together. The metadata reproduces the published file's quirks: null expressions with
``null_<c>-<vid>_null_<n>`` uids (in ``test_n`` and in ``train``), rows whose split is ``TODO``, and trailing
spaces in expressions.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from omni_r1_verl.data.media import AUDIO_SAMPLE_RATE
from omni_r1_verl.data.synthetic.scene import PITCH, Scene, random_scene

COLUMNS = ("vid", "uid", "split", "fid", "exp")
_SPLITS = ("train", "val", "test_s", "test_u", "test_n")


def write_video_media(root: Path, vid: str, scene: Scene, sounding: list[int], audio_seconds: float) -> None:
    """Frames, audio and every object's masks of one video, in the RefAVSBench layout.

    Args:
        root: Dataset root.
        vid: Video id.
        scene: The scene (object ``i`` is ``fid`` ``i``).
        sounding: Sounding objects.
        audio_seconds: Audio duration.
    """
    frames, masks = scene.render()
    frame_dir = root / "media" / vid / "frames"
    frame_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(frame_dir / f"{i}.jpg", quality=90)
    sf.write(root / "media" / vid / "audio.wav", scene.audio(sounding, audio_seconds), AUDIO_SAMPLE_RATE)
    for fid in range(len(scene.objects)):
        mask_dir = root / "gt_mask" / vid / f"fid_{fid}"
        mask_dir.mkdir(parents=True, exist_ok=True)
        for i in range(scene.num_frames):
            Image.fromarray(masks[fid, i].astype(np.uint8) * 255).save(mask_dir / f"{i:05d}.png")


def _expressions(scene: Scene, fid: int, sounding: bool) -> list[str]:
    obj = scene.objects[fid]
    if sounding:
        return [f"The object making the {PITCH[obj.shape]} sound.", f"The sounding {obj.colour} {obj.shape} "]
    return [f"The silent {obj.colour} {obj.shape}.", f"The {obj.shape} that makes no sound."]


def write_refavs(
    out: str | Path,
    *,
    seed: int = 0,
    videos: int = 10,
    frames: int = 10,
    height: int = 96,
    width: int = 160,
    audio_seconds: float = 10.0,
) -> Path:
    """Write a synthetic RefAVSBench.

    Args:
        out: Dataset root to create.
        seed: Seed of everything.
        videos: Videos, dealt round-robin to train, val, test_s, test_u and test_n.
        frames: Frames per video (RefAVSBench has 10).
        height: Frame height.
        width: Frame width.
        audio_seconds: Audio duration (RefAVSBench clips are 10 s).

    Returns:
        The dataset root.
    """
    root = Path(out)
    rng = np.random.default_rng(seed + 2)
    rows: list[tuple[str, str, str, int, str]] = []
    for v in range(videos):
        split = _SPLITS[v % len(_SPLITS)]
        vid = f"syn{v:04d}{rng.integers(16**6):06x}_{1000 * v}_{1000 * v + 10_000}"
        scene = random_scene(
            rng, height, width, frames, int(rng.integers(2, 4)), distinct_shapes=True, allow_absence=False
        )
        sounding = sorted(rng.choice(len(scene.objects), int(rng.integers(1, 3)), replace=False).tolist())
        write_video_media(root, vid, scene, sounding, audio_seconds)
        if split == "test_n":
            for n, text in enumerate(("The object making a whistling sound", "The object playing a melody"), 1):
                rows.append((vid, f"null_c-{vid}_null_{n}", split, 0, text))
            continue
        for fid, obj in enumerate(scene.objects):
            for n, text in enumerate(_expressions(scene, fid, fid in sounding), 1):
                rows.append((vid, f"{vid}_{obj.shape}_{n}", split, fid, text))
        if split == "train":
            rows.append((vid, f"null_m-{vid}_null_1", split, 0, "The object making a whistling sound"))
        if v == 0:
            rows.append((vid, f"{vid}_{scene.objects[0].shape}_9", "TODO", 0, "The object making the loudest sound."))
    with open(root / "metadata.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return root


def write_refavs_media(
    out: str | Path,
    metadata: str | Path,
    *,
    max_videos: int | None = None,
    videos: Sequence[str] | None = None,
    seed: int = 0,
    height: int = 64,
    width: int = 96,
    audio_seconds: float = 2.0,
) -> tuple[Path, list[str]]:
    """Synthesise media for the videos of an existing ``metadata.csv`` (e.g. the real RefAVSBench one).

    Args:
        out: Dataset root to create; ``metadata.csv`` is copied into it unchanged.
        metadata: The metadata file.
        max_videos: Only the first videos (in file order), to keep tests small; the others get no media.
        videos: Exactly these videos (overrides ``max_videos``).
        seed: Seed of everything.
        height: Frame height.
        width: Frame width.
        audio_seconds: Audio duration.

    Returns:
        The dataset root and the video ids that received media.
    """
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(metadata, root / "metadata.csv")
    fids: dict[str, int] = {}
    with open(metadata, newline="", encoding="utf-8") as handle:
        for rec in csv.DictReader(handle):
            vid = rec["vid"].strip()
            fid = int(rec["fid"]) if rec["fid"].strip().isdigit() else 0
            fids[vid] = max(fids.get(vid, 0), fid)
    chosen = [v for v in videos if v in fids] if videos is not None else list(fids)[:max_videos]
    rng = np.random.default_rng(seed + 3)
    for vid in chosen:
        count = fids[vid] + 1
        scene = random_scene(rng, height, width, 10, count, distinct_shapes=count <= 3, allow_absence=False)
        write_video_media(root, vid, scene, [0], audio_seconds)
    return root, chosen
