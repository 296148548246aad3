"""Typed configuration of System 2 (the ``system2`` section of the trainer config).

Read by whoever creates the detail pool: the agent loop in training, ``omni-r1 eval`` / ``omni-r1 infer``, the
doctor and the benchmarks. Every dataclass validates in ``__post_init__``; loading goes through
:func:`omni_r1_verl.utils.config.build`, so unknown keys are errors naming the key. Pure module: no torch, no Ray.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from omni_r1_verl.contracts.prompts import GroundingPromptStyle
from omni_r1_verl.utils.config import build, check
from omni_r1_verl.utils.vision import IMAGE_MAX_PIXELS, IMAGE_MIN_PIXELS

#: Where the section lives in the trainer config.
SECTION = "system2"


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    check(value in choices, f"{name}={value!r}: expected one of {list(choices)}")


def _check_positive(name: str, value: float, allow_zero: bool = False) -> None:
    check(value > 0 or (allow_zero and value == 0), f"{name}={value!r}: must be {'>= 0' if allow_zero else '> 0'}")


def _check_at_least_one(owner: Any, *names: str) -> None:
    for name in names:
        check(int(getattr(owner, name)) >= 1, f"{name}={getattr(owner, name)!r}: must be >= 1")


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
        check(bool(self.name), "name must not be empty")
        _check_at_least_one(self, "num_workers", "max_job_requests", "max_queued_requests", "max_attempts")
        _check_positive("batch_window_s", self.batch_window_s, allow_zero=True)
        _check_positive("attempt_timeout_s", self.attempt_timeout_s)
        _check_positive("request_timeout_s", self.request_timeout_s)
        _check_positive("max_worker_restarts", self.max_worker_restarts, allow_zero=True)


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
        _check_choice("mode", self.mode, ("auto", "dedicated", "shared", "cpu"))
        _check_choice("strategy", self.strategy, ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"))
        _check_positive("gpus_per_worker", self.gpus_per_worker, allow_zero=True)
        _check_positive("cpus_per_worker", self.cpus_per_worker, allow_zero=True)
        _check_positive("ready_timeout_s", self.ready_timeout_s)
        check(
            self.mode != "shared" or self.gpus_per_worker < 1,
            f"gpus_per_worker={self.gpus_per_worker!r}: must be a fraction < 1 in shared mode",
        )
        check(
            not self.resource or self.mode not in ("shared", "cpu"),
            f"resource={self.resource!r}: applies to dedicated workers, not mode={self.mode!r}",
        )


@dataclass
class Sam2Config:
    """The video segmenter.

    Attributes:
        backend: Registered segmenter: ``sam2`` (the ``sam2`` package, batched across objects), ``hf_sam2``
            (transformers ``Sam2VideoModel``) or ``sam3_tracker`` (transformers ``Sam3TrackerVideoModel``, batched
            across objects).
        checkpoint: ``sam2``: the official ``.pt`` file; ``hf_sam2``: a ``from_pretrained`` directory;
            ``sam3_tracker``: a transformers SAM 3 directory (``facebook/sam3`` or a ``Sam3TrackerVideoModel``).
        config: ``sam2`` only: a config inside the package (``configs/sam2.1/sam2.1_hiera_l.yaml``) or a YAML path.
        image_size: ``sam2`` only: override of the model input side in pixels (0 keeps the config's).
        dtype: ``auto`` (bf16 autocast on GPU, float32 on CPU), ``float32`` or ``bfloat16``.
        propagation: ``bidirectional``: every object is tracked forward and backward from its first prompted
            keyframe; ``forward``: one forward pass from the first frame (the reference's behaviour).
        association: How boxes become SAM2 objects: ``per_box`` (one object per keyframe box, scored as a union)
            or ``iou_chain`` (boxes of consecutive keyframes linked by Hungarian box IoU into multi-frame objects).
        association_iou: Smallest IoU that links two boxes in ``iou_chain``.
        feature_cache_frames: Frames whose image features are kept (each frame is encoded once per job if the
            clip fits).
        image_batch_size: Frames encoded per image-encoder call.
        max_objects_per_step: Objects tracked in one batched step (``sam2`` and ``sam3_tracker``; bounds activation
            memory).
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
        _check_choice("dtype", self.dtype, ("auto", "float32", "bfloat16"))
        _check_choice("propagation", self.propagation, ("bidirectional", "forward"))
        _check_choice("association", self.association, ("per_box", "iou_chain"))
        check(0.0 < self.association_iou <= 1.0, f"association_iou={self.association_iou!r}: must be in (0, 1]")
        check(
            self.image_size >= 0 and self.image_size % 32 == 0,
            f"image_size={self.image_size!r}: must be 0 or a multiple of 32",
        )
        _check_at_least_one(self, "feature_cache_frames", "image_batch_size", "max_objects_per_step")


@dataclass
class GroundingConfig:
    """The frozen grounding model that turns (keyframe, description) into boxes (a VLM, or SAM 3's detector).

    Attributes:
        backend: Registered grounder: ``vllm`` (GPU), ``transformers`` (any device), ``auto`` (vLLM when
            installed and a GPU is visible, else transformers), or ``sam3_text`` (SAM 3's detector: the description
            is the text concept; short noun phrases only, see docs/detail.md).
        model_path: Checkpoint directory of a Qwen2.5-VL / Qwen2.5-Omni style model (outputs ``bbox_2d`` JSON), or
            for ``sam3_text`` a transformers SAM 3 directory (``facebook/sam3``). Empty: requests must carry boxes.
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
        score_threshold: ``sam3_text``: detections scoring above this (object probability times presence
            probability) become boxes.
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
    score_threshold: float = 0.5

    def __post_init__(self) -> None:
        _check_choice("prompt_style", self.prompt_style, tuple(s.value for s in GroundingPromptStyle))
        _check_choice("box_format", self.box_format, ("absolute", "norm1000"))
        _check_choice("dtype", self.dtype, ("auto", "float32", "bfloat16"))
        check(
            0 < self.min_pixels <= self.max_pixels,
            f"min_pixels={self.min_pixels!r}, max_pixels={self.max_pixels!r}: need 0 < min_pixels <= max_pixels",
        )
        _check_at_least_one(self, "max_new_tokens", "batch_size", "max_model_len")
        check(
            0 < self.gpu_memory_utilization <= 1,
            f"gpu_memory_utilization={self.gpu_memory_utilization!r}: must be in (0, 1]",
        )
        _check_positive("min_box_size", self.min_box_size, allow_zero=True)
        check(0 <= self.score_threshold < 1, f"score_threshold={self.score_threshold!r}: must be in [0, 1)")


@dataclass
class DetailConfig:
    """The whole ``system2`` section.

    Attributes:
        pool: Router, batching and failure policy.
        placement: Where workers run.
        sam2: Video segmenter.
        grounding: Grounding model (a VLM, or SAM 3's text detector).
        gt_store: ``module:Class`` of the ground-truth store; ``Class(root)`` must have
            ``masks(gt_key, frame_indices) -> bool array (n_obj, F, H, W)``.
    """

    SECTION: ClassVar[str] = SECTION

    pool: PoolConfig = field(default_factory=PoolConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    sam2: Sam2Config = field(default_factory=Sam2Config)
    grounding: GroundingConfig = field(default_factory=GroundingConfig)
    gt_store: str = "omni_r1_verl.data.gt_store:GroundTruthStore"

    def __post_init__(self) -> None:
        module, _, attr = self.gt_store.partition(":")
        check(bool(module and attr), f"gt_store={self.gt_store!r}: expected 'package.module:Class'")

    @classmethod
    def from_dict(cls, data: DetailConfig | Mapping[str, Any] | None) -> DetailConfig:
        """Build from the section (a dict, an OmegaConf node, ``None`` for the defaults, or a config).

        Args:
            data: The section; missing keys take their defaults, unknown keys raise.

        Returns:
            The validated config.

        Raises:
            ConfigError: On unknown keys or invalid values (the message names the full key).
        """
        return build(cls, data, SECTION)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    def check_paths(self, *, need_grounding: bool = False) -> None:
        """Fail early, with the config key in the message, when a checkpoint is missing.

        Args:
            need_grounding: Also require ``grounding.model_path``.

        Raises:
            FileNotFoundError: If a checkpoint is unset or does not exist, or a SAM 3 backend's directory lacks what
                it loads (:func:`sam3_checkpoint_problem`).
        """
        _require_path(self.sam2.checkpoint, "sam2.checkpoint", self._sam2_hint())
        _require_sam3(self.sam2.checkpoint, "sam2.checkpoint", self.sam2.backend)
        if self.sam2.backend == "sam2" and not _sam2_config_exists(self.sam2.config):
            raise FileNotFoundError(
                f"{SECTION}.sam2.config={self.sam2.config!r} is neither a file nor a config inside the sam2 "
                "package (e.g. configs/sam2.1/sam2.1_hiera_l.yaml)"
            )
        if need_grounding or self.grounding.model_path:
            hint = "set it to a local Qwen2.5-VL / Qwen2.5-Omni checkpoint directory"
            if self.grounding.backend in SAM3_MODEL_TYPES:
                hint = SAM3_HINT
            _require_path(self.grounding.model_path, "grounding.model_path", hint)
            _require_sam3(self.grounding.model_path, "grounding.model_path", self.grounding.backend)

    def _sam2_hint(self) -> str:
        if self.sam2.backend == "hf_sam2":
            return "set it to a transformers Sam2VideoModel directory (e.g. a download of facebook/sam2.1-hiera-large)"
        if self.sam2.backend in SAM3_MODEL_TYPES:
            return SAM3_HINT
        return (
            "download sam2.1_hiera_large.pt from https://github.com/facebookresearch/sam2#download-checkpoints, "
            "or build tiny random weights with `omni-r1 make-tiny DIR` for a CPU run"
        )


#: ``config.json`` model types each SAM 3 backend loads (``sam3_video`` is ``facebook/sam3``: detector and tracker).
SAM3_MODEL_TYPES: dict[str, tuple[str, ...]] = {
    "sam3_tracker": ("sam3_video", "sam3_tracker_video"),
    "sam3_text": ("sam3_video", "sam3"),
}
SAM3_HINT = (
    "set it to a transformers SAM 3 directory (a download of facebook/sam3), "
    "or the sam3/ folder of `omni-r1 make-tiny DIR` for a CPU run"
)


def sam3_checkpoint_problem(path: str, backend: str) -> str | None:
    """What keeps a directory from being a SAM 3 checkpoint for a backend, read from its files (no weights loaded).

    Args:
        path: The checkpoint directory.
        backend: ``sam3_tracker`` or ``sam3_text``.

    Returns:
        The problem, or ``None`` when config, weights, processor (and tokenizer, for ``sam3_text``) are there.
    """
    root = Path(os.path.expanduser(path))
    if not root.is_dir():
        return "is not a directory"
    try:
        model_type = json.loads((root / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as err:
        return f"has no readable config.json ({type(err).__name__})"
    expected = SAM3_MODEL_TYPES[backend]
    if model_type not in expected:
        return f"holds a {model_type!r} model; {backend} loads {' or '.join(expected)}"
    needs = {
        "weights": ("model.safetensors", "model.safetensors.index.json"),
        "processor": ("processor_config.json", "preprocessor_config.json"),
    }
    if backend == "sam3_text":
        needs["tokenizer"] = ("tokenizer.json", "vocab.json")
    for what, names in needs.items():
        if not any((root / name).is_file() for name in names):
            return f"has no {what} file ({' or '.join(names)})"
    return None


def _require_sam3(value: str, key: str, backend: str) -> None:
    if backend in SAM3_MODEL_TYPES and (problem := sam3_checkpoint_problem(value, backend)):
        raise FileNotFoundError(f"{SECTION}.{key}={value!r} is not a SAM 3 checkpoint: it {problem}; {SAM3_HINT}")


def _require_path(value: str, key: str, hint: str) -> None:
    if not value:
        raise FileNotFoundError(f"{SECTION}.{key} is not set: {hint}")
    if not Path(os.path.expanduser(value)).exists():
        raise FileNotFoundError(f"{SECTION}.{key}={value!r} does not exist: {hint}")


def _sam2_config_exists(name: str) -> bool:
    if Path(os.path.expanduser(name)).is_file():
        return True
    try:
        from importlib.resources import files

        return files("sam2").joinpath(name).is_file()
    except ModuleNotFoundError:
        return False
