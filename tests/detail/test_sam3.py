"""System 2 on SAM 3 (tiny random weights): the batched tracker, the text grounder and the engine with both."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import tiny_config, write_clip

from omni_r1_verl.contracts.system2 import DetailResult, KeyframeQuery
from omni_r1_verl.detail.association import ObjectPrompt
from omni_r1_verl.detail.clip import load_clip
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.detail.engine import DetailEngine
from omni_r1_verl.detail.grounders import get_grounder_cls
from omni_r1_verl.detail.segmenters import get_segmenter_cls

CPU = torch.device("cpu")


def _config(tiny_assets, sam3_checkpoint, text: bool = False, sam2=None, grounding=None) -> DetailConfig:
    """``sam3_tracker`` masks; with ``text``, ``sam3_text`` boxes from the same checkpoint."""
    sections = {"sam2": {"checkpoint": str(sam3_checkpoint), **(sam2 or {})}}
    if text:
        sections["grounding"] = {
            "backend": "sam3_text",
            "model_path": str(sam3_checkpoint),
            "score_threshold": 0.25,  # random weights score ~0.25: some detections pass, some do not
            **(grounding or {}),
        }
    return tiny_config(tiny_assets, "sam3_tracker", **sections)


@pytest.fixture(scope="module")
def tracker(tiny_assets, sam3_checkpoint):
    cfg = _config(tiny_assets, sam3_checkpoint, sam2={"image_batch_size": 1}).sam2
    return get_segmenter_cls("sam3_tracker")(cfg, CPU, torch.float32)


def _with(segmenter, **changes):
    """The same loaded segmenter under other ``sam2`` settings."""
    twin = object.__new__(type(segmenter))
    twin.__dict__.update(segmenter.__dict__, cfg=dataclasses.replace(segmenter.cfg, **changes))
    return twin


def _collect(segmenter, clip, objects) -> dict[tuple[int, int], np.ndarray]:
    masks: dict[tuple[int, int], np.ndarray] = {}

    def sink(frame, indices, batch):
        assert batch.dtype == torch.bool and batch.shape == (len(indices), clip.height, clip.width)
        for row, obj in enumerate(indices):
            assert (obj, frame) not in masks, f"object {obj} delivered twice on frame {frame}"
            masks[(obj, frame)] = batch[row].cpu().numpy()

    segmenter.propagate(clip, objects, sink)
    return masks


def _objects(synthetic):
    """Two objects on one keyframe (one group), one on another, one prompted on two keyframes."""
    return [
        ObjectPrompt.make([(2, synthetic.box(0, 2))]),
        ObjectPrompt.make([(2, synthetic.box(1, 2))]),
        ObjectPrompt.make([(4, synthetic.box(0, 4))]),
        ObjectPrompt.make([(1, synthetic.box(1, 1)), (5, synthetic.box(1, 5))]),
    ]


def _transformers_masks(segmenter, clip, obj: ObjectPrompt, propagation: str) -> dict[int, np.ndarray]:
    """One object through transformers' own session API (``Sam3TrackerVideoModel.propagate_in_video_iterator``)."""
    model, processor = segmenter.model, segmenter.processor
    out: dict[int, np.ndarray] = {}

    def keep(result, wanted):
        if wanted(int(result.frame_idx)):
            logits = result.pred_masks.float()
            masks = processor.post_process_masks([logits], original_sizes=[[clip.height, clip.width]])[0]
            out[int(result.frame_idx)] = masks[0, 0].numpy()

    with torch.inference_mode():
        session = processor.init_video_session(video=clip.frames, inference_device="cpu", dtype=torch.float32)
        for frame, box in obj.prompts:
            processor.add_inputs_to_inference_session(
                inference_session=session, frame_idx=frame, obj_ids=[1], input_boxes=[[list(box)]]
            )
            model(inference_session=session, frame_idx=frame)
        first = 0 if propagation == "forward" else obj.first_frame
        for result in model.propagate_in_video_iterator(session, start_frame_idx=first):
            keep(result, lambda f: True)
        if first > 0:
            for result in model.propagate_in_video_iterator(session, start_frame_idx=first, reverse=True):
                keep(result, lambda f: f < first)
    assert sorted(out) == list(range(clip.num_frames))
    return out


