"""MeViS (Ding et al., ICCV 2023): the offline ``valid_u`` table and the online-server submission.

Offline: henghuiding/MeViS ``tools/eval_mevis.py``. Per expression, over every frame of the video, J and F of the
union of the expression's objects (``db_eval_iou`` / ``db_eval_boundary``, the DAVIS 2017 definitions of
:mod:`omni_r1_verl.metrics.masks`) are averaged over frames; the split's J and F are the means over expressions and
J&F is ``(J + F) / 2``. A video without predictions scores ``[0, 0]`` for each of its expressions.

Online (``valid``, CodaLab / CodaBench): a ``.zip`` that "directly packages" one folder per video, one sub-folder
per expression id, one PNG per frame named like the frame (henghuiding/MeViS ``README.md``, "CodaLab Evaluation
Submission Guideline" and ``sample_submission_valid.zip``)::

    <video>/<exp_id>/<frame>.png      e.g. 0ab4afe7fb46/0/00000.png

:class:`MevisSubmission` writes those PNGs (8-bit grayscale, 0 / 255) under a folder one sample at a time
(resumable: each file appears atomically), and :meth:`MevisSubmission.pack` zips the folder with sorted entries and
fixed timestamps, so the same masks always give the same bytes.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from omni_r1_verl.metrics.records import check_records, mean

#: Video ids, expression ids and frame names must be plain file names.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def mevis_table(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """MeViS offline J, F and J&F in percent, as ``tools/eval_mevis.py`` computes them.

    Args:
        records: One per expression with ``key``, ``J`` and ``F`` (fractions, means over the video's frames).

    Returns:
        ``{"J", "F", "JF", "count"}`` (values ``None`` without records).
    """
    rows = check_records(records, ("J", "F"))
    j, f = mean(100 * float(r["J"]) for r in rows), mean(100 * float(r["F"]) for r in rows)
    return {"J": j, "F": f, "JF": None if j is None else (j + f) / 2, "count": len(rows)}


def _check_name(kind: str, name: str) -> str:
    name = str(name)
    if not _NAME.match(name) or ".." in name:
        raise ValueError(f"{kind} {name!r} is not a plain file name (letters, digits, '_', '-', '.')")
    return name


def _png(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.where(np.asarray(mask) != 0, 255, 0).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class MevisSubmission:
    """Writes MeViS server PNGs under ``root`` and packs them into the submission zip.

    Args:
        root: Folder of the unpacked submission (created if missing).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def add(self, video: str, exp_id: str | int, frame_names: Sequence[str], masks: np.ndarray) -> None:
        """Write the predicted masks of some frames of one expression.

        Args:
            video: Video id (the folder name).
            exp_id: Expression id within the video.
            frame_names: Names of the frames, without ``.png`` (``meta_expressions.json`` ``frames``).
            masks: ``(len(frame_names), H, W)`` predictions (non-zero is foreground).

        Raises:
            ValueError: On a name that is not a plain file name, or a count mismatch.
        """
        masks = np.asarray(masks)
        if masks.ndim != 3 or len(masks) != len(frame_names):
            raise ValueError(f"{len(frame_names)} frame names for masks of shape {masks.shape}")
        folder = self.root / _check_name("video", video) / _check_name("expression id", str(exp_id))
        folder.mkdir(parents=True, exist_ok=True)
        for name, mask in zip(frame_names, masks):
            path = folder / f"{_check_name('frame name', name)}.png"
            tmp = path.with_suffix(".png.tmp")
            tmp.write_bytes(_png(mask))
            os.replace(tmp, path)

    def pack(self, zip_path: str | Path, expected: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> Path:
        """Zip the written PNGs as the server expects them.

        Args:
            zip_path: Output ``.zip``.
            expected: ``{video: {exp_id: frame names}}`` of the split; when given, a missing or unexpected PNG is
                an error (the server rejects incomplete submissions).

        Returns:
            The zip's path.

        Raises:
            ValueError: Listing missing or unexpected files.
        """
        files = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*.png") if p.is_file())
        if expected is not None:
            want = {
                f"{_check_name('video', v)}/{_check_name('expression id', str(e))}/{_check_name('frame name', n)}.png"
                for v, exps in expected.items()
                for e, names in exps.items()
                for n in names
            }
            missing, extra = sorted(want - set(files)), sorted(set(files) - want)
            if missing or extra:
                raise ValueError(
                    f"submission under {self.root} has {len(missing)} missing PNGs (first {missing[:3]}) and "
                    f"{len(extra)} unexpected ones (first {extra[:3]})"
                )
        zip_path = Path(zip_path)
        tmp = zip_path.with_suffix(".zip.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for name in files:
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                info.external_attr = 0o644 << 16
                archive.writestr(info, (self.root / name).read_bytes())
        os.replace(tmp, zip_path)
        return zip_path


def read_mevis_submission(zip_path: str | Path) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """The masks of a submission zip: ``{(video, exp_id): {frame name: bool (H, W)}}``.

    Raises:
        ValueError: On an entry that is not ``<video>/<exp_id>/<frame>.png``.
    """
    out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            parts = name.split("/")
            if len(parts) != 3 or not parts[2].endswith(".png"):
                raise ValueError(f"{zip_path}: entry {name!r} is not <video>/<exp_id>/<frame>.png")
            video, exp_id, frame = parts[0], parts[1], parts[2][: -len(".png")]
            with Image.open(io.BytesIO(archive.read(name))) as image:
                out.setdefault((video, exp_id), {})[frame] = np.asarray(image.convert("L")) > 0
    return out
