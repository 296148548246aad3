"""Small prepared rows and media for Qwen2.5-Omni tests, written per ``docs/architecture.md`` §1 (no converter).

Importable from any test module (the root ``conftest.py`` puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import fractions
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task

SAMPLE_RATE = 16_000


def write_frames(folder: Path, count: int, height: int, width: int, seed: int = 0) -> list[Path]:
    """Random RGB PNG frames ``00000.png`` ... (distinct content per frame)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def write_wav(path: Path, seconds: float, seed: int = 0) -> Path:
    """A 16 kHz mono noise WAV."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    wave = (np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)
    sf.write(str(path), wave, SAMPLE_RATE)
    return path


def write_mp4(path: Path, frames: int, height: int, width: int, fps: int, audio_seconds: float, seed: int = 0) -> Path:
    """An MPEG-4 video with an AAC mono 16 kHz audio track (PyAV only, no ffmpeg binary)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        wave = (rng.standard_normal(int(audio_seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)
        for start in range(0, len(wave), 1024):
            chunk = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="flt", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = SAMPLE_RATE, start, fractions.Fraction(1, SAMPLE_RATE)
            for packet in audio.encode(chunk):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


def make_row(
    root: Path,
    sample_id: str,
    task: Task,
    media: MediaRef,
    num_frames: int,
    height: int,
    width: int,
    expression: str = "the dog that barks",
    split: str = "train",
    index: int = 0,
) -> dict[str, Any]:
    """A prepared row (all columns of the contract, one object, no masks)."""
    gt = GroundTruth(
        task=task,
        gt_key=sample_id,
        num_frames=num_frames,
        height=height,
        width=width,
        num_objects=1,
        areas=[[100] * num_frames],
    )
    placeholder = {"vos": "<video>", "avs": "<audio><image>", "image_grounding": "<image>"}[task.value]
    return {
        "data_source": {"vos": "revos", "avs": "refavs", "image_grounding": "refcocog"}[task.value],
        "agent_name": "omni_r1_agent",
        "prompt": [{"role": "user", "content": placeholder + expression}],
        "reward_model": {"style": "rule", "ground_truth": gt.to_json()},
        "extra_info": {
            "index": index,
            "split": split,
            "sample_id": sample_id,
            "dataset_root": str(root),
            "expression": expression,
            "task": task.value,
            "media": media.to_json(),
        },
    }


def write_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write rows with one Arrow schema (as ``omni-r1 prepare`` does)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def build_dataset(root: Path, frame_hw: tuple[int, int] = (56, 84)) -> dict[str, dict[str, Any]]:
    """One row of each kind under ``root``: frames + wav (VOS), mp4 with audio (VOS), silent frames (VOS),
    RefAVS (frames + wav) and refCOCOg (one image). Returns rows by sample id."""
    h, w = frame_hw
    rows = {}
    frames = write_frames(root / "revos" / "vid_a", 30, h, w, seed=1)
    write_wav(root / "revos" / "vid_a.wav", 15.0, seed=1)
    rows["vos_wav"] = make_row(
        root,
        "vos_wav",
        Task.VOS,
        MediaRef(frames=[str(p.relative_to(root)) for p in frames], audio="revos/vid_a.wav", fps=2.0),
        30,
        h,
        w,
        index=0,
    )
    write_mp4(root / "clips" / "vid_b.mp4", 20, h, w, fps=2, audio_seconds=10.0, seed=2)
    rows["vos_mp4"] = make_row(
        root,
        "vos_mp4",
        Task.VOS,
        MediaRef(frames=["clips/vid_b.mp4"], audio_in_video=True, fps=2.0),
        20,
        h,
        w,
        index=1,
    )
    silent = write_frames(root / "mevis" / "vid_c", 12, h, w, seed=3)
    rows["vos_silent"] = make_row(
        root, "vos_silent", Task.VOS, MediaRef(frames=[str(p.relative_to(root)) for p in silent]), 12, h, w, index=2
    )
    avs = write_frames(root / "refavs" / "vid_d" / "frames", 10, h, w, seed=4)
    write_wav(root / "refavs" / "vid_d" / "audio.wav", 10.0, seed=4)
    rows["avs"] = make_row(
        root,
        "avs",
        Task.AVS,
        MediaRef(frames=[str(p.relative_to(root)) for p in avs], audio="refavs/vid_d/audio.wav"),
        10,
        h,
        w,
        index=3,
    )
    image = write_frames(root / "refcocog", 1, h, w, seed=5)
    rows["image"] = make_row(
        root,
        "image",
        Task.IMAGE_GROUNDING,
        MediaRef(frames=[str(image[0].relative_to(root))]),
        1,
        h,
        w,
        expression="the red cup",
        index=4,
    )
    return rows
