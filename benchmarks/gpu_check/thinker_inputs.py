"""The tiny thinker and a long omnimodal prompt for it, built without a tokenizer, a processor or a download.

The thinker is :func:`omni_r1_verl.models.tiny.tiny_thinker_config` (the real architecture: audio tower, vision
tower, M-RoPE text model, 152k vocabulary) in the class verl trains, with the recipe's frozen towers. The prompt is
what the processor would give for a video clip and an audio track: placeholder runs of the right lengths between
the real Omni special tokens, random patches and mel features, random text ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from omni_r1_verl.models.qwen_tokenizer import OMNI_TOKEN_IDS

#: Vision tower constants of Qwen2.5-Omni (patch side, spatial merge, temporal patch).
PATCH, MERGE, TEMPORAL = 14, 2, 2
#: Whisper features per second of audio.
MEL_FRAMES_PER_SECOND = 100


@dataclass(frozen=True)
class PromptShape:
    """One prompt per row of a batch.

    Attributes:
        batch: Rows.
        frames: Video frames (even).
        side: Frame side in pixels (a multiple of 28).
        audio_seconds: Audio length.
        text_tokens: Text tokens before the media.
        response_tokens: Tokens after the media (the scored response).
    """

    batch: int
    frames: int
    side: int
    audio_seconds: float
    text_tokens: int
    response_tokens: int


#: 24 frames at the paper's System-1 budget (280 x 280 = 78,400 px), 30 s of audio, an 800-token response.
GPU_PROMPT = PromptShape(batch=2, frames=24, side=280, audio_seconds=30.0, text_tokens=200, response_tokens=800)
#: Tiny CPU sizes of the same layout.
CPU_PROMPT = PromptShape(batch=1, frames=4, side=56, audio_seconds=1.0, text_tokens=8, response_tokens=8)


def build_thinker(seed: int = 0):
    """The tiny thinker, towers frozen as in the recipe, sdpa attention, float32.

    Args:
        seed: Initialisation seed.

    Returns:
        An :class:`~omni_r1_verl.models.qwen2_5_omni.model.OmniThinkerForVerl` in train mode.
    """
    from omni_r1_verl.models.qwen2_5_omni.model import OmniThinkerForVerl, prepare_thinker_for_training
    from omni_r1_verl.models.tiny import tiny_thinker_config

    config = tiny_thinker_config()
    config._attn_implementation = "sdpa"
    for sub in ("text_config", "vision_config", "audio_config"):
        getattr(config, sub)._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    model = OmniThinkerForVerl(config)
    return prepare_thinker_for_training(model, freeze_vision=True, freeze_audio=True).train()


def audio_tokens(mel_frames: int) -> int:
    """Audio placeholder tokens of ``mel_frames`` Whisper frames (the audio tower's two stride-2 stages)."""
    after_conv = (mel_frames - 1) // 2 + 1
    return (after_conv - 2) // 2 + 1


def build_inputs(shape: PromptShape, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    """Forward inputs of the thinker for ``shape``.

    Args:
        shape: The prompt shape.
        device: Where the tensors go.
        seed: Seed of the random patches, features and text.

    Returns:
        ``input_ids``, ``attention_mask``, ``pixel_values_videos``, ``video_grid_thw``, ``input_features``,
        ``feature_attention_mask``, ``video_second_per_grid`` and ``response_mask`` (1 where a position predicts
        a response token; not a model input).
    """
    if shape.frames % TEMPORAL or shape.side % (PATCH * MERGE):
        raise ValueError(f"frames must be even and side a multiple of {PATCH * MERGE}: {shape}")
    gen = torch.Generator().manual_seed(seed)
    grid = (shape.frames // TEMPORAL, shape.side // PATCH, shape.side // PATCH)
    patches = grid[0] * grid[1] * grid[2]
    video = patches // (MERGE * MERGE)
    mel = int(shape.audio_seconds * MEL_FRAMES_PER_SECOND)
    audio = audio_tokens(mel)
    ids = OMNI_TOKEN_IDS
    rows = []
    for _ in range(shape.batch):
        text = torch.randint(1000, 150000, (shape.text_tokens + shape.response_tokens,), generator=gen)
        rows.append(
            torch.cat(
                [
                    text[: shape.text_tokens],
                    torch.tensor([ids["<|audio_bos|>"]] + [ids["<|AUDIO|>"]] * audio + [ids["<|audio_eos|>"]]),
                    torch.tensor([ids["<|vision_bos|>"]] + [ids["<|VIDEO|>"]] * video + [ids["<|vision_eos|>"]]),
                    text[shape.text_tokens :],
                ]
            )
        )
    input_ids = torch.stack(rows)
    response_mask = torch.zeros_like(input_ids)
    response_mask[:, -shape.response_tokens - 1 : -1] = 1  # positions that predict the response tokens
    channels = 3 * TEMPORAL * PATCH * PATCH
    inputs = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "pixel_values_videos": torch.randn(shape.batch * patches, channels, generator=gen),
        "video_grid_thw": torch.tensor([grid] * shape.batch),
        "input_features": torch.randn(shape.batch, 128, mel, generator=gen),
        "feature_attention_mask": torch.ones(shape.batch, mel, dtype=torch.long),
        # Seconds per temporal grid step: 2 frames at the recipe's 2 fps.
        "video_second_per_grid": torch.ones(shape.batch),
        "response_mask": response_mask,
    }
    return {k: v.to(device) for k, v in inputs.items()}


def token_log_probs(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-token log-probs of the next token from plain logits, ``(batch, tokens)`` float32.

    Args:
        model: The thinker (any wrapping).
        inputs: :func:`build_inputs` output.

    Returns:
        The log-probs (the last position scores the first token, as verl's rolled labels do).
    """
    forward = {k: v for k, v in inputs.items() if k != "response_mask"}
    logits = model(**forward).logits.float()
    labels = torch.roll(inputs["input_ids"], shifts=-1, dims=-1)
    return torch.log_softmax(logits, -1).gather(-1, labels[..., None])[..., 0]


def response_tokens(inputs: dict[str, torch.Tensor]) -> int:
    """Scored tokens of a batch."""
    return int(inputs["response_mask"].sum())
