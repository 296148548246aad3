"""Parquet rows of ``omni-r1 prepare``: one Arrow schema for all four datasets (docs/architecture.md §1).

verl reads the files with ``datasets.load_dataset("parquet")`` and concatenates them with
``datasets.concatenate_datasets``, which requires identical features: every row of every dataset carries the same
columns with the same types, and dataset-specific payloads are JSON strings (:mod:`omni_r1_verl.contracts.rows`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task

#: ``agent_name`` of every row: the agent loop that runs System 1 and System 2.
AGENT_NAME = "omni_r1_agent"

#: ``extra_info`` fields, in order (see :func:`make_row`).
EXTRA_INFO_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("index", pa.int64()),
    ("split", pa.string()),
    ("sample_id", pa.string()),
    ("dataset_root", pa.string()),
    ("gt_store", pa.string()),
    ("expression", pa.string()),
    ("task", pa.string()),
    ("media", pa.string()),
    ("video", pa.string()),
    ("exp_id", pa.string()),
    ("exp_type", pa.string()),
    ("multi_object", pa.bool_()),
    ("null_target", pa.bool_()),
)

ROW_SCHEMA = pa.schema(
    [
        ("data_source", pa.string()),
        ("agent_name", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct(list(EXTRA_INFO_FIELDS))),
    ]
)


def make_row(
    *,
    data_source: str,
    content: str,
    ground_truth: GroundTruth,
    media: MediaRef,
    split: str,
    sample_id: str,
    expression: str,
    video: str = "",
    exp_id: str = "",
    exp_type: str = "",
) -> dict[str, Any]:
    """Build one row; ``index``, ``dataset_root`` and ``gt_store`` are filled in when the split is written.

    Args:
        data_source: Dataset name (``revos``, ``mevis``, ``refavs``, ``refcocog``).
        content: User message with its ``<video>`` / ``<audio>`` / ``<image>`` placeholders, then the prompt text.
        ground_truth: What the reward needs (no masks).
        media: Media paths relative to the dataset root.
        split: Split name.
        sample_id: Unique key of the sample.
        expression: Referring expression.
        video: Video id (empty for images).
        exp_id: Expression id inside the video.
        exp_type: Per-split metric group (``referring`` / ``reasoning`` / ``nonexistent`` for ReVOS, ``seen`` /
            ``unseen`` / ``null`` for RefAVS, empty otherwise).

    Returns:
        The row as a dict matching :data:`ROW_SCHEMA`.
    """
    return {
        "data_source": data_source,
        "agent_name": AGENT_NAME,
        "prompt": [{"role": "user", "content": content}],
        "reward_model": {"style": "rule", "ground_truth": ground_truth.to_json()},
        "extra_info": {
            "index": -1,
            "split": split,
            "sample_id": sample_id,
            "dataset_root": "",
            "gt_store": "",
            "expression": expression,
            "task": Task(ground_truth.task).value,
            "media": media.to_json(),
            "video": video,
            "exp_id": exp_id,
            "exp_type": exp_type,
            "multi_object": ground_truth.num_objects > 1,
            "null_target": ground_truth.null_target,
        },
    }


def write_rows(rows: list[dict[str, Any]], path: str | Path) -> int:
    """Write rows to a parquet file with :data:`ROW_SCHEMA`.

    Args:
        rows: Rows from :func:`make_row` (complete).
        path: Destination.

    Returns:
        The file size in bytes.
    """
    table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
    pq.write_table(table, str(path), row_group_size=1024)
    return Path(path).stat().st_size