@pytest.mark.parametrize("propagation", ["bidirectional", "forward"])
@pytest.mark.parametrize("which", [0, 3], ids=["one_keyframe", "two_keyframes"])
def test_a_group_of_one_gives_transformers_masks(tracker, tmp_path, propagation, which):
    synthetic = write_clip(tmp_path, num_frames=6)
    clip = load_clip(str(synthetic.root), synthetic.frame_paths)
    segmenter = _with(tracker, propagation=propagation)
    obj = _objects(synthetic)[which]
    ours = _collect(segmenter, clip, [obj])
    reference = _transformers_masks(segmenter, clip, obj, propagation)
    for frame in range(clip.num_frames):
        np.testing.assert_array_equal(ours[(0, frame)], reference[frame], err_msg=f"frame {frame}")
    assert sum(m.sum() for m in reference.values()) > 0  # not a vacuous comparison


@pytest.mark.parametrize("propagation", ["bidirectional", "forward"])
def test_grouped_tracking_equals_one_by_one_and_delivers_each_mask_once(tracker, clip, propagation):
    segmenter = _with(tracker, propagation=propagation)
    frames = load_clip(str(clip.root), clip.frame_paths)
    objects = _objects(clip)
    together = _collect(segmenter, frames, objects)  # _collect asserts no (object, frame) twice
    assert sorted(together) == [(o, f) for o in range(len(objects)) for f in range(frames.num_frames)]
    for i, obj in enumerate(objects):
        alone = _collect(segmenter, frames, [obj])
        for f in range(frames.num_frames):
            np.testing.assert_array_equal(together[(i, f)], alone[(0, f)], err_msg=f"object {i}, frame {f}")
    assert all(any(together[(i, f)].any() for f in range(frames.num_frames)) for i in range(len(objects)))
    assert not all(m.all() for m in together.values())


def test_groups_are_split_at_max_objects_per_step_without_changing_masks(tracker, clip):
    frames = load_clip(str(clip.root), clip.frame_paths)
    objects = _objects(clip)[:2]  # one conditioning-frame group of two
    assert [g.members for g in tracker.groups(objects)] == [[0, 1]]
    split = _with(tracker, max_objects_per_step=1)
    assert [g.members for g in split.groups(objects)] == [[0], [1]]
    one, two = _collect(split, frames, objects), _collect(tracker, frames, objects)
    assert all(np.array_equal(one[k], two[k]) for k in two)


def test_image_features_are_computed_once_per_frame_in_batches(tracker, clip):
    frames = load_clip(str(clip.root), clip.frame_paths)
    objects = [ObjectPrompt.make([(2, clip.box(0, 2))]), ObjectPrompt.make([(4, clip.box(1, 4))])]
    batched = _with(tracker, image_batch_size=4)
    masks = _collect(batched, frames, objects)
    assert batched.last_encoded_frames == frames.num_frames
    reference = _collect(tracker, frames, objects)  # one frame per encoder call
    differing = sum(int((masks[k] != reference[k]).sum()) for k in masks)
    assert differing <= 1e-3 * sum(m.size for m in masks.values())


def test_bf16_weights_track_several_objects_on_cpu(tiny_assets, sam3_checkpoint, clip):
    cfg = _config(tiny_assets, sam3_checkpoint).sam2
    segmenter = get_segmenter_cls("sam3_tracker")(cfg, CPU, torch.bfloat16)
    frames = load_clip(str(clip.root), clip.frame_paths)
    assert len(_collect(segmenter, frames, _objects(clip))) == 4 * frames.num_frames
    assert segmenter.describe()["dtype"] == "bfloat16"


