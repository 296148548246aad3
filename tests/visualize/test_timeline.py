"""The timeline has the size its layout says and its marks where the moments and keyframes are."""

from __future__ import annotations

import numpy as np
import pytest

from omni_r1_verl.scoring.answer import parse_answer
from omni_r1_verl.visualize import (
    AnswerMarks,
    Audio,
    Frame,
    Keyframe,
    Moment,
    TimelineStyle,
    marks_from_answer,
    moment_colour,
    render_timeline,
    timeline_layout,
)
from omni_r1_verl.visualize.draw import resize

MOMENTS = (Moment(0.5, 1.0, "the box near the left edge"), Moment(1.5, 1.8, "the disc, lower down"))
KEYFRAMES = (Keyframe(0.5, MOMENTS[0].description, 0), Keyframe(1.5, MOMENTS[1].description, 1))


def _audio(seconds: float = 2.0, rate: int = 8000) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    return Audio((0.5 * np.sin(2 * np.pi * 200 * t) * (t > 1.0)).astype(np.float32), rate)  # silent first second


def _render(clip, **kwargs):
    frames = list(clip.frames())
    args = dict(query="find the box", moments=MOMENTS, keyframes=KEYFRAMES, audio=_audio(), duration_s=2.0)
    args.update(kwargs)
    return render_timeline(frames, **args), timeline_layout(frames, **args), frames


def test_size_follows_the_layout(clip):
    image, layout, _ = _render(clip)
    assert image.shape == (layout.height, 1280, 3) and image.dtype == np.uint8
    assert layout.query[3] <= layout.lane[1] < layout.lane[3] <= layout.strip[1] < layout.strip[3]
    assert layout.strip[3] <= layout.wave[1] < layout.wave[3] <= layout.axis[1] < layout.axis[3]
    assert all(card[1] >= layout.axis[3] and card[3] <= layout.height for card in layout.cards)
    assert len(layout.thumbnails) == 10 and len(layout.cards) == 2
    narrow, narrow_layout, _ = _render(clip, style=TimelineStyle(width=640, max_thumbnails=4))
    assert narrow.shape == (narrow_layout.height, 640, 3) and len(narrow_layout.thumbnails) == 4


def test_moments_are_marked_in_the_lane_the_strip_and_the_waveform(clip):
    image, layout, _ = _render(clip)
    lane_y = (layout.lane[1] + layout.lane[3]) // 2
    for i, m in enumerate(MOMENTS):
        x = layout.x_of((m.start_s + m.end_s) / 2)
        assert image[layout.lane[1] + 1, x].tolist() == list(moment_colour(i))
    outside = layout.x_of(1.3)
    assert image[lane_y, outside].tolist() == list(TimelineStyle().background)
    # The strip is faded towards the background outside every moment, untouched inside.
    strip_y = layout.strip[1] + 3
    thumbs = {rect[0]: idx for rect, idx in zip(layout.thumbnails, layout.thumbnail_frames)}
    x_in = layout.x_of(0.75)
    x0 = max(x for x in thumbs if x <= x_in)
    source = clip.pixels[thumbs[x0]]
    background = np.asarray(TimelineStyle().background, float)
    assert np.abs(image[strip_y, x_in].astype(float) - background).sum() > 100
    assert (
        np.abs(image[strip_y, outside].astype(float) - background).sum()
        < 0.5 * np.abs(source[3, 60].astype(float) - background).sum()
    )
    # The waveform band is tinted inside moments.
    band_y = layout.wave[1] + 2
    tint = image[band_y, layout.x_of(0.75)].astype(int) - image[band_y, layout.x_of(1.3)].astype(int)
    assert np.abs(tint).sum() > 60


