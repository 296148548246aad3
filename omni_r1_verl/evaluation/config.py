"""Typed configuration of ``omni-r1 eval`` (the ``evaluation`` section; System 2 keeps its ``system2`` section).

Pure module: no torch, no Ray. Loaded through :func:`omni_r1_verl.utils.config.build`, so an unknown key or an
invalid value is an error naming the full key (``evaluation.system1.engine=...``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from omni_r1_verl.scoring.config import AnswerConfig
from omni_r1_verl.utils.config import build, check

#: Where the section lives (``omni-r1 eval`` overrides: ``evaluation.system1.max_new_tokens=512``).
SECTION = "evaluation"

#: System-1 engines (:data:`omni_r1_verl.evaluation.system1.SYSTEM1_ENGINES`).
ENGINES = ("auto", "hf", "vllm")


@dataclass
class System1Config:
    """System 1 (the policy) at evaluation: greedy decoding of one answer per sample.

    Attributes:
        engine: ``hf`` (transformers ``generate``, any device), ``vllm`` (offline ``vllm.LLM``, GPU) or ``auto``
            (vLLM when installed and a GPU is visible, else hf).
        max_new_tokens: Generation budget per answer (the recipe's ``rollout.response_length``).
        dtype: ``auto`` (bf16 on GPU, float32 on CPU), ``float32`` or ``bfloat16``.
        device: ``auto`` (GPU when visible), ``cpu`` or ``cuda[:N]`` (hf engine).
        gpu_memory_utilization: vLLM's share of its GPU.
        max_model_len: vLLM context length (prompt + answer).
        tensor_parallel_size: GPUs per vLLM replica.
        use_audio_in_video: Interleave a video's own audio track with its frames (containers with sound).
    """

    engine: str = "auto"
    max_new_tokens: int = 1024
    dtype: str = "auto"
    device: str = "auto"
    gpu_memory_utilization: float = 0.6
    max_model_len: int = 32768
    tensor_parallel_size: int = 1
    use_audio_in_video: bool = False

    def __post_init__(self) -> None:
        check(self.engine in ENGINES, f"engine={self.engine!r}: expected one of {list(ENGINES)}")
        check(self.dtype in ("auto", "float32", "bfloat16"), f"dtype={self.dtype!r}: expected auto, float32, bfloat16")
        check(self.max_new_tokens >= 1, f"max_new_tokens={self.max_new_tokens!r}: must be >= 1")
        check(0 < self.gpu_memory_utilization <= 1, f"gpu_memory_utilization={self.gpu_memory_utilization!r}")
        check(self.max_model_len >= 1, f"max_model_len={self.max_model_len!r}: must be >= 1")
        check(self.tensor_parallel_size >= 1, f"tensor_parallel_size={self.tensor_parallel_size!r}: must be >= 1")


@dataclass
class EvalConfig:
    """The ``evaluation`` section of ``omni-r1 eval``.

    Attributes:
        system1: System-1 engine and generation settings.
        answer: Answer parsing limits (the reward's parser; ``max_keyframes`` keyframes go to System 2).
        clip_frames: Frames System 1 sees of a video, uniformly spaced (the paper's inference setting: at most
            24); System 2 always segments every frame.
        oracle_keyframes: Keyframes of the ``oracle`` baseline: evenly spread over the frames where the target is
            visible.
        chunk_frames: Frames per metric update (the predicted masks of a video are never held whole).
        per_object: Also score each object of a multi-object expression on its own (a diagnostic, slower).
        refavs_size: Side Ref-AVS masks are scored at, as its official loader does (256); 0 scores at the native
            resolution. Both masks are resized with nearest neighbour.
        revos_pred_value: ReVOS R's value of a predicted pixel: 1 scores 0/1 masks, 255 reproduces the official
            script on 0/255 PNGs.
        mevis_submission: Also write the MeViS server submission (PNGs per video / expression / frame and a zip).
    """

    SECTION: ClassVar[str] = SECTION

    system1: System1Config = field(default_factory=System1Config)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    clip_frames: int = 24
    oracle_keyframes: int = 4
    chunk_frames: int = 8
    per_object: bool = True
    refavs_size: int = 256
    revos_pred_value: int = 1
    mevis_submission: bool = False

    def __post_init__(self) -> None:
        check(self.clip_frames >= 1, f"clip_frames={self.clip_frames!r}: must be >= 1")
        check(self.oracle_keyframes >= 1, f"oracle_keyframes={self.oracle_keyframes!r}: must be >= 1")
        check(self.chunk_frames >= 1, f"chunk_frames={self.chunk_frames!r}: must be >= 1")
        check(self.refavs_size >= 0, f"refavs_size={self.refavs_size!r}: must be >= 0")
        check(0 <= self.revos_pred_value <= 255, f"revos_pred_value={self.revos_pred_value!r}: must be in 0..255")

    @classmethod
    def from_dict(cls, data: EvalConfig | Mapping[str, Any] | None) -> EvalConfig:
        """Build from the section (missing keys take their defaults, unknown keys raise ``ConfigError``)."""
        return build(cls, data, SECTION)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)
