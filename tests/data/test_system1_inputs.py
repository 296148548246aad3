"""System-1 messages of a row: the prompt tells the clip's real length at the configured virtual fps."""

from __future__ import annotations

import re

import pytest
from omni_rows import make_row, write_frames

from omni_r1_verl.contracts.rows import MediaRef, Task
from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.system1_inputs import build_system1_messages


@pytest.mark.parametrize("fps", [1.0, 2.0, 4.0])
def test_vos_prompt_and_clip_record_use_the_configured_fps(tmp_path, fps):
    frames = write_frames(tmp_path / "vid", 12, 28, 28)
    row = make_row(tmp_path, "s", Task.VOS, MediaRef(frames=[str(p.relative_to(tmp_path)) for p in frames]), 12, 28, 28)
    config = OmniDataConfig(min_frames=8, max_frames=8, fps=fps)
    messages, clip = build_system1_messages(row, epoch=0, config=config, use_audio_in_video=False)
    text = next(c["text"] for c in messages[-1]["content"] if c["type"] == "text")
    num_frames = len(clip["frame_indices"])
    assert clip["fps"] == fps
    stated = float(re.match(r"Given a ([\d.]+) seconds video", text).group(1))
    assert stated == num_frames / fps
