"""Prompt templates render as the reference did."""

from __future__ import annotations

import random
import re

import pytest

from omni_r1_verl.contracts.prompts import (
    GroundingPromptStyle,
    render_grounding_prompt,
    render_refavs_prompt,
    render_segzero_prompt,
    render_vos_prompt,
)


def test_vos_forced_prompt_has_duration_expression_and_four_example_moments():
    text = render_vos_prompt("the dog that jumps", num_frames=20, rng=random.Random(1))
    assert text.startswith("Given a 10.0 seconds video and a reference instruction: [the dog that jumps] that")
    assert text.count("[the dog that jumps]") == 2
    starts = re.findall(r'"start_time": "00:(\d\d\.\d\d)"', text)
    ends = re.findall(r'"end_time": "00:(\d\d\.\d\d)"', text)
    assert len(starts) == 4 and starts == ends  # the reference sets end = start in the example
    assert all(0 <= float(s) <= 9.0 and float(s) * 2 == int(float(s) * 2) for s in starts)
    assert "[" + "start" not in text and "[frames]" not in text


@pytest.mark.parametrize("fps", [1.0, 2.0, 4.0])
def test_vos_prompt_states_the_clip_duration_at_the_clip_fps(fps):
    text = render_vos_prompt("the dog", num_frames=20, rng=random.Random(3), fps=fps)
    assert text.startswith(f"Given a {20 / fps} seconds video and")
    starts = [float(s) for s in re.findall(r'"start_time": "00:(\d\d\.\d\d)"', text)]
    # Example times sit on clip frames (k / fps) and inside the clip.
    assert starts and all(0 <= s < 20 / fps and abs(s * fps - round(s * fps)) < 1e-9 for s in starts)


def test_vos_prompt_refuses_a_non_positive_fps():
    with pytest.raises(ValueError, match="fps"):
        render_vos_prompt("x", 8, fps=0.0)


def test_vos_prompt_is_deterministic_for_a_seeded_rng():
    a = render_vos_prompt("x", 24, rng=random.Random(7))
    b = render_vos_prompt("x", 24, rng=random.Random(7))
    assert a == b


def test_vos_no_hint_prompt_asks_for_mm_ss_ff():
    text = render_vos_prompt("a cat", num_frames=16, forced=False)
    assert text.endswith("in json format with 'mm:ss.ff' format for time depiction.")
    assert "about 1-4 most relevant moments" in text


def test_refavs_and_segzero_prompts():
    assert "reference instruction: [the guitar]," in render_refavs_prompt("the guitar")
    seg = render_segzero_prompt("The red car.")
    assert seg.startswith("Please find 'the red car' with bbox and points.Compare")
    assert '"points_2": [x4, y4]' in seg


@pytest.mark.parametrize("style", list(GroundingPromptStyle))
def test_grounding_prompts_embed_the_description(style):
    text = render_grounding_prompt("Man in a red shirt.", style)
    assert "man in a red shirt" in text.lower()
    assert "{Question}" not in text and "{Answer}" not in text
