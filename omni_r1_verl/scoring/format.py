"""Format reward: the response is exactly a ``<think>`` block followed by an ``<answer>`` block."""

from __future__ import annotations

import re
from typing import Any

from omni_r1_verl.scoring.config import FormatConfig

#: The reference's format regex (matched against the whole response).
FORMAT_PATTERN = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


def format_reward(text: Any, config: FormatConfig | None = None) -> float:
    """1.0 when ``text`` fully matches :data:`FORMAT_PATTERN`, else 0.0.

    Args:
        text: The decoded response (non-strings score 0).
        config: Whether to strip surrounding whitespace first.

    Returns:
        1.0 or 0.0.
    """
    if not isinstance(text, str):
        return 0.0
    config = config or FormatConfig()
    return 1.0 if FORMAT_PATTERN.fullmatch(text.strip() if config.strip else text) else 0.0
