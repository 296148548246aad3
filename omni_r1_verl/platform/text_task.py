"""A tiny text task for CPU smoke runs of verl's trainer: prompt rows and a rule reward with variance.

A random tiny policy answers with random tokens, so a correctness reward would be 0 for every sample and GRPO
advantages (and gradients) would vanish. :func:`compute_score` instead rewards the share of plain English
characters in the response: it differs between samples of one prompt, so a run exercises real, non-zero updates.
Used through verl's own hooks: ``data.train_files`` (:func:`write_rows`) and
``reward.custom_reward_function.path=pkg://omni_r1_verl.platform.text_task``.
"""

from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Any, Optional

#: ``data_source`` of the rows.
DATA_SOURCE = "omni_r1/cpu_text_smoke"

#: Characters the reward counts as plain English.
_PLAIN = frozenset(string.ascii_letters + " ")


def rows(num_rows: int) -> list[dict[str, Any]]:
    """Prompt rows in verl's RL dataset format (``prompt`` chat messages, ``reward_model``, ``extra_info``).

    Args:
        num_rows: Number of rows.

    Returns:
        The rows.
    """
    out = []
    for index in range(num_rows):
        a, b = index + 2, 2 * index + 3
        out.append(
            {
                "data_source": DATA_SOURCE,
                "prompt": [{"role": "user", "content": f"What is {a} plus {b}? Answer in plain English words."}],
                "ability": "arithmetic",
                "reward_model": {"style": "rule", "ground_truth": str(a + b)},
                "extra_info": {"split": "train", "index": index},
            }
        )
    return out


def write_rows(path: str | os.PathLike, num_rows: int = 8) -> Path:
    """Write :func:`rows` as a parquet file.

    Args:
        path: Target file (parent directories are created).
        num_rows: Number of rows.

    Returns:
        The path.
    """
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows(num_rows)).to_parquet(path)
    return path


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: Optional[dict] = None, **kwargs: Any
) -> float:
    """Share of ASCII letters and spaces in the response (verl ``custom_reward_function`` signature).

    Args:
        data_source: Row's data source (unused).
        solution_str: Decoded response.
        ground_truth: Row's ground truth (unused: see the module docstring).
        extra_info: Row's extra info (unused).
        **kwargs: Further arguments verl may pass.

    Returns:
        A score in ``[0, 1]``; ``0`` for an empty response.
    """
    if not solution_str:
        return 0.0
    return sum(ch in _PLAIN for ch in solution_str) / len(solution_str)
