"""Typed configuration of the System-2 detail pool (``reward.reward_kwargs.detail.*``).

The reward manager, the agent loop and the evaluators read the same keys, so one section configures the pool
wherever it is created. Every dataclass validates in ``__post_init__``; :meth:`DetailConfig.from_dict` rejects
unknown keys instead of ignoring them. Pure module: no torch, no Ray.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from omni_r1_verl.rollout.prompts import GroundingPromptStyle
from omni_r1_verl.utils.vision import IMAGE_MAX_PIXELS, IMAGE_MIN_PIXELS

#: Where the section lives in verl's config tree (used in error messages).
CONFIG_PREFIX = "reward.reward_kwargs.detail"

_T = TypeVar("_T")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{CONFIG_PREFIX}.{name}={value!r}: expected one of {list(choices)}")


def _check_positive(name: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{CONFIG_PREFIX}.{name}={value!r}: must be {'>= 0' if allow_zero else '> 0'}")


@dataclass
class PoolConfig:
    """The router actor and its queueing, batching and failure policy.

    Attributes:
        name: Name of the router actor (the pool is found by this name from any process of the job).
        namespace: Ray namespace of the router; empty means the job's namespace.
        num_workers: System-2 worker actors.
        batch_window_s: How long the router waits for more requests of the same video before running a job.
        max_job_requests: Most requests merged into one job.
        max_queued_requests: Requests waiting or running at once; further ``submit`` calls wait (backpressure).
        attempt_timeout_s: Time one worker gets for one job before it is presumed hung, killed and replaced.
        request_timeout_s: Deadline of a request from ``submit`` to result, queueing and retries included.
        max_attempts: Tries per job (a retry runs on whichever worker is free, usually another one).
        max_worker_restarts: Consecutive failed starts of one worker slot before the slot is given up.
        detached: Keep the router alive after the creating process exits (then call ``DetailPool.shutdown``).
    """

    name: str = "omni_r1_detail_pool"
    namespace: str = ""
    num_workers: int = 1
    batch_window_s: float = 2.0
    max_job_requests: int = 64
    max_queued_requests: int = 512
    attempt_timeout_s: float = 300.0
    request_timeout_s: float = 900.0
    max_attempts: int = 2
    max_worker_restarts: int = 3
    detached: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError(f"{CONFIG_PREFIX}.pool.name must not be empty")
        for key in ("num_workers", "max_job_requests", "max_queued_requests", "max_attempts"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{CONFIG_PREFIX}.pool.{key}={getattr(self, key)!r}: must be >= 1")
        _check_positive("pool.batch_window_s", self.batch_window_s, allow_zero=True)
        _check_positive("pool.attempt_timeout_s", self.attempt_timeout_s)
        _check_positive("pool.request_timeout_s", self.request_timeout_s)
        _check_positive("pool.max_worker_restarts", self.max_worker_restarts, allow_zero=True)


@dataclass
class PlacementConfig:
    """Where the worker actors run.

    Attributes:
        mode: ``dedicated``: GPUs outside verl's pools, reserved with a placement group (start Ray with more GPUs
            than ``trainer.n_gpus_per_node * trainer.nnodes``); ``shared``: a fraction of the GPUs of verl's own
            placement groups (small single-node runs); ``cpu``: no GPU (tests, CPU demo); ``auto``: ``dedicated``
            when the cluster has GPUs, else ``cpu``.
        gpus_per_worker: GPUs per worker; a fraction below 1 in ``shared`` mode.
        cpus_per_worker: CPUs per worker (also the torch thread count on CPU).
        strategy: Placement-group strategy of ``dedicated`` workers (``SPREAD``, ``PACK``, ...).
        shared_pool_prefix: Name prefix of the verl placement groups used in ``shared`` mode.
        ready_timeout_s: How long to wait for the resources and for a worker to load its models.
        resource: ``dedicated`` only: a custom Ray resource each worker also takes one unit of; the cluster
            launcher gives every node as many units as it has System-2 worker slots, so workers land only on the
            GPUs set aside for System 2, whatever the order in which verl's pools and this one are created.
            Empty: no such resource.
    """

    mode: str = "auto"
    gpus_per_worker: float = 1.0
    cpus_per_worker: float = 1.0
    strategy: str = "SPREAD"
    shared_pool_prefix: str = "global_pool"
    ready_timeout_s: float = 600.0
    resource: str = ""

    def __post_init__(self) -> None:
        _check_choice("placement.mode", self.mode, ("auto", "dedicated", "shared", "cpu"))
        _check_choice("placement.strategy", self.strategy, ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"))
        _check_positive("placement.gpus_per_worker", self.gpus_per_worker, allow_zero=True)
        _check_positive("placement.cpus_per_worker", self.cpus_per_worker, allow_zero=True)
        _check_positive("placement.ready_timeout_s", self.ready_timeout_s)
        if self.mode == "shared" and self.gpus_per_worker >= 1:
            raise ValueError(f"{CONFIG_PREFIX}.placement.gpus_per_worker must be a fraction < 1 in shared mode")
        if self.resource and self.mode in ("shared", "cpu"):
            raise ValueError(f"{CONFIG_PREFIX}.placement.resource applies to dedicated workers, not mode={self.mode}")


@dataclass
class Sam2Config:
    """The video segmenter.

    Attributes:
        backend: Registered segmenter: ``sam2`` (the ``sam2`` package, batched across objects) or ``hf_sam2``
            (transformers ``Sam2VideoModel``).
        checkpoint: ``sam2``: the official ``.pt`` file; ``hf_sam2``: a ``from_pretrained`` directory.
        config: ``sam2`` only: a config inside the package (``configs/sam2.1/sam2.1_hiera_l.yaml``) or a YAML path.
        image_size: Override of the model input side in pixels (0 keeps the config's).
        dtype: ``auto`` (bf16 autocast on GPU, float32 on CPU), ``float32`` or ``bfloat16``.
        propagation: ``bidirectional``: every object is tracked forward and backward from its first prompted
            keyframe; ``forward``: one forward pass from the first frame (the reference's behaviour).
        association: How boxes become SAM2 objects: ``per_box`` (one object per keyframe box, scored as a union)
            or ``iou_chain`` (boxes of consecutive keyframes linked by Hungarian box IoU into multi-frame objects).
        association_iou: Smallest IoU that links two boxes in ``iou_chain``.
        feature_cache_frames: Frames whose image features are kept (each frame is encoded once per job if the
            clip fits).
        image_batch_size: Frames encoded per image-encoder call.
        max_objects_per_step: Objects tracked in one batched step (``sam2`` backend; bounds activation memory).
        mask_threshold: Logit threshold of the binary masks.
    """

    backend: str = "sam2"
    checkpoint: str = ""
    config: str = "configs/sam2.1/sam2.1_hiera_l.yaml"
    image_size: int = 0
    dtype: str = "auto"
    propagation: str = "bidirectional"
    association: str = "per_box"
    association_iou: float = 0.3
    feature_cache_frames: int = 32
    image_batch_size: int = 4
    max_objects_per_step: int = 16
    mask_threshold: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("sam2.dtype", self.dtype, ("auto", "float32", "bfloat16"))
        _check_choice("sam2.propagation", self.propagation, ("bidirectional", "forward"))
        _check_choice("sam2.association", self.association, ("per_box", "iou_chain"))
        if not 0.0 < self.association_iou <= 1.0:
            raise ValueError(f"{CONFIG_PREFIX}.sam2.association_iou must be in (0, 1], got {self.association_iou}")
        if self.image_size < 0 or self.image_size % 32:
            raise ValueError(f"{CONFIG_PREFIX}.sam2.image_size must be 0 or a multiple of 32, got {self.image_size}")
        for key in ("feature_cache_frames", "image_batch_size", "max_objects_per_step"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{CONFIG_PREFIX}.sam2.{key} must be >= 1")


@dataclass
class GroundingConfig:
    """The frozen grounding VLM that turns (keyframe, description) into boxes.

    Attributes:
        backend: Registered grounder: ``vllm`` (GPU), ``transformers`` (any device) or ``auto`` (vLLM when
            installed and a GPU is visible, else transformers).
        model_path: Checkpoint directory of a Qwen2.5-VL / Qwen2.5-Omni style model (outputs ``bbox_2d`` JSON).
            Empty: requests must carry their boxes.
        prompt_style: ``vision_reasoner`` (the released recipe), ``plain`` (the reference default), ``seg_zero``
            or ``qwen_vl`` (the paper's "official Qwen2.5-VL grounding prompt").
        box_format: ``absolute``: pixels of the resized image (Qwen2.5-VL); ``norm1000``: 0..1000 (Qwen2-VL).
        min_pixels: Smallest keyframe area after ``smart_resize``.
        max_pixels: Largest keyframe area after ``smart_resize``.
        max_new_tokens: Generation budget per keyframe (greedy decoding).
        batch_size: Prompts per ``generate`` call (transformers backend).
        dtype: ``auto`` (bf16 on GPU, float32 on CPU), ``float32`` or ``bfloat16``.
        gpu_memory_utilization: vLLM's share of the worker's GPU (leave room for SAM2).
        max_model_len: vLLM context length.
        min_box_size: Boxes narrower or shorter than this (original pixels, after clipping) are rejected.
    """

    backend: str = "auto"
    model_path: str = ""
    prompt_style: str = GroundingPromptStyle.VISION_REASONER.value
    box_format: str = "absolute"
    min_pixels: int = IMAGE_MIN_PIXELS
    max_pixels: int = IMAGE_MAX_PIXELS
    max_new_tokens: int = 800
    batch_size: int = 8
    dtype: str = "auto"
    gpu_memory_utilization: float = 0.5
    max_model_len: int = 8192
    min_box_size: float = 1.0

    def __post_init__(self) -> None:
        _check_choice("grounding.prompt_style", self.prompt_style, tuple(s.value for s in GroundingPromptStyle))
        _check_choice("grounding.box_format", self.box_format, ("absolute", "norm1000"))
        _check_choice("grounding.dtype", self.dtype, ("auto", "float32", "bfloat16"))
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"{CONFIG_PREFIX}.grounding needs 0 < min_pixels <= max_pixels")
        for key in ("max_new_tokens", "batch_size", "max_model_len"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{CONFIG_PREFIX}.grounding.{key} must be >= 1")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError(f"{CONFIG_PREFIX}.grounding.gpu_memory_utilization must be in (0, 1]")
        _check_positive("grounding.min_box_size", self.min_box_size, allow_zero=True)


@dataclass
class DetailConfig:
    """The whole ``reward.reward_kwargs.detail`` section.

    Attributes:
        pool: Router, batching and failure policy.
        placement: Where workers run.
        sam2: Video segmenter.
        grounding: Grounding VLM.
        gt_store: ``module:Class`` of the ground-truth store; ``Class(root)`` must have
            ``masks(gt_key, frame_indices) -> bool array (n_obj, F, H, W)``.
    """

    pool: PoolConfig = field(default_factory=PoolConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    sam2: Sam2Config = field(default_factory=Sam2Config)
    grounding: GroundingConfig = field(default_factory=GroundingConfig)
    gt_store: str = "omni_r1_verl.data.gt_store:GroundTruthStore"

    def __post_init__(self) -> None:
        module, _, attr = self.gt_store.partition(":")
        if not module or not attr:
            raise ValueError(f"{CONFIG_PREFIX}.gt_store={self.gt_store!r}: expected 'package.module:Class'")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DetailConfig:
        """Build from a nested mapping (e.g. ``OmegaConf.to_container`` of the config section).

        Args:
            data: The section; missing keys take their defaults, unknown keys raise.

        Returns:
            The validated config.

        Raises:
            ValueError: On unknown keys or invalid values (the message names the full key).
        """
        return _from_mapping(cls, dict(data or {}), CONFIG_PREFIX)

    @classmethod
    def coerce(cls, value: DetailConfig | Mapping[str, Any] | None) -> DetailConfig:
        """Accept a config, a plain mapping or an OmegaConf node.

        Args:
            value: What the caller has.

        Returns:
            A :class:`DetailConfig`.
        """
        if isinstance(value, DetailConfig):
            return value
        if value is not None and not isinstance(value, dict):
            from omegaconf import DictConfig, OmegaConf

            if isinstance(value, DictConfig):
                value = OmegaConf.to_container(value, resolve=True)
        return cls.from_dict(value)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    def check_paths(self, *, need_grounding: bool = False) -> None:
        """Fail early, with the config key in the message, when a checkpoint is missing.

        Args:
            need_grounding: Also require ``grounding.model_path``.

        Raises:
            FileNotFoundError: If a checkpoint is unset or does not exist.
        """
        _require_path(self.sam2.checkpoint, "sam2.checkpoint", self._sam2_hint())
        if self.sam2.backend == "sam2" and not _sam2_config_exists(self.sam2.config):
            raise FileNotFoundError(
                f"{CONFIG_PREFIX}.sam2.config={self.sam2.config!r} is neither a file nor a config inside the sam2 "
                "package (e.g. configs/sam2.1/sam2.1_hiera_l.yaml)"
            )
        if need_grounding or self.grounding.model_path:
            _require_path(
                self.grounding.model_path,
                "grounding.model_path",
                "set it to a local Qwen2.5-VL / Qwen2.5-Omni checkpoint directory",
            )

    def _sam2_hint(self) -> str:
        if self.sam2.backend == "hf_sam2":
            return "set it to a transformers Sam2VideoModel directory (e.g. a download of facebook/sam2.1-hiera-large)"
        return (
            "download sam2.1_hiera_large.pt from https://github.com/facebookresearch/sam2#download-checkpoints, "
            "or build tiny random weights with `omni-r1 make-tiny DIR` for a CPU run"
        )


def _require_path(value: str, key: str, hint: str) -> None:
    if not value:
        raise FileNotFoundError(f"{CONFIG_PREFIX}.{key} is not set: {hint}")
    if not Path(os.path.expanduser(value)).exists():
        raise FileNotFoundError(f"{CONFIG_PREFIX}.{key}={value!r} does not exist: {hint}")


def _sam2_config_exists(name: str) -> bool:
    if Path(os.path.expanduser(name)).is_file():
        return True
    try:
        from importlib.resources import files

        return files("sam2").joinpath(name).is_file()
    except ModuleNotFoundError:
        return False


def _from_mapping(cls: type[_T], data: dict[str, Any], prefix: str) -> _T:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown key(s) {[f'{prefix}.{k}' for k in unknown]}; known: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        default = fields[name].default_factory() if fields[name].default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default) and isinstance(value, Mapping):
            kwargs[name] = _from_mapping(type(default), dict(value), f"{prefix}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)
