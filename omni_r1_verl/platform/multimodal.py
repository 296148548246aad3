"""Processor features for token-in multimodal requests, as verl's LLM-server client sends them.

verl's agent loop tokenizes the prompt itself, so a request carries prompt ids with *expanded* placeholders (one
``<|IMAGE|>`` / ``<|VIDEO|>`` / ``<|AUDIO|>`` id per vision patch group or audio frame; Qwen2.5-Omni with
``use_audio_in_video`` interleaves video and audio chunks between ``<|vision_bos|><|audio_bos|>`` and
``<|audio_eos|><|vision_eos|>``) plus the raw media and ``mm_processor_kwargs``. vLLM re-runs its processor on the
media; we do the same with the model's own processor through verl's ``build_multimodal_processor_inputs`` (the
function verl's trainer side uses), so generator and trainer see identical features. The prompt is collapsed back to
one placeholder per media item for the processor, and the placeholder sequence the processor expands must equal the
request's: a mismatch (other media, other ``mm_processor_kwargs``) fails loudly instead of generating from
misaligned features.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch

#: Processor outputs that are not model features.
_TEXT_KEYS = ("input_ids", "attention_mask")


@dataclass(frozen=True)
class PlaceholderIds:
    """Token ids of a processor's multimodal placeholders (``None`` where the processor has no such token).

    Attributes:
        image: Image patch-group placeholder.
        video: Video patch-group placeholder.
        audio: Audio frame placeholder.
        vision_bos: Start of a vision item.
        vision_eos: End of a vision item.
        audio_bos: Start of an audio item.
        audio_eos: End of an audio item.
    """

    image: Optional[int] = None
    video: Optional[int] = None
    audio: Optional[int] = None
    vision_bos: Optional[int] = None
    vision_eos: Optional[int] = None
    audio_bos: Optional[int] = None
    audio_eos: Optional[int] = None

    @classmethod
    def from_processor(cls, processor: Any) -> PlaceholderIds:
        """Read the placeholder tokens a (Qwen-style) processor declares.

        Args:
            processor: A transformers multimodal processor with a ``tokenizer``.

        Returns:
            The ids of the tokens the processor names (``image_token``, ``video_token``, ``audio_token``,
            ``vision_bos_token`` ...).
        """
        tokenizer = processor.tokenizer
        ids = {}
        for field_name, attribute in (
            ("image", "image_token"),
            ("video", "video_token"),
            ("audio", "audio_token"),
            ("vision_bos", "vision_bos_token"),
            ("vision_eos", "vision_eos_token"),
            ("audio_bos", "audio_bos_token"),
            ("audio_eos", "audio_eos_token"),
        ):
            token = getattr(processor, attribute, None)
            if token is not None:
                token_id = tokenizer.convert_tokens_to_ids(token)
                ids[field_name] = token_id if token_id != tokenizer.unk_token_id else None
        return cls(**ids)

    @property
    def media(self) -> frozenset[int]:
        """Ids that stand for media content (what the processor expands)."""
        return frozenset(t for t in (self.image, self.video, self.audio) if t is not None)


def collapse_placeholders(prompt_ids: Sequence[int], ids: PlaceholderIds) -> list[int]:
    """Undo the processor's placeholder expansion: one placeholder per media item.

    Args:
        prompt_ids: Prompt ids with expanded placeholders.
        ids: The processor's placeholder ids.

    Returns:
        The ids the processor expands back into ``prompt_ids``: runs of one placeholder become one token, and an
        audio-in-video span ``<|vision_bos|><|audio_bos|>...<|audio_eos|><|vision_eos|>`` becomes
        ``<|vision_bos|><|VIDEO|><|vision_eos|>``.
    """
    out: list[int] = []
    i, n = 0, len(prompt_ids)
    interleaved = None not in (ids.video, ids.vision_bos, ids.vision_eos, ids.audio_bos, ids.audio_eos)
    while i < n:
        token = prompt_ids[i]
        if interleaved and token == ids.vision_bos and i + 1 < n and prompt_ids[i + 1] == ids.audio_bos:
            j = i + 2
            while j < n and prompt_ids[j] in (ids.video, ids.audio):
                j += 1
            if j + 1 < n and prompt_ids[j] == ids.audio_eos and prompt_ids[j + 1] == ids.vision_eos:
                out.extend((ids.vision_bos, ids.video, ids.vision_eos))
                i = j + 2
                continue
        if token in ids.media and out and out[-1] == token:
            i += 1
            continue
        out.append(token)
        i += 1
    return out


def build_features(
    processor: Any,
    prompt_ids: Sequence[int],
    *,
    images: Optional[list] = None,
    videos: Optional[list] = None,
    audios: Optional[list] = None,
    mm_processor_kwargs: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """Processor features of one request, checked against its expanded prompt.

    Args:
        processor: The model's processor.
        prompt_ids: The request's prompt ids (expanded placeholders).
        images: ``image_data`` of the request.
        videos: ``video_data`` of the request (frames, or ``(frames, metadata)`` pairs as verl sends them).
        audios: ``audio_data`` of the request (waveforms).
        mm_processor_kwargs: The request's processor kwargs (e.g. ``use_audio_in_video``).

    Returns:
        Model inputs computed by the processor (pixel values, grids, audio features ...), tensors batched along
        dim 0 as the processor batches items.

    Raises:
        ValueError: If the processor's placeholder expansion differs from the prompt's.
    """
    from verl.utils.tokenizer.tokenizer import build_multimodal_processor_inputs

    ids = PlaceholderIds.from_processor(processor)
    text = processor.tokenizer.decode(collapse_placeholders(prompt_ids, ids), skip_special_tokens=False)
    outputs = build_multimodal_processor_inputs(
        processor,
        text=[text],
        images=images,
        videos=videos,
        audio=audios,
        mm_processor_kwargs=mm_processor_kwargs,
    )
    expanded = outputs["input_ids"][0].tolist()
    want = [t for t in prompt_ids if t in ids.media]
    got = [t for t in expanded if t in ids.media]
    if want != got:
        counts = {
            name: (want.count(t), got.count(t))
            for name, t in (("image", ids.image), ("video", ids.video), ("audio", ids.audio))
            if t is not None
        }
        raise ValueError(
            "the request's multimodal placeholders do not match its media: (prompt, processor) placeholder counts "
            f"{counts}, same order: {sorted(want) == sorted(got)}. The prompt was built from other media or other "
            "mm_processor_kwargs than the request carries."
        )
    return {key: value for key, value in outputs.items() if key not in _TEXT_KEYS}


def merge_features(per_request: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch the features of several requests the way the processor batches items (concatenate along dim 0).

    Args:
        per_request: :func:`build_features` outputs of requests in one batch, in batch order.

    Returns:
        One feature dict for the batch.

    Raises:
        ValueError: If the requests carry different kinds of features.
    """
    if not per_request:
        return {}
    keys = set(per_request[0])
    if any(set(features) != keys for features in per_request):
        raise ValueError("requests in one batch must carry the same kinds of multimodal features")
    merged: dict[str, Any] = {}
    for key in per_request[0]:
        values = [features[key] for features in per_request]
        if isinstance(values[0], torch.Tensor):
            merged[key] = torch.cat(values, dim=0)
        else:
            merged[key] = [item for value in values for item in value]
    return merged


def forward_kwargs(model: torch.nn.Module, candidates: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``candidates`` that the model's ``forward`` declares as parameters.

    A ``forward`` that passes ``**kwargs`` on to its parent's (our verl-facing thinker subclass does) declares the
    parent's parameters too: the classes of the model are read in method-resolution order down to the first
    ``forward`` without ``**kwargs``.

    Args:
        model: The generation model.
        candidates: Processor features and ``mm_processor_kwargs``.

    Returns:
        Keyword arguments safe to pass to ``generate`` (which forwards them to ``forward``).
    """
    declared: set[str] = set()
    for cls in type(model).__mro__:
        forward = cls.__dict__.get("forward")
        if forward is None:
            continue
        parameters = inspect.signature(forward).parameters.values()
        declared |= {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return {key: value for key, value in candidates.items() if key in declared and key not in _TEXT_KEYS}
