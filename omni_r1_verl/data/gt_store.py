"""The ground-truth store: every sample's masks, by key, for detail workers, rewards and evaluators.

Rows stay small because masks never travel in them. ``omni-r1 prepare`` writes one store per prepared split::

    <store>/manifest.json   format name and version, counts
    <store>/index.json      objects (where their record is, size, checksum) and samples (key -> objects, metadata)
    <store>/objects.bin     one record per ground-truth object: (F + 1) little-endian uint32 offsets, then
                            F compressed COCO RLE strings (empty string = object absent in that frame)

An object (a ReVOS ``anno_id``, a RefAVS ``fid``) is stored once however many expressions refer to it. Readers map
``objects.bin`` read-only, so any number of processes share one copy in the page cache. Files are treated as
untrusted: JSON only (no pickle), every offset is bounds-checked, every record is checksummed, and every RLE string
is parsed and checked in numpy (:mod:`omni_r1_verl.data.rle`) before it is decoded.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from omni_r1_verl.data import rle
from omni_r1_verl.utils import fast_json

FORMAT = "omni-r1-gt-store"
VERSION = 1
MANIFEST = "manifest.json"
INDEX = "index.json"
OBJECTS = "objects.bin"


class GroundTruthStoreError(RuntimeError):
    """The store is missing, from another format version, or damaged (the message names the file and the key)."""


@dataclass(frozen=True)
class GTEntry:
    """One sample of the store.

    Attributes:
        key: The sample key (``GroundTruth.gt_key``).
        num_frames: Frames of the full video.
        height: Frame height in pixels.
        width: Frame width in pixels.
        objects: Record indices of the sample's ground-truth objects (one per referred object).
        foreground: Record index of the all-object foreground masks (ReVOS robustness), or ``-1``.
        meta: Free-form metadata (dataset, split, video, expression, frame names, source object ids).
    """

    key: str
    num_frames: int
    height: int
    width: int
    objects: tuple[int, ...]
    foreground: int = -1
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def num_objects(self) -> int:
        """Number of ground-truth objects (0 for an expression that refers to nothing)."""
        return len(self.objects)


def encode_record(frames: Sequence[bytes]) -> bytes:
    """One object's record: ``F + 1`` little-endian uint32 offsets, then its ``F`` RLE strings.

    Args:
        frames: Compressed COCO RLE per frame (``b""`` when the object is absent).

    Raises:
        ValueError: If there are no frames.
    """
    if not frames:
        raise ValueError("an object needs at least one frame")
    offsets = np.zeros(len(frames) + 1, dtype="<u4")
    offsets[1:] = np.cumsum([len(s) for s in frames])
    return offsets.tobytes() + b"".join(frames)


def decode_record(record: bytes, num_frames: int) -> list[bytes]:
    """The per-frame RLE strings of a record made by :func:`encode_record` (offsets are checked).

    Raises:
        ValueError: If the offsets do not describe ``record``.
    """
    bounds = _frame_bounds(record, num_frames)
    return [record[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _check_record_size(nbytes: int, num_frames: int) -> None:
    if num_frames < 1 or nbytes < 4 * (num_frames + 1):
        raise ValueError(f"a record of {nbytes} bytes cannot hold {num_frames} frames")


def _frame_bounds(record: bytes | memoryview, num_frames: int) -> list[int]:
    """Byte positions in ``record`` where each frame's string starts, then where the last one ends (checked).

    Raises:
        ValueError: If the record is too short or its offsets do not describe it.
    """
    _check_record_size(len(record), num_frames)
    head = 4 * (num_frames + 1)
    offsets = np.frombuffer(record, dtype="<u4", count=num_frames + 1).astype(np.int64)
    if offsets[0] != 0 or (np.diff(offsets) < 0).any() or offsets[-1] != len(record) - head:
        raise ValueError("record offsets do not match its size")
    return (offsets + head).tolist()


@dataclass(frozen=True)
class _ObjectRecord:
    offset: int
    nbytes: int
    num_frames: int
    height: int
    width: int
    crc32: int


class GroundTruthWriter:
    """Append-only writer of a store (one writer per store, in one process).

    Example:
        >>> with GroundTruthWriter(tmp / "gt") as writer:  # doctest: +SKIP
        ...     obj = writer.add_object([b"", rle_frame_1], height=480, width=854)
        ...     writer.add_sample("revos/train/v/0", [obj], num_frames=2, height=480, width=854)
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._data = open(self.root / OBJECTS, "wb")  # noqa: SIM115 - closed in close()
        self._offset = 0
        self._objects: list[list[int]] = []
        self._samples: dict[str, dict[str, Any]] = {}

    def add_object(self, frames: Sequence[bytes], height: int, width: int) -> int:
        """Append one object's per-frame RLE strings.

        Args:
            frames: Compressed COCO RLE per frame (``b""`` when the object is absent); already checked by
                :func:`omni_r1_verl.data.rle.parse`.
            height: Mask height.
            width: Mask width.

        Returns:
            The object's record index.
        """
        return self.add_record(encode_record(frames), len(frames), height, width)

    def add_record(self, record: bytes, num_frames: int, height: int, width: int, crc32: int | None = None) -> int:
        """Append a record made by :func:`encode_record` (conversion workers build records, the writer appends).

        Args:
            record: The encoded object.
            num_frames: Frames in the record.
            height: Mask height.
            width: Mask width.
            crc32: ``zlib.crc32(record)`` when the caller has it already.

        Returns:
            The object's record index.
        """
        _check_record_size(len(record), num_frames)
        self._data.write(record)
        checksum = zlib.crc32(record) if crc32 is None else crc32
        self._objects.append([self._offset, len(record), num_frames, height, width, checksum])
        self._offset += len(record)
        return len(self._objects) - 1

    def add_sample(
        self,
        key: str,
        objects: Sequence[int],
        num_frames: int,
        height: int,
        width: int,
        foreground: int = -1,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Register a sample made of already added objects.

        Args:
            key: Unique sample key.
            objects: Record indices from :meth:`add_object`, one per ground-truth object (may be empty).
            num_frames: Frames of the video.
            height: Frame height.
            width: Frame width.
            foreground: Record index of the foreground masks, or ``-1``.
            meta: JSON-serialisable metadata.

        Raises:
            ValueError: On a duplicate key or objects whose size does not match the sample.
        """
        if key in self._samples:
            raise ValueError(f"duplicate ground-truth key {key!r}")
        for obj in [*objects, *([foreground] if foreground >= 0 else [])]:
            _, _, frames, h, w, _ = self._objects[obj]
            if (frames, h, w) != (num_frames, height, width):
                raise ValueError(f"object {obj} is {frames}x{h}x{w}, sample {key!r} is {num_frames}x{height}x{width}")
        self._samples[key] = {
            "objects": list(objects),
            "foreground": foreground,
            "num_frames": num_frames,
            "height": height,
            "width": width,
            "meta": dict(meta or {}),
        }

    def close(self) -> None:
        """Flush the data and write the index, then the manifest (readers check the manifest first)."""
        if self._data.closed:
            return
        self._data.close()
        _write_json(self.root / INDEX, {"objects": self._objects, "samples": self._samples})
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "num_samples": len(self._samples),
            "num_objects": len(self._objects),
            "bytes": self._offset,
        }
        _write_json(self.root / MANIFEST, manifest)

    def __enter__(self) -> GroundTruthWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(fast_json.dumps(data))
    os.replace(tmp, path)


class GroundTruthStore:
    """Read-only access to a store; safe to share between threads, cheap to open once per process.

    Args:
        root: Store directory (``<out>/<split>.gt``).

    Raises:
        GroundTruthStoreError: If the store is missing, of another format version, or inconsistent.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        manifest = self._load_json(MANIFEST)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise GroundTruthStoreError(f"{self.root / MANIFEST} is not an {FORMAT} manifest")
        if manifest.get("version") != VERSION:
            raise GroundTruthStoreError(
                f"{self.root} is store version {manifest.get('version')}, this code reads version {VERSION}"
            )
        index = self._load_json(INDEX)
        data_path = self.root / OBJECTS
        size = data_path.stat().st_size if data_path.is_file() else -1
        if size < 0:
            raise GroundTruthStoreError(f"{data_path} is missing")
        try:
            self._objects = [_ObjectRecord(*(int(v) for v in rec)) for rec in index["objects"]]
            self._entries = {
                str(key): GTEntry(
                    key=str(key),
                    num_frames=int(s["num_frames"]),
                    height=int(s["height"]),
                    width=int(s["width"]),
                    objects=tuple(int(o) for o in s["objects"]),
                    foreground=int(s.get("foreground", -1)),
                    meta=dict(s.get("meta", {})),
                )
                for key, s in index["samples"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise GroundTruthStoreError(f"{self.root / INDEX} is malformed: {err!r}") from err
        for i, rec in enumerate(self._objects):
            if rec.offset < 0 or rec.nbytes < 4 * (rec.num_frames + 1) or rec.offset + rec.nbytes > size:
                raise GroundTruthStoreError(f"object record {i} lies outside {data_path} ({size} bytes)")
        for entry in self._entries.values():
            for obj in [*entry.objects, *([entry.foreground] if entry.foreground >= 0 else [])]:
                if not 0 <= obj < len(self._objects):
                    raise GroundTruthStoreError(f"sample {entry.key!r} refers to missing object {obj}")
                rec = self._objects[obj]
                if (rec.num_frames, rec.height, rec.width) != (entry.num_frames, entry.height, entry.width):
                    raise GroundTruthStoreError(f"sample {entry.key!r}: object {obj} does not match its size")
        self._map: mmap.mmap | bytes = b""
        if size > 0:
            with open(data_path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)

    def _load_json(self, name: str) -> Any:
        path = self.root / name
        try:
            return fast_json.loads(path.read_bytes())
        except FileNotFoundError as err:
            raise GroundTruthStoreError(f"ground-truth store file {path} not found") from err
        except (OSError, ValueError) as err:
            raise GroundTruthStoreError(f"cannot read {path}: {err}") from err

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickle by path: a store sent to another process (e.g. a Ray actor) reopens the files there."""
        return _open_cached, (str(self.root.resolve()),)

    @classmethod
    def open(cls, root: str | Path) -> GroundTruthStore:
        """The store at ``root``, opened once per process and cached (what workers should call).

        Args:
            root: Store directory.

        Returns:
            The shared reader.
        """
        return _open_cached(str(Path(root).resolve()))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        """All sample keys, in insertion order."""
        return list(self._entries)

    def entry(self, key: str) -> GTEntry:
        """Sizes, objects and metadata of one sample.

        Raises:
            KeyError: If the key is not in the store.
        """
        try:
            return self._entries[key]
        except KeyError:
            raise KeyError(f"{key!r} is not in the ground-truth store {self.root}") from None

    def _runs(self, obj: int, frames: np.ndarray) -> rle.Runs:
        rec = self._objects[obj]
        raw = self._map[rec.offset : rec.offset + rec.nbytes]
        if zlib.crc32(raw) != rec.crc32:
            raise GroundTruthStoreError(f"object record {obj} of {self.root / OBJECTS} fails its checksum")
        try:
            bounds = _frame_bounds(raw, rec.num_frames)
        except ValueError:
            raise GroundTruthStoreError(f"object record {obj} of {self.root / OBJECTS} has corrupt offsets") from None
        strings = [raw[bounds[f] : bounds[f + 1]] for f in frames]
        try:
            return rle.parse(strings, rec.height, rec.width)
        except rle.RLEError as err:
            raise GroundTruthStoreError(f"object record {obj} of {self.root / OBJECTS}: {err}") from err

    def _frames(self, entry: GTEntry, frame_indices: Sequence[int] | np.ndarray | None) -> np.ndarray:
        if frame_indices is None:
            return np.arange(entry.num_frames, dtype=np.int64)
        frames = np.asarray(frame_indices, dtype=np.int64).reshape(-1)
        if len(frames) and (frames.min() < 0 or frames.max() >= entry.num_frames):
            raise IndexError(f"frame indices of {entry.key!r} must lie in [0, {entry.num_frames})")
        return frames

    def masks(self, key: str, frame_indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Ground-truth masks of a sample.

        Args:
            key: Sample key.
            frame_indices: Frames to return (any order, repeats allowed); all frames when ``None``.

        Returns:
            ``bool`` array ``(num_objects, len(frame_indices), H, W)``.
        """
        entry = self.entry(key)
        frames = self._frames(entry, frame_indices)
        out = np.empty((entry.num_objects, len(frames), entry.height, entry.width), dtype=bool)
        for i, obj in enumerate(entry.objects):
            self._runs(obj, frames).decode(out=out[i])
        return out

    def areas(self, key: str, frame_indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Mask pixel counts, computed from the runs without decoding.

        Returns:
            ``int64`` array ``(num_objects, len(frame_indices))``.
        """
        entry = self.entry(key)
        frames = self._frames(entry, frame_indices)
        out = np.zeros((entry.num_objects, len(frames)), dtype=np.int64)
        for i, obj in enumerate(entry.objects):
            out[i] = self._runs(obj, frames).areas()
        return out

    def boxes(self, key: str, frame_indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Per-object per-frame boxes, computed from the runs without decoding.

        Returns:
            ``int64`` array ``(num_objects, len(frame_indices), 4)`` of inclusive pixel extents
            ``[x1, y1, x2, y2]`` in original pixels; ``[-1, -1, -1, -1]`` where the object is absent.
        """
        entry = self.entry(key)
        frames = self._frames(entry, frame_indices)
        out = np.zeros((entry.num_objects, len(frames), 4), dtype=np.int64)
        for i, obj in enumerate(entry.objects):
            out[i] = self._runs(obj, frames).boxes()
        return out

    def foreground(self, key: str, frame_indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray | None:
        """Foreground masks of every annotated object in the video (ReVOS robustness metric R).

        Returns:
            ``bool`` array ``(len(frame_indices), H, W)``, or ``None`` when the dataset has none for this sample.
        """
        entry = self.entry(key)
        if entry.foreground < 0:
            return None
        return self._runs(entry.foreground, self._frames(entry, frame_indices)).decode()


@lru_cache(maxsize=16)
def _open_cached(root: str) -> GroundTruthStore:
    return GroundTruthStore(root)
