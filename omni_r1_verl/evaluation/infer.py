"""``omni-r1 infer``: one video file and a query through System 1 and System 2, as the evaluator runs them, drawn.

Stages, each with its progress bar:

1. **decode**: the video is decoded once (PyAV) into lossless PNG frames in a temporary folder under the output
   folder, and its audio (the video's own track, or ``--audio FILE``) into a 16 kHz mono WAV beside them. Together
   they form one prepared row (:func:`omni_r1_verl.data.rows.make_row`), so everything after reads them exactly as
   ``omni-r1 eval`` reads a frame-folder dataset.
2. **System 1**: the evaluation clip of that row (:meth:`~omni_r1_verl.evaluation.samples.EvalSample.messages`:
   ``evaluation.clip_frames`` uniformly spaced frames at the training resolution, the audio) goes to the System-1
   engine of ``evaluation.system1`` (:func:`~omni_r1_verl.evaluation.system1.build_system1`; the checkpoint loads
   through :func:`~omni_r1_verl.models.qwen2_5_omni.checkpoint.load_thinker`), or the text of ``--answer-file`` is
   used instead; :func:`~omni_r1_verl.evaluation.plan.plan_from_answer` (the reward's parser) picks the keyframes.
3. **System 2**: :meth:`~omni_r1_verl.detail.engine.DetailEngine.run_video` grounds them on the native-resolution
   frames and SAM2 propagates every object through the whole video; each object's masks stream to ``masks/``.
4. **render**: ``overlay.mp4`` (same frames and rate as the input, the input's audio), ``timeline.png`` and
   ``answer.json``.

Audio rule: a ``vos`` query (the default) uses the audio when there is some (the video's track, or ``--audio``) and
runs without it otherwise; ``--task avs`` (System 1 hears the audio and sees the first frame, as Ref-AVS) and
``--require-audio`` make a missing track an error. Every input problem is an :class:`InferError`: one line naming
the file and the fix.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from omni_r1_verl.contracts.clip import Clip
from omni_r1_verl.contracts.rows import GroundTruth, MediaRef, Task
from omni_r1_verl.contracts.system2 import DetailRequest, DetailStatus
from omni_r1_verl.data.media import AUDIO_SAMPLE_RATE, MediaError, audio_num_samples, load_audio, load_image
from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.rows import make_row
from omni_r1_verl.data.sampling import uniform_indices
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.evaluation.config import EvalConfig
from omni_r1_verl.evaluation.plan import Plan, plan_from_answer
from omni_r1_verl.evaluation.samples import EvalSample
from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.utils.model_output import tagged_span
from omni_r1_verl.visualize import (
    Audio,
    Frame,
    Keyframe,
    MaskReader,
    MaskWriter,
    iter_video,
    marks_from_answer,
    probe_video,
    render_timeline,
    save_png,
    write_overlay_video,
)
from omni_r1_verl.visualize.types import AnswerMarks

logger = logging.getLogger(__name__)

#: Tasks of ``--task``.
TASKS = ("vos", "avs")
#: Output names inside ``--out``.
OVERLAY, TIMELINE, MASKS, ANSWER = "overlay.mp4", "timeline.png", "masks", "answer.json"
_STAGES = ("decode", "System 1", "System 2", "render")


class InferError(ValueError):
    """An input of ``omni-r1 infer`` cannot be used (one line: the file, what is wrong, the fix)."""


@dataclass
class InferSettings:
    """One ``omni-r1 infer`` run.

    Attributes:
        video: The video file.
        query: The referring query (or, for ``avs``, the expression System 1 rewrites).
        out: Output folder.
        model: System-1 checkpoint (thinker-only or full Qwen2.5-Omni); unused with ``answer_file``.
        audio: Audio file to use instead of the video's own track.
        task: ``vos`` (System 1 picks moments in the clip) or ``avs`` (Ref-AVS: audio + first frame).
        require_audio: Fail when there is no audio (implied by ``avs``).
        answer_file: A System-1 answer text to use instead of running System 1 (replays or debugs an answer; it
            goes through the same parser and System 2).
        evaluation: The ``evaluation`` section (System-1 engine, ``clip_frames``, answer limits, ``chunk_frames``).
        system2: The ``system2`` section.
        omni_data: The ``data.omni_r1`` section (System-1 budgets, virtual fps, prompt).
        device: ``auto``, ``cpu`` or ``cuda[:N]`` for both systems.
        progress: Show progress bars.
    """

    video: Path
    query: str
    out: Path
    model: str = ""
    audio: Path | None = None
    task: str = "vos"
    require_audio: bool = False
    answer_file: Path | None = None
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    system2: DetailConfig = field(default_factory=DetailConfig)
    omni_data: OmniDataConfig = field(default_factory=OmniDataConfig)
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        self.video, self.out = Path(self.video), Path(self.out)
        self.audio = Path(self.audio) if self.audio else None
        self.answer_file = Path(self.answer_file) if self.answer_file else None
        if self.task not in TASKS:
            raise InferError(f"unknown task {self.task!r}; known: {', '.join(TASKS)}")
        if not self.query.strip():
            raise InferError("the query is empty: give the referring expression as the second argument")
        if not self.model and self.answer_file is None:
            raise InferError("no System 1: give --model PATH (a Qwen2.5-Omni checkpoint) or --answer-file FILE")

    @property
    def needs_audio(self) -> bool:
        """A missing audio track is an error."""
        return self.require_audio or self.task == "avs"


@dataclass
class InferResult:
    """What a run wrote.

    Attributes:
        out: The output folder.
        answer: The contents of ``answer.json``.
    """

    out: Path
    answer: dict[str, Any]

    @property
    def overlay(self) -> Path:
        """``overlay.mp4``."""
        return self.out / OVERLAY

    @property
    def timeline(self) -> Path:
        """``timeline.png``."""
        return self.out / TIMELINE

    @property
    def masks(self) -> Path:
        """``masks/``."""
        return self.out / MASKS


@dataclass
class _Inputs:
    """Checked inputs: the video's header, the audio source and the answer text (when given)."""

    num_frames: int
    fps: float
    width: int
    height: int
    audio: Path | None
    answer_text: str | None


