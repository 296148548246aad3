"""Multimodal inputs shared by the Qwen2.5-Omni tests: video (+ audio in video), image + audio, text."""

from __future__ import annotations

import numpy as np
import torch

VIDEO = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (6, 3, 56, 84), dtype=np.uint8))
IMAGE = torch.from_numpy(np.random.default_rng(1).integers(0, 255, (3, 56, 56), dtype=np.uint8))
AUDIO = (np.random.default_rng(2).standard_normal(16000 * 5) * 0.1).astype(np.float32)

CASES = {
    "video+audio-in-video": (["video"], {"videos": [VIDEO], "audio": [AUDIO]}, True),
    "video": (["video"], {"videos": [VIDEO]}, False),
    "image+audio": (["audio", "image"], {"images": [IMAGE], "audio": [AUDIO]}, False),
    "text": ([], {}, False),
}


def process(processor, kinds, media, use_audio_in_video):
    content = [{"type": k, k: ""} for k in kinds] + [{"type": "text", "text": "what is making the sound?"}]
    messages = [{"role": "user", "content": content}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return processor(text=[text], return_tensors="pt", do_resize=False, use_audio_in_video=use_audio_in_video, **media)