def test_keyframe_lines_and_cards(clip):
    image, layout, frames = _render(clip)
    for i, k in enumerate(KEYFRAMES):
        x = layout.x_of(k.time_s)
        y = (layout.wave[1] + layout.wave[3]) // 2
        assert image[y, x].tolist() == list(moment_colour(i))
        x0, y0, x1, y1 = layout.cards[i]
        assert image[y0, (x0 + x1) // 2].tolist() == list(moment_colour(i))  # card border
        assert frames[layout.card_frames[i]].time_s == pytest.approx(k.time_s, abs=0.5 / clip.fps)
    # Masks are drawn on the cards: the first card differs from the same frame without masks.
    plain = [Frame(f.image, f.time_s) for f in frames]
    bare = render_timeline(plain, query="find the box", moments=MOMENTS, keyframes=KEYFRAMES, duration_s=2.0)
    x0, y0, x1, y1 = layout.cards[0]
    _, bare_layout, _ = _render(clip, audio=None)
    bx0, by0, bx1, by1 = bare_layout.cards[0]
    assert (image[y0:y1, x0:x1] != bare[by0:by1, bx0:bx1]).any(axis=2).mean() > 0.05


def test_waveform_follows_the_audio(clip):
    image, layout, _ = _render(clip)
    x0, y0, x1, y1 = layout.wave
    band = image[y0:y1, x0:x1].astype(int)
    ink = (np.abs(band - band[1:2, :]).sum(axis=2) > 80).sum(axis=0)  # rows differing from the band's top row
    silent, loud = ink[: (x1 - x0) // 2 - 5], ink[(x1 - x0) // 2 + 5 :]
    assert np.median(loud) > 5 * max(1, np.median(silent))
    no_audio, no_audio_layout, _ = _render(clip, audio=None)
    assert no_audio_layout.wave[3] - no_audio_layout.wave[1] < y1 - y0
    assert no_audio.shape[0] < image.shape[0]


def test_long_descriptions_wrap_inside_their_cards(clip):
    long = "a very long description of the box that keeps going " * 20
    keys = (Keyframe(0.5, long, 0),)
    _, layout, _ = _render(clip, keyframes=keys, style=TimelineStyle(description_lines=4))
    assert len(layout.card_lines[0]) == 4 and layout.card_lines[0][-1].endswith("\u2026")


def test_no_moments_and_bad_inputs(clip):
    image, layout, frames = _render(clip, moments=(), keyframes=())
    assert layout.cards == () and image.shape[0] == layout.height
    x0, y0, x1, y1 = layout.thumbnails[0]  # nothing chosen: the strip is not faded
    assert np.array_equal(image[y0:y1, x0:x1], resize(frames[layout.thumbnail_frames[0]].image, x1 - x0, y1 - y0))
    with pytest.raises(ValueError, match="at least one frame"):
        render_timeline([])
    with pytest.raises(ValueError, match="duration"):
        render_timeline(list(clip.frames()), duration_s=0)


def test_marks_from_a_parsed_answer_map_virtual_time_onto_the_video():
    text = (
        '<think>x</think><answer>[{"start_time": 1.0, "end_time": 2.0, "description": "box"}, '
        '{"start_time": 9.0, "end_time": 9.5, "description": "out of range"}, '
        '{"start_time": 3.0, "end_time": 3.5, "description": "disc"}]</answer>'
    )
    parsed = parse_answer(text, num_frames=8, fps=2.0)  # clip frame k at k / 2 s of virtual time
    frame_times = np.arange(8) * 1.5  # the clip took every 15th frame of a 10 fps video
    marks = marks_from_answer(parsed, frame_times)
    assert [(m.start_s, m.end_s, m.description) for m in marks.moments] == [(3.0, 6.0, "box"), (9.0, 10.5, "disc")]
    assert [k.time_s for k in marks.keyframes][:2] == [3.0, 9.0]
    assert {k.moment for k in marks.keyframes} == {0, 1}
    virtual = marks_from_answer(parsed)
    assert virtual.moments[0].start_s == 1.0 and virtual.keyframes[0].time_s == 1.0
    with pytest.raises(ValueError, match="frame times"):
        marks_from_answer(parsed, frame_times[:3])
    assert marks_from_answer(parse_answer("no answer", 8, 2.0)) == AnswerMarks()


def test_hostile_marks_still_render(clip):
    frames = list(clip.frames())
    keys = [Keyframe(0.1 * i, "word " * 50 * i, i % 3) for i in range(9)] + [Keyframe(float("nan"), "?")]
    moments = [Moment(float("nan"), 1.0, "\x00" * 10), Moment(5.0, 2.0, "backwards"), Moment(-3.0, 99.0, "huge")]
    image = render_timeline(frames, moments=moments, keyframes=keys, query="q" * 100_000, duration_s=2.0)
    layout = timeline_layout(frames, moments=moments, keyframes=keys, query="q" * 100_000, duration_s=2.0)
    assert image.shape == (layout.height, 1280, 3)
    assert len(layout.cards) == 10 and len({c[1] for c in layout.cards}) == 3  # rows of four
    assert len(layout.query_lines) == TimelineStyle().query_lines
