"""What every dataset converter shares: work units, results, media checks, safe paths, strict JSON.

A converter reads a dataset's metadata once in the parent process (:meth:`Converter.load`), splits the work into
units (one video, or a chunk of images) and converts each unit in a worker process (:meth:`Converter.convert`),
returning rows, ground-truth objects and issues. :mod:`omni_r1_verl.data.prepare` runs the units and writes
everything; converters never write rows or the store themselves.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from omni_r1_verl.contracts.rows import UnsafePathError, resolve_under_root
from omni_r1_verl.data import rle
from omni_r1_verl.data.gt_store import decode_record, encode_record
from omni_r1_verl.data.media import MediaError, image_size, load_audio, load_image
from omni_r1_verl.data.report import DatasetLayoutError, Issue
from omni_r1_verl.utils import fast_json

logger = logging.getLogger(__name__)


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders ``"2"`` before ``"10"`` (frame ids, expression ids, file names)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text))


class VerifyMedia(str, Enum):
    """How thoroughly media files are checked during conversion."""

    #: The file exists (the first frame of each video is also opened to read its size).
    EXISTS = "exists"
    #: The file's header parses (image size, audio format): catches wrong or truncated-at-the-start files.
    HEADER = "header"
    #: Every frame and audio track is fully decoded: catches any corruption, at decoding cost.
    FULL = "full"


@dataclass(frozen=True)
class Unit:
    """A piece of work converted by one worker call.

    Attributes:
        key: What the converter needs to find the unit's data (a video name, a chunk id).
        samples: Sample ids to produce from this unit.
    """

    key: str
    samples: tuple[str, ...]


@dataclass
class GTObject:
    """One ground-truth object: a checked RLE string per frame (``b""`` = absent)."""

    frames: list[bytes]
    height: int
    width: int

    @property
    def num_frames(self) -> int:
        """Frames of the object (known without decoding a received record)."""
        return len(self.__dict__["frames"]) if "frames" in self.__dict__ else self._num_frames

    @cached_property
    def runs(self) -> rle.Runs:
        """The parsed runs (for areas and boxes), computed once per object."""
        return rle.parse(self.frames, self.height, self.width)

    @cached_property
    def areas(self) -> list[int]:
        """Mask area per frame."""
        return self.runs.areas().tolist()

    @cached_property
    def record(self) -> bytes:
        """The object's ground-truth store record (:func:`omni_r1_verl.data.gt_store.encode_record`)."""
        return encode_record(self.frames)

    @cached_property
    def crc32(self) -> int:
        """Checksum of :attr:`record`."""
        return zlib.crc32(self.record)

    # Conversion workers send objects to the main process as one record each, checksummed on the worker's core:
    # one bytes object on the pipe instead of one per frame, and never the cached runs. The main process only
    # appends records to the store, so the frames are split out of the record only if something asks for them.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "crc32": self.crc32,
            "num_frames": len(self.frames),
            "height": self.height,
            "width": self.width,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.height, self.width = state["height"], state["width"]
        self.record, self.crc32 = state["record"], state["crc32"]
        self._num_frames = state["num_frames"]

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: ``frames`` of an unpickled object, decoded on first use.
        if name == "frames" and "_num_frames" in self.__dict__:
            self.frames = decode_record(self.record, self._num_frames)
            return self.frames
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@dataclass
class GTSample:
    """A sample's entry in the ground-truth store; object indices are local to the unit's ``objects``."""

    objects: list[int]
    num_frames: int
    height: int
    width: int
    foreground: int = -1
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SampleResult:
    """A converted sample: its row and, for mask datasets, its store entry."""

    sample_id: str
    row: dict[str, Any]
    gt: GTSample | None = None


@dataclass
class UnitResult:
    """Everything a unit produced."""

    objects: list[GTObject] = field(default_factory=list)
    samples: list[SampleResult] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


class SkipSamples(Exception):
    """Raised inside a converter to skip samples; carries the issues that explain why."""

    def __init__(self, *issues: Issue) -> None:
        super().__init__("; ".join(i.message for i in issues))
        self.issues = list(issues)


