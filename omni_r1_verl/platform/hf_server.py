"""The ``hf`` generation server: a Ray actor with the interface verl's LLM-server client expects from vLLM's.

verl's agent loops call ``await server.generate.remote(request_id=..., prompt_ids=..., sampling_params=...,
image_data=..., video_data=..., audio_data=..., mm_processor_kwargs=...)`` and expect a ``TokenOutput``; the
trainer's replica and checkpoint managers call the control plane (``wake_up``, ``sleep``, ``abort_all_requests``,
``resume_generation`` ...). This actor serves both around an
:class:`~omni_r1_verl.platform.hf_engine.HFGenerationEngine`:

* requests are queued and merged into batches of equal sampling settings and feature kinds (up to
  ``engine_kwargs.hf.max_batch_size`` sequences, waiting ``batch_wait_ms`` for company and up to
  ``max_batch_wait_ms`` for arrived requests whose multimodal features are still being computed), generated in a worker
  thread so the actor keeps answering while the model runs;
* multimodal features are computed per request (a bad request fails alone, not its batch);
* weights arrive in buckets from :class:`~omni_r1_verl.platform.hf_adapter.HFServerAdapter` and are applied
  between batches; the last bucket bumps the weight version reported in ``TokenOutput.extra_fields``;
* ``abort_all_requests`` stops the running batch at its next token (partial outputs come back as ``aborted``) and
  parks or rejects new requests until ``resume_generation``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

import torch

from omni_r1_verl.platform.config import HFEngineConfig
from omni_r1_verl.platform.hf_engine import GenerationRequest, GenerationResult, HFGenerationEngine
from omni_r1_verl.platform.multimodal import build_features
from omni_r1_verl.platform.sampling import SamplingParams
from omni_r1_verl.utils.memory import release_free_memory

logger = logging.getLogger(__name__)


def load_engine(rollout_config: Any, model_config: Any, engine_config: HFEngineConfig) -> HFGenerationEngine:
    """Load the policy model for generation exactly as verl's trainer side resolves it.

    The model class comes from verl's ``get_hf_auto_model_class`` (the FSDP engine's choice) unless
    ``engine_kwargs.hf.model_class`` names one; the attention implementation from
    ``model.override_config.attn_implementation`` (verl's default ``flash_attention_2`` otherwise); the dtype from
    ``rollout.dtype``.

    Args:
        rollout_config: verl ``RolloutConfig``.
        model_config: verl ``HFModelConfig`` (tokenizer, processor, hf_config already built).
        engine_config: The backend's own knobs.

    Returns:
        The engine.
    """
    from verl.utils.import_utils import load_class_from_fqn
    from verl.utils.model import get_hf_auto_model_class
    from verl.utils.torch_dtypes import PrecisionType

    if engine_config.model_class:
        model_class = load_class_from_fqn(engine_config.model_class, "model class")
    else:
        model_class = get_hf_auto_model_class(model_config.hf_config)
    model = model_class.from_pretrained(
        model_config.local_path,
        config=model_config.hf_config,
        dtype=PrecisionType.to_dtype(rollout_config.dtype),
        attn_implementation=model_config.override_config.get("attn_implementation", "flash_attention_2"),
        trust_remote_code=model_config.trust_remote_code,
    )
    eos = set()
    generation_eos = getattr(model_config.generation_config, "eos_token_id", None)
    if generation_eos is not None:
        eos.update(generation_eos if isinstance(generation_eos, list | tuple) else [generation_eos])
    if model_config.tokenizer.eos_token_id is not None:
        eos.add(model_config.tokenizer.eos_token_id)
    return HFGenerationEngine(
        model,
        model_config.tokenizer,
        processor=model_config.processor,
        eos_token_ids=eos,
        logprobs_mode=rollout_config.logprobs_mode or "processed_logprobs",
    )


@dataclass
class _Pending:
    """A queued sequence and the future its caller awaits."""

    request_id: str
    request: GenerationRequest
    future: asyncio.Future

    def batch_key(self) -> tuple:
        request = self.request
        features = tuple(sorted(request.features))
        kwargs = repr(sorted(request.model_kwargs.items()))
        # Seeded requests run alone: their result must not depend on what else is in the batch.
        alone = id(self) if request.sampling.seed is not None else None
        return request.sampling.batch_key(), features, kwargs, alone


class HFServer:
    """Token-in/token-out generation server for one rollout replica (run as a named Ray actor).

    Args:
        config: verl rollout config (``RolloutConfig`` or its OmegaConf form).
        model_config: verl model config (``HFModelConfig`` or its OmegaConf form).
        replica_rank: Rank of the replica this server belongs to.
    """

    def __init__(self, config: Any, model_config: Any, replica_rank: int = 0):
        from verl.utils.config import omega_conf_to_dataclass
        from verl.workers.config import HFModelConfig

        self.config = omega_conf_to_dataclass(config)
        self.model_config = omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)
        self.engine_config = HFEngineConfig.from_engine_kwargs(self.config.engine_kwargs)
        if self.engine_config.num_threads:
            torch.set_num_threads(self.engine_config.num_threads)
        self.replica_rank = replica_rank
        self.max_model_len = self.config.max_model_len or self.config.prompt_length + self.config.response_length
        self.engine = load_engine(self.config, self.model_config, self.engine_config)

        self.global_steps: Optional[int] = None
        self.weight_version = 0
        self._queue: deque[_Pending] = deque()
        self._has_work = asyncio.Event()
        self._engine_lock = asyncio.Lock()
        self._worker: Optional[asyncio.Task] = None
        self._running: list[_Pending] = []
        self._preparing = 0  # requests admitted whose multimodal features are being computed
        self._abort = threading.Event()
        self._admission = asyncio.Event()
        self._admission.set()
        self._rejecting = False

    # ---------------------------------------------------------------------------------------------------------------
    # generation
    # ---------------------------------------------------------------------------------------------------------------

    def ready(self) -> dict[str, Any]:
        """What is served (called once by the replica after the actor started)."""
        model = self.engine.model
        return {
            "model": type(model).__name__,
            "dtype": str(next(model.parameters()).dtype),
            "multimodal": self.engine.processor is not None,
            "max_model_len": self.max_model_len,
        }

    def _max_tokens(self, prompt_length: int, requested: Optional[int]) -> int:
        """vLLM server's rule: the request's limit, else the configured response budget, within the context."""
        room = self.max_model_len - prompt_length
        if room < 1:
            raise ValueError(
                f"prompt of {prompt_length} tokens leaves no room to generate within max_model_len={self.max_model_len}"
            )
        if requested is None:
            requested = min(
                self.config.response_length, self.config.prompt_length + self.config.response_length - prompt_length
            )
        return max(1, min(requested, room))

    async def _submit(
        self,
        request_id: str,
        prompt_ids: list[int],
        sampling: SamplingParams,
        image_data: Optional[list] = None,
        video_data: Optional[list] = None,
        audio_data: Optional[list] = None,
        mm_processor_kwargs: Optional[dict[str, Any]] = None,
    ) -> list[GenerationResult]:
        await self._wait_for_admission()
        if self._rejecting:
            return [GenerationResult([], None, "abort")] * sampling.n
        prompt_ids = [int(t) for t in prompt_ids]
        features: dict[str, Any] = {}
        if image_data is not None or video_data is not None or audio_data is not None:
            if self.engine.processor is None:
                raise ValueError("the served model has no multimodal processor; it cannot take image/video/audio data")
            self._preparing += 1
            try:
                features = await asyncio.to_thread(
                    build_features,
                    self.engine.processor,
                    prompt_ids,
                    images=image_data,
                    videos=video_data,
                    audios=audio_data,
                    mm_processor_kwargs=mm_processor_kwargs,
                )
            finally:
                self._preparing -= 1
        request = GenerationRequest(
            prompt_ids=prompt_ids,
            sampling=sampling,
            max_tokens=self._max_tokens(len(prompt_ids), sampling.max_tokens),
            features=features,
            model_kwargs=dict(mm_processor_kwargs or {}),
        )
        loop = asyncio.get_running_loop()
        pending = [_Pending(request_id, request, loop.create_future()) for _ in range(sampling.n)]
        self._queue.extend(pending)
        self._has_work.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._serve_batches())
        return list(await asyncio.gather(*(p.future for p in pending)))

    def _token_output(self, result: GenerationResult):
        from verl.workers.rollout.replica import TokenOutput

        return TokenOutput(
            token_ids=result.token_ids,
            log_probs=result.log_probs,
            stop_reason="aborted" if result.finish_reason == "abort" else "completed",
            extra_fields={"global_steps": self.global_steps},
        )

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Optional[list[Any]] = None,
        video_data: Optional[list[Any]] = None,
        audio_data: Optional[list[Any]] = None,
        mm_processor_kwargs: Optional[dict[str, Any]] = None,
        priority: int = 0,
    ):
        """Generate one sequence (vLLM server signature, as verl's ``LLMServerClient`` calls it).

        Args:
            prompt_ids: Prompt ids with expanded multimodal placeholders.
            sampling_params: vLLM-style sampling dict (see :class:`~omni_r1_verl.platform.sampling.SamplingParams`).
            request_id: Caller's request id (used by :meth:`abort_request`).
            image_data: Images of the prompt.
            video_data: Videos of the prompt (frames or ``(frames, metadata)`` pairs).
            audio_data: Audio waveforms of the prompt.
            mm_processor_kwargs: Processor kwargs the prompt was built with.
            priority: Accepted for compatibility; requests are served first come, first served.

        Returns:
            ``TokenOutput`` with the generated ids, their log-probabilities when asked for, ``stop_reason``
            ``completed`` or ``aborted`` and ``extra_fields["global_steps"]`` (the weights' training step).

        Raises:
            ValueError: On invalid sampling parameters, ``n != 1`` (use :meth:`generate_n`), a prompt that leaves
                no room in the context, or media that do not match the prompt's placeholders.
        """
        sampling = SamplingParams.from_request(sampling_params)
        if sampling.n != 1:
            raise ValueError(
                f"n={sampling.n}: TokenOutput carries one sequence; verl samples a GRPO group by sending rollout.n "
                "requests. Call generate_n for several sequences of one prompt."
            )
        [result] = await self._submit(
            request_id, prompt_ids, sampling, image_data, video_data, audio_data, mm_processor_kwargs
        )
        return self._token_output(result)

    async def generate_n(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Optional[list[Any]] = None,
        video_data: Optional[list[Any]] = None,
        audio_data: Optional[list[Any]] = None,
        mm_processor_kwargs: Optional[dict[str, Any]] = None,
    ) -> list:
        """Like :meth:`generate`, honouring ``sampling_params["n"]``: one ``TokenOutput`` per sequence."""
        sampling = SamplingParams.from_request(sampling_params)
        results = await self._submit(
            request_id, prompt_ids, sampling, image_data, video_data, audio_data, mm_processor_kwargs
        )
        return [self._token_output(result) for result in results]

    def _take_batch(self) -> list[_Pending]:
        """Queued sequences that can share a ``generate`` call with the oldest one, oldest first."""
        key = self._queue[0].batch_key()
        batch, rest = [], deque()
        while self._queue:
            pending = self._queue.popleft()
            if len(batch) < self.engine_config.max_batch_size and pending.batch_key() == key:
                batch.append(pending)
            else:
                rest.append(pending)
        self._queue = rest
        return batch

    async def _serve_batches(self) -> None:
        while True:
            await self._has_work.wait()
            await self._wait_for_company()
            if not self._queue:
                self._has_work.clear()
                continue
            batch = self._take_batch()
            async with self._engine_lock:
                self._running = batch
                try:
                    results = await asyncio.to_thread(self._generate, [p.request for p in batch])
                except Exception as error:  # noqa: BLE001 - the callers get the error, the server keeps serving
                    logger.exception("generate failed for a batch of %d sequences", len(batch))
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(error)
                else:
                    for pending, result in zip(batch, results):
                        if not pending.future.done():
                            pending.future.set_result(result)
                finally:
                    self._running = []

    def _generate(self, requests: list) -> list[GenerationResult]:
        try:
            return self.engine.generate(requests, self._abort)
        finally:
            release_free_memory()  # the batch's activations must not stay resident while the trainer runs

    async def _wait_for_company(self) -> None:
        """Give the head of the queue ``batch_wait_ms`` for company, longer while arrived requests are preparing.

        Requests whose multimodal features are still being computed have arrived together with the queued ones
        (an agent-loop step sends its prompts at once); waiting for them, up to ``max_batch_wait_ms``, keeps
        multimodal batches whole however slow the feature computation is on a loaded machine.
        """
        config = self.engine_config
        loop = asyncio.get_running_loop()
        start = loop.time()
        if config.batch_wait_ms:
            await asyncio.sleep(config.batch_wait_ms / 1000)
        step = max(config.batch_wait_ms, 1.0) / 1000
        while (
            self._preparing
            and len(self._queue) < config.max_batch_size
            and loop.time() - start + step <= config.max_batch_wait_ms / 1000
        ):
            await asyncio.sleep(step)

    async def _wait_for_admission(self) -> None:
        if not self._rejecting:
            await self._admission.wait()

    # ---------------------------------------------------------------------------------------------------------------
    # weights
    # ---------------------------------------------------------------------------------------------------------------

    async def update_weights(
        self, named_tensors: list[tuple[str, torch.Tensor]], final: bool = True, global_steps: Optional[int] = None
    ) -> dict[str, Any]:
        """Apply one bucket of a weight update (between generation batches).

        Args:
            named_tensors: ``(name, full tensor)`` pairs with the trainer's (HF) names.
            final: Whether this is the update's last bucket; it bumps the weight version and ``global_steps``.
            global_steps: Training step of the weights (reported in ``TokenOutput.extra_fields``).

        Returns:
            ``{"updated": n}`` for a bucket; the final bucket adds ``version`` and ``missing`` (served parameters the
            update did not touch; they keep their previous values).

        Raises:
            ValueError: If a name or shape does not fit the served model (nothing of that bucket is applied).
        """
        async with self._engine_lock:
            keys = await asyncio.to_thread(self.engine.load_weights, named_tensors)
        info: dict[str, Any] = {"updated": len(keys)}
        if final:
            missing = self.engine.finish_weight_update()
            self.weight_version += 1
            self.global_steps = global_steps
            if missing:
                logger.warning(
                    "weight update %d left %d parameters untouched, e.g. %s",
                    self.weight_version,
                    len(missing),
                    missing[:3],
                )
            info.update(version=self.weight_version, missing=len(missing))
        return info

    async def set_global_steps(self, global_steps: int) -> None:
        """Record the training step of the served weights."""
        self.global_steps = global_steps

    # ---------------------------------------------------------------------------------------------------------------
    # control plane (what verl's replica, checkpoint and partial-rollout managers call)
    # ---------------------------------------------------------------------------------------------------------------

    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False) -> dict[str, Any]:
        """Abort queued and running requests; new requests wait (or are rejected) until :meth:`resume_generation`.

        Args:
            reset_prefix_cache: Accepted for compatibility (there is no prefix cache).
            reject_request: Answer new requests with an empty ``aborted`` output instead of parking them.

        Returns:
            ``{"aborted_count": n, "request_ids": [...]}``.
        """
        self._admission.clear()
        self._rejecting = reject_request
        aborted = [p for p in self._queue]
        self._queue.clear()
        for pending in aborted:
            if not pending.future.done():
                pending.future.set_result(GenerationResult([], None, "abort"))
        running = list(self._running)
        if running:
            self._abort.set()
            async with self._engine_lock:  # the running batch returns at its next token
                pass
            self._abort.clear()
        request_ids = sorted({p.request_id for p in aborted + running})
        return {"aborted_count": len(aborted) + len(running), "request_ids": request_ids}

    async def abort_request(self, request_id: str, reset_prefix_cache: bool = True) -> dict[str, Any]:
        """Abort the queued sequences of one request (a running batch is not interrupted for one request)."""
        matching = [p for p in self._queue if p.request_id == request_id]
        for pending in matching:
            self._queue.remove(pending)
            pending.future.set_result(GenerationResult([], None, "abort"))
        return {"aborted": bool(matching), "request_id": request_id}

    async def resume_generation(self) -> None:
        """Admit requests again after :meth:`abort_all_requests`."""
        self._rejecting = False
        self._admission.set()

    async def wait_for_requests_to_drain(self) -> None:
        """Return once nothing is queued or running."""
        while self._queue or self._running:
            await asyncio.sleep(0.01)

    async def wake_up(self, tags: Optional[list[str]] = None) -> None:
        """No-op: weights and caches stay in host memory."""

    async def sleep(self) -> None:
        """No-op: there is no device memory to hand back to the trainer."""

    async def clear_kv_cache(self) -> None:
        """No-op: caches live only for one ``generate`` call."""

    async def release_kv_cache(self) -> None:
        """No-op: caches live only for one ``generate`` call."""

    async def resume_kv_cache(self) -> None:
        """No-op: caches live only for one ``generate`` call."""

    async def start_profile(self, **kwargs: Any) -> None:
        """No-op: no rollout profiler on the hf backend."""

    async def stop_profile(self) -> None:
        """No-op: no rollout profiler on the hf backend."""
