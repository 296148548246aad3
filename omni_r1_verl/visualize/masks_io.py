"""The ``masks/`` folder: COCO RLE masks per frame and object, one small JSON file per frame plus an index.

Layout::

    masks/
      index.json            {"format": "omni-r1-masks", "version": 1, "height": H, "width": W,
                             "objects": [{"id": 1, "name": "..."}, ...],
                             "frames": [{"frame": 0, "time_s": 0.0, "file": "frame_000000.json",
                                         "objects": [1]}, ...]}
      frame_000000.json     {"frame": 0, "time_s": 0.0,
                             "masks": {"1": {"size": [H, W], "counts": "<COCO compressed RLE>"}}}

Each mask value is a standard COCO RLE object (``pycocotools.mask.decode`` reads it as is); an object missing from
a frame's ``masks`` has an empty mask there. ``index.json`` is written last (atomically), so a folder without it is
an unfinished write. Frames are written as they come (:class:`MaskWriter` streams); :class:`MaskReader` checks
every file name and run-length string (:mod:`omni_r1_verl.data.rle`) before decoding.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from omni_r1_verl.data import rle

FORMAT = "omni-r1-masks"
VERSION = 1
INDEX = "index.json"
_FRAME_FILE = re.compile(r"^frame_\d{6,}\.json$")


class MaskFolderError(ValueError):
    """A masks folder is incomplete or malformed (the message names the file and the reason)."""


def frame_file(frame: int) -> str:
    """File name of frame ``frame``'s masks."""
    return f"frame_{int(frame):06d}.json"


