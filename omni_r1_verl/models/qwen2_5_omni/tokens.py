"""Qwen2.5-Omni placeholder tokens: layout detection and the collapse a token-in inference engine needs.

The Omni processor expands every media placeholder into one token per feature:

* image: ``<|vision_bos|> <|IMAGE|>*n <|vision_eos|>``;
* audio: ``<|audio_bos|> <|AUDIO|>*n <|audio_eos|>``;
* video: ``<|vision_bos|> <|VIDEO|>*n <|vision_eos|>``;
* video with its audio track (``use_audio_in_video``): ``<|vision_bos|><|audio_bos|>`` followed by 2-second chunks of
  video tokens then audio tokens, closed by ``<|audio_eos|><|vision_eos|>``.

A token-in engine (vLLM) re-expands placeholders itself from the media it receives, so it must be sent exactly one
placeholder token per item: :func:`collapse_placeholders` produces that prompt. Pure Python, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OmniTokenIds:
    """Ids of the Qwen2.5-Omni multimodal special tokens.

    Attributes:
        audio: ``<|AUDIO|>``.
        image: ``<|IMAGE|>``.
        video: ``<|VIDEO|>``.
        vision_bos: ``<|vision_bos|>``.
        vision_eos: ``<|vision_eos|>``.
        audio_bos: ``<|audio_bos|>``.
        audio_eos: ``<|audio_eos|>``.
    """

    audio: int
    image: int
    video: int
    vision_bos: int
    vision_eos: int
    audio_bos: int
    audio_eos: int

    @classmethod
    def from_thinker_config(cls, config: Any) -> OmniTokenIds:
        """Read the ids from a ``Qwen2_5OmniThinkerConfig`` (or anything with the same attributes).

        Args:
            config: The thinker config.

        Returns:
            The ids.

        Raises:
            ValueError: If the config lacks one of them (e.g. ``vision_start_token_id``, which transformers does not
                declare but real checkpoints carry).
        """
        names = {
            "audio": "audio_token_index",
            "image": "image_token_index",
            "video": "video_token_index",
            "vision_bos": "vision_start_token_id",
            "vision_eos": "vision_end_token_id",
            "audio_bos": "audio_start_token_id",
            "audio_eos": "audio_end_token_id",
        }
        values = {field: getattr(config, attr, None) for field, attr in names.items()}
        missing = [names[k] for k, v in values.items() if v is None]
        if missing:
            raise ValueError(f"thinker config has no {missing}; add them to the checkpoint's config.json")
        return cls(**{k: int(v) for k, v in values.items()})

    @classmethod
    def from_vocab(cls, vocab: Mapping[str, int]) -> OmniTokenIds:
        """Read the ids from a tokenizer vocabulary (``tokenizer.get_vocab()``).

        Args:
            vocab: Token string to id.

        Returns:
            The ids.
        """
        return cls(
            audio=vocab["<|AUDIO|>"],
            image=vocab["<|IMAGE|>"],
            video=vocab["<|VIDEO|>"],
            vision_bos=vocab["<|vision_bos|>"],
            vision_eos=vocab["<|vision_eos|>"],
            audio_bos=vocab["<|audio_bos|>"],
            audio_eos=vocab["<|audio_eos|>"],
        )


def has_audio_in_video(ids: Sequence[int], tokens: OmniTokenIds) -> bool:
    """Whether ``ids`` hold a video interleaved with its audio track (``<|vision_bos|><|audio_bos|>``).

    Args:
        ids: Token ids (a prompt, or prompt + response).
        tokens: The Omni special-token ids.

    Returns:
        True when the ``use_audio_in_video`` layout is present.
    """
    return any(a == tokens.vision_bos and b == tokens.audio_bos for a, b in zip(ids, ids[1:]))


class PlaceholderLayoutError(ValueError):
    """A prompt's media placeholders are not laid out as the Omni processor writes them."""


def collapse_placeholders(ids: Sequence[int], tokens: OmniTokenIds) -> list[int]:
    """Turn an expanded Omni prompt into the one-placeholder-per-item prompt a token-in engine expands itself.

    Runs of ``<|AUDIO|>``, ``<|IMAGE|>`` or ``<|VIDEO|>`` become a single token; an interleaved video+audio block
    ``<|vision_bos|><|audio_bos|> ... <|audio_eos|><|vision_eos|>`` becomes ``<|vision_bos|><|VIDEO|><|vision_eos|>``
    (the form the chat template writes and vLLM's ``use_audio_in_video`` replacement targets). Text is untouched.

    Args:
        ids: Expanded prompt ids.
        tokens: The Omni special-token ids.

    Returns:
        The collapsed ids.

    Raises:
        PlaceholderLayoutError: If an interleaved block is not closed.
    """
    media = {tokens.audio, tokens.image, tokens.video}
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        tok = ids[i]
        if tok == tokens.vision_bos and i + 1 < n and ids[i + 1] == tokens.audio_bos:
            j = i + 2
            while j < n and ids[j] in (tokens.video, tokens.audio):
                j += 1
            if j + 1 >= n or ids[j] != tokens.audio_eos or ids[j + 1] != tokens.vision_eos:
                raise PlaceholderLayoutError(f"unterminated audio-in-video block starting at token {i}")
            out.extend((tokens.vision_bos, tokens.video, tokens.vision_eos))
            i = j + 2
            continue
        if tok in media and i > 0 and ids[i - 1] == tok:
            i += 1
            continue
        out.append(tok)
        i += 1
    return out