def check_inputs(s: InferSettings) -> _Inputs:
    """Check every input before anything heavy runs.

    Raises:
        InferError: With the file and the fix.
    """
    if not s.video.is_file():
        raise InferError(f"{s.video}: no such file; give the path of a video (mp4, webm, mov, ...)")
    try:
        info = probe_video(s.video)
    except MediaError as err:
        raise InferError(f"{err}; give a video file PyAV can decode (mp4, webm, mov, ...)") from None
    if not info.fps > 0 or info.width < 1 or info.height < 1:
        raise InferError(
            f"{s.video}: no frame rate or frame size in its header; re-encode it (e.g. ffmpeg -i IN OUT.mp4)"
        )
    audio = s.audio
    if audio is not None:
        try:
            audio_num_samples(audio)
        except MediaError as err:
            raise InferError(
                f"--audio {audio}: {err}; give an audio file (wav, flac, mp3, ...) or a video with sound"
            ) from None
    elif info.has_audio:
        audio = s.video
    elif s.needs_audio:
        why = "--task avs" if s.task == "avs" else "--require-audio"
        raise InferError(f"{s.video} has no audio track and {why} needs the sound; give --audio FILE")
    answer_text = None
    if s.answer_file is not None:
        try:
            answer_text = s.answer_file.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise InferError(f"--answer-file {s.answer_file}: {err.strerror or err}; give a text file") from None
    else:
        from omni_r1_verl.models.qwen2_5_omni.checkpoint import CheckpointError, inspect_checkpoint

        try:
            checkpoint = inspect_checkpoint(s.model)
        except CheckpointError as err:
            raise InferError(f"--model: {err}") from None
        if not checkpoint.has_processor:
            raise InferError(
                f"--model {s.model}: no processor_config.json / preprocessor_config.json; copy the processor and "
                "tokenizer files from the Qwen2.5-Omni checkpoint it was trained from"
            )
    try:
        s.system2.check_paths(need_grounding=True)
    except FileNotFoundError as err:
        raise InferError(f"System 2: {err}") from None
    return _Inputs(info.num_frames, info.fps, info.width, info.height, audio, answer_text)


