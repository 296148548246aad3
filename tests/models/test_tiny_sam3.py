"""Tiny SAM 3: one facebook/sam3-style directory both SAM 3 backends load, deterministic, built offline."""

from __future__ import annotations

import pytest
import torch

from omni_r1_verl.models.tiny import TinyAssets
from omni_r1_verl.models.tiny_sam3 import SAM3_DIR, build_clip_tokenizer, build_sam3, tiny_sam3_config


def test_make_tiny_registers_the_sam3_directory(tiny_assets):
    loaded = TinyAssets.load(tiny_assets.root)
    assert loaded.extra[SAM3_DIR] == tiny_assets.root / SAM3_DIR
    assert (loaded.extra[SAM3_DIR] / "model.safetensors").is_file()


def test_same_seed_same_weights(tmp_path):
    from safetensors.torch import load_file

    a, b, c = (
        load_file(build_sam3(tmp_path / n, seed=s) / "model.safetensors") for n, s in (("a", 1), ("b", 1), ("c", 2))
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_tracker_and_detector_load_the_shared_vit_from_one_directory(tiny_assets):
    from transformers import Sam3Model, Sam3Processor, Sam3TrackerVideoModel, Sam3TrackerVideoProcessor, Sam3VideoModel

    path = tiny_assets.extra[SAM3_DIR]
    video = Sam3VideoModel.from_pretrained(path).state_dict()
    tracker = Sam3TrackerVideoModel.from_pretrained(path).state_dict()
    detector = Sam3Model.from_pretrained(path).state_dict()
    renamed = {
        "vision_encoder.backbone.": "detector_model.vision_encoder.backbone.",
        "vision_encoder.neck.": "tracker_neck.",
    }
    for key, value in tracker.items():
        prefix = next((p for p in renamed if key.startswith(p)), None)
        source = renamed[prefix] + key[len(prefix) :] if prefix else "tracker_model." + key
        assert torch.equal(video[source], value), key
    assert all(torch.equal(video["detector_model." + k], v) for k, v in detector.items())
    assert Sam3TrackerVideoProcessor.from_pretrained(path).target_size == tiny_sam3_config().image_size
    tokenizer = Sam3Processor.from_pretrained(path).tokenizer
    assert tokenizer.decode(tokenizer("Red Car!")["input_ids"], skip_special_tokens=True) == "red car !"


def test_clip_tokenizer_is_byte_level_with_clip_special_tokens():
    tokenizer = build_clip_tokenizer()
    ids = tokenizer("ok")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id and len(ids) == 4
    assert tokenizer.convert_ids_to_tokens(ids[1:-1]) == ["o", "k</w>"]
    long = tokenizer("word " * 40, truncation=True, max_length=32)["input_ids"]
    assert len(long) == 32 and long[-1] == tokenizer.eos_token_id


def test_tiny_sam3_config_rejects_a_size_off_the_patch_grid():
    with pytest.raises(ValueError, match="multiple of 14"):
        tiny_sam3_config(100)
