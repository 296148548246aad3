"""Batched token-in/token-out generation with transformers ``generate``: the engine behind the ``hf`` server.

One :meth:`HFGenerationEngine.generate` call runs a batch of requests that share their sampling settings through a
single left-padded ``model.generate``. Sampling is done by one logits processor built from transformers' public
warpers (repetition penalty, temperature, top-k, top-p, min-p), so the engine controls exactly what is sampled and
which log-probabilities are reported: verl's ``rollout.logprobs_mode`` ``processed_logprobs`` (after all of them,
vLLM's meaning and verl's default) or ``raw_logprobs`` (the model's distribution). The model's checkpoint
generation defaults are not applied; requests say what they want, as verl's do. Stops (end-of-sequence and stop
token ids, stop strings, per-request ``max_tokens``) are one :class:`~omni_r1_verl.platform.sampling.StopRule` per
request, used both to stop generation and to trim its output.

No Ray and no verl trainer state here: the engine is tested directly and wrapped by
:mod:`omni_r1_verl.platform.hf_server`.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from omni_r1_verl.platform.config import LOGPROBS_MODES
from omni_r1_verl.platform.multimodal import forward_kwargs, merge_features
from omni_r1_verl.platform.sampling import SamplingParams, StopRule
from omni_r1_verl.utils.modules import forward_replaced

logger = logging.getLogger(__name__)

#: Checkpoint-name prefixes stripped when a weight name is not a parameter of the served model (a thinker served
#: alone receives the root Qwen2.5-Omni model's ``thinker.*`` names).
WEIGHT_NAME_PREFIXES: tuple[str, ...] = ("thinker.",)


@contextlib.contextmanager
def last_position_head(model: Any):
    """While generating, run the LM head on the last position only, for models whose forward cannot be told so.

    ``generate`` needs the logits of the last position; models with a ``logits_to_keep`` argument get it from
    transformers. Others (the Qwen2.5-Omni thinker) would compute ``(batch, prompt, vocabulary)`` logits at prefill:
    1.5 GB for four 600-token prompts with Qwen's 152k-token vocabulary, the largest allocation of the server.

    Args:
        model: The generating model.
    """
    head = model.get_output_embeddings()
    if head is None or "logits_to_keep" in inspect.signature(model.forward).parameters:
        yield
        return
    full = head.forward
    with forward_replaced(head, lambda hidden_states: full(hidden_states[..., -1:, :])):
        yield


@dataclass
class GenerationRequest:
    """One sequence to generate.

    Attributes:
        prompt_ids: Prompt token ids (expanded multimodal placeholders).
        sampling: Sampling parameters (``n`` is handled by the caller: one request per sequence).
        max_tokens: Most tokens to generate for this sequence.
        features: Processor features of the request's media
            (:func:`~omni_r1_verl.platform.multimodal.build_features`).
        model_kwargs: Extra ``forward`` arguments from ``mm_processor_kwargs`` (e.g. ``use_audio_in_video``).
    """

    prompt_ids: list[int]
    sampling: SamplingParams
    max_tokens: int
    features: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationResult:
    """A generated sequence.

    Attributes:
        token_ids: Generated ids, up to and including the stopping token.
        log_probs: Log-probability of each generated id (``None`` unless the request asked for them).
        finish_reason: ``"stop"`` (a stop token or string), ``"length"`` (``max_tokens``) or ``"abort"``.
    """

    token_ids: list[int]
    log_probs: Optional[list[float]]
    finish_reason: str


class SamplingProcessor(LogitsProcessor):
    """Applies a request's sampling transforms and records the sampled tokens' log-probabilities.

    Transformers calls logits processors with the ids generated so far, so the token sampled from step ``t``'s
    distribution is only known at step ``t + 1``: each call gathers the previous step's log-probability of the
    token that was just appended, and :meth:`log_probs` gathers the last one. Memory stays at one
    ``(batch, vocab)`` row of log-probabilities.

    Args:
        sampling: The batch's sampling parameters.
        logprobs_mode: ``"processed_logprobs"`` or ``"raw_logprobs"``; ``None`` records nothing.
    """

    def __init__(self, sampling: SamplingParams, logprobs_mode: Optional[str]):
        if logprobs_mode is not None and logprobs_mode not in LOGPROBS_MODES:
            raise ValueError(f"logprobs_mode must be one of {LOGPROBS_MODES}, got {logprobs_mode!r}")
        self.logprobs_mode = logprobs_mode
        self.penalty = (
            RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty) if sampling.repetition_penalty != 1 else None
        )
        self.warpers: list[LogitsProcessor] = []
        if not sampling.greedy:
            if sampling.temperature != 1:
                self.warpers.append(TemperatureLogitsWarper(sampling.temperature))
            if sampling.top_k > 0:
                self.warpers.append(TopKLogitsWarper(sampling.top_k))
            if sampling.top_p < 1:
                self.warpers.append(TopPLogitsWarper(sampling.top_p))
            if sampling.min_p > 0:
                self.warpers.append(MinPLogitsWarper(sampling.min_p))
        self._steps: list[torch.Tensor] = []
        self._pending: Optional[torch.Tensor] = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Transform one step's logits (and record log-probabilities)."""
        self._gather_pending(input_ids[:, -1])
        raw = scores
        if self.penalty is not None:
            scores = self.penalty(input_ids, scores)
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        if self.logprobs_mode is not None:
            recorded = raw if self.logprobs_mode == "raw_logprobs" else scores
            self._pending = torch.log_softmax(recorded.float(), dim=-1)
        return scores

    def _gather_pending(self, tokens: torch.Tensor) -> None:
        if self._pending is not None:
            self._steps.append(self._pending.gather(1, tokens.unsqueeze(1)).squeeze(1))
            self._pending = None

    def log_probs(self, sequences: torch.LongTensor) -> torch.Tensor:
        """Log-probabilities of all generated tokens, ``(batch, generated)``.

        Args:
            sequences: ``generate``'s output ids (prompt and generated).
        """
        self._gather_pending(sequences[:, -1])
        if not self._steps:
            return torch.empty(sequences.shape[0], 0)
        return torch.stack(self._steps, dim=1)


