"""Model inputs of one System-1 conversation: the chat-template text, the decoded media and the processor's tensors.

The messages are those of :func:`omni_r1_verl.data.system1_inputs.build_system1_messages` (media referenced by path
with their budgets); the media are decoded with :func:`~omni_r1_verl.data.system1_inputs.load_item_media`, so every
caller (the evaluator's engines, the tiny policy's warm start) feeds the thinker what the policy sees in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omni_r1_verl.data.system1_inputs import AUDIO_IN_VIDEO_KEY, load_item_media, uses_audio_in_video

#: Sample rate of the waveforms :func:`load_media` returns.
AUDIO_RATE = 16000


def template_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as the chat template reads them: media items reduced to their type (paths never rendered)."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = [item if item.get("type") == "text" else {"type": item["type"]} for item in content]
        out.append({"role": message["role"], "content": content})
    return out


def load_media(messages: Sequence[dict[str, Any]], max_audio_seconds: float) -> dict[str, list]:
    """Decode every media item of the messages, in placeholder order.

    Returns:
        ``{"images": [PIL], "videos": [(uint8 (T, H, W, 3), fps)], "audios": [float32]}``; a video interleaved
        with its own track adds that waveform to ``audios`` at its position (the processor's convention).

    Raises:
        omni_r1_verl.data.media.MediaError: If a file is missing or cannot be decoded.
    """
    media: dict[str, list] = {"images": [], "videos": [], "audios": []}
    for message in messages:
        content = message.get("content")
        for item in content if isinstance(content, list) else []:
            kind = item.get("type")
            if kind not in ("image", "video", "audio"):
                continue
            loaded = load_item_media(item, max_audio_seconds)
            if kind == "image":
                media["images"].append(loaded["image"])
            elif kind == "video":
                media["videos"].append((loaded["video"], float(item["fps"])))
                if item.get(AUDIO_IN_VIDEO_KEY):
                    media["audios"].append(loaded["audio"])
            else:
                media["audios"].append(loaded["audio"])
    return media


def processor_inputs(processor: Any, conversation: Sequence[dict[str, Any]], max_audio_seconds: float):
    """The processor's tensors for one conversation, ready for ``generate`` or a forward pass.

    Args:
        processor: A ``Qwen2_5OmniProcessor``.
        conversation: Messages of ``build_system1_messages``.
        max_audio_seconds: Audio budget (``data.omni_r1.max_audio_seconds``).

    Returns:
        ``(inputs, use_audio_in_video)``: the ``BatchFeature`` (batch of one, ``input_ids`` ending with the
        assistant turn's header) and whether the video carries its audio interleaved.

    Raises:
        omni_r1_verl.data.media.MediaError: If a media file is missing or cannot be decoded.
    """
    import torch

    media = load_media(conversation, max_audio_seconds)
    aiv = uses_audio_in_video(conversation)
    text = processor.apply_chat_template(template_messages(conversation), add_generation_prompt=True, tokenize=False)
    kwargs: dict[str, Any] = {"use_audio_in_video": aiv, "do_resize": False}
    if media["images"]:
        kwargs["images"] = media["images"]
    if media["videos"]:
        kwargs["videos"] = [torch.from_numpy(v).permute(0, 3, 1, 2).contiguous() for v, _ in media["videos"]]
        kwargs["fps"] = media["videos"][0][1]  # one video per prompt
    if media["audios"]:
        kwargs["audio"] = media["audios"]
    return processor(text=[text], return_tensors="pt", **kwargs), aiv
