"""RefAVS (RefAVSBench): referring audio-visual segmentation.

::

    <root>/metadata.csv                       vid, uid, split, fid, exp (header row)
    <root>/media/<vid>/frames/<i>.jpg         i = 0..9
    <root>/media/<vid>/audio.wav
    <root>/gt_mask/<vid>/fid_<fid>/<i:05d>.png

Splits: ``train``, ``val``, ``test_s`` (seen), ``test_u`` (unseen), ``test_n`` (null: nothing should be
segmented). The published ``metadata.csv`` has quirks this converter handles explicitly: rows whose split is
``TODO`` (in no split: reported, never converted), null expressions whose ``uid`` is ``null_<c>-<vid>_null_<n>``
(also in ``train`` and ``val``; the reference's ``uid.rsplit("_", 2)[0]`` turns these into a non-existent video,
so we use the ``vid`` column), repeated ``uid`` values, and trailing spaces in expressions.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from omni_r1_verl.contracts.prompts import render_refavs_prompt
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task, UnsafePathError, resolve_under_root
from omni_r1_verl.data import rle
from omni_r1_verl.data.converters.base import (
    Converter,
    GTObject,
    GTSample,
    SampleResult,
    SkipSamples,
    Unit,
    UnitResult,
    natural_key,
)
from omni_r1_verl.data.converters.registry import register_converter
from omni_r1_verl.data.report import DatasetLayoutError, Issue
from omni_r1_verl.data.rows import make_row

_COLUMNS = ("vid", "uid", "split", "fid", "exp")
_NULL_UID = re.compile(r"^null_[A-Za-z0-9]*-")


@dataclass(frozen=True)
class _Row:
    line: int
    vid: str
    uid: str
    fid: int
    exp: str
    null: bool


@register_converter
class RefAVSConverter(Converter):
    """RefAVSBench, one split of ``metadata.csv``."""

    name = "refavs"
    splits = ("train", "val", "test_s", "test_u", "test_n")
    #: ``exp_type`` of each split (the per-subset metrics of RefAVSBench).
    split_types: ClassVar[dict[str, str]] = {"test_s": "seen", "test_u": "unseen", "test_n": "null"}

    def load(self) -> tuple[list[Unit], list[Issue]]:
        path = self.root / "metadata.csv"
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DatasetLayoutError(f"{path} lacks columns {missing} (has {reader.fieldnames})")
                records = [(reader.line_num, {k: (v or "") for k, v in rec.items() if k}) for rec in reader]
        except FileNotFoundError as err:
            raise DatasetLayoutError(f"{path} not found (RefAVSBench layout: <root>/metadata.csv)") from err
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise DatasetLayoutError(f"cannot read {path}: {err}") from err
        issues: list[Issue] = []
        unknown: dict[str, list[str]] = {}
        first: dict[str, dict[str, str]] = {}
        self._rows: dict[str, _Row] = {}
        for line, rec in records:
            split = rec["split"].strip()
            if split not in self.splits:
                unknown.setdefault(split, []).append(f"{self.name}/{split}/{rec['uid'].strip()}")
                continue
            if split != self.split:
                continue
            row = self._parse(line, rec, first, issues)
            if row is not None:
                self._rows[self.sample_id(row.uid)] = row
        for split, ids in sorted(unknown.items()):
            message = f"{len(ids)} rows have split {split!r}, which is none of {', '.join(self.splits)}"
            issues.append(Issue("unknown_split", message, "metadata.csv", ids))
        by_video: dict[str, list[str]] = {}
        for sid, row in self._rows.items():
            by_video.setdefault(row.vid, []).append(sid)
        units = [Unit(vid, tuple(by_video[vid])) for vid in sorted(by_video, key=natural_key)]
        return units, issues

    def _parse(self, line: int, rec: dict[str, str], first: dict[str, dict[str, str]], issues: list[Issue]):
        uid, vid, exp = rec["uid"].strip(), rec["vid"].strip(), rec["exp"].strip()
        where = f"metadata.csv:{line}"
        sid = self.sample_id(uid)
        if not uid or not vid:
            issues.append(Issue("bad_record", f"empty uid or vid: {rec}", where))
            return None
        if uid in first:
            if first[uid] == rec:
                issues.append(Issue("duplicate_row", f"uid {uid!r} repeated identically", where))
            else:
                message = f"uid {uid!r} repeated with different content (first kept, this row dropped): {rec}"
                issues.append(Issue("duplicate_id", message, where))
            return None
        first[uid] = rec
        if not exp:
            issues.append(Issue("empty_expression", "the expression is empty", where, [sid]))
            return None
        try:
            fid = int(rec["fid"])
        except ValueError:
            issues.append(Issue("bad_record", f"fid {rec['fid']!r} is not an integer", where, [sid]))
            return None
        null = bool(_NULL_UID.match(uid)) or self.split == "test_n"
        expected_vid = _NULL_UID.sub("", uid).rsplit("_", 2)[0]
        if expected_vid != vid:
            message = f"uid {uid!r} names video {expected_vid!r}, the vid column says {vid!r} (vid column used)"
            issues.append(Issue("vid_mismatch", message, where, [sid]))
        return _Row(line, vid, uid, fid, exp, null)

    def convert(self, unit: Unit) -> UnitResult:
        result = UnitResult()
        vid = unit.key
        try:
            frames = self._frame_files(vid, unit.samples)
            height, width, warnings = self.check_frames(frames, unit.samples, f"media/{vid}/frames")
            result.issues += warnings
            audio = f"media/{vid}/audio.wav"
            self.check_audio(audio, unit.samples)
        except SkipSamples as skip:
            result.issues += skip.issues
            return result
        objects: dict[int, int] = {}
        for sid in unit.samples:
            row = self._rows[sid]
            try:
                if row.null:  # nothing to segment; its fid names no object (real files reuse fid 0)
                    local = []
                else:
                    if row.fid not in objects:
                        objects[row.fid] = self._mask_object(row, sid, height, width, len(frames), result)
                    local = [objects[row.fid]]
            except SkipSamples as skip:
                result.issues += skip.issues
                continue
            runs = [result.objects[o].runs for o in local]
            gt = GroundTruth(
                task=Task.AVS,
                gt_key=sid,
                num_frames=len(frames),
                height=height,
                width=width,
                num_objects=len(local),
                areas=[result.objects[o].areas for o in local],
                boxes=[r.boxes()[0].astype(float).tolist() for r in runs],
                null_target=row.null,
            )
            media = MediaRef(frames=frames, audio=audio)
            out = make_row(
                data_source=self.name,
                content="<audio><image>" + render_refavs_prompt(row.exp),
                ground_truth=gt,
                media=media,
                split=self.split,
                sample_id=sid,
                expression=row.exp,
                video=vid,
                exp_id=row.uid,
                exp_type="null" if row.null else self.split_types.get(self.split, ""),
            )
            meta = {"dataset": self.name, "split": self.split, "video": vid, "uid": row.uid, "fid": row.fid}
            meta.update(expression=row.exp, frame_names=[f.rsplit("/", 1)[-1] for f in frames], line=row.line)
            result.samples.append(SampleResult(sid, out, GTSample(local, len(frames), height, width, meta=meta)))
        return result

    def _listing(self, relative: str, suffix: str, samples: tuple[str, ...] | list[str]) -> list[str] | None:
        """Files ending in ``suffix`` in a directory under the root, in numeric order; None if absent."""
        try:
            directory = resolve_under_root(self.root, relative)
        except UnsafePathError as err:
            raise SkipSamples(Issue("unsafe_path", str(err), relative, list(samples))) from err
        if not directory.is_dir():
            return None
        names = sorted((p.name for p in directory.iterdir() if p.name.lower().endswith(suffix)), key=natural_key)
        return [f"{relative}/{name}" for name in names]

    def _frame_files(self, vid: str, samples: tuple[str, ...]) -> list[str]:
        frames = self._listing(f"media/{vid}/frames", ".jpg", samples)
        if frames is None:
            raise SkipSamples(Issue("missing_frame", "frame folder not found", f"media/{vid}/frames", list(samples)))
        return frames

    def _read_masks(self, files: list[str], sid: str, height: int, width: int) -> tuple[np.ndarray, int]:
        masks = np.zeros((len(files), height, width), dtype=bool)
        resized = 0
        for i, rel_path in enumerate(files):
            path = self.resolve(rel_path, [sid])
            try:
                with Image.open(path) as img:
                    mask = np.asarray(img.convert("L")) > 0
            except (OSError, ValueError) as err:
                raise SkipSamples(Issue("corrupt_mask", f"cannot read mask: {err}", rel_path, [sid])) from err
            if mask.shape != (height, width):
                resized += 1
                mask = rle.resize_nearest(mask, height, width)
            masks[i] = mask
        return masks, resized

    def _mask_object(self, row: _Row, sid: str, height: int, width: int, num_frames: int, result: UnitResult) -> int:
        relative = f"gt_mask/{row.vid}/fid_{row.fid}"
        files = self._listing(relative, ".png", [sid])
        if files is None:
            raise SkipSamples(Issue("missing_mask", "mask folder not found", relative, [sid]))
        if len(files) != num_frames:
            message = f"{len(files)} mask PNGs for {num_frames} frames"
            raise SkipSamples(Issue("frame_count_mismatch", message, relative, [sid]))
        masks, resized = self._read_masks(files, sid, height, width)
        if resized:
            message = f"{resized} masks not {height}x{width} like the frames: resized (nearest neighbour)"
            result.issues.append(Issue("mask_size_mismatch", message, files[0], [sid]))
        result.objects.append(GTObject(rle.encode(masks), height, width))
        return len(result.objects) - 1