class _StopCriteria(StoppingCriteria):
    """Per-sequence stops of one batch (stop rules, ``max_tokens``) plus an abort switch for the whole batch."""

    def __init__(self, rules: Sequence[StopRule], max_tokens: Sequence[int], prompt_width: int, abort: threading.Event):
        self.rules = rules
        self.max_tokens = max_tokens
        self.prompt_width = prompt_width
        self.abort = abort
        self.done = [False] * len(rules)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        if self.abort.is_set():
            return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        generated = input_ids[:, self.prompt_width :].tolist()
        for row, tokens in enumerate(generated):
            if not self.done[row]:
                self.done[row] = len(tokens) >= self.max_tokens[row] or self.rules[row].ends_with_stop(tokens)
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


class HFGenerationEngine:
    """A transformers model and its tokenizer/processor serving token-in/token-out generation.

    Args:
        model: The generation model (eval mode).
        tokenizer: Its tokenizer (decodes stop strings, provides end-of-sequence and padding ids).
        processor: Its multimodal processor, or ``None`` for text models.
        eos_token_ids: End-of-sequence ids (the model's generation config and the tokenizer's).
        logprobs_mode: What :attr:`GenerationResult.log_probs` holds (``processed_logprobs`` or ``raw_logprobs``).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        processor: Any = None,
        eos_token_ids: Iterable[int] = (),
        logprobs_mode: str = "processed_logprobs",
    ):
        if logprobs_mode not in LOGPROBS_MODES:
            raise ValueError(
                f"rollout.logprobs_mode={logprobs_mode!r} is not supported by the hf backend: {LOGPROBS_MODES}"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.processor = processor
        self.logprobs_mode = logprobs_mode
        self.eos_token_ids = frozenset(int(t) for t in eos_token_ids)
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else min(self.eos_token_ids, default=0))
        # Requests carry their sampling settings; the checkpoint's generation defaults (e.g. a repetition penalty)
        # must not leak into generate(), which fills every unset field from model.generation_config.
        self.model.generation_config = GenerationConfig(pad_token_id=self.pad_token_id)
        self._parameters = dict(self.model.state_dict(keep_vars=True))
        self._touched: set[int] = set()
        self._conversion = [
            (re.compile(pattern), replacement)
            for pattern, replacement in (getattr(self.model, "_checkpoint_conversion_mapping", None) or {}).items()
        ]

    # ---------------------------------------------------------------------------------------------------------------
    # generation
    # ---------------------------------------------------------------------------------------------------------------

    def decode(self, token_ids: Sequence[int]) -> str:
        """Detokenize for stop-string matching (special tokens dropped, as vLLM matches stop strings)."""
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def stop_rule(self, sampling: SamplingParams) -> StopRule:
        """The stop rule of a request on this model."""
        return StopRule.build(sampling, self.eos_token_ids, self.decode)

    @torch.inference_mode()
    def generate(
        self, requests: Sequence[GenerationRequest], abort: Optional[threading.Event] = None
    ) -> list[GenerationResult]:
        """Generate a batch of requests with equal sampling settings in one ``generate`` call.

        Args:
            requests: The batch; all ``sampling.batch_key()`` equal and the same kinds of multimodal features.
            abort: When set, generation stops at the next step and unfinished sequences end with ``"abort"``.

        Returns:
            One result per request, in order.

        Raises:
            ValueError: If the requests cannot share a batch.
        """
        if not requests:
            return []
        sampling = requests[0].sampling
        if any(r.sampling.batch_key() != sampling.batch_key() for r in requests):
            raise ValueError("requests in one generate() batch must share their sampling settings")
        abort = abort if abort is not None else threading.Event()

        width = max(len(r.prompt_ids) for r in requests)
        input_ids = torch.full((len(requests), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(requests), width), dtype=torch.long)
        for row, request in enumerate(requests):
            input_ids[row, width - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids, dtype=torch.long)
            attention_mask[row, width - len(request.prompt_ids) :] = 1

        model_kwargs = forward_kwargs(
            self.model, {**requests[0].model_kwargs, **merge_features([r.features for r in requests])}
        )
        want_logprobs = any(r.sampling.logprobs for r in requests)
        sampler = SamplingProcessor(sampling, self.logprobs_mode if want_logprobs else None)
        rules = [self.stop_rule(r.sampling) for r in requests]
        max_tokens = [r.max_tokens for r in requests]
        criteria = _StopCriteria(rules, max_tokens, width, abort)
        config = GenerationConfig(
            max_new_tokens=max(max_tokens),
            do_sample=not sampling.greedy,
            # All sampling transforms live in `sampler`; these values keep transformers from adding its own.
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            repetition_penalty=1.0,
            pad_token_id=self.pad_token_id,
            use_cache=True,
        )
        seeded = torch.random.fork_rng(devices=[]) if sampling.seed is not None else contextlib.nullcontext()
        with seeded, last_position_head(self.model):
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            sequences = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList([criteria]),
                **model_kwargs,
            )
        generated = sequences[:, width:].tolist()
        log_probs = sampler.log_probs(sequences).tolist() if want_logprobs else None
        results = []
        for row, request in enumerate(requests):
            tokens = generated[row]
            stop_at = rules[row].stop_length(tokens)
            if stop_at is not None and stop_at <= request.max_tokens:
                end, reason = stop_at, "stop"
            elif len(tokens) >= request.max_tokens:
                end, reason = request.max_tokens, "length"
            else:
                end, reason = len(tokens), "abort"
            results.append(
                GenerationResult(
                    token_ids=tokens[:end],
                    log_probs=log_probs[row][:end] if request.sampling.logprobs else None,
                    finish_reason=reason,
                )
            )
        return results

    # ---------------------------------------------------------------------------------------------------------------
    # weights
    # ---------------------------------------------------------------------------------------------------------------

    def resolve_name(self, name: str) -> Optional[str]:
        """The served model's ``state_dict`` key for a weight name sent by the trainer.

        Tries the name itself, the model's checkpoint conversion mapping, then the name without a
        :data:`WEIGHT_NAME_PREFIXES` prefix.

        Args:
            name: Weight name as sent (the FSDP engine's HF names).

        Returns:
            The key, or ``None`` if the model has no such weight.
        """
        if name in self._parameters:
            return name
        for pattern, replacement in self._conversion:
            converted, count = pattern.subn(replacement, name)
            if count and converted in self._parameters:
                return converted
        for prefix in WEIGHT_NAME_PREFIXES:
            if name.startswith(prefix) and name[len(prefix) :] in self._parameters:
                return name[len(prefix) :]
        return None

    @torch.no_grad()
    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> list[str]:
        """Copy weights into the served model in place.

        Args:
            named_tensors: ``(name, tensor)`` pairs, full (unsharded) tensors.

        Returns:
            The ``state_dict`` keys that were updated.

        Raises:
            ValueError: On names the model does not have or shapes that differ; nothing of a failing batch is
                half-applied silently: the error lists every offending name.
        """
        resolved: list[tuple[str, torch.Tensor]] = []
        problems = []
        for name, tensor in named_tensors:
            key = self.resolve_name(name)
            if key is None:
                problems.append(f"unknown weight {name!r}")
            elif tuple(tensor.shape) != tuple(self._parameters[key].shape):
                problems.append(f"{name!r}: shape {tuple(tensor.shape)} != {tuple(self._parameters[key].shape)}")
            else:
                resolved.append((key, tensor))
        if problems:
            shown = "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more" if len(problems) > 5 else "")
            raise ValueError(f"weight update does not fit the served model ({type(self.model).__name__}): {shown}")
        for key, tensor in resolved:
            target = self._parameters[key]
            target.copy_(tensor.to(dtype=target.dtype, device=target.device))
            self._touched.add(id(target))
        return [key for key, _ in resolved]

    def finish_weight_update(self) -> list[str]:
        """Close a weight update made of several :meth:`load_weights` calls.

        Returns:
            Parameters the update did not touch (tied parameters count as touched through any of their names).
        """
        missing = sorted(
            name
            for name, value in self._parameters.items()
            if isinstance(value, torch.nn.Parameter) and id(value) not in self._touched
        )
        self._touched = set()
        return missing
