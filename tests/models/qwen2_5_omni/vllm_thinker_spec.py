"""What vLLM's Qwen2.5-Omni thinker expects, written down from its source (vLLM cannot be installed here).

Source read: ``vllm/model_executor/models/qwen2_5_omni_thinker.py`` (``Qwen2_5OmniThinkerForConditionalGeneration``:
``hf_to_vllm_mapper``, ``load_weights``, ``omni_get_updates_use_audio_in_video``, ``_get_prompt_updates``), its vision
tower ``vllm/model_executor/models/qwen2_5_vl.py`` (``Qwen2_5_VisionTransformer`` modules and ``load_weights``) and
its language model ``Qwen2ForCausalLM`` (``vllm/model_executor/models/qwen2.py``), at the vLLM commit stored in the
reference index for the 0.2x line that ``verl[vllm]==0.9.1`` pins (0.24.0). The facts below are re-expressed as data
and small functions; the tests check our weight names and prompts against them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# --- weights -----------------------------------------------------------------------------------------------------

#: ``hf_to_vllm_mapper.orig_to_new_prefix``, applied in order, each at most once (WeightsMapper semantics).
PREFIX_MAP: tuple[tuple[str, str], ...] = (
    ("thinker.lm_head.", "language_model.lm_head."),
    ("thinker.model.", "language_model.model."),
    ("thinker.", ""),
)
#: ``load_weights`` skips these (talker / token2wav of a full checkpoint).
SKIP_PREFIXES = ("talker.", "token2wav.")
#: Fused parameters: (vLLM parameter piece, checkpoint piece) of the Qwen2 decoder and of the vision blocks.
LM_STACKED = (("qkv_proj", "q_proj"), ("qkv_proj", "k_proj"), ("qkv_proj", "v_proj"))
MLP_STACKED = (("gate_up_proj", "gate_proj"), ("gate_up_proj", "up_proj"))
VISION_STACKED = (("attn.qkv.", "attn.q."), ("attn.qkv.", "attn.k."), ("attn.qkv.", "attn.v."))


def map_checkpoint_name(name: str) -> str | None:
    """The vLLM parameter a checkpoint weight lands in (None when vLLM skips it, KeyError-like names pass through).

    Args:
        name: A weight name as sent to ``load_weights``.

    Returns:
        The vLLM module parameter name.
    """
    if name.startswith(SKIP_PREFIXES):
        return None
    for old, new in PREFIX_MAP:
        if name.startswith(old):
            name = new + name[len(old) :]
    if name.startswith("language_model.model.layers."):
        for fused, piece in LM_STACKED + MLP_STACKED:
            name = name.replace(f".{piece}.", f".{fused}.")
    elif name.startswith("visual.blocks."):
        for fused, piece in VISION_STACKED:
            name = name.replace(piece, fused)
        for fused, piece in MLP_STACKED:
            name = name.replace(f".{piece}.", f".{fused}.")
    return name


def vllm_parameter_names(thinker_config, audio_tower_names: Sequence[str]) -> set[str]:
    """Every parameter of vLLM's thinker module for a thinker config.

    Args:
        thinker_config: A ``Qwen2_5OmniThinkerConfig``.
        audio_tower_names: Parameter names of the audio tower (vLLM instantiates transformers'
            ``Qwen2_5OmniAudioEncoder`` itself, so its names are the transformers ones).

    Returns:
        The names.
    """
    text, vision = thinker_config.text_config, thinker_config.vision_config
    names = {"language_model.model.embed_tokens.weight", "language_model.model.norm.weight"}
    if not text.tie_word_embeddings:
        names.add("language_model.lm_head.weight")
    for i in range(text.num_hidden_layers):
        p = f"language_model.model.layers.{i}."
        names |= {
            p + "input_layernorm.weight",
            p + "post_attention_layernorm.weight",
            p + "self_attn.qkv_proj.weight",
            p + "self_attn.qkv_proj.bias",
            p + "self_attn.o_proj.weight",
            p + "mlp.gate_up_proj.weight",
            p + "mlp.down_proj.weight",
        }
    names.add("visual.patch_embed.proj.weight")
    for i in range(vision.depth):
        p = f"visual.blocks.{i}."
        names |= {p + "norm1.weight", p + "norm2.weight"}
        for linear in ("attn.qkv", "attn.proj", "mlp.gate_up_proj", "mlp.down_proj"):
            names |= {p + linear + ".weight", p + linear + ".bias"}
    names |= {"visual.merger.ln_q.weight"} | {f"visual.merger.mlp.{i}.{k}" for i in (0, 2) for k in ("weight", "bias")}
    names |= {"audio_tower." + n for n in audio_tower_names}
    return names


# --- prompt expansion (token-in requests) --------------------------------------------------------------------------

#: ``vision_config.tokens_per_second`` default and ``seconds_per_chunk`` of the released config.
TOKENS_PER_SECOND = 25
SECONDS_PER_CHUNK = 2


def audio_output_length(feature_length: int) -> int:
    """``_get_feat_extract_output_lengths``: tokens of an audio with ``feature_length`` Whisper frames."""
    return ((feature_length - 1) // 2 + 1 - 2) // 2 + 1


def _time_chunks(grid_t: int, second_per_grid: float, per_chunk: int) -> list[int]:
    """Temporal grid steps per chunk (``split_list_into_ranges`` over the steps' position ids)."""
    t_index = [int(t * second_per_grid * TOKENS_PER_SECOND) for t in range(grid_t)]
    counts = [0] * (max(t_index) // per_chunk + 1)
    for value in t_index:
        counts[value // per_chunk] += 1
    return counts


def expand_prompt(
    ids: Sequence[int],
    tokens,
    image_grids: Sequence[Sequence[int]],
    video_grids: Sequence[Sequence[int]],
    audio_feature_lengths: Sequence[int],
    use_audio_in_video: bool,
    second_per_grid: float = 1.0,
    merge: int = 2,
) -> list[int]:
    """Re-expand a one-placeholder-per-item prompt the way vLLM's prompt updates do.

    Items are consumed in prompt order; with ``use_audio_in_video`` each video takes the next audio and becomes
    ``<|audio_bos|>`` + per 2-second chunk (video tokens, up to 50 audio tokens) + leftover audio + ``<|audio_eos|>``.

    Returns:
        The expanded ids.
    """
    per_chunk = TOKENS_PER_SECOND * SECONDS_PER_CHUNK
    images, videos, audios = iter(image_grids), iter(video_grids), iter(audio_feature_lengths)
    out: list[int] = []
    for tok in ids:
        if tok == tokens.image:
            out += [tokens.image] * (math.prod(next(images)) // merge**2)
        elif tok == tokens.audio:
            out += [tokens.audio] * audio_output_length(next(audios))
        elif tok == tokens.video and not use_audio_in_video:
            out += [tokens.video] * (math.prod(next(videos)) // merge**2)
        elif tok == tokens.video:
            t, h, w = next(videos)
            remaining = audio_output_length(next(audios))
            out.append(tokens.audio_bos)
            for steps in _time_chunks(t, second_per_grid, per_chunk):
                out += [tokens.video] * (steps * h * w // merge**2)
                take = min(per_chunk, remaining)
                out += [tokens.audio] * take
                remaining -= take
            out += [tokens.audio] * remaining
            out.append(tokens.audio_eos)
        else:
            out.append(tok)
    return out
