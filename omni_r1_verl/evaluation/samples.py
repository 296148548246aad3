"""Evaluation samples: prepared rows (``omni-r1 prepare``) read as what the harness needs, one per expression.

A sample knows its benchmark conventions (subset, object count, null target, the order the official evaluation
batches it in), where its media and ground truth are, and the System-1 messages of its evaluation clip: the
video's frames uniformly spaced, ``evaluation.clip_frames`` of them (the paper's inference setting), while System 2
segments every frame. Pure module (no torch, no Ray).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omni_r1_verl.contracts.clip import Clip
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.system1_inputs import RowError, build_system1_messages

#: Benchmarks of ``omni-r1 eval`` and the task of their rows.
BENCHMARKS: dict[str, Task] = {
    "revos": Task.VOS,
    "mevis": Task.VOS,
    "refavs": Task.AVS,
    "refcocog": Task.IMAGE_GROUNDING,
}


@dataclass
class EvalSample:
    """One row of a prepared split, parsed.

    Attributes:
        key: ``extra_info.sample_id`` (unique; also the ground-truth key of video samples).
        index: Row number in the parquet file (the order the official Ref-AVS evaluation batches samples in).
        row: The row as read (System-1 messages are built from it).
        gt: Ground-truth summary of the row.
        media: Media reference (relative to ``root``).
        root: Dataset root.
        gt_store: Ground-truth store directory ("" when the split has none).
        expression: The referring expression.
        exp_type: ``referring`` / ``reasoning`` (ReVOS), ``seen`` / ``unseen`` / ``null`` (Ref-AVS), else "".
        video: Video id (MeViS submission folders).
        exp_id: Expression id within the video.
    """

    key: str
    index: int
    row: dict[str, Any]
    gt: GroundTruth
    media: MediaRef
    root: str
    gt_store: str
    expression: str
    exp_type: str
    video: str
    exp_id: str

    @classmethod
    def from_row(cls, row: dict[str, Any], position: int) -> EvalSample:
        """Parse a row.

        Args:
            row: A prepared row.
            position: Its position in the file (used when ``extra_info.index`` is missing).

        Raises:
            RowError: When a field is missing or malformed.
        """
        try:
            extra = row["extra_info"]
            return cls(
                key=str(extra["sample_id"]),
                index=int(extra.get("index", position)),
                row=row,
                gt=GroundTruth.from_json(row["reward_model"]["ground_truth"]),
                media=MediaRef.from_json(extra["media"]),
                root=str(extra["dataset_root"]),
                gt_store=str(extra.get("gt_store") or ""),
                expression=str(extra.get("expression", "")),
                exp_type=str(extra.get("exp_type") or ""),
                video=str(extra.get("video") or ""),
                exp_id=str(extra.get("exp_id") or ""),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise RowError(f"malformed row {position}: {type(err).__name__}: {err}") from err

    @property
    def task(self) -> Task:
        """The row's task."""
        return self.gt.task

    @property
    def num_frames(self) -> int:
        """Frames of the whole video (1 for images)."""
        return self.gt.num_frames

    @property
    def num_objects(self) -> int:
        """Ground-truth objects of the expression (0 for a null expression)."""
        return self.gt.num_objects

    @property
    def frame_names(self) -> list[str]:
        """Frame file names without extension (MeViS submission PNG names)."""
        return [Path(f).stem for f in self.media.frames]

    def messages(self, data: OmniDataConfig, clip_frames: int, use_audio_in_video: bool) -> tuple[list, Clip]:
        """System-1 messages of the evaluation clip and the clip.

        The clip is ``clip_frames`` uniformly spaced frames of the video (all of them for shorter videos), the
        same for every run: the row is sampled with ``min_frames = max_frames = clip_frames``, which draws no
        random count.

        Args:
            data: The ``data.omni_r1`` settings (budgets, fps, prompt forcing).
            clip_frames: Frames System 1 sees.
            use_audio_in_video: Interleave a container's audio track with its frames.

        Raises:
            RowError: When the row's media cannot be referenced.
        """
        row = copy.copy(self.row)
        row["extra_info"] = {**self.row["extra_info"], "split": "train"}  # sampled, see above
        fixed = dataclasses.replace(data, min_frames=clip_frames, max_frames=clip_frames)
        messages, clip = build_system1_messages(row, 0, fixed, use_audio_in_video)
        return messages, Clip(tuple(clip["frame_indices"]), float(clip["fps"]))


def read_samples(parquet: str | Path) -> list[tuple[str, dict[str, Any] | None, str]]:
    """Every row of a prepared parquet file, keyed.

    Args:
        parquet: ``SPLIT.parquet`` of ``omni-r1 prepare``.

    Returns:
        ``(key, row, problem)`` per row in file order; a row without a usable ``sample_id`` gets the key
        ``row:<n>`` and its problem (it is reported as a failed sample, never dropped).
    """
    import pyarrow.parquet as pq

    rows = pq.read_table(parquet).to_pylist()
    out = []
    seen: set[str] = set()
    for n, row in enumerate(rows):
        extra = row.get("extra_info") if isinstance(row, dict) else None
        key = str(extra.get("sample_id") or "") if isinstance(extra, dict) else ""
        problem = ""
        if not key:
            key, problem = f"row:{n}", "the row has no extra_info.sample_id"
        elif key in seen:
            key, problem = f"{key}#row:{n}", f"sample id {key!r} repeats"
        seen.add(key)
        out.append((key, row, problem))
    return out
