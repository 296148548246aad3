"""Both SAM2 backends on tiny random weights: parity with the official predictor, batching, each mask once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import tiny_config, write_clip
from PIL import Image

from omni_r1_verl.detail.association import ObjectPrompt
from omni_r1_verl.detail.clip import load_clip
from omni_r1_verl.detail.segmenters import get_segmenter_cls

pytest.importorskip("sam2")

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def jpeg_clip(tmp_path_factory):
    """A 10-frame clip stored as ``<dir>/00000.jpg``: the layout the official predictor can read too."""
    root = tmp_path_factory.mktemp("jpeg_clip")
    synthetic = write_clip(root, num_frames=10, height=72, width=96)
    paths = []
    for i, rel in enumerate(synthetic.frame_paths):
        Image.open(root / rel).save(root / "v0" / f"{i:05d}.jpg", quality=95)
        paths.append(f"v0/{i:05d}.jpg")
    return dataclasses.replace(synthetic, frame_paths=paths)


def _segmenter(tiny_assets, backend, hf_checkpoint=None, dtype=torch.float32, **sam2):
    cfg = tiny_config(tiny_assets, backend, sam2=sam2).sam2
    if backend == "hf_sam2":
        cfg = dataclasses.replace(cfg, checkpoint=str(hf_checkpoint))
    return get_segmenter_cls(backend)(cfg, CPU, dtype)


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
    """Two objects on one keyframe (batched together), one on another, one prompted on two keyframes."""
    return [
        ObjectPrompt.make([(2, synthetic.box(0, 2))]),
        ObjectPrompt.make([(2, synthetic.box(1, 2))]),
        ObjectPrompt.make([(4, synthetic.box(0, 4))]),
        ObjectPrompt.make([(1, synthetic.box(1, 1)), (5, synthetic.box(1, 5))]),
    ]


def _official_masks(predictor, video_dir, obj: ObjectPrompt, propagation: str, num_frames: int) -> dict:
    """One object through the sam2 package's own SAM2VideoPredictor API (bf16 autocast, as it requires on CPU)."""
    out = {}
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        state = predictor.init_state(video_path=str(video_dir))
        for frame, box in obj.prompts:
            predictor.add_new_points_or_box(state, frame_idx=frame, obj_id=1, box=np.array(box, np.float32))
        if propagation == "forward":
            passes = [(0, False, lambda f: True)]
        else:
            first = obj.first_frame
            passes = [(first, False, lambda f: f >= first), (first, True, lambda f: f < first)]
        for start, reverse, keep in passes:
            for frame, _, logits in predictor.propagate_in_video(state, start_frame_idx=start, reverse=reverse):
                if keep(frame):
                    out[frame] = (logits[0, 0] > 0).numpy()
    assert sorted(out) == list(range(num_frames))
    return out


@pytest.mark.parametrize("propagation", ["bidirectional", "forward"])
@pytest.mark.parametrize("which", [0, 3], ids=["one_keyframe", "two_keyframes"])
def test_sam2_backend_matches_the_official_predictor(tiny_assets, jpeg_clip, propagation, which):
    """Same model calls as SAM2VideoPredictor: identical masks for a single object (bf16, the official storage)."""
    segmenter = _segmenter(tiny_assets, "sam2", dtype=torch.bfloat16, propagation=propagation, image_batch_size=1)
    clip = load_clip(str(jpeg_clip.root), jpeg_clip.frame_paths)
    obj = _objects(jpeg_clip)[which]
    ours = _collect(segmenter, clip, [obj])
    official = _official_masks(segmenter.model, jpeg_clip.root / "v0", obj, propagation, clip.num_frames)
    for frame in range(clip.num_frames):
        np.testing.assert_array_equal(ours[(0, frame)], official[frame], err_msg=f"frame {frame}")
    assert sum(m.sum() for m in official.values()) > 0  # not a vacuous comparison


