"""Synthetic ReVOS and MeViS datasets, in the published Sa2VA layouts (see the converters' docstrings).

What they exercise: frame ids with gaps (ReVOS samples every 5th frame), ``null`` RLE entries where an object has
not entered yet or has left, empty RLEs where it is fully occluded, multi-object expressions, referring and
reasoning types, ReVOS foreground masks (one video with a per-object list, as some files have), a no-target
expression in ReVOS ``valid``, and nested video names (``synth/train/vid000``, like ``UVO/all/<id>``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from omni_r1_verl.data.synthetic.scene import Scene, describe, random_scene


def coco_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE dict of one mask, as the Sa2VA files store it (counts as a string; empty masks too)."""
    from pycocotools import mask as coco_mask

    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def write_frames(directory: Path, names: list[str], frames: np.ndarray, quality: int = 90) -> None:
    """Write frames as JPEG files ``<directory>/<name>.jpg``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in zip(names, frames):
        Image.fromarray(frame).save(directory / f"{name}.jpg", quality=quality)


def write_json(path: Path, data: Any) -> None:
    """Write JSON (creating parent directories)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


def _object_rles(scene: Scene, masks: np.ndarray, obj: int) -> list[dict[str, Any] | None]:
    """Per-frame RLE of one object: ``None`` outside its presence, possibly an empty mask when occluded."""
    shape = scene.objects[obj]
    return [coco_rle(masks[obj, t]) if shape.enter <= t <= shape.leave else None for t in range(scene.num_frames)]


def _video(rng: np.random.Generator, num_frames: int, height: int, width: int) -> tuple[Scene, np.ndarray, np.ndarray]:
    scene = random_scene(rng, height, width, num_frames, int(rng.integers(2, 5)))
    frames, masks = scene.render()
    return scene, frames, masks


def _store_objects(scene: Scene, masks: np.ndarray, mask_dict: dict[str, Any], first_id: int) -> list[int]:
    """Put each object's per-frame RLEs into ``mask_dict`` under consecutive annotation ids from ``first_id``."""
    ids = list(range(first_id, first_id + len(scene.objects)))
    for obj, anno in enumerate(ids):
        mask_dict[str(anno)] = _object_rles(scene, masks, obj)
    return ids


@dataclass(frozen=True)
class SyntheticVideos:
    """How many and how large the videos of a synthetic VOS dataset are.

    Attributes:
        train_videos: Videos in the training split.
        valid_videos: Videos in the validation split (``valid`` for ReVOS, ``valid_u`` for MeViS).
        min_frames: Fewest frames per video.
        max_frames: Most frames per video.
        height: Frame height.
        width: Frame width.
    """

    train_videos: int = 4
    valid_videos: int = 2
    min_frames: int = 12
    max_frames: int = 40
    height: int = 96
    width: int = 160


def write_revos(out: str | Path, *, seed: int = 0, **sizes: int) -> Path:
    """Write a synthetic ReVOS (frames at the root, as in Sa2VA's copy).

    Args:
        out: Dataset root to create.
        seed: Seed of everything.
        **sizes: Fields of :class:`SyntheticVideos`.

    Returns:
        The dataset root.
    """
    size = SyntheticVideos(**sizes)
    root = Path(out)
    rng = np.random.default_rng(seed)
    mask_dict: dict[str, list[Any]] = {}
    foreground: dict[str, Any] = {}
    next_anno = 1000
    for split, count in (("train", size.train_videos), ("valid", size.valid_videos)):
        videos = {}
        for v in range(count):
            name = f"synth/{split}/vid{v:03d}"
            num_frames = int(rng.integers(size.min_frames, size.max_frames + 1))
            first = 5 * int(rng.integers(0, 20))
            frame_ids = [f"{first + 5 * k:05d}" for k in range(num_frames)]
            scene, frames, masks = _video(rng, num_frames, size.height, size.width)
            write_frames(root / name, frame_ids, frames)
            annos = _store_objects(scene, masks, mask_dict, next_anno + 1)
            next_anno += len(annos)
            if v == 0:  # some files store every object's RLE per frame instead of their union
                per_frame = [[coco_rle(m) for m in masks[:, t] if m.any()] or None for t in range(num_frames)]
                foreground[name] = {"masks_rle": per_frame}
            else:
                foreground[name] = {"masks_rle": [coco_rle(masks[:, t].any(axis=0)) for t in range(num_frames)]}
            expressions = {}
            for k, expr in enumerate(e for e in describe(scene) if e.kind != "motion" or rng.random() < 0.5):
                expressions[str(k)] = {
                    "exp": expr.text,
                    "obj_id": list(expr.objects),
                    "anno_id": [annos[o] for o in expr.objects],
                    "type_id": int(expr.kind == "reasoning"),
                }
            if split == "valid":
                expressions[str(len(expressions))] = {
                    "exp": "the orange star",
                    "obj_id": [],
                    "anno_id": [],
                    "type_id": 0,
                }
            videos[name] = {"vid_id": v, "height": size.height, "width": size.width, "frames": frame_ids}
            videos[name]["expressions"] = expressions
        write_json(root / f"meta_expressions_{split}_.json", {"videos": videos})
    write_json(root / "mask_dict.json", mask_dict)
    write_json(root / "mask_dict_foreground.json", foreground)
    return root


def write_mevis(out: str | Path, *, seed: int = 0, **sizes: int) -> Path:
    """Write a synthetic MeViS (``train`` and ``valid_u``; expressions favour motion).

    Args:
        out: Dataset root to create.
        seed: Seed of everything.
        **sizes: Fields of :class:`SyntheticVideos`.

    Returns:
        The dataset root.
    """
    size = SyntheticVideos(**sizes)
    root = Path(out)
    rng = np.random.default_rng(seed + 1)
    next_anno = 0
    for split, count in (("train", size.train_videos), ("valid_u", size.valid_videos)):
        videos, mask_dict = {}, {}
        for v in range(count):
            name = f"{rng.integers(16**11):011x}{v}"
            num_frames = int(rng.integers(size.min_frames, size.max_frames + 1))
            frame_ids = [f"{k:05d}" for k in range(num_frames)]
            scene, frames, masks = _video(rng, num_frames, size.height, size.width)
            write_frames(root / split / "JPEGImages" / name, frame_ids, frames)
            annos = _store_objects(scene, masks, mask_dict, next_anno)
            next_anno += len(annos)
            chosen = [e for e in describe(scene) if e.kind != "reasoning"]
            expressions = {
                str(k): {"exp": e.text, "obj_id": list(e.objects), "anno_id": [annos[o] for o in e.objects]}
                for k, e in enumerate(chosen)
            }
            videos[name] = {"frames": frame_ids, "expressions": expressions}
        write_json(root / split / "meta_expressions.json", {"videos": videos})
        write_json(root / split / "mask_dict.json", mask_dict)
    return root