@pytest.fixture(scope="module")
def text_grounder(tiny_assets, sam3_checkpoint):
    cfg = _config(tiny_assets, sam3_checkpoint, text=True).grounding
    return get_grounder_cls("sam3_text", CPU)(cfg, CPU, torch.float32)


def test_text_grounder_returns_scored_boxes_in_original_pixels(text_grounder, clip, monkeypatch):
    frames = load_clip(str(clip.root), clip.frame_paths)
    encoded = []
    encode = text_grounder.model.get_vision_features

    def counting(pixel_values):
        encoded.append(len(pixel_values))
        return encode(pixel_values=pixel_values)

    monkeypatch.setattr(text_grounder.model, "get_vision_features", counting)
    long = "the small red square that moves to the right while the green one drifts left " * 4
    outputs = text_grounder.ground([frames.image(1), frames.image(3), frames.image(1)], ["red square", long, "red"])
    assert sum(encoded) == 2  # one image-encoder pass per distinct keyframe
    alone = text_grounder.ground([frames.image(1)], ["red"])
    assert (alone[0].boxes, alone[0].text) == (outputs[2].boxes, outputs[2].text)
    assert [o.malformed for o in outputs] == [0, 0, 0]
    for output in outputs:
        answer = json.loads(output.text)
        assert [a["bbox_2d"] for a in answer] == [[round(v, 1) for v in b] for b in output.boxes]
        assert all(a["score"] > text_grounder.cfg.score_threshold for a in answer)
        assert output.resized_hw == (112, 112)
    boxes = [b for o in outputs for b in o.boxes]
    assert boxes and all(0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 72 for x1, y1, x2, y2 in boxes)  # 72x96 frames
    strict = _with(text_grounder, score_threshold=0.99)
    assert [o.boxes for o in strict.ground([frames.image(1)], ["red square"])] == [[]]
    assert text_grounder.ground([], []) == []
    with pytest.raises(ValueError, match="1 images but 2 descriptions"):
        text_grounder.ground([frames.image(1)], ["a", "b"])


def _engine(tiny_assets, sam3_checkpoint, **kwargs) -> DetailEngine:
    return DetailEngine(_config(tiny_assets, sam3_checkpoint, **kwargs), device="cpu")


def _group(clip):
    """Four rollouts: 0 and 1 agree, 2 shares one keyframe with them, 3 describes another moment."""
    return [
        clip.request("r0", [KeyframeQuery(1, "red square"), KeyframeQuery(4, "green square")]),
        clip.request("r1", [KeyframeQuery(1, "red square"), KeyframeQuery(4, "green square")]),
        clip.request("r2", [KeyframeQuery(1, "red square"), KeyframeQuery(3, "the green one")]),
        clip.request("r3", [KeyframeQuery(5, "a red box")]),
    ]


@pytest.mark.parametrize("text", [False, True], ids=["vlm_boxes", "sam3_text"])
def test_one_pass_for_the_group_equals_one_pass_per_rollout(tiny_assets, sam3_checkpoint, clip, text):
    """Both SAM 3 modes: given boxes + SAM 3 masks, and SAM 3 boxes from the description + SAM 3 masks."""
    engine = _engine(tiny_assets, sam3_checkpoint, text=text)
    requests = _group(clip)
    if not text:  # boxes as a grounding VLM would give them
        requests = [
            dataclasses.replace(
                r, keyframes=[dataclasses.replace(k, boxes=[clip.box(0, k.clip_index)]) for k in r.keyframes]
            )
            for r in requests
        ]
    merged = engine.run_job(requests)
    assert merged.unique_objects < merged.total_objects  # agreeing rollouts share their objects
    for request, together in zip(requests, merged.results):
        (alone,) = engine.run_job([request]).results
        assert together.status == alone.status == "ok", (together.message, alone.message)
        assert together.to_dict()["keyframes"] == alone.to_dict()["keyframes"]
        assert together.masks == alone.masks
        assert DetailResult.from_dict(together.to_dict()) == together
    assert any(sum(r.masks.intersection) > 0 for r in merged.results)  # masks overlap the ground truth somewhere
    if text:
        assert all(kf.pred_boxes for r in merged.results for kf in r.keyframes)


