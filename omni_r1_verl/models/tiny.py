"""Tiny random checkpoints with the real architectures, built offline and deterministically.

``omni-r1 make-tiny OUT_DIR`` writes everything the CPU tests and the CPU demo need:

* ``qwen2_5_omni_thinker/``: a Qwen2.5-Omni thinker (audio tower, vision tower, M-RoPE text model) with a few
  thousand parameters per block, the real Qwen BPE tokenizer with the Omni special-token ids, and a
  ``Qwen2_5OmniProcessor``;
* ``sam2/``: a shrunken SAM2.1 Hiera config and checkpoint for the ``sam2`` package (same file formats as the
  official ``configs/sam2.1/*.yaml`` and ``*.pt``);
* ``sam2_hf/``: a shrunken transformers ``Sam2VideoModel`` and its processor;
* ``sam3/``: a shrunken transformers ``Sam3VideoModel`` and its processor (``extra["sam3"]``,
  :mod:`omni_r1_verl.models.tiny_sam3`);
* later, ``policy_warm/`` and ``grounder_warm/`` (``extra``): the thinker after a short supervised pass on
  synthetic System-1 answers and on box answers (:func:`omni_r1_verl.models.warm_start.add_warm_start`);
* ``manifest.json``: what was built, with which seed and library versions.

Shapes are chosen to run in seconds on one CPU core; every dimension that the architectures tie together is
kept consistent (e.g. M-RoPE sections sum to half the head dimension).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omni_r1_verl.models.qwen_tokenizer import OMNI_CHAT_TEMPLATE, OMNI_TOKEN_IDS, OMNI_VOCAB_SIZE
from omni_r1_verl.models.tiny_sam3 import SAM3_DIR, build_sam3

logger = logging.getLogger(__name__)

THINKER_DIR = "qwen2_5_omni_thinker"
SAM2_DIR = "sam2"
SAM2_HF_DIR = "sam2_hf"
SAM2_CONFIG_NAME = "sam2.1_hiera_tiny_random.yaml"
SAM2_CHECKPOINT_NAME = "sam2.1_hiera_tiny_random.pt"
MANIFEST = "manifest.json"

#: Input side of the tiny SAM2 models (pixels). Must be a multiple of 32 (the Hiera stride times 2).
TINY_SAM2_IMAGE_SIZE = 128


@dataclass
class TinyAssets:
    """Paths of the assets written by :func:`make_tiny`.

    Attributes:
        root: The output directory.
        thinker: Qwen2.5-Omni thinker checkpoint + processor directory.
        sam2_config: SAM2 Hydra config file for the ``sam2`` package.
        sam2_checkpoint: SAM2 checkpoint (``{"model": state_dict}``) for the ``sam2`` package.
        sam2_hf: transformers ``Sam2VideoModel`` checkpoint + processor directory.
        seed: Seed used for every random initialisation.
        extra: Further assets registered by other builders (name -> path).
    """

    root: Path
    thinker: Path
    sam2_config: Path
    sam2_checkpoint: Path
    sam2_hf: Path
    seed: int
    extra: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Serialisable form, paths relative to ``root``."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, Path):
                out[key] = "." if value == self.root else str(value.relative_to(self.root))
            elif key == "extra":
                out[key] = {k: str(Path(v).relative_to(self.root)) for k, v in value.items()}
            else:
                out[key] = value
        return out

    @classmethod
    def load(cls, root: str | os.PathLike) -> TinyAssets:
        """Read ``manifest.json`` of a directory written by :func:`make_tiny`.

        Args:
            root: The directory given to ``make_tiny``.

        Returns:
            The asset paths, absolute.

        Raises:
            FileNotFoundError: If the directory has no manifest (run ``omni-r1 make-tiny DIR`` first).
        """
        root = Path(root).resolve()
        manifest = root / MANIFEST
        if not manifest.is_file():
            raise FileNotFoundError(f"{manifest} not found; create the assets with: omni-r1 make-tiny {root}")
        data = json.loads(manifest.read_text())
        paths = {k: root / v for k, v in data.items() if k not in ("root", "seed", "extra", "versions", "sha256")}
        extra = {k: root / v for k, v in data.get("extra", {}).items()}
        return cls(root=root, seed=int(data["seed"]), extra=extra, **paths)


# ---------------------------------------------------------------------------------------------------------------
# Qwen2.5-Omni thinker
# ---------------------------------------------------------------------------------------------------------------


def tiny_thinker_config():
    """The tiny Qwen2.5-Omni thinker configuration (real token ids, tiny dimensions).

    Returns:
        A ``Qwen2_5OmniThinkerConfig``.
    """
    from transformers import Qwen2_5OmniThinkerConfig

    head_dim = 16
    return Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=2,
            encoder_attention_heads=2,
            encoder_ffn_dim=64,
            d_model=32,
            output_dim=64,
            n_window=100,
            max_source_positions=1500,
        ),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            in_channels=3,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=64,
            fullatt_block_indexes=[1],
            window_size=112,
        ),
        text_config=dict(
            vocab_size=OMNI_VOCAB_SIZE,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=head_dim,
            max_position_embeddings=32768,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]},
            tie_word_embeddings=False,
            eos_token_id=OMNI_TOKEN_IDS["<|im_end|>"],
            pad_token_id=OMNI_TOKEN_IDS["<|endoftext|>"],
        ),
        audio_token_index=OMNI_TOKEN_IDS["<|AUDIO|>"],
        image_token_index=OMNI_TOKEN_IDS["<|IMAGE|>"],
        video_token_index=OMNI_TOKEN_IDS["<|VIDEO|>"],
        audio_start_token_id=OMNI_TOKEN_IDS["<|audio_bos|>"],
        audio_end_token_id=OMNI_TOKEN_IDS["<|audio_eos|>"],
        # Not declared by the transformers config class but read by its get_rope_index (real checkpoints carry them).
        vision_start_token_id=OMNI_TOKEN_IDS["<|vision_bos|>"],
        vision_end_token_id=OMNI_TOKEN_IDS["<|vision_eos|>"],
        position_id_per_seconds=25,
        seconds_per_chunk=2,
        pad_token_id=OMNI_TOKEN_IDS["<|endoftext|>"],
    )


def build_omni_processor(tokenizer=None):
    """A ``Qwen2_5OmniProcessor`` with the Omni preprocessing defaults and the real Qwen BPE tokenizer.

    Args:
        tokenizer: An Omni tokenizer; built with :func:`build_omni_tokenizer` when omitted.

    Returns:
        The processor.
    """
    from transformers import Qwen2_5OmniProcessor, Qwen2VLImageProcessor, WhisperFeatureExtractor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    from omni_r1_verl.models.qwen_tokenizer import build_omni_tokenizer

    tokenizer = tokenizer if tokenizer is not None else build_omni_tokenizer()
    return Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(),
        video_processor=Qwen2VLVideoProcessor(),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tokenizer,
        chat_template=OMNI_CHAT_TEMPLATE,
    )


def build_tiny_thinker(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny random Qwen2.5-Omni thinker checkpoint with its processor.

    Args:
        out_dir: Target directory (created).
        seed: Seed of the random initialisation.

    Returns:
        The directory, loadable with ``Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained`` and
        ``AutoProcessor.from_pretrained``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5OmniThinkerForConditionalGeneration

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = Qwen2_5OmniThinkerForConditionalGeneration(tiny_thinker_config()).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[OMNI_TOKEN_IDS["<|im_end|>"], OMNI_TOKEN_IDS["<|endoftext|>"]],
        pad_token_id=OMNI_TOKEN_IDS["<|endoftext|>"],
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
    )
    model.save_pretrained(out)
    build_omni_processor().save_pretrained(out)
    return out


def tiny_full_omni_config(thinker_config=None):
    """A full Qwen2.5-Omni config (thinker + talker + token2wav) around the tiny thinker.

    The talker and token2wav are shrunk to a few thousand parameters; they only exist to make the checkpoint's
    layout (``thinker.*``, ``talker.*``, ``token2wav.*`` weights, root ``config.json``) that of the released models.

    Args:
        thinker_config: The thinker config; :func:`tiny_thinker_config` when omitted.

    Returns:
        A ``Qwen2_5OmniConfig``.
    """
    from transformers import Qwen2_5OmniConfig

    thinker = thinker_config if thinker_config is not None else tiny_thinker_config()
    return Qwen2_5OmniConfig(
        thinker_config=thinker.to_dict(),
        talker_config=dict(
            embedding_size=thinker.text_config.hidden_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]},
        ),
        token2wav_config=dict(
            dit_config=dict(
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                head_dim=16,
                emb_dim=16,
                enc_emb_dim=16,
                enc_dim=16,
                enc_channels=[16, 16, 16, 16, 48],
                enc_attention_channels=8,
                enc_se_channels=8,
                look_ahead_layers=[1],
                look_backward_layers=[0],
            ),
            bigvgan_config=dict(
                upsample_initial_channel=16,
                resblock_kernel_sizes=[3],
                resblock_dilation_sizes=[[1, 3, 5]],
                upsample_rates=[2, 2],
                upsample_kernel_sizes=[4, 4],
            ),
        ),
        enable_audio_output=True,
    )


def build_tiny_full_omni(out_dir: str | os.PathLike, thinker_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Write a full Qwen2.5-Omni checkpoint whose thinker is the tiny thinker at ``thinker_dir`` (same weights).

    Args:
        out_dir: Target directory (created).
        thinker_dir: A directory written by :func:`build_tiny_thinker`.
        seed: Seed of the talker / token2wav initialisation.

    Returns:
        The directory, laid out like ``Qwen/Qwen2.5-Omni-*`` (root config, ``thinker.*`` weights, processor).
    """
    import torch
    from transformers import (
        AutoProcessor,
        Qwen2_5OmniForConditionalGeneration,
        Qwen2_5OmniThinkerForConditionalGeneration,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    thinker = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(thinker_dir)
    torch.manual_seed(seed)
    model = Qwen2_5OmniForConditionalGeneration(tiny_full_omni_config(thinker.config)).eval()
    model.thinker.load_state_dict(thinker.state_dict())
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(thinker_dir).save_pretrained(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Text-only Qwen2 (CPU smoke runs of verl's trainer, no multimodal processor)
# ---------------------------------------------------------------------------------------------------------------


def tiny_qwen2_config():
    """A tiny text-only Qwen2 configuration with the Qwen2.5-Omni vocabulary and special-token ids.

    Returns:
        A ``Qwen2Config`` (tied embeddings, 2 layers, hidden size 64).
    """
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=OMNI_VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=OMNI_TOKEN_IDS["<|endoftext|>"],
        eos_token_id=OMNI_TOKEN_IDS["<|im_end|>"],
        pad_token_id=OMNI_TOKEN_IDS["<|endoftext|>"],
    )


def build_tiny_qwen2(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny random text-only Qwen2 checkpoint with the real Qwen BPE tokenizer (ChatML template).

    Args:
        out_dir: Target directory (created).
        seed: Seed of the random initialisation.

    Returns:
        The directory, loadable with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2ForCausalLM

    from omni_r1_verl.models.qwen_tokenizer import build_omni_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(tiny_qwen2_config()).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[OMNI_TOKEN_IDS["<|im_end|>"], OMNI_TOKEN_IDS["<|endoftext|>"]],
        pad_token_id=OMNI_TOKEN_IDS["<|endoftext|>"],
    )
    model.save_pretrained(out)
    build_omni_tokenizer().save_pretrained(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# SAM2, `sam2` package format
# ---------------------------------------------------------------------------------------------------------------


#: The tiny SAM2.1 config shipped with the package (a YAML file in sam2's own format).
TINY_SAM2_CONFIG = "configs/sam2.1_hiera_tiny.yaml"


def tiny_sam2_config(image_size: int = TINY_SAM2_IMAGE_SIZE) -> dict[str, Any]:
    """The tiny SAM2.1 Hiera config (:data:`TINY_SAM2_CONFIG`), for a model input of ``image_size`` pixels.

    Args:
        image_size: Model input size in pixels (multiple of 32).

    Returns:
        The config as a plain dict (``{"model": {...}}``), same keys as ``configs/sam2.1/sam2.1_hiera_t.yaml``.

    Raises:
        ValueError: If ``image_size`` is not a multiple of 32.
    """
    from importlib import resources

    import yaml

    if image_size % 32:
        raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
    cfg = yaml.safe_load((resources.files("omni_r1_verl.models") / TINY_SAM2_CONFIG).read_text())
    model = cfg["model"]
    model["image_size"] = image_size
    layer = model["memory_attention"]["layer"]
    for attention in ("self_attention", "cross_attention"):
        layer[attention]["feat_sizes"] = [image_size // 16, image_size // 16]
    return cfg


def build_tiny_sam2(out_dir: str | os.PathLike, seed: int = 0) -> tuple[Path, Path]:
    """Write a tiny random SAM2.1 config + checkpoint in the ``sam2`` package's formats.

    The config is instantiated with OmegaConf + ``hydra.utils.instantiate`` (no global Hydra state), exactly as the
    ``sam2`` builder does after composing its own configs.

    Args:
        out_dir: Target directory (created).
        seed: Seed of the random initialisation.

    Returns:
        ``(config_path, checkpoint_path)``.
    """
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = OmegaConf.create(tiny_sam2_config())
    config_path = out / SAM2_CONFIG_NAME
    config_path.write_text("# @package _global_\n" + OmegaConf.to_yaml(cfg))
    torch.manual_seed(seed)
    model = instantiate(cfg.model, _recursive_=True)
    checkpoint_path = out / SAM2_CHECKPOINT_NAME
    torch.save({"model": model.state_dict()}, checkpoint_path)
    return config_path, checkpoint_path


# ---------------------------------------------------------------------------------------------------------------
# SAM2, transformers format
# ---------------------------------------------------------------------------------------------------------------


def tiny_hf_sam2_config(image_size: int = TINY_SAM2_IMAGE_SIZE):
    """A shrunken transformers ``Sam2VideoConfig`` (Hiera-det backbone, one memory-attention layer).

    Args:
        image_size: Model input size in pixels (multiple of 32).

    Returns:
        The ``Sam2VideoConfig``.
    """
    from transformers import Sam2VideoConfig, Sam2VideoMaskDecoderConfig

    s = image_size
    # transformers hard-codes 64-channel memories (the cross-attention's kv_in_dim) and only handles object pointers
    # wider than the memories (they are split into width // 64 tokens), so the model width must be a multiple > 64.
    width, mem_dim = 128, 64
    return Sam2VideoConfig(
        vision_config=dict(
            model_type="sam2_vision_model",
            backbone_config=dict(
                model_type="sam2_hiera_det_model",
                image_size=[s, s],
                hidden_size=8,
                blocks_per_stage=[1, 1, 2, 1],
                embed_dim_per_stage=[8, 16, 32, 64],
                num_attention_heads_per_stage=[1, 1, 1, 1],
                global_attention_blocks=[3],
            ),
            backbone_channel_list=[64, 32, 16, 8],
            backbone_feature_sizes=[[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
            fpn_hidden_size=width,
        ),
        prompt_encoder_config=dict(image_size=s, hidden_size=width),
        # transformers 5.x builds the wrong sub-config class from a dict here: pass the object.
        mask_decoder_config=Sam2VideoMaskDecoderConfig(hidden_size=width, mlp_dim=64, num_attention_heads=2),
        image_size=s,
        memory_attention_hidden_size=width,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=64,
        memory_attention_rope_feat_sizes=[s // 16, s // 16],
        memory_encoder_hidden_size=width,
        memory_encoder_output_channels=mem_dim,
        memory_fuser_num_layers=1,
        memory_fuser_embed_dim=width,
        memory_fuser_intermediate_dim=64,
        mask_downsampler_embed_dim=width,
    )


def build_tiny_hf_sam2(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny random transformers ``Sam2VideoModel`` and its ``Sam2VideoProcessor``.

    Args:
        out_dir: Target directory (created).
        seed: Seed of the random initialisation.

    Returns:
        The directory, loadable with ``Sam2VideoModel.from_pretrained`` and ``Sam2VideoProcessor.from_pretrained``.
    """
    import torch
    from transformers import Sam2ImageProcessor, Sam2VideoModel, Sam2VideoProcessor
    from transformers.models.sam2_video.video_processing_sam2_video import Sam2VideoVideoProcessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = tiny_hf_sam2_config()
    model = Sam2VideoModel(config).eval()
    model.save_pretrained(out)
    size = {"height": config.image_size, "width": config.image_size}
    Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(size=size), video_processor=Sam2VideoVideoProcessor(size=size)
    ).save_pretrained(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# All of it
# ---------------------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "sam2", "omni-r1-verl"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def write_manifest(assets: TinyAssets) -> None:
    """Write ``manifest.json`` of a ``make-tiny`` directory: the asset paths, library versions, weight hashes.

    Args:
        assets: The directory's assets (``extra`` included).
    """
    root = assets.root
    manifest = assets.to_json()
    manifest["versions"] = _versions()
    manifest["sha256"] = {
        str(p.relative_to(root)): _sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".safetensors", ".pt") and p.name != MANIFEST
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def make_tiny(out_dir: str | os.PathLike, seed: int = 0, with_sam2_package: bool = True) -> TinyAssets:
    """Build every tiny asset into ``out_dir`` (offline, deterministic for a given seed and library versions).

    Args:
        out_dir: Target directory (created).
        seed: Seed of every random initialisation.
        with_sam2_package: Also build the ``sam2``-package checkpoint (needs ``sam2`` installed).

    Returns:
        The asset paths; also written to ``out_dir/manifest.json``.
    """
    root = Path(out_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    logger.info("building tiny Qwen2.5-Omni thinker")
    thinker = build_tiny_thinker(root / THINKER_DIR, seed=seed)
    sam2_config = root / SAM2_DIR / SAM2_CONFIG_NAME
    sam2_checkpoint = root / SAM2_DIR / SAM2_CHECKPOINT_NAME
    if with_sam2_package:
        logger.info("building tiny SAM2 (sam2 package)")
        sam2_config, sam2_checkpoint = build_tiny_sam2(root / SAM2_DIR, seed=seed)
    logger.info("building tiny SAM2 (transformers)")
    sam2_hf = build_tiny_hf_sam2(root / SAM2_HF_DIR, seed=seed)
    logger.info("building tiny SAM 3 (transformers)")
    extra = {SAM3_DIR: build_sam3(root / SAM3_DIR, seed=seed)}
    assets = TinyAssets(
        root=root,
        thinker=thinker,
        sam2_config=sam2_config,
        sam2_checkpoint=sam2_checkpoint,
        sam2_hf=sam2_hf,
        seed=seed,
        extra=extra,
    )
    write_manifest(assets)
    return assets
