"""Worst-case parse and score cost of hostile model output, and how it grows (issue: robust to any model output).

For each input class the cost (CPU time of the calling thread) is measured on an input and on one 10x larger,
interleaved, and the medians are printed with their ratio: linear work gives ~10x (less where a cap bounds the
work, e.g. ``answer.max_answer_chars``; the "no cap" rows lift it), quadratic work ~100x. Classes:

* System-1 responses of 10k and 100k characters (``parse_answer``, ``format_reward`` and ``score_response``):
  unclosed ``<answer>`` / ``<think>`` tags, nested tags, ``</think><answer>`` pairs (quadratic for the reference's
  lazy format regex), many JSON blocks, unclosed blocks, numbers beyond float range and beyond the digit limit;
* long videos of 2,000 and 20,000 frames: 32 moments spanning the whole clip, scored with and without the sampled
  clip in ``extra_info``;
* grounding (System-2) outputs of 10k and 100k characters (``parse_boxes``): many boxes, unclosed brackets, boxes
  with huge coordinates.

Budgets: under 50 ms for a 100k-character response and for a 20,000-frame video (the worst class of each). Run on
an idle machine, e.g. ``nice -n 10 python benchmarks/parse.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

from omni_r1_verl.contracts.rows import GroundTruth
from omni_r1_verl.detail.boxes import parse_boxes
from omni_r1_verl.scoring import parse_answer, score_response
from omni_r1_verl.scoring.config import AnswerConfig
from omni_r1_verl.scoring.format import format_reward

BUDGET_S = 0.050
CLIP = 64  # clip frames the responses are parsed against
HUGE = 10**309
#: The default config caps the answer at 20,000 characters; without the cap the ratios show the scan's own growth.
UNCAPPED = AnswerConfig(max_moments=10**6, max_answer_chars=10**7)


def _moment(start, end) -> dict:
    return {"start_time": start, "end_time": end, "description": "the dog on the left"}


def _fill(unit: str, chars: int, head: str = "", tail: str = "") -> str:
    return head + unit * max((chars - len(head) - len(tail)) // len(unit), 1) + tail


#: System-1 response classes: name -> text of about ``chars`` characters.
RESPONSES: dict[str, Callable[[int], str]] = {
    "unclosed <answer>": lambda n: _fill("<answer>", n, "<think>x</think>"),
    "unclosed <think>": lambda n: _fill("<think>", n, "", "<answer>[]</answer>"),
    "nested tags": lambda n: _fill("<think><answer>{", n // 2) + _fill("}</answer></think>", n // 2),
    "</think><answer> pairs, unclosed": lambda n: _fill("</think><answer>", n, "<think>", "x"),
    "</think> candidates": lambda n: _fill("</think> <answer", n, "<think>", "</answer>"),
    "many JSON blocks": lambda n: _fill('{"a": 1}, ', n, "<think>x</think><answer>[", "]</answer>"),
    "unclosed JSON blocks": lambda n: _fill('{"start_time": [', n, "<think>x</think><answer>", "</answer>"),
    "numbers beyond float range": lambda n: _fill(
        json.dumps(_moment(HUGE, HUGE)) + ",", n, "<think>x</think><answer>[", "]</answer>"
    ),
    "integers beyond the digit limit": lambda n: _fill(
        '{"start_time": ' + "9" * 4400 + "},", n, "<think>x</think><answer>[", "]</answer>"
    ),
}

#: Grounding-output classes for ``parse_boxes``.
BOX_OUTPUTS: dict[str, Callable[[int], str]] = {
    "many boxes": lambda n: _fill('{"bbox_2d": [10, 20, 110, 220], "label": "dog"}, ', n, "```json\n[", "]\n```"),
    "unclosed brackets": lambda n: _fill('[{"bbox_2d": [', n),
    "huge coordinates": lambda n: _fill(f'{{"bbox_2d": [1e999, {HUGE}, 3, 4]}}, ', n, "<answer>[", "]</answer>"),
    "unclosed <answer>": lambda n: _fill("<answer>", n),
}


def _ground_truth(frames: int) -> GroundTruth:
    areas = [[100 if 100 <= f < 2 * frames // 3 else 0 for f in range(frames)]]
    return GroundTruth(task="vos", gt_key="bench", num_frames=frames, height=480, width=640, num_objects=1, areas=areas)


def _long_video(frames: int) -> tuple[str, GroundTruth]:
    end = f"{(frames - 1) / 2:.1f}"  # the last frame at 2 fps
    text = "<think>x</think><answer>" + json.dumps([_moment("00:00.0", end)] * 32) + "</answer>"
    return text, _ground_truth(frames)


def _median_pair(small: Callable[[], object], large: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median CPU time of this thread per call, interleaved. CPU time, not wall time: on a loaded machine a call
    longer than a scheduler slice also waits for the CPU, which would inflate the large input's time alone."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((small, times[0]), (large, times[1])):
            start = time.thread_time()
            fn()
            out.append(time.thread_time() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _row(name: str, small: float, large: float) -> str:
    return f"  {name:<60} {small * 1e3:9.3f} ms {large * 1e3:9.3f} ms {large / max(small, 1e-9):7.1f}x"


def _compare(name: str, fn: Callable[[str], object], small: str, large: str, repeats: int) -> float:
    """Print one row for ``fn`` on the two inputs; returns the large input's median."""
    a, b = _median_pair(lambda: fn(small), lambda: fn(large), repeats)
    print(_row(name, a, b))
    return b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats per measurement (default: 7)")
    args = parser.parse_args(argv)
    extra = {"clip": {"frame_indices": list(range(0, 2 * CLIP, 2)), "fps": 2.0}}
    gt = _ground_truth(2 * CLIP)
    worst_response = worst_video = 0.0

    print(f"System-1 responses: 10k chars / 100k chars / ratio (median of {args.repeats})")
    for name, make in RESPONSES.items():
        small, large = make(10_000), make(100_000)
        for label, fn in (
            ("parse_answer", lambda t: parse_answer(t, CLIP, 2.0)),
            ("format_reward", format_reward),
            ("score_response", lambda t: score_response(t, gt, extra)),
        ):
            worst_response = max(worst_response, _compare(f"{name}: {label}", fn, small, large, args.repeats))
        _compare(
            f"{name}: parse_answer, no answer cap",
            lambda t: parse_answer(t, CLIP, 2.0, UNCAPPED),
            small,
            large,
            args.repeats,
        )

    print(f"Long videos: 2,000 frames / 20,000 frames / ratio (32 whole-clip moments; median of {args.repeats})")
    (small_text, small_gt), (large_text, large_gt) = _long_video(2_000), _long_video(20_000)

    def clip_of(frames: int) -> dict:
        return {"clip": {"frame_indices": list(range(frames)), "fps": 2.0}}

    small_clip, large_clip = clip_of(2_000), clip_of(20_000)
    for label, small_fn, large_fn in (
        ("parse_answer", lambda: parse_answer(small_text, 2_000, 2.0), lambda: parse_answer(large_text, 20_000, 2.0)),
        (
            "score_response with the clip",
            lambda: score_response(small_text, small_gt, small_clip),
            lambda: score_response(large_text, large_gt, large_clip),
        ),
        (
            "score_response without a clip (whole video)",
            lambda: score_response(small_text, small_gt, {}),
            lambda: score_response(large_text, large_gt, {}),
        ),
    ):
        a, b = _median_pair(small_fn, large_fn, args.repeats)
        print(_row(label, a, b))
        worst_video = max(worst_video, b)

    print(f"Grounding outputs: 10k chars / 100k chars / ratio (median of {args.repeats})")
    worst_boxes = 0.0
    for name, make in BOX_OUTPUTS.items():
        small, large = make(10_000), make(100_000)
        worst_boxes = max(worst_boxes, _compare(f"{name}: parse_boxes", parse_boxes, small, large, args.repeats))
        _compare(f"{name}: parse_boxes, no cap", lambda t: parse_boxes(t, 10**7), small, large, args.repeats)

    ok = max(worst_response, worst_video, worst_boxes) < BUDGET_S
    print(
        f"worst 100k-char response {worst_response * 1e3:.1f} ms, worst 20,000-frame video {worst_video * 1e3:.1f} ms, "
        f"worst 100k-char grounding output {worst_boxes * 1e3:.1f} ms; budget < {BUDGET_S * 1e3:.0f} ms -> "
        + ("met" if ok else "MISSED")
    )
    print("(CPU time of this thread, so load on the machine hardly inflates it; the ratios show the growth)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
