"""Omni placeholder layouts survive the token-in path to vLLM: collapse, then vLLM's re-expansion, is the identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from vllm_thinker_spec import expand_prompt

from omni_r1_verl.models.qwen2_5_omni.tokens import (
    OmniTokenIds,
    PlaceholderLayoutError,
    collapse_placeholders,
    has_audio_in_video,
)
from omni_r1_verl.models.qwen_tokenizer import OMNI_TOKEN_IDS

T = OmniTokenIds(
    audio=OMNI_TOKEN_IDS["<|AUDIO|>"],
    image=OMNI_TOKEN_IDS["<|IMAGE|>"],
    video=OMNI_TOKEN_IDS["<|VIDEO|>"],
    vision_bos=OMNI_TOKEN_IDS["<|vision_bos|>"],
    vision_eos=OMNI_TOKEN_IDS["<|vision_eos|>"],
    audio_bos=OMNI_TOKEN_IDS["<|audio_bos|>"],
    audio_eos=OMNI_TOKEN_IDS["<|audio_eos|>"],
)


def test_token_ids_from_tokenizer_and_config_agree(omni_processor):
    assert OmniTokenIds.from_vocab(omni_processor.tokenizer.get_vocab()) == T
    assert OmniTokenIds.from_thinker_config(omni_processor.config) == T


def test_collapse_runs_and_interleaved_block():
    a, v, i = T.audio, T.video, T.image
    ids = [1, T.audio_bos, a, a, a, T.audio_eos, 2, T.vision_bos, i, i, T.vision_eos, 3]
    assert collapse_placeholders(ids, T) == [1, T.audio_bos, a, T.audio_eos, 2, T.vision_bos, i, T.vision_eos, 3]
    block = [T.vision_bos, T.audio_bos, v, v, a, a, v, a, T.audio_eos, T.vision_eos]
    assert collapse_placeholders([5, *block, 6], T) == [5, T.vision_bos, v, T.vision_eos, 6]
    assert has_audio_in_video(block, T)
    assert not has_audio_in_video([T.vision_bos, v, T.vision_eos, T.audio_bos, a, T.audio_eos], T)


def test_unterminated_interleaved_block_is_an_error():
    with pytest.raises(PlaceholderLayoutError, match="unterminated"):
        collapse_placeholders([T.vision_bos, T.audio_bos, T.video, T.audio, T.vision_eos], T)


def _expanded(processor, content, media, use_audio_in_video):
    messages = [{"role": "user", "content": content}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    out = processor(text=[text], return_tensors="pt", do_resize=False, use_audio_in_video=use_audio_in_video, **media)
    return out


@settings(max_examples=12, deadline=None)
@given(
    frames=st.integers(1, 9),
    grid=st.sampled_from([(2, 2), (2, 4), (4, 2)]),
    seconds=st.floats(0.1, 12.0),
    layout=st.sampled_from(["video+audio-in-video", "video", "video,audio", "audio,image", "image"]),
)
def test_collapse_then_vllm_expansion_restores_the_processor_prompt(omni_processor, frames, grid, seconds, layout):
    rng = np.random.default_rng(frames)
    h, w = grid[0] * 28, grid[1] * 28
    video = torch.from_numpy(rng.integers(0, 255, (frames, 3, h, w), dtype=np.uint8))
    image = torch.from_numpy(rng.integers(0, 255, (3, h, w), dtype=np.uint8))
    audio = np.zeros(int(seconds * 16000), np.float32)
    kinds = layout.replace("+audio-in-video", "").split(",")
    content = [{"type": k, k: ""} for k in kinds] + [{"type": "text", "text": "Where is it?"}]
    media = {}
    if "video" in kinds:
        media["videos"] = [video]
    if "image" in kinds:
        media["images"] = [image]
    if "audio" in kinds or "audio-in-video" in layout:
        media["audio"] = [audio]
    aiv = "audio-in-video" in layout
    out = _expanded(omni_processor, content, media, aiv)
    ids = out["input_ids"][0].tolist()
    collapsed = collapse_placeholders(ids, T)
    assert sum(collapsed.count(t) for t in (T.image, T.video, T.audio)) == sum(len(v) for v in media.values()) - aiv
    restored = expand_prompt(
        collapsed,
        T,
        image_grids=out["image_grid_thw"].tolist() if "image_grid_thw" in out else [],
        video_grids=out["video_grid_thw"].tolist() if "video_grid_thw" in out else [],
        audio_feature_lengths=out["feature_attention_mask"].sum(-1).tolist() if "feature_attention_mask" in out else [],
        use_audio_in_video=aiv,
    )
    assert restored == ids
    assert has_audio_in_video(ids, T) == aiv


def test_verl_dedup_sends_vllm_the_collapsed_omni_prompt(omni_processor):
    """verl's vLLM server calls ``qwen2_5_vl_dedup_image_tokens(prompt_ids, processor)``; ours collapses audio too."""
    import verl  # noqa: F401  (loads our plugin)
    from verl.workers.rollout.utils import qwen2_5_vl_dedup_image_tokens

    from omni_r1_verl.models.qwen2_5_omni.verl_binding import original_of

    a = T.audio
    ids = [7, T.audio_bos, a, a, a, T.audio_eos, T.vision_bos, T.image, T.image, T.vision_eos]
    assert qwen2_5_vl_dedup_image_tokens(ids, omni_processor) == collapse_placeholders(ids, T)
    # verl's own dedup leaves the audio run for vLLM to expand a second time.
    assert original_of(qwen2_5_vl_dedup_image_tokens)(ids, omni_processor).count(a) == 3