@pytest.mark.parametrize("backend", ["sam2", "hf_sam2"])
def test_tracking_objects_together_equals_tracking_them_separately(tiny_assets, hf_checkpoint, clip, backend):
    segmenter = _segmenter(tiny_assets, backend, hf_checkpoint)
    frames = load_clip(str(clip.root), clip.frame_paths)
    objects = _objects(clip)
    together = _collect(segmenter, frames, objects)
    differing = 0
    for i, obj in enumerate(objects):
        alone = _collect(segmenter, frames, [obj])
        differing += sum(int((together[(i, f)] != alone[(0, f)]).sum()) for f in range(frames.num_frames))
    # sam2: objects are independent rows of one batch, bit-identical; transformers batches the memory encoder
    # across objects, which may flip a rare pixel sitting on the threshold.
    assert differing == 0 if backend == "sam2" else differing <= 1e-3 * sum(m.size for m in together.values())
    assert any(m.any() for m in together.values()) and not all(m.all() for m in together.values())


@pytest.mark.parametrize("propagation", ["bidirectional", "forward"])
@pytest.mark.parametrize("backend", ["sam2", "hf_sam2"])
def test_every_object_gets_every_frame_exactly_once(tiny_assets, hf_checkpoint, clip, backend, propagation):
    segmenter = _segmenter(tiny_assets, backend, hf_checkpoint, propagation=propagation)
    frames = load_clip(str(clip.root), clip.frame_paths)
    masks = _collect(segmenter, frames, _objects(clip))  # _collect asserts no duplicates
    assert sorted(masks) == [(o, f) for o in range(4) for f in range(frames.num_frames)]


def test_bf16_autocast_on_cpu_tracks_several_objects_and_keyframes(tiny_assets, clip):
    """The trap: sam2 stores memory in bf16; multi-object, multi-keyframe tracking must still run on CPU."""
    segmenter = _segmenter(tiny_assets, "sam2", dtype=torch.bfloat16)
    frames = load_clip(str(clip.root), clip.frame_paths)
    masks = _collect(segmenter, frames, _objects(clip))
    assert len(masks) == 4 * frames.num_frames


def test_image_features_are_computed_once_per_frame(tiny_assets, clip):
    frames = load_clip(str(clip.root), clip.frame_paths)
    objects = [ObjectPrompt.make([(2, clip.box(0, 2))]), ObjectPrompt.make([(4, clip.box(1, 4))])]
    cached = _segmenter(tiny_assets, "sam2")
    _collect(cached, frames, objects)
    assert cached.last_encoded_frames == frames.num_frames  # forward pass 2..5, backward 3..0: 2-3 reused
    tight = _segmenter(tiny_assets, "sam2", feature_cache_frames=1, image_batch_size=1)
    _collect(tight, frames, objects)
    assert tight.last_encoded_frames > frames.num_frames


def test_batched_image_encoding_gives_the_same_masks(tiny_assets, clip):
    frames = load_clip(str(clip.root), clip.frame_paths)
    objects = _objects(clip)
    one = _collect(_segmenter(tiny_assets, "sam2", image_batch_size=1), frames, objects)
    four = _collect(_segmenter(tiny_assets, "sam2", image_batch_size=4), frames, objects)
    differing = sum(int((one[k] != four[k]).sum()) for k in one)
    assert differing <= 1e-3 * sum(m.size for m in one.values())


def test_mismatched_checkpoint_names_the_config(tiny_assets):
    from omni_r1_verl.detail.segmenters.sam2_package import build_sam2_model

    with pytest.raises(RuntimeError, match="does not match config configs/sam2.1/sam2.1_hiera_t.yaml"):
        build_sam2_model("configs/sam2.1/sam2.1_hiera_t.yaml", str(tiny_assets.sam2_checkpoint))
    with pytest.raises(FileNotFoundError, match="neither a file nor a config"):
        build_sam2_model("configs/sam2.1/none.yaml", None)
