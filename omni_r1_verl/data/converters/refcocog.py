"""refCOCOg_2k_840 (Seg-Zero's image grounding set), as downloaded from the HuggingFace hub.

::

    <root>/data/<split>-*.parquet   (or <root>/<split>-*.parquet, <root>/<split>/*.parquet)
        id, problem (referring text), image ({bytes, path}), img_height, img_width,
        solution "<box>(x1,y1),(x2,y2)</box><points>(x,y),(x,y)</points>" in original pixels

Images are embedded in the parquet; the converter writes them, byte for byte, next to the rows
(``<out>/<split>.media/``), and rows point there. There are no masks: System 1 answers a box and two points, the
reward compares them with the solution's (``GroundTruth.boxes`` / ``points``).
"""

from __future__ import annotations

import io
import re
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from omni_r1_verl.contracts.prompts import render_segzero_prompt
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
from omni_r1_verl.data.converters.base import Converter, SampleResult, SkipSamples, Unit, UnitResult, VerifyMedia
from omni_r1_verl.data.converters.registry import register_converter
from omni_r1_verl.data.report import DatasetLayoutError, Issue
from omni_r1_verl.data.rows import make_row

_COLUMNS = ("id", "problem", "solution", "image", "img_height", "img_width")
_NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
_PAIR = rf"\({_NUM},{_NUM}\)"
_SOLUTION = re.compile(rf"<box>\s*{_PAIR}\s*,\s*{_PAIR}\s*</box>\s*<points>\s*{_PAIR}\s*,\s*{_PAIR}\s*</points>")
#: Rows per work unit.
CHUNK = 32


def parse_solution(text: str) -> tuple[list[float], list[list[float]]]:
    """Parse a Seg-Zero solution string.

    Args:
        text: ``"<box>(x1,y1),(x2,y2)</box><points>(x,y),(x,y)</points>"``.

    Returns:
        ``([x1, y1, x2, y2], [[x, y], [x, y]])``.

    Raises:
        ValueError: If the string does not have that form.
    """
    match = _SOLUTION.search(text or "")
    if match is None:
        raise ValueError(f"not a <box>(x1,y1),(x2,y2)</box><points>(x,y),(x,y)</points> string: {text!r}")
    v = [float(g) for g in match.groups()]
    return v[:4], [v[4:6], v[6:8]]


@register_converter
class RefCOCOgConverter(Converter):
    """refCOCOg_2k_840 (one split of the hub parquet files)."""

    name = "refcocog"
    splits = ("train",)
    has_masks = False
    writes_media = True

    def load(self) -> tuple[list[Unit], list[Issue]]:
        patterns = (f"data/{self.split}-*.parquet", f"{self.split}-*.parquet", f"data/{self.split}/*.parquet")
        patterns += (f"{self.split}/*.parquet",)
        files = next((sorted(self.root.glob(p)) for p in patterns if list(self.root.glob(p))), [])
        if not files:
            raise DatasetLayoutError(f"no parquet files under {self.root} matching any of {', '.join(patterns)}")
        try:
            table = pa.concat_tables(pq.read_table(f, columns=list(_COLUMNS)) for f in files)
        except (OSError, pa.ArrowException, KeyError) as err:
            raise DatasetLayoutError(f"cannot read {[str(f) for f in files]} with columns {_COLUMNS}: {err}") from err
        self._table = table
        self._index: dict[str, int] = {}
        issues: list[Issue] = []
        first: dict[str, int] = {}
        ids = table.column("id").to_pylist()
        for i, raw in enumerate(ids):
            key = str(raw)
            where = f"parquet row {i}"
            if key in first:
                same = self._plain(first[key]) == self._plain(i)
                code = "duplicate_row" if same else "duplicate_id"
                issues.append(Issue(code, f"id {key!r} repeats row {first[key]} (this row dropped)", where))
                continue
            first[key] = i
            self._index[self.sample_id(key)] = i
        sids = list(self._index)
        units = [Unit(str(start), tuple(sids[start : start + CHUNK])) for start in range(0, len(sids), CHUNK)]
        return units, issues

    def _plain(self, i: int) -> dict[str, Any]:
        return self._table.slice(i, 1).to_pylist()[0]

    def convert(self, unit: Unit) -> UnitResult:
        result = UnitResult()
        for sid in unit.samples:
            try:
                result.samples.append(self._convert_row(sid, self._index[sid], result))
            except SkipSamples as skip:
                result.issues += skip.issues
        return result

    def _convert_row(self, sid: str, i: int, result: UnitResult) -> SampleResult:
        rec = self._plain(i)
        where = f"parquet row {i} (id {rec['id']!r})"
        problem = rec["problem"]
        if not isinstance(problem, str) or not problem.strip():
            raise SkipSamples(Issue("empty_expression", f"problem is {problem!r}", where, [sid]))
        data, fmt, height, width = self._image(rec, sid, where)
        if (rec["img_height"], rec["img_width"]) != (height, width):
            message = f"img_height/img_width say {rec['img_height']}x{rec['img_width']}, the image is {height}x{width}"
            result.issues.append(Issue("size_mismatch", message, where, [sid]))
        try:
            box, points = parse_solution(rec["solution"])
        except ValueError as err:
            raise SkipSamples(Issue("bad_solution", str(err), where, [sid])) from err
        xs, ys = [box[0], box[2], points[0][0], points[1][0]], [box[1], box[3], points[0][1], points[1][1]]
        if box[0] > box[2] or box[1] > box[3] or min(xs + ys) < 0 or max(xs) > width or max(ys) > height:
            message = f"box {box} / points {points} is inverted or outside the {width}x{height} image"
            raise SkipSamples(Issue("bad_solution", message, where, [sid]))
        name = f"{i:06d}_{re.sub(r'[^A-Za-z0-9._-]', '_', str(rec['id']))[:80]}.{fmt}"
        (self.media_out / name).write_bytes(data)
        gt = GroundTruth(
            task=Task.IMAGE_GROUNDING,
            gt_key="",
            num_frames=1,
            height=height,
            width=width,
            num_objects=1,
            boxes=[box],
            points=[points],
        )
        row = make_row(
            data_source=self.name,
            content="<image>" + render_segzero_prompt(problem.strip()),
            ground_truth=gt,
            media=MediaRef(frames=[name]),
            split=self.split,
            sample_id=sid,
            expression=problem.strip(),
            exp_id=str(rec["id"]),
        )
        return SampleResult(sid, row)

    def _image(self, rec: dict[str, Any], sid: str, where: str) -> tuple[bytes, str, int, int]:
        """The embedded image's bytes, file extension and size (checked as ``verify_media`` asks)."""
        image = rec["image"]
        data = image.get("bytes") if isinstance(image, dict) else image
        if not data and isinstance(image, dict) and image.get("path"):  # an image stored next to the parquet
            path = self.resolve(image["path"], [sid])
            if not path.is_file():
                raise SkipSamples(Issue("missing_frame", "image file not found", image["path"], [sid]))
            data = path.read_bytes()
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise SkipSamples(Issue("bad_record", "the image column holds no bytes", where, [sid]))
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt = (img.format or "").lower()
                if self.verify_media is VerifyMedia.FULL:
                    img.load()
                height, width = img.height, img.width
        except (OSError, ValueError) as err:
            raise SkipSamples(Issue("corrupt_frame", f"cannot decode the image: {err}", where, [sid])) from err
        ext = {"jpeg": "jpg"}.get(fmt, fmt) or "img"
        return bytes(data), ext, height, width
