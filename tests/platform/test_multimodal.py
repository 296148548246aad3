"""Processor features for token-in requests: placeholder collapse, feature building, batching."""

from __future__ import annotations

import pytest
import torch

from omni_r1_verl.platform.multimodal import (
    PlaceholderIds,
    build_features,
    collapse_placeholders,
    forward_kwargs,
    merge_features,
)

IDS = PlaceholderIds(image=10, video=11, audio=12, vision_bos=20, vision_eos=21, audio_bos=22, audio_eos=23)


def test_collapse_runs_and_audio_in_video_spans():
    image = [20, 10, 10, 10, 21]
    audio = [22, 12, 12, 23]
    interleaved = [20, 22, 11, 11, 12, 11, 12, 12, 23, 21]
    prompt = [1, *image, 2, *interleaved, 3, *audio, 4]
    assert collapse_placeholders(prompt, IDS) == [1, 20, 10, 21, 2, 20, 11, 21, 3, 22, 12, 23, 4]


def test_collapse_leaves_text_and_unmatched_spans_alone():
    assert collapse_placeholders([5, 5, 6], IDS) == [5, 5, 6]
    # vision_bos + audio_bos without the closing pair is not an audio-in-video span.
    assert collapse_placeholders([20, 22, 11, 11, 7], IDS) == [20, 22, 11, 7]


def test_placeholder_ids_of_the_omni_processor(omni_engine):
    ids = PlaceholderIds.from_processor(omni_engine.processor)
    assert (ids.image, ids.video, ids.audio) == (151655, 151656, 151646)
    assert (ids.vision_bos, ids.audio_eos) == (151652, 151648)


def test_features_match_the_agent_loops_processor_call(omni_engine, video_audio_request):
    processor = omni_engine.processor
    request = video_audio_request(processor, seed=0, question="Where is the dog?")
    features = build_features(
        processor,
        request.prompt_ids,
        videos=request.videos,
        audios=request.audios,
        mm_processor_kwargs=request.mm_processor_kwargs,
    )
    outputs = request.processor_outputs
    assert set(features) == {k for k in outputs if k not in ("input_ids", "attention_mask")}
    assert {"pixel_values_videos", "video_grid_thw", "input_features", "feature_attention_mask"} <= set(features)
    for key, value in features.items():
        assert torch.equal(value, outputs[key]), key


def test_media_that_do_not_match_the_prompt_fail_loudly(omni_engine, video_audio_request):
    processor = omni_engine.processor
    request = video_audio_request(processor, seed=0, question="Where?", frames=4)
    longer = video_audio_request(processor, seed=1, question="Where?", frames=8)
    kwargs = request.mm_processor_kwargs
    with pytest.raises(ValueError, match="placeholders do not match"):
        build_features(
            processor, request.prompt_ids, videos=longer.videos, audios=longer.audios, mm_processor_kwargs=kwargs
        )
    without_audio_in_video = {**kwargs, "use_audio_in_video": False}
    with pytest.raises(ValueError, match="placeholders do not match"):
        build_features(
            processor,
            request.prompt_ids,
            videos=request.videos,
            audios=request.audios,
            mm_processor_kwargs=without_audio_in_video,
        )


def test_merge_concatenates_items_like_the_processor():
    a = {"pixel_values": torch.ones(3, 2), "grid": torch.tensor([[1, 1, 3]]), "seconds": [1.0]}
    b = {"pixel_values": torch.zeros(2, 2), "grid": torch.tensor([[1, 1, 2]]), "seconds": [2.0]}
    merged = merge_features([a, b])
    assert merged["pixel_values"].shape == (5, 2)
    assert merged["grid"].tolist() == [[1, 1, 3], [1, 1, 2]]
    assert merged["seconds"] == [1.0, 2.0]
    with pytest.raises(ValueError, match="same kinds"):
        merge_features([a, {"pixel_values": torch.ones(1, 2)}])


def test_forward_kwargs_keeps_declared_parameters_only(omni_engine):
    kept = forward_kwargs(omni_engine.model, {"use_audio_in_video": True, "sampling_rate": 16000, "input_ids": 1})
    assert kept == {"use_audio_in_video": True}


def test_forward_kwargs_sees_through_a_forward_that_passes_kwargs_on(tiny_assets):
    # The served thinker subclass declares `forward(*args, temperature, shift_labels, **kwargs)`; the media features
    # its parent declares must still reach it (dropping them generated from placeholder embeddings alone).
    from omni_r1_verl.models.qwen2_5_omni.checkpoint import load_thinker

    model = load_thinker(str(tiny_assets.thinker))
    features = {"pixel_values": 1, "image_grid_thw": 2, "input_features": 3, "feature_attention_mask": 4}
    kept = forward_kwargs(model, {**features, "use_audio_in_video": False, "sampling_rate": 16000, "input_ids": 1})
    assert kept == {**features, "use_audio_in_video": False}
