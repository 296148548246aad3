"""The synthetic showcase writes every output, consistent with each other."""

from __future__ import annotations

from omni_r1_verl.visualize import MaskReader, probe_video, read_video
from omni_r1_verl.visualize.synthetic import main, render_synthetic


def test_outputs_agree(tmp_path, capsys):
    paths = render_synthetic(tmp_path, height=64, width=96, num_frames=16, fps=8.0, clip_frames=8)
    info = probe_video(paths["overlay"])
    frames, fps = read_video(paths["overlay"])
    assert len(frames) == 16 and fps == 8.0 and info.has_audio
    reader = MaskReader(paths["masks"])
    assert reader.frames == list(range(16)) and reader.objects  # the answer's objects, named
    assert all(set(masks) <= set(reader.objects) for _, masks in reader)
    assert any(len(masks) for _, masks in reader)
    assert paths["timeline"].stat().st_size > 0 and paths["gallery"].is_file()
    assert (paths["gallery"].parent.parent / "index.html").is_file()
    t = next(t for t, masks in reader if masks)
    mask = next(iter(reader.read(t).values()))
    assert mask.shape == frames.shape[1:3] and mask.any()
    main([str(tmp_path / "cli"), "--height", "48", "--width", "64", "--frames", "8"])
    assert "overlay" in capsys.readouterr().out and (tmp_path / "cli" / "overlay.mp4").is_file()
