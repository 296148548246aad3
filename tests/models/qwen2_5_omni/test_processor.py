"""verl loads the Qwen2.5-Omni processor (bound), and its rope index is the thinker's own."""

from __future__ import annotations

import itertools

import pytest
import torch
from omni_cases import AUDIO, CASES, VIDEO, process

from omni_r1_verl.models.qwen2_5_omni.processor import is_omni_config, load_omni_processor, thinker_config_of
from omni_r1_verl.models.qwen2_5_omni.rope import OmniRopeIndex
from omni_r1_verl.models.qwen2_5_omni.tokens import OmniTokenIds


@pytest.mark.parametrize("checkpoint", ["thinker", "full"])
def test_verl_hf_processor_loads_and_binds_the_omni_processor(checkpoint, thinker_dir, full_omni_dir):
    import verl  # noqa: F401  (loads our plugin)
    from verl.utils import hf_processor
    from verl.workers.config import model as verl_model_config

    from omni_r1_verl.models.qwen2_5_omni.verl_binding import original_of

    path = thinker_dir if checkpoint == "thinker" else full_omni_dir
    # The gap this binding closes: verl alone silently returns None for the Omni processor.
    with pytest.warns(UserWarning, match="Unsupported processor type"):
        assert original_of(hf_processor)(str(path)) is None
    processor = hf_processor(str(path))
    assert type(processor).__name__ == "Qwen2_5OmniProcessor"
    assert isinstance(processor.get_rope_index, OmniRopeIndex)
    assert processor.video_token_id == processor.tokenizer.convert_tokens_to_ids("<|VIDEO|>")
    assert processor.omni_token_ids == OmniTokenIds.from_thinker_config(thinker_config_of(processor.config))
    # HFModelConfig builds the processor through the name imported into verl/workers/config/model.py.
    assert verl_model_config.hf_processor is hf_processor


def test_non_omni_checkpoints_still_go_through_verl(tmp_path):
    import verl  # noqa: F401
    from transformers import Qwen2Config
    from verl.utils import hf_processor

    from omni_r1_verl.models.qwen_tokenizer import build_omni_tokenizer

    Qwen2Config(vocab_size=1000, hidden_size=16, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    build_omni_tokenizer().save_pretrained(tmp_path)
    assert hf_processor(str(tmp_path)) is None  # text-only model: verl's answer, unchanged


def test_mismatched_tokenizer_and_config_is_rejected(thinker_dir, tmp_path):
    import shutil

    from transformers import AutoConfig

    shutil.copytree(thinker_dir, tmp_path / "ckpt")
    config = AutoConfig.from_pretrained(thinker_dir)
    config.audio_token_index = 12
    config.save_pretrained(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="disagree"):
        load_omni_processor(tmp_path / "ckpt")


def test_use_audio_in_video_interleaves_two_second_chunks_as_transformers_does(omni_processor):
    tokens = omni_processor.omni_token_ids
    separate = process(omni_processor, ["video", "audio"], {"videos": [VIDEO], "audio": [AUDIO]}, False)
    inter = process(omni_processor, ["video"], {"videos": [VIDEO], "audio": [AUDIO]}, True)
    sep_ids, int_ids = separate["input_ids"][0].tolist(), inter["input_ids"][0].tolist()
    # Same media tokens, laid out differently: one <|vision_bos|><|audio_bos|> block holding both.
    for tok in (tokens.video, tokens.audio):
        assert sep_ids.count(tok) == int_ids.count(tok) > 0
    start = int_ids.index(tokens.audio_bos)
    assert int_ids[start - 1] == tokens.vision_bos
    end = int_ids.index(tokens.audio_eos)
    assert int_ids[end + 1] == tokens.vision_eos
    block = int_ids[start + 1 : end]
    # 6 frames at 2 fps = 3 grid steps of 1 s: chunk 1 holds steps 0-1 (2 x 6 video tokens) then 2 s of audio
    # (50 tokens); chunk 2 holds step 2 then the remaining audio.
    runs = [(tok, len(list(group))) for tok, group in itertools.groupby(block)]
    assert runs[0] == (tokens.video, 12) and runs[1] == (tokens.audio, 50) and runs[2] == (tokens.video, 6)
    assert runs[3][0] == tokens.audio


@pytest.mark.parametrize("case", list(CASES))
def test_rope_index_equals_the_thinkers(case, omni_processor, thinker):
    kinds, media, aiv = CASES[case]
    out = process(omni_processor, kinds, media, aiv)
    ids, mask = out["input_ids"], out["attention_mask"]
    lengths = out["feature_attention_mask"].sum(-1) if "feature_attention_mask" in out else None
    expected, expected_delta = thinker.get_rope_index(
        ids, out.get("image_grid_thw"), out.get("video_grid_thw"), mask, aiv, lengths, out.get("video_second_per_grid")
    )
    got, delta = omni_processor.get_rope_index(
        input_ids=ids,
        attention_mask=mask,
        image_grid_thw=out.get("image_grid_thw"),
        video_grid_thw=out.get("video_grid_thw"),
        **omni_processor.get_rope_index_kwargs(out),
    )
    assert torch.equal(got, expected) and torch.equal(delta, expected_delta)
    if case != "text":  # multimodal positions are genuinely 3-D
        assert not torch.equal(got[0], got[1])


def test_rope_index_requires_audio_lengths_and_consistent_rows(omni_processor):
    out = process(omni_processor, ["audio"], {"audio": [AUDIO]}, False)
    with pytest.raises(ValueError, match="audio_seqlens"):
        omni_processor.get_rope_index(input_ids=out["input_ids"], attention_mask=out["attention_mask"])
    inter = process(omni_processor, ["video"], {"videos": [VIDEO], "audio": [AUDIO]}, True)["input_ids"][0]
    plain = process(omni_processor, ["video"], {"videos": [VIDEO]}, False)["input_ids"][0]
    batch = torch.stack([inter[: len(plain)], plain])
    with pytest.raises(ValueError, match="mix audio-in-video"):
        omni_processor.get_rope_index(input_ids=batch, attention_mask=torch.ones_like(batch))


def test_rope_index_pickles_for_ray(omni_processor):
    import pickle

    rope = pickle.loads(pickle.dumps(omni_processor.get_rope_index))
    out = process(omni_processor, ["video"], {"videos": [VIDEO]}, False)
    kwargs = omni_processor.get_rope_index_kwargs(out)
    a, _ = rope(out["input_ids"], video_grid_thw=out["video_grid_thw"], **kwargs)
    b, _ = omni_processor.get_rope_index(out["input_ids"], video_grid_thw=out["video_grid_thw"], **kwargs)
    assert torch.equal(a, b)


def test_config_helpers(thinker_dir, full_omni_dir):
    from transformers import AutoConfig

    full, thinker = AutoConfig.from_pretrained(full_omni_dir), AutoConfig.from_pretrained(thinker_dir)
    assert is_omni_config(full) and is_omni_config(thinker) and is_omni_config({"model_type": "qwen2_5_omni"})
    assert thinker_config_of(full).model_type == thinker_config_of(thinker).model_type == "qwen2_5_omni_thinker"
    with pytest.raises(ValueError, match="not a Qwen2.5-Omni"):
        thinker_config_of(full.thinker_config.text_config)
