"""Video referring segmentation in the Sa2VA / VISA layout (ReVOS, MeViS).

Layout (one split)::

    <frames>/<video>/<frame_id>.jpg                     frames, listed per video in the expression file
    meta_expressions*.json  {"videos": {video: {"frames": [frame_id, ...], "expressions": {exp_id: {
                                "exp": str, "anno_id": [int, ...], "obj_id": [int, ...], "type_id": 0 | 1}},
                                "height": int, "width": int (optional)}}}
    mask_dict.json          {str(anno_id): [COCO RLE | null per frame, in the listed frame order]}
    mask_dict_foreground.json (ReVOS)  {video: {"masks_rle": [RLE | [RLE, ...] | null per frame]}}

One row per expression (the reference drew one random expression per video per access); every object of the
expression is ground truth (the reference kept at most 3 random ones). Masks stay in the listed frame order, which
is the order of the mask lists.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from omni_r1_verl.contracts.prompts import render_vos_prompt
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
from omni_r1_verl.data.converters.base import (
    Converter,
    GTSample,
    SampleResult,
    SkipSamples,
    Unit,
    UnitResult,
    duplicate_issues,
    load_json,
    natural_key,
    rle_object,
)
from omni_r1_verl.data.report import DatasetLayoutError, Issue
from omni_r1_verl.data.rows import make_row
from omni_r1_verl.data.sampling import stable_seed


@dataclass
class _Video:
    """A checked video of the unit being converted."""

    name: str
    frame_ids: list[str]
    frames: list[str]
    height: int
    width: int
    foreground: int = -1
    #: anno_id -> unit-local object index, for objects already checked.
    objects: dict[str, int] = field(default_factory=dict)


class Sa2VAConverter(Converter):
    """Shared logic of the ReVOS and MeViS converters; subclasses say where a split's files are."""

    #: ``type_id`` -> ``exp_type`` (per-split metric group).
    type_names: ClassVar[dict[int, str]] = {}

    def split_files(self) -> tuple[Path, Path, Path | None]:
        """``(expression file, mask file, foreground file or None)`` of :attr:`split`."""
        raise NotImplementedError

    def frames_dir(self) -> Path:
        """Directory holding the video folders."""
        return self.root

    def load(self) -> tuple[list[Unit], list[Issue]]:
        meta_path, mask_path, fg_path = self.split_files()
        meta = load_json(meta_path)
        videos = meta.get("videos") if isinstance(meta, dict) else None
        if not isinstance(videos, dict):
            raise DatasetLayoutError(f'{meta_path} has no "videos" object')
        meta_file = self.rel(meta_path)
        masks = load_json(mask_path, track_duplicates=False)
        if not isinstance(masks, dict):
            raise DatasetLayoutError(f"{mask_path} is not a JSON object of anno_id -> per-frame RLE")
        issues = duplicate_issues(videos, file=meta_file, sample_id=lambda v: self.sample_id(v), what="video")
        self._foreground: dict[str, Any] | None = None
        if fg_path is not None:
            if fg_path.is_file():
                self._foreground = load_json(fg_path, track_duplicates=False)
            else:
                message = "no foreground mask file: the robustness metric R cannot be computed for this split"
                issues.append(Issue("missing_foreground", message, file=self.rel(fg_path)))
        self._videos, self._masks = videos, masks
        self._meta_file, self._mask_file = meta_file, self.rel(mask_path)
        self._frame_prefix = self.rel(self.frames_dir()) + "/" if self.frames_dir() != self.root else ""
        units = []
        for video in sorted(videos, key=natural_key):
            expressions = videos[video].get("expressions") if isinstance(videos[video], dict) else None
            exp_ids = sorted(expressions, key=natural_key) if isinstance(expressions, dict) else []
            if not exp_ids:
                message = f"video {video!r} has no expressions object" if not isinstance(expressions, dict) else ""
                if message:
                    issues.append(Issue("bad_record", message, file=meta_file))
                continue
            issues += duplicate_issues(
                expressions,
                file=meta_file,
                sample_id=lambda e, v=video: self.sample_id(v, e),
                what=f"expression of video {video!r}:",
            )
            units.append(Unit(video, tuple(self.sample_id(video, e) for e in exp_ids)))
        return units, issues

    def convert(self, unit: Unit) -> UnitResult:
        result = UnitResult()
        try:
            video = self._check_video(unit.key, unit.samples, result)
        except SkipSamples as skip:
            result.issues += skip.issues
            return result
        prefix = self.sample_id(video.name) + "/"
        expressions = self._videos[video.name]["expressions"]
        for sid in unit.samples:
            exp_id = sid[len(prefix) :]
            try:
                result.samples.append(self._convert_expression(video, sid, exp_id, expressions[exp_id], result))
            except SkipSamples as skip:
                result.issues += skip.issues
        return result

    def _check_video(self, name: str, samples: tuple[str, ...], result: UnitResult) -> _Video:
        """Check a video's frame list, frames and foreground masks."""
        record = self._videos[name]
        ids = record.get("frames")
        if not isinstance(ids, list) or not all(isinstance(n, (str, int)) for n in ids):
            raise SkipSamples(
                Issue("bad_record", f'video {name!r}: "frames" is not a list of ids', self._meta_file, list(samples))
            )
        ids = [str(n) for n in ids]
        if ids != sorted(ids, key=natural_key):
            message = f"video {name!r}: frames are not listed in sorted order (kept as listed, like the masks)"
            result.issues.append(Issue("unsorted_frames", message, self._meta_file, list(samples)))
        frames = [f"{self._frame_prefix}{name}/{frame_id}.jpg" for frame_id in ids]
        height, width, warnings = self.check_frames(frames, samples, f"{self._meta_file}[{name!r}]")
        result.issues += warnings
        meta_hw = (record.get("height"), record.get("width"))
        if meta_hw != (None, None) and meta_hw != (height, width):
            message = f"video {name!r}: metadata says {meta_hw[0]}x{meta_hw[1]}, frames are {height}x{width}"
            result.issues.append(Issue("frame_size_mismatch", message, frames[0], list(samples)))
        video = _Video(name, ids, frames, height, width)
        if self._foreground is not None:
            video.foreground = self._foreground_object(video, samples, result)
        return video

    def _foreground_object(self, video: _Video, samples: tuple[str, ...], result: UnitResult) -> int:
        entry = self._foreground.get(video.name)
        masks = entry.get("masks_rle") if isinstance(entry, dict) else None
        where = f"{self.rel(self.split_files()[2])}[{video.name!r}]"
        problem = ""
        if masks is None:
            problem = "no foreground masks for this video"
        elif not isinstance(masks, list) or len(masks) != len(video.frames):
            count = len(masks) if isinstance(masks, list) else "no"
            problem = f"foreground has {count} frames, the video {len(video.frames)}"
        else:
            try:
                obj, warnings = rle_object(masks, video.height, video.width, where=where, samples=samples)
            except SkipSamples as skip:
                problem = skip.issues[0].message
            else:
                result.issues += warnings
                result.objects.append(obj)
                return len(result.objects) - 1
        result.issues.append(Issue("missing_foreground", problem, where, list(samples)))
        return -1

    def _convert_expression(
        self, video: _Video, sid: str, exp_id: str, record: Any, result: UnitResult
    ) -> SampleResult:
        where = f"{self._meta_file}[{video.name!r}][{exp_id!r}]"
        if not isinstance(record, dict):
            raise SkipSamples(Issue("bad_record", "expression is not an object", where, [sid]))
        text = record.get("exp")
        if not isinstance(text, str) or not text.strip():
            raise SkipSamples(Issue("empty_expression", f"expression text is {text!r}", where, [sid]))
        text = text.strip()
        anno_ids = record.get("anno_id", [])
        if not isinstance(anno_ids, list) or not all(isinstance(a, (int, str)) for a in anno_ids):
            raise SkipSamples(Issue("bad_record", f'"anno_id" is not a list of ids: {anno_ids!r}', where, [sid]))
        objects = [self._mask_object(video, str(anno), sid, result) for anno in anno_ids]
        type_id = record.get("type_id")
        exp_type = self.type_names.get(type_id, "") if isinstance(type_id, int) else ""
        if type_id is not None and not exp_type:
            message = f"type_id {type_id!r} is none of {sorted(self.type_names)}"
            result.issues.append(Issue("unknown_type", message, where, [sid]))
            exp_type = f"type_{type_id}"
        num_frames = len(video.frames)
        gt = GroundTruth(
            task=Task.VOS,
            gt_key=sid,
            num_frames=num_frames,
            height=video.height,
            width=video.width,
            num_objects=len(objects),
            areas=[result.objects[o].areas for o in objects],
            null_target=not objects,
        )
        prompt = render_vos_prompt(text, num_frames, forced=True, rng=random.Random(stable_seed(sid)))
        row = make_row(
            data_source=self.name,
            content="<video>" + prompt,
            ground_truth=gt,
            media=MediaRef(frames=video.frames),
            split=self.split,
            sample_id=sid,
            expression=text,
            video=video.name,
            exp_id=exp_id,
            exp_type=exp_type,
        )
        meta = {
            "dataset": self.name,
            "split": self.split,
            "video": video.name,
            "exp_id": exp_id,
            "expression": text,
            "anno_ids": [str(a) for a in anno_ids],
            "obj_ids": record.get("obj_id", []),
            "frame_names": video.frame_ids,
        }
        sample = GTSample(objects, num_frames, video.height, video.width, foreground=video.foreground, meta=meta)
        return SampleResult(sid, row, sample)

    def _mask_object(self, video: _Video, anno: str, sid: str, result: UnitResult) -> int:
        """The unit-local object of ``anno`` (checked once per video, shared by its expressions)."""
        if anno in video.objects:
            return video.objects[anno]
        where = f"{self._mask_file}[{anno!r}]"
        entries = self._masks.get(anno)
        if entries is None:
            raise SkipSamples(Issue("missing_mask", f"anno_id {anno} is not in the mask file", where, [sid]))
        if not isinstance(entries, list) or len(entries) != len(video.frames):
            count = len(entries) if isinstance(entries, list) else "no"
            message = f"anno_id {anno} has {count} per-frame masks, the video has {len(video.frames)} frames"
            raise SkipSamples(Issue("frame_count_mismatch", message, where, [sid]))
        obj, warnings = rle_object(entries, video.height, video.width, where=where, samples=[sid])
        result.issues += warnings
        result.objects.append(obj)
        video.objects[anno] = len(result.objects) - 1
        return video.objects[anno]