class MaskWriter:
    """Write a masks folder frame by frame.

    Args:
        directory: The folder (created; existing frame files of the same names are replaced).
        object_names: Optional display name per object id (e.g. the box's description).

    Example::

        with MaskWriter(out / "masks") as writer:
            for t, frame in enumerate(frames):
                writer.add(t, frame.masks, time_s=frame.time_s)
    """

    def __init__(self, directory: str | Path, object_names: Mapping[int, str] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.object_names = {int(k): str(v) for k, v in (object_names or {}).items()}
        self._size: tuple[int, int] | None = None
        self._frames: dict[int, dict] = {}
        self._objects: set[int] = set()

    def add(self, frame: int, masks: Mapping[int, np.ndarray], time_s: float | None = None) -> None:
        """Write one frame's masks.

        Args:
            frame: Frame number in the video (unique).
            masks: Object id -> ``bool (H, W)``; every mask of the folder has the same size.
            time_s: Presentation time, recorded when given.
        """
        frame = int(frame)
        if frame < 0 or frame in self._frames:
            raise ValueError(f"frame {frame}: frame numbers must be unique and >= 0")
        ids = [int(i) for i in masks]
        arrays = [np.asarray(masks[i]) for i in masks]
        for obj_id, mask in zip(ids, arrays):
            if mask.ndim != 2:
                raise ValueError(f"frame {frame}, object {obj_id}: expected an (H, W) mask, got {mask.shape}")
            if self._size is None:
                self._size = mask.shape
            elif mask.shape != self._size:
                raise ValueError(f"frame {frame}, object {obj_id}: mask {mask.shape}, the folder's are {self._size}")
        encoded = rle.encode(np.stack(arrays)) if arrays else []
        h, w = self._size or (0, 0)
        timing = {} if time_s is None else {"time_s": float(time_s)}
        coco = {str(i): {"size": [h, w], "counts": c.decode("ascii")} for i, c in zip(ids, encoded) if c}
        _write_json(self.directory / frame_file(frame), {"frame": frame, **timing, "masks": coco})
        self._objects.update(ids)
        self._frames[frame] = {"frame": frame, **timing, "file": frame_file(frame), "objects": [int(i) for i in coco]}

    def close(self) -> Path:
        """Write ``index.json``; returns its path."""
        h, w = self._size or (0, 0)
        objects = sorted(self._objects | set(self.object_names))
        index = {
            "format": FORMAT,
            "version": VERSION,
            "height": h,
            "width": w,
            "objects": [
                {"id": i, **({"name": self.object_names[i]} if i in self.object_names else {})} for i in objects
            ],
            "frames": [self._frames[f] for f in sorted(self._frames)],
        }
        path = self.directory / INDEX
        _write_json(path, index)
        return path

    def __enter__(self) -> MaskWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(tmp, path)


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise MaskFolderError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise MaskFolderError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise MaskFolderError(f"{path}: expected a JSON object")
    return data


def _int(value, where: str, low: int = 0, high: int = 2**31) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MaskFolderError(f"{where}: expected an integer in [{low}, {high}], got {value!r}")
    return value


class MaskReader:
    """Read a masks folder written by :class:`MaskWriter`.

    Args:
        directory: The folder.

    Raises:
        MaskFolderError: If ``index.json`` is missing (an unfinished write) or malformed.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        where = self.directory / INDEX
        index = _load(where)
        if index.get("format") != FORMAT or index.get("version") != VERSION:
            raise MaskFolderError(f"{where}: not an {FORMAT} v{VERSION} index")
        frames_raw, objects_raw = index.get("frames"), index.get("objects")
        if not isinstance(frames_raw, list) or not isinstance(objects_raw, list):
            raise MaskFolderError(f"{where}: 'frames' and 'objects' must be lists")
        self.height = _int(index.get("height"), f"{where} height", 0, rle.MAX_SIDE)
        self.width = _int(index.get("width"), f"{where} width", 0, rle.MAX_SIDE)
        self.objects: dict[int, str | None] = {}
        for obj in objects_raw:
            if not isinstance(obj, dict):
                raise MaskFolderError(f"{where}: object entries must be objects")
            name = obj.get("name")
            self.objects[_int(obj.get("id"), f"{where} object id", -(2**31))] = name if isinstance(name, str) else None
        self._entries: dict[int, dict] = {}
        for entry in frames_raw:
            if not isinstance(entry, dict):
                raise MaskFolderError(f"{where}: frame entries must be objects")
            frame = _int(entry.get("frame"), f"{where} frame")
            name = entry.get("file")
            if not isinstance(name, str) or not _FRAME_FILE.match(name):
                raise MaskFolderError(f"{where}: frame {frame} names file {name!r}, expected frame_NNNNNN.json")
            time_s = entry.get("time_s")
            if time_s is not None and (not isinstance(time_s, (int, float)) or not math.isfinite(time_s)):
                raise MaskFolderError(f"{where}: frame {frame} has time_s {time_s!r}")
            self._entries[frame] = {"file": name, "time_s": time_s}

    @property
    def frames(self) -> list[int]:
        """Frame numbers with a file, ascending."""
        return sorted(self._entries)

    def time_s(self, frame: int) -> float | None:
        """Recorded time of ``frame`` (``None`` when not recorded)."""
        return self._entries[frame]["time_s"]

    def read(self, frame: int) -> dict[int, np.ndarray]:
        """Masks of one frame.

        Args:
            frame: A frame number of :attr:`frames`.

        Returns:
            Object id -> ``bool (height, width)`` for every object with a non-empty mask in the frame.

        Raises:
            KeyError: If the folder has no file for ``frame``.
            MaskFolderError: If the file is malformed or a run-length string does not describe the folder's size.
        """
        path = self.directory / self._entries[frame]["file"]
        record = _load(path)
        masks = record.get("masks")
        if not isinstance(masks, dict):
            raise MaskFolderError(f"{path}: 'masks' must be an object")
        ids, strings = [], []
        for key, value in masks.items():
            try:
                obj_id = int(key)
            except ValueError:
                raise MaskFolderError(f"{path}: object key {key!r} is not an integer") from None
            if not isinstance(value, dict) or not isinstance(value.get("counts"), str):
                raise MaskFolderError(f"{path}: object {obj_id} is not a COCO RLE object")
            if value.get("size") != [self.height, self.width]:
                raise MaskFolderError(
                    f"{path}: object {obj_id} has size {value.get('size')!r}, expected {[self.height, self.width]}"
                )
            ids.append(obj_id)
            strings.append(value["counts"])
        if not ids:
            return {}
        try:
            decoded = rle.parse(strings, self.height, self.width).decode()
        except rle.RLEError as err:
            raise MaskFolderError(f"{path}: {err}") from err
        return dict(zip(ids, decoded))

    def __iter__(self) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """``(frame, masks)`` for every frame, ascending."""
        for frame in self.frames:
            yield frame, self.read(frame)