def test_sam3_text_failures_get_the_statuses_of_the_vlm_path(tiny_assets, sam3_checkpoint, clip):
    request = clip.request("r", [KeyframeQuery(1, "red square")])
    (none,) = (
        _engine(tiny_assets, sam3_checkpoint, text=True, grounding={"score_threshold": 0.99}).run_job([request]).results
    )
    assert none.status == "no_boxes" and none.masks is None and none.message
    tiny_boxes = {"min_box_size": 500.0}  # every detection is narrower: all rejected
    (rejected,) = _engine(tiny_assets, sam3_checkpoint, text=True, grounding=tiny_boxes).run_job([request]).results
    assert rejected.status == "invalid_boxes" and rejected.keyframes[0].rejected_boxes > 0 and rejected.masks is None
    engine = _engine(tiny_assets, sam3_checkpoint, text=True)
    (clip.root / clip.frame_paths[2]).write_bytes(b"not a png")
    (broken,) = engine.run_job([request]).results
    assert broken.status == "error" and clip.frame_paths[2] in broken.message


def test_model_failures_are_error_results_for_the_rollouts_that_needed_the_model(
    tiny_assets, sam3_checkpoint, clip, monkeypatch
):
    engine = _engine(tiny_assets, sam3_checkpoint, text=True)

    def fail(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    needs_grounding = clip.request("a", [KeyframeQuery(1, "red square")])
    has_boxes = clip.request("b", [KeyframeQuery(1, "red square", boxes=[clip.box(0, 1)])])
    no_box = clip.request("c", [KeyframeQuery(1, "red square", boxes=[])])
    with monkeypatch.context() as patch:
        patch.setattr(engine.grounder.model, "forward", fail)
        a, b, c = engine.run_job([needs_grounding, has_boxes, no_box]).results
    assert a.status == "error" and "grounding failed" in a.message and "out of memory" in a.message
    assert (b.status, c.status) == ("ok", "no_boxes")
    monkeypatch.setattr(engine.segmenter.model.memory_attention, "forward", fail)
    a, b, c = engine.run_job([needs_grounding, has_boxes, no_box]).results
    assert [r.status for r in (a, b)] == ["error", "error"] and "segmentation failed" in b.message
    assert c.status == "no_boxes" and a.keyframes[0].pred_boxes  # the boxes were found before tracking failed


def test_checkpoint_checks_name_the_key_and_what_is_missing(tiny_assets, sam3_checkpoint, tmp_path):
    cfg = _config(tiny_assets, sam3_checkpoint, text=True)
    cfg.check_paths(need_grounding=True)
    wrong = dataclasses.replace(cfg, sam2=dataclasses.replace(cfg.sam2, checkpoint=str(tiny_assets.sam2_hf)))
    with pytest.raises(FileNotFoundError, match=r"system2\.sam2\.checkpoint=.*'sam2_video' model; sam3_tracker loads"):
        wrong.check_paths()
    no_tokenizer = tmp_path / "sam3_tracker_only"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors", "processor_config.json"):
        (no_tokenizer / name).symlink_to(sam3_checkpoint / name)
    dataclasses.replace(cfg, sam2=dataclasses.replace(cfg.sam2, checkpoint=str(no_tokenizer))).check_paths()  # tracker
    text_only = dataclasses.replace(cfg, grounding=dataclasses.replace(cfg.grounding, model_path=str(no_tokenizer)))
    with pytest.raises(FileNotFoundError, match=r"system2\.grounding\.model_path=.*has no tokenizer file"):
        text_only.check_paths()
