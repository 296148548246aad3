"""One job in-process: grouping splits correctly, scores are exact, every failure is an explicit status."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import tiny_config, write_clip

from omni_r1_verl.contracts.system2 import DetailResult, KeyframeQuery
from omni_r1_verl.detail.engine import DetailEngine
from omni_r1_verl.detail.ground_truth import NpzGroundTruth
from omni_r1_verl.detail.grounders.base import Grounder, register_grounder
from omni_r1_verl.detail.segmenters.base import Segmenter, register_segmenter
from omni_r1_verl.utils.vision import smart_resize


@register_segmenter("test_box_fill")
class BoxFillSegmenter(Segmenter):
    """Deterministic stand-in: an object's mask is its box on its prompted frames and empty elsewhere."""

    def propagate(self, clip, objects, sink):
        for frame in range(clip.num_frames):
            masks = torch.zeros((len(objects), clip.height, clip.width), dtype=torch.bool)
            for i, obj in enumerate(objects):
                if frame in obj.frames:
                    x1, y1, x2, y2 = (round(v) for v in obj.box_at(frame))
                    masks[i, y1:y2, x1:x2] = True
            sink(frame, list(range(len(objects))), masks)


@register_segmenter("test_failing")
class FailingSegmenter(Segmenter):
    def propagate(self, clip, objects, sink):
        raise RuntimeError("CUDA out of memory (simulated)")


@register_grounder("test_scripted")
class ScriptedGrounder(Grounder):
    """Answers from a table keyed by description; counts calls so de-duplication is visible."""

    answers: dict[str, str] = {}
    calls: list[list[str]] = []

    def generate(self, images, prompts):
        type(self).calls.append(list(prompts))
        return [next((a for d, a in self.answers.items() if d in p), "") for p in prompts]


def _engine(tiny_assets, backend="test_box_fill", **sections):
    return DetailEngine(tiny_config(tiny_assets, backend, **sections), device="cpu")


def _run(engine, requests) -> list[dict]:
    """Results as the dicts the reward reads (``DetailResult.to_dict``), after checking they parse back."""
    results = engine.run_job(requests).results
    assert all(DetailResult.from_dict(r.to_dict()) == r for r in results)
    return [r.to_dict() for r in results]


def _counts(result: dict) -> tuple[list[int], list[int]]:
    return result["masks"]["intersection"], result["masks"]["union"]


def _expected_counts(clip, boxes_by_frame):
    """Exact per-frame intersection/union of filled boxes against the ground-truth union."""
    gt = clip.masks.any(axis=0)
    inter, union = [], []
    for frame in range(clip.num_frames):
        pred = np.zeros_like(gt[frame])
        for x1, y1, x2, y2 in boxes_by_frame.get(frame, []):
            pred[round(y1) : round(y2), round(x1) : round(x2)] = True
        inter.append(int((pred & gt[frame]).sum()))
        union.append(int((pred | gt[frame]).sum()))
    return inter, union


def test_scores_are_exact_per_frame(tiny_assets, clip):
    engine = _engine(tiny_assets)
    box1, box3 = clip.box(0, 1), [clip.box(1, 3)[0] - 4, *clip.box(1, 3)[1:]]
    request = clip.request("r0", [KeyframeQuery(1, "red", boxes=[box1]), KeyframeQuery(3, "green", boxes=[box3])])
    (result,) = _run(engine, [request])
    assert result["status"] == "ok", result["message"]
    assert _counts(result) == _expected_counts(clip, {1: [box1], 3: [box3]})
    first = result["keyframes"][0]
    assert first["pred_boxes"] == [box1] and first["rejected_boxes"] == 0 and first["description"] == "red"
    assert first["gt_boxes"] == [clip.box(0, 1), clip.box(1, 1)]  # every object visible on the keyframe


def test_ground_truth_at_another_resolution_is_compared_at_its_resolution(tiny_assets, tmp_path):
    clip = write_clip(tmp_path, num_frames=3)
    big = clip.masks.repeat(2, axis=2).repeat(2, axis=3)
    NpzGroundTruth.write(tmp_path, clip.gt_key, big)
    box = clip.box(0, 0)
    (result,) = _run(_engine(tiny_assets), [clip.request("r", [KeyframeQuery(0, "x", boxes=[box])])])
    assert result["status"] == "ok"
    gt = big.any(axis=0)
    pred = np.zeros_like(gt[0])
    x1, y1, x2, y2 = (2 * round(v) for v in box)
    pred[y1:y2, x1:x2] = True
    assert _counts(result)[0][0] == int((pred & gt[0]).sum())
    assert _counts(result)[1][0] == int((pred | gt[0]).sum())


def test_merged_job_equals_separate_jobs_and_shares_identical_prompts(tiny_assets, clip):
    """The batching trick must not change any rollout's result (real tiny SAM2, float32)."""
    engine = _engine(tiny_assets, backend="sam2")
    a, b = clip.box(0, 1), clip.box(1, 4)
    requests = [
        clip.request("r0", [KeyframeQuery(1, "red", boxes=[a]), KeyframeQuery(4, "green", boxes=[b])]),
        clip.request("r1", [KeyframeQuery(1, "red", boxes=[a])]),  # agrees with r0 on keyframe 1
        clip.request("r2", [KeyframeQuery(2, "red", boxes=[clip.box(0, 2)]), KeyframeQuery(4, "g", boxes=[b])]),
        clip.request("r3", [KeyframeQuery(5, "red", boxes=[[0, 0, 1000, 1000]])]),  # clipped to the frame
    ]
    merged = engine.run_job(requests)
    assert (merged.unique_objects, merged.total_objects) == (4, 6)
    for request, together in zip(requests, merged.results):
        (alone,) = _run(engine, [request])
        together = together.to_dict()
        assert together["status"] == alone["status"] == "ok"
        for key in ("masks", "keyframes"):
            assert together[key] == alone[key], (request.rollout_id, key)
    assert merged.results[3].keyframes[0].pred_boxes == ((0.0, 0.0, 96.0, 72.0),)


