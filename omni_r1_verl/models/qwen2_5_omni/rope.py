"""Qwen2.5-Omni M-RoPE position ids, computed by transformers' own thinker implementation.

verl computes multimodal position ids outside the model (agent-loop output, TransferQueue path, reward batches) by
calling ``processor.get_rope_index(input_ids=..., attention_mask=..., image_grid_thw=..., video_grid_thw=...,
**processor.get_rope_index_kwargs(multi_modal_inputs))``. :class:`OmniRopeIndex` is that callable for the Omni
thinker: it runs ``Qwen2_5OmniPreTrainedModelForConditionalGeneration.get_rope_index`` unchanged (audio, image, video,
``use_audio_in_video``, ``second_per_grids``), so the ids the actor trains with are the ids the thinker itself
computes, and the ones vLLM computes at sampling time (the reference computed training log-probs with 1-D positions
instead: ``spec/reference-semantics.md`` §12 item 2).

``use_audio_in_video`` is read from the token layout (``<|vision_bos|><|audio_bos|>``) because verl does not pass the
processor kwargs to ``get_rope_index``; the layout is the ground truth of how the prompt was expanded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from omni_r1_verl.models.qwen2_5_omni.tokens import OmniTokenIds, has_audio_in_video


def _rope_carrier_class() -> type:
    """A minimal host for transformers' rope-index methods (they only read ``config`` and ``spatial_merge_size``)."""
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import (
        Qwen2_5OmniPreTrainedModelForConditionalGeneration as Thinker,
    )

    class _RopeCarrier:
        get_rope_index = Thinker.get_rope_index
        get_llm_pos_ids_for_vision = Thinker.get_llm_pos_ids_for_vision
        get_chunked_index = Thinker.get_chunked_index

        def __init__(self, config: Any) -> None:
            self.config = config
            self.spatial_merge_size = config.vision_config.spatial_merge_size

    return _RopeCarrier


class OmniRopeIndex:
    """``get_rope_index`` of the Qwen2.5-Omni thinker, callable without a model (picklable, CPU only).

    Args:
        thinker_config: The ``Qwen2_5OmniThinkerConfig`` of the policy.
    """

    def __init__(self, thinker_config: Any) -> None:
        self.thinker_config = thinker_config
        self.tokens = OmniTokenIds.from_thinker_config(thinker_config)
        self._carrier = None

    def __getstate__(self) -> dict[str, Any]:
        return {"thinker_config": self.thinker_config, "tokens": self.tokens, "_carrier": None}

    def __call__(
        self,
        input_ids: torch.Tensor,
        image_grid_thw: torch.Tensor | None = None,
        video_grid_thw: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        use_audio_in_video: bool | None = None,
        audio_seqlens: torch.Tensor | None = None,
        second_per_grids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute 3-D M-RoPE position ids.

        Args:
            input_ids: ``(batch, seq)`` expanded token ids.
            image_grid_thw: ``(num_images, 3)`` or None.
            video_grid_thw: ``(num_videos, 3)`` or None.
            attention_mask: ``(batch, seq)``; all ones when omitted.
            use_audio_in_video: Interleaved audio-in-video layout; inferred from ``input_ids`` when None.
            audio_seqlens: ``(num_audios,)`` Whisper feature lengths (``feature_attention_mask.sum(-1)``), in
                placeholder order.
            second_per_grids: ``(num_videos,)`` seconds per temporal grid step (``video_second_per_grid``).

        Returns:
            ``(position_ids (3, batch, seq), rope_deltas (batch, 1))``.

        Raises:
            ValueError: If audio or video placeholders are present without the lengths needed to place them, or if
                rows of the batch disagree on the audio-in-video layout.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        rows = input_ids.tolist()
        if use_audio_in_video is None:
            layouts = {has_audio_in_video(row, self.tokens) for row in rows}
            if len(layouts) > 1:
                raise ValueError("rows of one batch mix audio-in-video and separate layouts; compute them one by one")
            use_audio_in_video = layouts.pop() if layouts else False
        has_audio = any(self.tokens.audio in row for row in rows)
        if has_audio and audio_seqlens is None:
            raise ValueError("prompt holds <|AUDIO|> tokens but no audio_seqlens (feature_attention_mask) were given")
        if video_grid_thw is not None and second_per_grids is None:
            raise ValueError("videos need second_per_grids (the processor's video_second_per_grid)")
        if self._carrier is None:
            self._carrier = _rope_carrier_class()(self.thinker_config)
        return self._carrier.get_rope_index(
            input_ids,
            image_grid_thw,
            video_grid_thw,
            attention_mask,
            bool(use_audio_in_video),
            audio_seqlens,
            second_per_grids,
        )


def rope_index_kwargs(multi_modal_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Extra ``get_rope_index`` inputs found in a processor output (verl's ``get_rope_index_kwargs`` hook).

    Args:
        multi_modal_inputs: The processor features of one sample (``feature_attention_mask``,
            ``video_second_per_grid``, ...).

    Returns:
        ``audio_seqlens`` and ``second_per_grids`` when the sample has audio / video.
    """
    out: dict[str, Any] = {}
    mask = multi_modal_inputs.get("feature_attention_mask")
    if mask is not None:
        out["audio_seqlens"] = torch.as_tensor(mask).sum(-1)
    seconds = multi_modal_inputs.get("video_second_per_grid")
    if seconds is not None:
        out["second_per_grids"] = torch.as_tensor(seconds, dtype=torch.float32)
    return out
