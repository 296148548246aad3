"""Typed configuration of the ``hf`` rollout backend (``actor_rollout_ref.rollout.engine_kwargs.hf``).

Everything else the backend needs comes from verl's own rollout config (``dtype``, ``prompt_length``,
``response_length``, ``max_model_len``, ``logprobs_mode``, ``checkpoint_engine.update_weights_bucket_megabytes``)
and model config (path, tokenizer, processor, ``override_config.attn_implementation``), so trainer and generator
cannot disagree about them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from omni_r1_verl.utils.config import ConfigError, build

#: ``rollout.logprobs_mode`` values the backend supports (vLLM's names).
LOGPROBS_MODES: tuple[str, ...] = ("processed_logprobs", "raw_logprobs")


@dataclass(frozen=True)
class HFEngineConfig:
    """Knobs of the ``hf`` generation server.

    Attributes:
        max_batch_size: Most sequences merged into one ``generate`` call (requests with equal sampling settings).
        batch_wait_ms: How long the first queued request waits for others to join its batch.
        max_batch_wait_ms: Longest the first queued request waits for requests that arrived but whose multimodal
            features are still being computed (they join the batch when ready); bounds that wait under a steady
            stream of multimodal requests.
        num_threads: torch intra-op threads of the server process; ``0`` keeps torch's default (Ray sets it from
            the actor's CPU share).
        model_class: Fully qualified model class to load instead of the transformers auto-class resolution.
    """

    SECTION: ClassVar[str] = "actor_rollout_ref.rollout.engine_kwargs.hf"

    max_batch_size: int = 8
    batch_wait_ms: float = 5.0
    max_batch_wait_ms: float = 1000.0
    num_threads: int = 0
    model_class: Optional[str] = None

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.batch_wait_ms < 0:
            raise ConfigError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")
        if self.max_batch_wait_ms < self.batch_wait_ms:
            raise ConfigError(
                f"max_batch_wait_ms ({self.max_batch_wait_ms}) must be >= batch_wait_ms ({self.batch_wait_ms})"
            )
        if self.num_threads < 0:
            raise ConfigError(f"num_threads must be >= 0, got {self.num_threads}")

    @classmethod
    def from_engine_kwargs(cls, engine_kwargs: Optional[Mapping[str, Any]]) -> HFEngineConfig:
        """Read ``engine_kwargs["hf"]`` of verl's rollout config.

        Args:
            engine_kwargs: ``actor_rollout_ref.rollout.engine_kwargs`` (a dict keyed by backend name).

        Returns:
            The validated config.

        Raises:
            ConfigError: On unknown keys or invalid values (the message names the key).
        """
        return build(cls, (engine_kwargs or {}).get("hf"))
