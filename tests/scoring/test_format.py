"""Format reward: the reference regex's decision, in linear time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from omni_r1_verl.scoring.config import FormatConfig
from omni_r1_verl.scoring.format import FORMAT_PATTERN, format_reward, matches_format

_pieces = st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "\u3000", "x", "<", ">", "/"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_pieces, max_size=14).map("".join))
def test_matches_format_decides_like_the_reference_regex(text):
    assert matches_format(text) == (FORMAT_PATTERN.fullmatch(text) is not None)


def test_format_examples():
    assert format_reward("<think>a</think>\n <answer>b</answer>") == 1.0
    assert format_reward("<think></think><answer></answer>") == 1.0
    assert format_reward("  <think>a</think><answer>b</answer>\n") == 1.0  # stripped by default
    assert format_reward("  <think>a</think><answer>b</answer>", FormatConfig(strip=False)) == 0.0
    assert format_reward("<think>a</think>x<answer>b</answer>") == 0.0
    assert format_reward("<think>a</think><answer>b</answer>tail") == 0.0
    assert format_reward(None) == 0.0 and format_reward(b"<think>") == 0.0


def test_format_work_is_linear_in_closing_tags(count_steps):
    # Every "</think>" is a candidate end of the think block (the lazy regex retries the rest of the text for each).
    def closings(n):
        return "<think>" + "</think> x<answer>" * n + "</answer>"

    small, large = (count_steps(format_reward, closings(n)) for n in (100, 1000))
    assert 5 * small <= large <= 12 * small