def _bar(s: InferSettings, stage: int, total: int | None = None, unit: str = "frame"):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=f"[{stage + 1}/{len(_STAGES)}] {_STAGES[stage]}",
        unit=unit,
        disable=not s.progress,
        dynamic_ncols=True,
        leave=True,
    )


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def _decode(s: InferSettings, inputs: _Inputs, work: Path) -> tuple[list[str], Audio | None]:
    """Frames as PNG files under ``work/frames`` (relative names) and the audio as ``work/audio.wav``."""
    (work / "frames").mkdir()
    names: list[str] = []
    with _bar(s, 0, inputs.num_frames or None) as bar:
        try:
            for i, image in enumerate(iter_video(s.video)):
                name = f"frames/{i:06d}.png"
                Image.fromarray(image).save(work / name, compress_level=1)
                names.append(name)
                bar.update(1)
        except MediaError as err:
            raise InferError(
                f"{err}; the file is corrupt or truncated: re-encode it (e.g. ffmpeg -i IN OUT.mp4)"
            ) from None
        if not names:
            raise InferError(f"{s.video} has no frames; give a non-empty video")
        audio = None
        if inputs.audio is not None:
            try:
                samples = load_audio(inputs.audio, AUDIO_SAMPLE_RATE)
            except MediaError as err:
                raise InferError(f"{err}; give --audio FILE with a readable track") from None
            _write_wav(work / "audio.wav", samples, AUDIO_SAMPLE_RATE)
            audio = Audio(samples, AUDIO_SAMPLE_RATE)
    return names, audio


def _sample(s: InferSettings, inputs: _Inputs, work: Path, frames: list[str], audio: Audio | None) -> EvalSample:
    """The prepared row of the decoded video, parsed as the evaluator parses rows."""
    gt = GroundTruth(Task(s.task), "", len(frames), inputs.height, inputs.width, num_objects=0)
    media = MediaRef(frames=frames, audio="audio.wav" if audio is not None else "", fps=inputs.fps)
    row = make_row(
        data_source="infer",
        content=s.query,
        ground_truth=gt,
        media=media,
        split="infer",
        sample_id=s.video.name,
        expression=s.query,
    )
    row["extra_info"]["dataset_root"] = str(work)
    row["extra_info"]["index"] = 0
    return EvalSample.from_row(row, 0)


def _system1(s: InferSettings, inputs: _Inputs, sample: EvalSample) -> tuple[str, Clip, dict[str, Any]]:
    cfg = s.evaluation
    messages, clip = sample.messages(s.omni_data, cfg.clip_frames, cfg.system1.use_audio_in_video)
    if inputs.answer_text is not None:
        return inputs.answer_text, clip, {"answer_file": str(s.answer_file)}
    from omni_r1_verl.evaluation.system1 import build_system1

    with _bar(s, 1, 1, "answer") as bar:
        engine = build_system1(s.model, dataclasses.replace(cfg.system1, device=s.device), s.omni_data)
        try:
            (text,) = engine.generate([messages])
        except MediaError as err:
            raise InferError(f"{err}; re-encode the input (e.g. ffmpeg -i IN OUT.mp4)") from None
        bar.update(1)
    described = engine.describe()
    del engine
    _free_gpu()
    return text, clip, described


def _free_gpu() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _marks(task: Task, text: str, clip: Clip, plan: Plan, s: InferSettings, fps: float) -> AnswerMarks:
    """Moments and keyframes in video seconds, for the overlay and the timeline."""
    if task is Task.VOS:
        parsed = parse_answer(text, clip.num_frames, clip.fps, s.evaluation.answer)
        return marks_from_answer(parsed, np.asarray(clip.frame_indices) / fps)
    keyframes = tuple(Keyframe(k.clip_index / fps, k.description) for k in plan.keyframes)
    return AnswerMarks((), keyframes)


def _object_names(outcome) -> dict[int, dict[str, Any]]:
    """Object id -> name (the first keyframe description that prompted it), keyframes and prompt boxes."""
    objects = {}
    for k, prompt in enumerate(outcome.prompts):
        keyframes = [
            j
            for frame, box in prompt.prompts
            for j, kf in enumerate(outcome.keyframes)
            if kf.frame == frame and tuple(box) in kf.pred_boxes
        ]
        name = outcome.keyframes[keyframes[0]].description if keyframes else f"object {k + 1}"
        objects[k + 1] = {
            "id": k + 1,
            "name": name,
            "keyframes": sorted({j + 1 for j in keyframes}),
            "prompts": [{"video_frame": int(f), "box": list(b)} for f, b in prompt.prompts],
        }
    return objects


