"""Tiny offline assets: real architectures and token ids, deterministic, fast enough for CPU tests."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from omni_r1_verl.models.qwen_tokenizer import OMNI_TOKEN_IDS, build_omni_tokenizer
from omni_r1_verl.models.tiny import TinyAssets, build_tiny_hf_sam2, build_tiny_sam2, tiny_sam2_config


def test_tokenizer_uses_real_qwen_bpe_and_omni_special_ids():
    tok = build_omni_tokenizer()
    # Ids of the real Qwen BPE (identical across Qwen2/2.5/3): "hello world" -> [14990, 1879].
    assert tok("hello world")["input_ids"] == [14990, 1879]
    assert tok.convert_tokens_to_ids(["<|AUDIO|>", "<|IMAGE|>", "<|VIDEO|>", "<|im_end|>"]) == [
        151646,
        151655,
        151656,
        151645,
    ]
    assert (tok.image_token, tok.audio_token, tok.video_token) == ("<|IMAGE|>", "<|AUDIO|>", "<|VIDEO|>")
    # Qwen2.5-Omni has no <think> special token: the tag is plain text, as in the paper's outputs.
    assert "<think>" not in tok.get_added_vocab()
    assert len(tok("<think>")["input_ids"]) > 1


def test_manifest_round_trip(tiny_assets):
    loaded = TinyAssets.load(tiny_assets.root)
    assert loaded.thinker == tiny_assets.thinker
    assert loaded.sam2_hf == tiny_assets.sam2_hf
    manifest = json.loads((tiny_assets.root / "manifest.json").read_text())
    assert manifest["seed"] == 0
    assert any(k.endswith("model.safetensors") for k in manifest["sha256"])


def test_missing_manifest_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="omni-r1 make-tiny"):
        TinyAssets.load(tmp_path)


def test_same_seed_same_weights(tmp_path):
    pytest.importorskip("sam2")
    a = build_tiny_sam2(tmp_path / "a", seed=3)[1]
    b = build_tiny_sam2(tmp_path / "b", seed=3)[1]
    c = build_tiny_sam2(tmp_path / "c", seed=4)[1]
    sd_a, sd_b, sd_c = (torch.load(p, weights_only=True)["model"] for p in (a, b, c))
    assert all(torch.equal(sd_a[k], sd_b[k]) for k in sd_a)
    assert any(not torch.equal(sd_a[k], sd_c[k]) for k in sd_a if sd_a[k].is_floating_point())


def test_same_seed_same_hf_sam2(tmp_path):
    from safetensors.torch import load_file

    a = load_file(build_tiny_hf_sam2(tmp_path / "a", seed=1) / "model.safetensors")
    b = load_file(build_tiny_hf_sam2(tmp_path / "b", seed=1) / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _synthetic_video_audio(seed: int = 0):
    rng = np.random.default_rng(seed)
    video = torch.from_numpy(rng.integers(0, 255, (4, 3, 56, 56), dtype=np.uint8))
    t = np.arange(16000 * 2) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return video, audio


def test_thinker_forward_on_video_and_audio_under_a_minute(tiny_assets):
    from transformers import AutoProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    start = time.perf_counter()
    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_assets.thinker).eval()
    processor = AutoProcessor.from_pretrained(tiny_assets.thinker)
    video, audio = _synthetic_video_audio()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "video", "video": "clip"},
                {"type": "audio", "audio": "track"},
                {"type": "text", "text": "Which object makes the sound?"},
            ],
        }
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(
        text=text, audio=[audio], videos=[video], return_tensors="pt", videos_kwargs={"do_sample_frames": False}
    )
    ids = inputs["input_ids"][0]
    assert int((ids == OMNI_TOKEN_IDS["<|VIDEO|>"]).sum()) > 0
    assert int((ids == OMNI_TOKEN_IDS["<|AUDIO|>"]).sum()) > 0
    with torch.inference_mode():
        logits = model(**inputs).logits
    assert logits.shape == (1, ids.shape[0], model.config.text_config.vocab_size)
    assert torch.isfinite(logits).all()
    assert time.perf_counter() - start < 60


def test_sam2_package_checkpoint_propagates_boxes(tiny_assets, tmp_path):
    pytest.importorskip("sam2")
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from PIL import Image

    cfg = OmegaConf.load(tiny_assets.sam2_config)
    cfg.model._target_ = "sam2.sam2_video_predictor.SAM2VideoPredictor"
    predictor = instantiate(cfg.model, _recursive_=True)
    predictor.load_state_dict(torch.load(tiny_assets.sam2_checkpoint, weights_only=True)["model"])
    predictor.eval()
    for i in range(3):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[10:30, 10 + i : 40 + i] = 255
        Image.fromarray(frame).save(tmp_path / f"{i:05d}.jpg")
    seen = {}
    # bf16 autocast on CPU: the sam2 package keeps memory features in bf16.
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        state = predictor.init_state(video_path=str(tmp_path))
        predictor.add_new_points_or_box(state, frame_idx=1, obj_id=1, box=np.array([10, 10, 40, 30], np.float32))
        predictor.add_new_points_or_box(state, frame_idx=2, obj_id=2, box=np.array([12, 10, 42, 30], np.float32))
        for frame_idx, obj_ids, masks in predictor.propagate_in_video(state):
            seen[frame_idx] = (list(obj_ids), tuple(masks.shape))
        for frame_idx, obj_ids, masks in predictor.propagate_in_video(state, reverse=True):
            seen[frame_idx] = (list(obj_ids), tuple(masks.shape))
    assert sorted(seen) == [0, 1, 2]
    assert all(v == ([1, 2], (2, 1, 48, 64)) for v in seen.values())


def test_hf_sam2_checkpoint_propagates_a_box(tiny_assets):
    from transformers import Sam2VideoModel, Sam2VideoProcessor

    model = Sam2VideoModel.from_pretrained(tiny_assets.sam2_hf).eval()
    processor = Sam2VideoProcessor.from_pretrained(tiny_assets.sam2_hf)
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(3)]
    with torch.inference_mode():
        session = processor.init_video_session(video=frames, inference_device="cpu", dtype=torch.float32)
        processor.add_inputs_to_inference_session(
            inference_session=session, frame_idx=0, obj_ids=1, input_boxes=[[[10, 10, 40, 30]]]
        )
        model(inference_session=session, frame_idx=0)
        shapes = {}
        for out in model.propagate_in_video_iterator(session):
            masks = processor.post_process_masks([out.pred_masks], original_sizes=[[48, 64]], binarize=True)[0]
            shapes[out.frame_idx] = tuple(masks.shape)
    assert shapes == {0: (1, 1, 48, 64), 1: (1, 1, 48, 64), 2: (1, 1, 48, 64)}


def test_tiny_sam2_config_rejects_bad_size():
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny_sam2_config(100)
