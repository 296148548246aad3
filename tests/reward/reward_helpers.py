"""Builders of verl ``DataProto`` batches as the agent loop hands them to the reward (imported by name)."""

from __future__ import annotations

import numpy as np
import torch
from tensordict import TensorDict
from verl import DataProto


def make_batch(tokenizer, samples: list[dict], prompt: str = "<|im_start|>user\nfind the dog<|im_end|>\n") -> DataProto:
    """A right-padded batch: each sample dict holds ``text`` (response) and its non-tensor fields."""
    prompt_ids = tokenizer.encode(prompt)
    responses = [tokenizer.encode(s["text"]) for s in samples]
    width = max(len(r) for r in responses) + 3  # padding after every response
    resp = torch.zeros(len(samples), width, dtype=torch.long)
    mask = torch.zeros(len(samples), len(prompt_ids) + width, dtype=torch.long)
    for i, r in enumerate(responses):
        resp[i, : len(r)] = torch.tensor(r)
        mask[i, : len(prompt_ids) + len(r)] = 1
    prompts = torch.tensor([prompt_ids] * len(samples))
    batch = TensorDict(
        {
            "prompts": prompts,
            "responses": resp,
            "attention_mask": mask,
            "input_ids": torch.cat([prompts, resp], dim=1),
            "position_ids": torch.arange(mask.shape[1]).expand(len(samples), -1).clone(),
        },
        batch_size=len(samples),
    )
    keys = {k for s in samples for k in s} - {"text"}
    non_tensor = {k: np.array([s.get(k) for s in samples], dtype=object) for k in keys}
    return DataProto(batch=batch, non_tensor_batch=non_tensor), [len(r) for r in responses]
