"""Format reward: the response is exactly a ``<think>`` block followed by an ``<answer>`` block."""

from __future__ import annotations

import re
from typing import Any

from omni_r1_verl.scoring.config import FormatConfig

#: The reference's format regex (matched against the whole response). :func:`format_reward` decides the same match
#: with ``str.find`` in linear time; the lazy regex backtracks quadratically on many ``</think><answer>`` pairs.
FORMAT_PATTERN = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)

_THINK, _END_THINK, _ANSWER, _END_ANSWER = "<think>", "</think>", "<answer>", "</answer>"
# Whitespace run after "</think>": one character class, nothing after it to backtrack into.
_SPACES = re.compile(r"\s*")


def matches_format(text: str) -> bool:
    """Whether ``FORMAT_PATTERN.fullmatch(text)`` would succeed, in time linear in ``text``.

    The pattern matches when the text starts with ``<think>``, ends with ``</answer>``, and some ``</think>`` after
    the opening tag is followed by optional whitespace and an ``<answer>`` that ends before the final ``</answer>``.

    Args:
        text: The response.

    Returns:
        Whether it has the format.
    """
    if not (text.startswith(_THINK) and text.endswith(_END_ANSWER)):
        return False
    latest_answer = len(text) - len(_END_ANSWER) - len(_ANSWER)  # "<answer>" must start at or before this
    pos = len(_THINK)
    while True:
        close = text.find(_END_THINK, pos)
        if close < 0:
            return False
        # Whitespace runs after successive "</think>" are disjoint, so the scan stays linear; the answer position
        # only grows from one "</think>" to the next, so the first one past the limit ends the search.
        answer = _SPACES.match(text, close + len(_END_THINK)).end()
        if answer > latest_answer:
            return False
        if text.startswith(_ANSWER, answer):
            return True
        pos = close + 1


def format_reward(text: Any, config: FormatConfig | None = None) -> float:
    """1.0 when ``text`` fully matches :data:`FORMAT_PATTERN`, else 0.0 (linear time, never raises).

    Args:
        text: The decoded response (non-strings score 0).
        config: Whether to strip surrounding whitespace first.

    Returns:
        1.0 or 0.0.
    """
    if not isinstance(text, str):
        return 0.0
    config = config or FormatConfig()
    return 1.0 if matches_format(text.strip() if config.strip else text) else 0.0