class Converter(ABC):
    """Base class of the dataset converters (registered by name in :mod:`omni_r1_verl.data.converters`).

    Args:
        root: Dataset root, as published.
        split: One of :attr:`splits`.
        verify_media: How thoroughly to check media files.
        media_out: Directory for media the converter extracts (datasets that embed images); ``None`` otherwise.
    """

    #: Registry name and ``data_source`` of the rows.
    name: ClassVar[str]
    #: Splits the converter accepts.
    splits: ClassVar[tuple[str, ...]]
    #: Whether samples have masks (and so a ground-truth store).
    has_masks: ClassVar[bool] = True
    #: Whether the converter writes media files under ``media_out`` (rows then point there).
    writes_media: ClassVar[bool] = False

    def __init__(
        self,
        root: str | Path,
        split: str,
        verify_media: VerifyMedia | str = VerifyMedia.HEADER,
        media_out: str | Path | None = None,
    ) -> None:
        if split not in self.splits:
            raise ValueError(f"{self.name} has splits {', '.join(self.splits)}; got {split!r}")
        self.root = Path(root).resolve()
        self.split = split
        self.verify_media = VerifyMedia(verify_media)
        self.media_out = Path(media_out) if media_out is not None else None

    @abstractmethod
    def load(self) -> tuple[list[Unit], list[Issue]]:
        """Read the metadata (in the parent process) and plan the work.

        Returns:
            The units, in output order, and the issues found in the metadata itself.

        Raises:
            DatasetLayoutError: If the dataset cannot be read at all.
        """

    @abstractmethod
    def convert(self, unit: Unit) -> UnitResult:
        """Convert one unit (in a worker process). Problems become issues; this should not raise."""

    def sample_id(self, *parts: str) -> str:
        """A unique sample id: ``<dataset>/<split>/<parts...>``."""
        return "/".join([self.name, self.split, *parts])

    def rel(self, path: str | Path) -> str:
        """``path`` relative to the dataset root when inside it (for reports), else as given."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, relative: str, samples: Sequence[str]) -> Path:
        """Resolve a metadata path inside the root, or skip ``samples`` with an ``unsafe_path`` issue."""
        try:
            return resolve_under_root(self.root, relative)
        except UnsafePathError as err:
            raise SkipSamples(Issue("unsafe_path", str(err), file=relative, samples=list(samples))) from err

    def resolve_many(self, relative: Sequence[str], samples: Sequence[str]) -> list[str]:
        """:meth:`resolve` for many files: each directory is resolved once, only symlinked files individually.

        Returns:
            Absolute paths (strings: cheaper than ``Path`` objects for thousands of frames).
        """
        directories: dict[str, str] = {}
        out = []
        for rel_path in relative:
            parent, _, name = rel_path.rpartition("/")
            if parent not in directories:
                directories[parent] = str(self.resolve(parent or ".", samples))
            path = os.path.join(directories[parent], name)
            if name in ("", ".", "..") or os.path.islink(path):
                path = str(self.resolve(rel_path, samples))
            out.append(path)
        return out

    def check_frames(
        self, relative: Sequence[str], samples: Sequence[str], source: str = ""
    ) -> tuple[int, int, list[Issue]]:
        """Check a video's frames as :attr:`verify_media` asks and read its size from the first frame.

        Args:
            relative: Frame paths relative to the root, in temporal order.
            samples: Samples to skip when a frame is bad.
            source: Where the frame list comes from (for the ``no_frames`` entry).

        Returns:
            ``(height, width, warnings)``.

        Raises:
            SkipSamples: On an unsafe, missing or corrupt frame, or no frames at all.
        """
        samples = list(samples)
        if not relative:
            raise SkipSamples(Issue("no_frames", "the video has no frames", source, samples))
        paths = self.resolve_many(relative, samples)
        problems = []
        for rel_path, path in zip(relative, paths):
            if not os.path.isfile(path):
                problems.append(Issue("missing_frame", "frame not found", file=rel_path, samples=samples))
        if problems:
            raise SkipSamples(*problems)
        sizes = []
        for i, (rel_path, path) in enumerate(zip(relative, paths)):
            if i > 0 and self.verify_media is VerifyMedia.EXISTS:
                break
            try:
                if self.verify_media is VerifyMedia.FULL:
                    img = load_image(path)
                    sizes.append((img.height, img.width))
                else:
                    sizes.append(image_size(path))
            except MediaError as err:
                problems.append(Issue("corrupt_frame", str(err.__cause__ or err), file=rel_path, samples=samples))
        if problems:
            raise SkipSamples(*problems)
        height, width = sizes[0]
        warnings = []
        odd = [r for r, s in zip(relative, sizes) if s != (height, width)]
        if odd:
            message = f"{len(odd)} frames differ from the first frame's {height}x{width} (first: {odd[0]})"
            warnings.append(Issue("frame_size_mismatch", message, file=odd[0], samples=samples))
        return height, width, warnings

    def check_audio(self, relative: str, samples: Sequence[str]) -> None:
        """Check an audio file as :attr:`verify_media` asks.

        Raises:
            SkipSamples: On an unsafe, missing or undecodable file.
        """
        samples = list(samples)
        path = self.resolve(relative, samples)
        if not path.is_file():
            raise SkipSamples(Issue("missing_audio", "audio file not found", file=relative, samples=samples))
        try:
            if self.verify_media is VerifyMedia.FULL:
                load_audio(path)
            elif self.verify_media is VerifyMedia.HEADER:
                import soundfile

                soundfile.info(str(path))
        except Exception as err:  # noqa: BLE001 - soundfile / PyAV raise many types; all mean "unreadable"
            raise SkipSamples(Issue("corrupt_audio", str(err), file=relative, samples=samples)) from err


def rle_object(
    entries: Sequence[Any],
    height: int,
    width: int,
    *,
    where: str,
    samples: Sequence[str],
) -> tuple[GTObject, list[Issue]]:
    """Check one object's per-frame COCO RLE entries from a metadata file and normalise them.

    Args:
        entries: Per-frame entries: ``None`` (absent), an RLE dict ``{"size": [h, w], "counts": str | list}``, or a
            list of such dicts (their union; used by foreground files).
        height: The video's frame height.
        width: The video's frame width.
        where: Description of the source for messages (file and key).
        samples: Samples to skip if the entries are unusable.

    Returns:
        The object (compressed strings at the frame size; empty masks stored as absent) and warnings (e.g. masks
        resized to the frame size).

    Raises:
        SkipSamples: On malformed entries.
    """
    samples = list(samples)
    frames = [b""] * len(entries)
    # Ordinary entries (one compressed string at the frame size) are checked in one vectorised pass.
    plain = [
        f
        for f, e in enumerate(entries)
        if isinstance(e, dict) and e.get("size") == [height, width] and isinstance(e.get("counts"), (str, bytes))
    ]
    strings = [_as_bytes(entries[f]["counts"]) for f in plain]
    try:
        areas = rle.parse(strings, height, width).areas()
    except rle.RLEError:
        bad = next(f for f, text in zip(plain, strings) if _rle_error(text, height, width))
        message = f"frame {bad}: {_rle_error(entries[bad]['counts'], height, width)}"
        raise SkipSamples(Issue("corrupt_mask", message, where, samples)) from None
    for f, text, area in zip(plain, strings, areas):
        frames[f] = text if area > 0 else b""
    resized = 0
    plain_set = set(plain)
    for f, entry in enumerate(entries):
        if entry is None or f in plain_set:
            continue
        parts = entry if isinstance(entry, list) else [entry]
        try:
            decoded = [_rle_part(p) for p in parts if p is not None]
        except (TypeError, ValueError, KeyError, rle.RLEError) as err:
            raise SkipSamples(Issue("corrupt_mask", f"frame {f}: {err}", where, samples)) from err
        union = np.zeros((height, width), dtype=bool)
        for runs in decoded:
            mask = runs.decode()[0]
            if mask.shape != (height, width):
                resized += 1
                mask = rle.resize_nearest(mask, height, width)
            union |= mask
        frames[f] = rle.encode(union)[0]
    warnings = []
    if resized:
        message = f"{resized} masks not {height}x{width} like the frames: resized (nearest neighbour)"
        warnings.append(Issue("mask_size_mismatch", message, where, samples))
    return GTObject(frames, height, width), warnings


def _as_bytes(counts: str | bytes) -> bytes:
    return counts.encode() if isinstance(counts, str) else counts  # non-ASCII then fails rle.parse's alphabet check


def _rle_error(counts: str | bytes, height: int, width: int) -> str:
    """Why one compressed string is malformed ('' if it is fine)."""
    try:
        rle.parse([_as_bytes(counts)], height, width)
    except rle.RLEError as err:
        return str(err)
    return ""


def _rle_part(entry: Any) -> rle.Runs:
    """Parse one RLE dict (compressed string or uncompressed count list, any size) into checked runs."""
    if not isinstance(entry, dict):
        raise TypeError(f"expected an RLE dict, got {type(entry).__name__}")
    size = entry["size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise ValueError(f"bad RLE size {size!r}")
    h, w = size
    counts = entry["counts"]
    if isinstance(counts, list):  # uncompressed RLE: check the runs, then compress them
        values = np.asarray(counts, dtype=np.int64)
        if values.ndim != 1 or (values < 0).any() or values.sum() != h * w:
            raise rle.RLEError(f"uncompressed RLE does not cover {h}x{w}")
        from pycocotools import mask as coco_mask

        counts = coco_mask.frPyObjects({"size": [h, w], "counts": [int(v) for v in values]}, h, w)["counts"]
    if not isinstance(counts, (str, bytes)):
        raise TypeError(f"RLE counts must be a string or a list, got {type(counts).__name__}")
    return rle.parse([_as_bytes(counts)], h, w)


class _KeyTrackingDict(dict):
    """A JSON object that keeps the first of repeated keys and remembers the others (``json`` keeps the last)."""

    duplicates: tuple[tuple[str, Any], ...] = ()


def _keep_first(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # C speed; keeps the last of repeated keys, which only the rare slow path below undoes
    if len(out) == len(pairs):
        return out
    out = _KeyTrackingDict()
    dups = []
    for key, value in pairs:
        if key in out:
            dups.append((key, value))
        else:
            out[key] = value
    out.duplicates = tuple(dups)
    return out


def duplicate_issues(obj: Any, *, file: str, sample_id: Callable[[str], str], what: str) -> list[Issue]:
    """Issues for keys repeated in a JSON object read by :func:`load_json` (the first occurrence is kept).

    Args:
        obj: The object.
        file: Its file, relative to the root.
        sample_id: Maps a repeated key to the id of the sample it would have produced.
        what: What the keys name, for the message (``video``, ``expression``).

    Returns:
        A ``duplicate_row`` warning for an identical repeat, a ``duplicate_id`` error otherwise.
    """
    issues = []
    for key, value in getattr(obj, "duplicates", ()):
        sid = sample_id(key)
        if value == obj[key]:
            issues.append(Issue("duplicate_row", f"{what} {key!r} repeated identically: {sid}", file=file))
        else:
            message = f"{what} {key!r} repeated with different content: kept the first, dropped the repeat ({sid})"
            issues.append(Issue("duplicate_id", message, file=file))
    return issues


def load_json(path: Path, *, track_duplicates: bool = True) -> Any:
    """Read a JSON file; with ``track_duplicates``, objects keep the first of repeated keys and remember them.

    Args:
        path: The file.
        track_duplicates: Track repeated keys (slower: use for expression files, not for large mask files).

    Raises:
        DatasetLayoutError: If the file is missing or not valid JSON.
    """
    try:
        if track_duplicates:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle, object_pairs_hook=_keep_first)
        return fast_json.loads(path.read_bytes())
    except FileNotFoundError as err:
        raise DatasetLayoutError(f"{path} not found") from err
    except (OSError, ValueError) as err:
        raise DatasetLayoutError(f"{path} is not valid JSON: {err}") from err
