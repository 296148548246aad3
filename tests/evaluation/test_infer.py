"""``omni-r1 infer`` on a synthetic video with the tiny models on CPU: the overlay, the timeline, the masks, the
answer record, and the one-line errors.

System 1's answer comes from ``--answer-file`` (the tiny random thinker never writes a valid moment; the file goes
through the same parser, plan and System 2 as a generated answer), and the keyframes are grounded by a grounder
registered here that finds the red square's pixels (the tiny thinker would return no box). SAM2 is the real tiny
model. The tiny thinker itself runs once, for the path where System 1 gives no valid moment.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from omni_r1_verl.cli import main
from omni_r1_verl.data.synthetic.scene import COLOURS, Scene, Shape
from omni_r1_verl.detail.grounders.base import Grounder, register_grounder
from omni_r1_verl.visualize import (
    Audio,
    Frame,
    Keyframe,
    MaskReader,
    Moment,
    OverlayRenderer,
    VideoWriter,
    blend_masks,
    moment_colour,
    probe_video,
    read_video,
    timeline_layout,
)
from omni_r1_verl.visualize.overlay import inner_edge

FPS = 10.0
QUERY = "the red square"
ANSWER = (
    "<think>The red square is easy to see early on.</think><answer>"
    '[{"start_time": "00:01.0", "end_time": "00:02.5", "description": "the red square on the left"}]</answer>'
)


@register_grounder("test_red_pixels")
class RedPixelGrounder(Grounder):
    """Answers the box of the red pixels of each keyframe (in the resized image's pixels, as a VLM would)."""

    def generate(self, images, prompts):
        texts = []
        for image in images:
            pixels = np.asarray(image).astype(int)
            ys, xs = np.nonzero(np.abs(pixels - COLOURS["red"]).sum(axis=-1) < 90)
            box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else None
            texts.append(json.dumps([{"bbox_2d": box, "label": "red"}]) if box else "[]")
        return texts


def _write_video(path, num_frames=12, audio=True):
    square = Shape("square", "red", 80.0, 160.0, 200.0, 12.0, 4.0, 0, num_frames - 1)
    scene = Scene(480, 640, num_frames, (square,), (120, 130, 140), 7)
    pixels, _ = scene.render()
    track = Audio(scene.audio([0], num_frames / FPS), 16_000) if audio else None
    with VideoWriter(path, FPS, audio=track) as writer:
        for frame in pixels:
            writer.write(frame)
    return path


def _system2(tiny_assets) -> list[str]:
    return [
        f"system2.sam2.checkpoint={tiny_assets.sam2_checkpoint}",
        f"system2.sam2.config={tiny_assets.sam2_config}",
        "system2.grounding.backend=test_red_pixels",
        f"system2.grounding.model_path={tiny_assets.thinker}",
        "evaluation.clip_frames=8",
        "evaluation.answer.max_keyframes=2",
    ]


def _infer(*args: str) -> int:
    return main(["infer", *args, "--device", "cpu", "--no-progress"])


@pytest.fixture(scope="module")
def run(tiny_assets, tmp_path_factory):
    root = tmp_path_factory.mktemp("infer")
    video = _write_video(root / "in.mp4")
    (root / "answer.txt").write_text(ANSWER)
    out = root / "out"
    code = _infer(
        str(video), QUERY, "--answer-file", str(root / "answer.txt"), "--out", str(out), *_system2(tiny_assets)
    )
    assert code == 0
    return video, out, json.loads((out / "answer.json").read_text())


def test_answer_records_moments_keyframes_boxes_and_objects(run):
    _, out, answer = run
    assert answer["reasoning"] == "The red square is easy to see early on."
    assert answer["system2"]["status"] == "ok" and answer["problems"] == []
    (moment,) = answer["moments"]
    assert (moment["start"], moment["end"], moment["description"]) == (1.0, 2.5, "the red square on the left")
    clip = answer["clip"]["video_frames"]
    assert len(clip) == 8 and moment["video_start_s"] == pytest.approx(clip[2] / FPS)
    keyframes = answer["keyframes"]
    assert len(keyframes) == 2 and all(k["boxes"] and k["video_frame"] in clip for k in keyframes)
    assert all(k["time_s"] == k["video_frame"] / FPS and k["moment"] == 1 for k in keyframes)
    # One SAM2 object per accepted box (per_box association), named after its keyframe's description.
    objects = answer["objects"]
    assert [o["id"] for o in objects] == [1, 2]
    prompted = sorted((p["video_frame"], tuple(p["box"])) for o in objects for p in o["prompts"])
    assert prompted == sorted((k["video_frame"], tuple(k["boxes"][0])) for k in keyframes)
    assert all(o["name"] == "the red square on the left" for o in objects)
    assert {"decode", "system2", "sam2", "render", "total"} <= set(answer["timings"])


def test_masks_decode_to_the_answers_objects(run):
    video, out, answer = run
    reader = MaskReader(out / "masks")
    n = probe_video(video).num_frames
    assert reader.frames == list(range(n)) and (reader.height, reader.width) == (480, 640)
    assert reader.objects == {o["id"]: o["name"] for o in answer["objects"]}
    for frame in (0, n - 1):
        raw = json.loads((out / "masks" / f"frame_{frame:06d}.json").read_text())["masks"]
        decoded = reader.read(frame)
        assert set(decoded) <= {1, 2} and decoded
        for key, rle in raw.items():  # standard COCO RLE, read as is by pycocotools
            assert np.array_equal(mask_utils.decode(rle).astype(bool), decoded[int(key)])


def test_overlay_has_the_inputs_frames_and_differs_exactly_where_masks_are(run):
    video, out, answer = run
    plain, fps = read_video(video)
    overlay, overlay_fps = read_video(out / "overlay.mp4")
    assert overlay.shape == plain.shape and overlay_fps == fps and probe_video(out / "overlay.mp4").has_audio
    reader = MaskReader(out / "masks")
    keyframes = [Keyframe(k["time_s"], k["description"], 0) for k in answer["keyframes"]]
    renderer = OverlayRenderer(fps, keyframes=keyframes, query=QUERY)
    caption_rows = np.flatnonzero((renderer.render(Frame(plain[0], 99.0)) != plain[0]).any(axis=(1, 2)))
    body = np.s_[: caption_rows.min() - 4]
    checked = 0
    for t in range(len(plain)):
        if renderer.active_keyframe(t / fps) is not None:
            continue  # keyframe border and label: checked below
        masks = reader.read(t)
        union = np.any(np.stack(list(masks.values())), axis=0)
        near = union.copy()
        for _ in range(3):  # the codec smears a mask's edge over a pixel or two
            near[1:] |= near[:-1].copy()
            near[:-1] |= near[1:].copy()
            near[:, 1:] |= near[:, :-1].copy()
            near[:, :-1] |= near[:, 1:].copy()
        diff = np.abs(overlay[t].astype(int) - plain[t].astype(int)).max(axis=2)
        away = diff[body][~near[body]]
        assert np.percentile(away, 99) <= 12 and away.mean() <= 3  # away from the masks: codec noise only
        # Inside the masks, two pixels away from the 2-pixel outline: the input blended with the objects' colours,
        # later objects over earlier ones (the renderer's formula, on the decoded input).
        interior = union & ~inner_edge(union, 4)
        interior[caption_rows.min() - 4 :] = False
        if not interior.any():
            continue
        assert diff[interior].mean() > 25
        expected = blend_masks(plain[t], masks, alpha=0.45, outline_px=2)
        ys, xs = np.nonzero(interior)
        for y, x in list(zip(ys, xs))[:: max(1, len(ys) // 4)]:
            assert np.abs(overlay[t][y, x].astype(int) - expected[y, x]).max() <= 16
            checked += 1
    assert checked >= 8
    k = answer["keyframes"][0]["video_frame"]
    assert np.abs(overlay[k][2, :].astype(int) - moment_colour(0)).max(axis=1).mean() <= 16  # the border


def test_timeline_has_the_expected_size_and_marks(run):
    video, out, answer = run
    from PIL import Image

    timeline = np.asarray(Image.open(out / "timeline.png").convert("RGB"))
    plain, fps = read_video(video)
    frames = [Frame(plain[f], f / fps) for f in answer["clip"]["video_frames"]]
    moments = [Moment(m["video_start_s"], m["video_end_s"], m["description"]) for m in answer["moments"]]
    keyframes = [Keyframe(k["time_s"], k["description"], k["moment"] - 1) for k in answer["keyframes"]]
    audio = Audio(np.zeros(round(answer["input"]["audio"]["seconds"] * 16_000), np.float32), 16_000)
    layout = timeline_layout(
        frames, query=QUERY, moments=moments, keyframes=keyframes, audio=audio, duration_s=len(plain) / fps
    )
    assert timeline.shape == (layout.height, layout.width, 3) == (answer["timeline"]["height"], 1280, 3)
    colour = np.asarray(moment_colour(0))
    x0, x1 = layout.x_of(moments[0].start_s), layout.x_of(moments[0].end_s)
    assert (timeline[layout.lane[3] - 2, x0 + 1 : x1 - 1] == colour).all()  # the moment's bar
    for k in keyframes:  # keyframe lines through the strip, cards with their moment's border
        assert (timeline[layout.strip[1] + 2, layout.x_of(k.time_s) - 1] == colour).all()
    assert len(layout.cards) == 2
    for x0, y0, _, _ in layout.cards:
        assert (timeline[y0 + 1, x0 + 1] == colour).all()


def test_no_valid_moment_from_the_tiny_thinker_still_draws_everything(tiny_assets, tmp_path):
    video = _write_video(tmp_path / "in.mp4", num_frames=6, audio=False)
    out = tmp_path / "out"
    code = _infer(
        str(video),
        QUERY,
        "--model",
        str(tiny_assets.thinker),
        "--out",
        str(out),
        *_system2(tiny_assets),
        "evaluation.system1.max_new_tokens=8",
    )
    assert code == 0
    answer = json.loads((out / "answer.json").read_text())
    assert answer["system2"]["status"] == "no_valid_moment" and answer["keyframes"] == [] and answer["response"]
    assert answer["input"]["audio"] is None and answer["system1"]["engine"] == "hf"
    assert read_video(out / "overlay.mp4")[0].shape[0] == 6
    reader = MaskReader(out / "masks")
    assert reader.frames == list(range(6)) and all(not reader.read(f) for f in reader.frames)
    assert (out / "timeline.png").is_file()


def test_avs_grounds_the_rewritten_query_on_the_first_frame_with_a_separate_audio_file(tiny_assets, tmp_path):
    video = _write_video(tmp_path / "in.mp4", num_frames=6, audio=False)
    sound = _write_video(tmp_path / "sound.mp4", num_frames=6)  # any file with an audio track
    (tmp_path / "a.txt").write_text("<think>It hums.</think><answer>the humming red square</answer>")
    out = tmp_path / "out"
    args = [str(video), QUERY, "--answer-file", str(tmp_path / "a.txt"), "--task", "avs", "--audio", str(sound)]
    assert _infer(*args, "--out", str(out), *_system2(tiny_assets)) == 0
    answer = json.loads((out / "answer.json").read_text())
    (keyframe,) = answer["keyframes"]
    assert keyframe["video_frame"] == 0 and keyframe["description"] == "the humming red square" and keyframe["boxes"]
    assert answer["input"]["audio"]["source"] == str(sound) and answer["system2"]["status"] == "ok"
    assert MaskReader(out / "masks").frames == list(range(6))


def _error(capsys, out, *args: str) -> str:
    assert _infer(*args, "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("omni-r1 infer: ")
    return err


def test_input_problems_are_one_line_naming_the_file_and_the_fix(tiny_assets, tmp_path, capsys):
    (tmp_path / "a.txt").write_text(ANSWER)
    answer = ["--answer-file", str(tmp_path / "a.txt"), *_system2(tiny_assets)]
    out = tmp_path / "out"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 50)
    err = _error(capsys, out, str(broken), QUERY, *answer)
    assert str(broken) in err and "PyAV can decode" in err

    silent = _write_video(tmp_path / "silent.mp4", num_frames=4, audio=False)
    err = _error(capsys, out, str(silent), QUERY, "--task", "avs", *answer)
    assert f"{silent} has no audio track" in err and "--audio FILE" in err
    err = _error(capsys, out, str(silent), QUERY, "--require-audio", *answer)
    assert "--require-audio needs the sound" in err

    err = _error(capsys, out, str(silent), QUERY, "--model", str(tiny_assets.sam2_hf), *_system2(tiny_assets))
    assert f"{tiny_assets.sam2_hf}/config.json" in err and "is not a Qwen2.5-Omni checkpoint" in err
    weights_only = tmp_path / "weights_only"
    weights_only.mkdir()
    for name in ("config.json", "model.safetensors"):
        (weights_only / name).symlink_to(tiny_assets.thinker / name)
    err = _error(capsys, out, str(silent), QUERY, "--model", str(weights_only), *_system2(tiny_assets))
    assert f"--model {weights_only}: no processor_config.json" in err

    err = _error(capsys, out, str(silent), QUERY, "--answer-file", str(tmp_path / "a.txt"))
    assert "system2.sam2.checkpoint" in err
    # Overrides may follow the options (argparse alone would stop the positionals at the first option).
    err = _error(capsys, out, str(silent), QUERY, *answer, "--no-progress", "system2.sam2.nope=1")
    assert "unknown key(s) system2.sam2.nope" in err
    assert not out.exists()  # everything is checked before anything is written
