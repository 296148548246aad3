"""Device and precision choices shared by the segmenters and grounders."""

from __future__ import annotations

import contextlib

import torch


def resolve_device(requested: str = "auto") -> torch.device:
    """The device a worker computes on.

    Args:
        requested: ``auto`` (the first GPU Ray assigned to this actor, else CPU), ``cpu``, ``cuda``, ``cuda:N``.

    Returns:
        The device.
    """
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def compute_dtype(setting: str, device: torch.device) -> torch.dtype:
    """Precision of a model's activations.

    Args:
        setting: ``auto`` (bf16 on GPU, float32 on CPU, where bf16 matmuls are slow), ``float32`` or ``bfloat16``.
        device: The compute device.

    Returns:
        The dtype.
    """
    if setting == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[setting]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``, or nothing for float32.

    The ``sam2`` package stores memory features in bf16; without autocast, multi-object or multi-keyframe
    propagation then fails in memory attention with a BFloat16/Float mismatch, on CPU as on GPU.

    Args:
        device: The compute device.
        dtype: The activation dtype.

    Returns:
        A context manager.
    """
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
