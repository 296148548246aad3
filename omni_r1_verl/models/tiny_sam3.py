"""Tiny random SAM 3 checkpoints (transformers ``Sam3VideoModel`` layout), built offline and deterministically.

One directory holds what ``facebook/sam3`` holds: a ``Sam3VideoModel`` checkpoint (image detector + video tracker
sharing one ViT) and a ``Sam3VideoProcessor`` (image and video processors, CLIP tokenizer). Both System-2 SAM 3
backends load from it: ``sam3_tracker`` reads ``Sam3TrackerVideoModel`` (transformers renames the detector's ViT
and ``tracker_neck`` into the tracker's vision encoder) and ``sam3_text`` reads ``Sam3Model`` (the detector).

The CLIP tokenizer is the real CLIP pre-tokenizer and byte alphabet with no BPE merges (words split into bytes), so
it is built without any download; real checkpoints ship their own tokenizer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Sub-directory of ``omni-r1 make-tiny`` output, and the ``TinyAssets.extra`` key naming it.
SAM3_DIR = "sam3"

#: Input side of the tiny SAM 3 models (pixels); a multiple of the ViT patch.
TINY_SAM3_IMAGE_SIZE = 112
#: ViT patch side (SAM 3's).
SAM3_PATCH_SIZE = 14
#: Tokens per text prompt (SAM 3's text encoder has 32 positions).
SAM3_TEXT_LENGTH = 32


def build_clip_tokenizer():
    """A CLIP tokenizer over the 256-symbol byte alphabet (``x`` and ``x</w>`` per byte), without merges.

    Returns:
        A ``CLIPTokenizer`` with 514 tokens: the bytes, the end-of-word bytes, ``<|startoftext|>``, ``<|endoftext|>``.
    """
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    vocab.update({symbol + "</w>": len(alphabet) + i for i, symbol in enumerate(alphabet)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=SAM3_TEXT_LENGTH)


def tiny_sam3_config(image_size: int = TINY_SAM3_IMAGE_SIZE):
    """A shrunken ``Sam3VideoConfig``: 2-layer width-32 ViT, 1-layer text/DETR/memory blocks of width 128, 8 queries.

    Args:
        image_size: Model input side in pixels (multiple of 14).

    Returns:
        The ``Sam3VideoConfig`` (detector and tracker share the vision config, as in ``facebook/sam3``).

    Raises:
        ValueError: If ``image_size`` is not a multiple of the patch size.
    """
    from transformers import Sam3VideoConfig

    s, p = image_size, SAM3_PATCH_SIZE
    if s % p:
        raise ValueError(f"image_size must be a multiple of {p}, got {s}")
    tokenizer = build_clip_tokenizer()
    # transformers hard-codes 64-channel memories (the memory cross-attention's kv_in_dim) and splits object pointers
    # into width // 64 memory tokens, so the FPN / tracker width must be a multiple of 64 above it.
    vit, width, heads, ffn = 32, 128, 2, 64
    vision: dict[str, Any] = {
        "backbone_config": {
            "hidden_size": vit,
            "intermediate_size": ffn,
            "num_hidden_layers": 2,
            "num_attention_heads": heads,
            "image_size": s,
            "patch_size": p,
            "window_size": s // p // 2,
            "global_attn_indexes": [1],
            "pretrain_image_size": s,
        },
        "fpn_hidden_size": width,
        # The tracker reads the first three of the four FPN levels (scales 4, 2, 1; 0.5 is the detector's).
        "backbone_feature_sizes": [[4 * s // p] * 2, [2 * s // p] * 2, [s // p] * 2],
    }
    block = {"hidden_size": width, "num_layers": 1, "num_attention_heads": heads, "intermediate_size": ffn}
    detector = {
        "vision_config": vision,
        "text_config": {
            "vocab_size": len(tokenizer),
            "hidden_size": vit,
            "intermediate_size": ffn,
            "projection_dim": vit,
            "num_hidden_layers": 1,
            "num_attention_heads": heads,
            "max_position_embeddings": SAM3_TEXT_LENGTH,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        "geometry_encoder_config": block,
        "detr_encoder_config": block,
        "detr_decoder_config": {**block, "num_queries": 8},
        "mask_decoder_config": {"hidden_size": width, "num_upsampling_stages": 2, "num_attention_heads": heads},
    }
    tracker = {
        "vision_config": vision,
        "prompt_encoder_config": {"hidden_size": width, "image_size": s, "patch_size": p},
        "mask_decoder_config": {"hidden_size": width, "mlp_dim": ffn, "num_attention_heads": heads},
        "image_size": s,
        "memory_attention_hidden_size": width,
        "memory_attention_num_layers": 1,
        "memory_attention_feed_forward_hidden_size": ffn,
        "memory_encoder_hidden_size": width,
        "memory_encoder_output_channels": 64,
        "mask_downsampler_embed_dim": width,
        "memory_fuser_embed_dim": width,
        "memory_fuser_intermediate_dim": ffn,
        "memory_fuser_num_layers": 1,
    }
    return Sam3VideoConfig(detector_config=detector, tracker_config=tracker)


def build_sam3_processor(image_size: int, tokenizer=None):
    """A ``Sam3VideoProcessor`` for a model input of ``image_size`` pixels (SAM 3's [-1, 1] normalisation).

    Args:
        image_size: Model input side.
        tokenizer: A CLIP tokenizer; :func:`build_clip_tokenizer` when omitted.

    Returns:
        The processor; ``Sam3TrackerVideoProcessor`` and ``Sam3Processor`` load from the directory it is saved to.
    """
    from transformers import Sam3ImageProcessor, Sam3VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    size = {"height": image_size, "width": image_size}
    mask = 4 * image_size // SAM3_PATCH_SIZE
    image = Sam3ImageProcessor(size=size, mask_size={"height": mask, "width": mask})
    video = Sam2VideoVideoProcessor(size=size, image_mean=image.image_mean, image_std=image.image_std)
    return Sam3VideoProcessor(image, video, tokenizer if tokenizer is not None else build_clip_tokenizer())


def build_sam3(out_dir: str | os.PathLike, config=None, seed: int = 0) -> Path:
    """Write a random-weight ``Sam3VideoModel`` checkpoint and its processor.

    Args:
        out_dir: Target directory (created).
        config: A ``Sam3VideoConfig``; :func:`tiny_sam3_config` when omitted (``Sam3VideoConfig()`` is the
            ``facebook/sam3`` architecture, for benchmarks).
        seed: Seed of the random initialisation.

    Returns:
        The directory, laid out like ``facebook/sam3``.
    """
    import torch
    from transformers import Sam3VideoModel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = config if config is not None else tiny_sam3_config()
    torch.manual_seed(seed)
    Sam3VideoModel(config).eval().save_pretrained(out)
    build_sam3_processor(int(config.image_size)).save_pretrained(out)
    return out