def _system2(
    s: InferSettings, work: Path, frames: list[str], plan: Plan, fps: float
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """Run System 2 over the whole video; masks go to ``out/masks``. Returns the record part and the objects."""
    masks_dir = s.out / MASKS
    if not plan.keyframes:
        _empty_masks(masks_dir, len(frames), fps)
        return {"status": DetailStatus.NO_VALID_MOMENT.value, "reason": plan.reason, "keyframes": []}, {}
    from omni_r1_verl.detail.engine import DetailEngine

    request = DetailRequest(
        group_key="infer",
        rollout_id="infer",
        dataset_root=str(work),
        frame_paths=frames,
        frame_indices=list(range(len(frames))),
        gt_key="",
        keyframes=plan.keyframes,
    )
    with _bar(s, 2, len(frames)) as bar:
        engine = DetailEngine(s.system2, s.device)
        writer = MaskWriter(masks_dir)
        saving = [0.0]

        def sink(positions: np.ndarray, masks: np.ndarray) -> None:
            t = time.perf_counter()
            for f, per_object in zip(positions.tolist(), masks):
                writer.add(f, {k + 1: m for k, m in enumerate(per_object)}, time_s=f / fps)
            saving[0] += time.perf_counter() - t
            bar.update(len(positions))

        outcome = engine.run_video(request, sink, chunk_frames=s.evaluation.chunk_frames, per_object=True)
    del engine
    _free_gpu()
    objects = _object_names(outcome) if outcome.status is DetailStatus.OK else {}
    if outcome.status is DetailStatus.OK:
        writer.object_names.update({i: o["name"] for i, o in objects.items()})
        writer.close()
    else:  # nothing (or a part) was segmented: the folder says so for every frame
        _empty_masks(masks_dir, len(frames), fps)
    record = {
        "status": outcome.status.value,
        "reason": outcome.message,
        "keyframes": [k.to_dict() for k in outcome.keyframes],
        "timings": {k: v for k, v in outcome.timings.items() if k not in ("total", "segmentation")},
    }
    if "segmentation" in outcome.timings:  # the sink ran inside SAM2's loop: keep SAM2's own time apart
        record["timings"].update(sam2=outcome.timings["segmentation"] - saving[0], save_masks=saving[0])
    return record, objects


def _empty_masks(directory: Path, num_frames: int, fps: float) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    with MaskWriter(directory) as writer:
        for f in range(num_frames):
            writer.add(f, {}, time_s=f / fps)


def _frames(work: Path, names: list[str], masks: MaskReader, fps: float, indices=None) -> Iterator[Frame]:
    for f in range(len(names)) if indices is None else indices:
        f = int(f)
        yield Frame(np.asarray(load_image(work / names[f])), f / fps, masks.read(f))


def _render(s: InferSettings, work: Path, names: list[str], clip: Clip, marks: AnswerMarks, audio, fps: float):
    masks = MaskReader(s.out / MASKS)
    with _bar(s, 3, len(names)) as bar:

        def counted() -> Iterator[Frame]:
            for frame in _frames(work, names, masks, fps):
                yield frame
                bar.update(1)

        video = write_overlay_video(
            s.out / OVERLAY, counted(), fps, keyframes=marks.keyframes, query=s.query, audio=audio
        )
        strip = clip.frame_indices if s.task == "vos" else uniform_indices(len(names), s.evaluation.clip_frames)
        timeline = render_timeline(
            list(_frames(work, names, masks, fps, strip)),
            query=s.query,
            moments=marks.moments,
            keyframes=marks.keyframes,
            audio=audio,
            duration_s=len(names) / fps,
        )
        save_png(s.out / TIMELINE, timeline)
    return video, timeline.shape


def _block(text: str, tag: str) -> str:
    span = tagged_span(text, tag)
    return text[span[0] : span[1]].strip() if span else ""


def run_infer(settings: InferSettings) -> InferResult:
    """Run the four stages (see the module docstring) and write the outputs.

    Args:
        settings: The run.

    Returns:
        Where the outputs are, and ``answer.json``'s contents.

    Raises:
        InferError: For an unusable input (checked before models load, or found while decoding).
        omni_r1_verl.models.qwen2_5_omni.checkpoint.CheckpointError: When loading the checkpoint fails.
    """
    s = settings
    start = time.perf_counter()
    inputs = check_inputs(s)
    s.out.mkdir(parents=True, exist_ok=True)
    for name in (OVERLAY, TIMELINE, ANSWER):
        (s.out / name).unlink(missing_ok=True)
    shutil.rmtree(s.out / MASKS, ignore_errors=True)
    timings: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix=".infer-", dir=s.out))
    try:
        t = time.perf_counter()
        names, audio = _decode(s, inputs, work)
        timings["decode"] = time.perf_counter() - t
        sample = _sample(s, inputs, work, names, audio)

        t = time.perf_counter()
        text, clip, system1 = _system1(s, inputs, sample)
        timings["system1"] = time.perf_counter() - t
        task = Task(s.task)
        pixels = (s.omni_data.image_min_pixels, s.omni_data.image_max_pixels)
        plan = plan_from_answer(
            task, text, clip, s.evaluation.answer, image_hw=(inputs.height, inputs.width), image_pixels=pixels
        )
        marks = _marks(task, text, clip, plan, s, inputs.fps)

        t = time.perf_counter()
        system2, objects = _system2(s, work, names, plan, inputs.fps)
        timings.update(system2.pop("timings", {}))
        timings["system2"] = time.perf_counter() - t

        t = time.perf_counter()
        video, timeline_shape = _render(s, work, names, clip, marks, audio, inputs.fps)
        timings["render"] = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timings["total"] = time.perf_counter() - start
    answer = _answer_record(s, inputs, names, audio, text, clip, plan, marks, system1, system2, objects)
    answer["outputs"] = {"overlay": OVERLAY, "timeline": TIMELINE, "masks": MASKS}
    answer["overlay"] = {"frames": video.num_frames, "fps": video.fps, "codec": video.codec}
    answer["timeline"] = {"height": int(timeline_shape[0]), "width": int(timeline_shape[1])}
    answer["timings"] = timings
    (s.out / ANSWER).write_text(json.dumps(answer, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return InferResult(s.out, answer)


def _answer_record(s, inputs, names, audio, text, clip, plan, marks, system1, system2, objects) -> dict[str, Any]:
    fps = inputs.fps
    boxes = {int(k["frame"]): k for k in system2["keyframes"]}
    keyframes = []
    for i, (query, clip_frame) in enumerate(zip(plan.keyframes, plan.clip_frames)):
        frame = int(query.clip_index)
        detail = boxes.get(frame, {})
        keyframes.append(
            {
                "index": i + 1,
                "clip_frame": clip_frame,
                "video_frame": frame,
                "time_s": frame / fps,
                "description": query.description,
                "boxes": detail.get("pred_boxes", []),
                "rejected_boxes": detail.get("rejected_boxes", 0),
                "moment": marks.keyframes[i].moment + 1 if marks.keyframes[i].moment is not None else None,
            }
        )
    moments = [
        {**m, "video_start_s": v.start_s, "video_end_s": v.end_s}
        for m, v in zip((m for m in plan.moments if m["valid"]), marks.moments)
    ]
    return {
        "video": str(s.video),
        "query": s.query,
        "task": s.task,
        "input": {
            "frames": len(names),
            "fps": fps,
            "width": inputs.width,
            "height": inputs.height,
            "duration_s": len(names) / fps,
            "audio": None if audio is None else {"source": str(inputs.audio), "seconds": audio.duration_s},
        },
        "system1": system1,
        "response": text,
        "reasoning": _block(text, "think"),
        "answer": _block(text, "answer"),
        "clip": {
            "video_frames": list(clip.frame_indices),
            "times_s": [f / fps for f in clip.frame_indices],
            "virtual_fps": clip.fps,
        },
        "moments": moments,
        "invalid_moments": [m for m in plan.moments if not m["valid"]],
        "problems": plan.problems,
        "keyframes": keyframes,
        "objects": list(objects.values()),
        "system2": {"status": system2["status"], "reason": system2["reason"]},
    }