def test_requests_of_different_videos_are_split_into_separate_passes(tiny_assets, tmp_path):
    engine = _engine(tiny_assets)
    one, two = write_clip(tmp_path / "a", seed=1, num_frames=3), write_clip(tmp_path / "b", seed=2, num_frames=4)
    reqs = [
        one.request("x", [KeyframeQuery(0, "", boxes=[one.box(0, 0)])]),
        two.request("y", [KeyframeQuery(1, "", boxes=[two.box(1, 1)])]),
    ]
    results = _run(engine, reqs)
    assert [len(_counts(r)[1]) for r in results] == [3, 4]


@pytest.mark.parametrize(
    ("keyframes", "status", "rejected"),
    [
        ([KeyframeQuery(1, "x", boxes=[])], "no_boxes", [0]),
        (
            [KeyframeQuery(1, "x", boxes=[[50, 40, 10, 10], [5, 5, 5, 30]]), KeyframeQuery(2, "y", boxes=[[1, 2]])],
            "invalid_boxes",
            [2, 1],
        ),
        ([KeyframeQuery(1, "x", boxes=[[200, 200, 300, 300]])], "invalid_boxes", [1]),
    ],
)
def test_rollouts_without_usable_boxes_get_explicit_statuses(tiny_assets, clip, keyframes, status, rejected):
    ok = clip.request("ok", [KeyframeQuery(1, "x", boxes=[clip.box(0, 1)])])
    bad = clip.request("bad", keyframes)
    results = _run(_engine(tiny_assets), [ok, bad])
    assert results[0]["status"] == "ok"
    assert results[1]["status"] == status and results[1]["message"]
    assert results[1]["masks"] is None  # nothing that could score
    assert [k["rejected_boxes"] for k in results[1]["keyframes"]] == rejected


def test_unreadable_inputs_become_errors_naming_the_cause(tiny_assets, clip):
    engine = _engine(tiny_assets)
    kf = [KeyframeQuery(0, "x", boxes=[clip.box(0, 0)])]
    (clip.root / clip.frame_paths[2]).write_bytes(b"not a png")
    (broken,) = _run(engine, [clip.request("r", kf)])
    assert broken["status"] == "error" and clip.frame_paths[2] in broken["message"]
    escape = dataclasses.replace(clip, frame_paths=["../outside.png"] + clip.frame_paths[1:])
    (unsafe,) = _run(engine, [escape.request("r", kf)])
    assert unsafe["status"] == "error" and "outside.png" in unsafe["message"]
    other = write_clip(clip.root / "fresh", num_frames=3)
    no_gt = dataclasses.replace(other, gt_key="gt/missing")
    (missing,) = _run(engine, [no_gt.request("r", kf)])
    assert missing["status"] == "error" and "gt/missing" in missing["message"]


def test_keyframes_needing_grounding_without_a_model_fail_explicitly(tiny_assets, clip):
    (result,) = _run(_engine(tiny_assets), [clip.request("r", [KeyframeQuery(1, "the red box")])])
    assert result["status"] == "error" and "system2.grounding.model_path" in result["message"]


def test_a_segmenter_failure_fails_only_the_rollouts_that_needed_it(tiny_assets, clip):
    engine = _engine(tiny_assets, backend="test_failing")
    needs_masks = clip.request("a", [KeyframeQuery(1, "x", boxes=[clip.box(0, 1)])])
    no_boxes = clip.request("b", [KeyframeQuery(1, "x", boxes=[])])
    results = _run(engine, [needs_masks, no_boxes])
    assert results[0]["status"] == "error" and "out of memory" in results[0]["message"]
    assert results[1]["status"] == "no_boxes"


def test_grounding_runs_once_per_distinct_keyframe_and_maps_boxes_back(tiny_assets, clip):
    grounding = {
        "backend": "test_scripted",
        "model_path": str(tiny_assets.thinker),
        "min_pixels": 3136,
        "max_pixels": 9408,
    }
    engine = _engine(tiny_assets, grounding=grounding)
    ScriptedGrounder.calls.clear()
    # The 72x96 keyframe is shown to the model at smart_resize(72, 96, 3136, 9408) = 84x84.
    assert smart_resize(72, 96, min_pixels=3136, max_pixels=9408) == (84, 84)
    ScriptedGrounder.answers = {
        "red box": '<answer>[{"bbox_2d": [7, 14, 35, 42]}, {"bbox_2d": [40, 30, 20, 10]}]</answer>',
        "nothing": "I see nothing.",
    }
    requests = [clip.request(f"r{i}", [KeyframeQuery(1, "the red box"), KeyframeQuery(3, "nothing")]) for i in range(3)]
    results = _run(engine, requests)
    assert len(ScriptedGrounder.calls) == 1 and len(ScriptedGrounder.calls[0]) == 2  # 6 keyframes, 2 distinct
    for result in results:
        assert result["status"] == "ok"
        first = result["keyframes"][0]
        assert first["pred_boxes"] == [[8.0, 12.0, 40.0, 36.0]]  # x * 96/84, y * 72/84
        assert first["rejected_boxes"] == 1  # the inverted second box
        assert result["keyframes"][1]["pred_boxes"] == []
