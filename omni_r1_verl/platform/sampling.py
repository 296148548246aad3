"""Sampling parameters and stop rules of the ``hf`` rollout backend, with vLLM's meanings (pure logic).

verl's agent loops send the vLLM server a plain dict (``temperature``, ``top_p``, ``top_k``, ``repetition_penalty``,
``logprobs``, sometimes ``max_tokens``); :class:`SamplingParams` parses the same dict with the same meanings and
rejects what the backend cannot honour, as ``vllm.SamplingParams(**params)`` would. :class:`StopRule` decides where
a generated sequence ends (end-of-sequence and stop token ids, stop strings), identically while generating and
when trimming the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Optional

#: Below this temperature sampling is greedy (vLLM's threshold).
GREEDY_TEMPERATURE = 1e-5

#: Keys accepted by :meth:`SamplingParams.from_request`; ``max_new_tokens`` is SGLang's name for ``max_tokens``.
_ALIASES = {"max_new_tokens": "max_tokens"}


@dataclass(frozen=True)
class SamplingParams:
    """Per-request sampling parameters.

    Attributes:
        n: Sequences to sample for the prompt.
        temperature: Softmax temperature; ``0`` (below :data:`GREEDY_TEMPERATURE`) means greedy decoding.
        top_p: Nucleus sampling mass in ``(0, 1]``.
        top_k: Keep the ``top_k`` most likely tokens; ``-1`` or ``0`` disables it.
        min_p: Drop tokens below ``min_p`` times the top probability; ``0`` disables it.
        repetition_penalty: Penalty (> 0) on tokens already in prompt or output; ``1`` disables it.
        max_tokens: Most tokens to generate; ``None`` lets the server derive it from the configured lengths.
        stop: Strings that end generation once they appear in the decoded output.
        stop_token_ids: Token ids that end generation (kept in the output, like end-of-sequence).
        ignore_eos: Keep generating after end-of-sequence tokens (stop token ids still apply).
        seed: Seed of this request's sampling; seeded requests are generated alone, so they are reproducible.
        logprobs: Return the log-probability of each generated token. vLLM's integer form is accepted; only the
            sampled token's log-probability is returned.
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    max_tokens: Optional[int] = None
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    seed: Optional[int] = None
    logprobs: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.n < 1:
            problems.append(f"n must be >= 1, got {self.n}")
        if self.temperature < 0:
            problems.append(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < -1:
            problems.append(f"top_k must be -1 (disabled) or >= 0, got {self.top_k}")
        if not 0 <= self.min_p <= 1:
            problems.append(f"min_p must be in [0, 1], got {self.min_p}")
        if self.repetition_penalty <= 0:
            problems.append(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.max_tokens is not None and self.max_tokens < 1:
            problems.append(f"max_tokens must be >= 1, got {self.max_tokens}")
        if any(not s for s in self.stop):
            problems.append("stop strings must be non-empty")
        if problems:
            raise ValueError("invalid sampling parameters: " + "; ".join(problems))

    @classmethod
    def from_request(cls, params: Optional[Mapping[str, Any]]) -> SamplingParams:
        """Parse the dict verl's LLM-server client sends.

        Args:
            params: Sampling parameters as sent to ``server.generate``; ``None`` means defaults.

        Returns:
            The validated parameters.

        Raises:
            ValueError: On unknown or unsupported keys and on out-of-range values.
        """
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        unknown = []
        for key, value in (params or {}).items():
            key = _ALIASES.get(key, key)
            if key not in known:
                unknown.append(key)
            elif value is not None:
                values[key] = value
        if unknown:
            raise ValueError(
                f"sampling parameters {sorted(unknown)} are not supported by the hf rollout backend "
                f"(supported: {sorted(known | set(_ALIASES))})"
            )
        if "stop" in values:
            stop = values["stop"]
            values["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        if "stop_token_ids" in values:
            values["stop_token_ids"] = tuple(int(t) for t in values["stop_token_ids"])
        if "logprobs" in values:
            # vLLM: an int asks for that many alternatives besides the sampled token; False/None for none.
            values["logprobs"] = values["logprobs"] is not False
        for key, kind in (("n", int), ("top_k", int), ("max_tokens", int), ("seed", int)):
            if key in values:
                values[key] = kind(values[key])
        for key in ("temperature", "top_p", "min_p", "repetition_penalty"):
            if key in values:
                values[key] = float(values[key])
        return cls(**values)

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy."""
        return self.temperature < GREEDY_TEMPERATURE

    def batch_key(self) -> tuple:
        """Requests with equal keys can share one batched ``generate`` call.

        Everything that shapes the token distribution or the stopping rule is part of the key; ``max_tokens`` is not
        (each sequence is cut at its own limit), ``n`` is not (the server expands it into ``n`` sequences).
        """
        return (
            self.greedy,
            None if self.greedy else self.temperature,
            self.top_p,
            max(self.top_k, 0),
            self.min_p,
            self.repetition_penalty,
            self.stop,
            self.stop_token_ids,
            self.ignore_eos,
            self.seed,
        )


@dataclass(frozen=True)
class StopRule:
    """Where a generated sequence ends.

    Attributes:
        stop_token_ids: Ids that end a sequence and stay in it (end-of-sequence ids unless ``ignore_eos``, plus the
            request's ``stop_token_ids``).
        stop_strings: Strings that end a sequence once its decoded text contains them; the token that completes the
            string stays in the sequence (the token ids are what the trainer scores).
        decode: Detokenizer for stop strings (``tokenizer.decode(ids, skip_special_tokens=True)``).
        window: Tokens decoded at the tail of a sequence to look for a stop string that the last token completed.
    """

    stop_token_ids: frozenset[int]
    stop_strings: tuple[str, ...] = ()
    decode: Optional[Callable[[Sequence[int]], str]] = None
    window: int = 0

    @classmethod
    def build(
        cls,
        sampling: SamplingParams,
        eos_token_ids: Iterable[int],
        decode: Optional[Callable[[Sequence[int]], str]] = None,
    ) -> StopRule:
        """The stop rule of a request.

        Args:
            sampling: The request's sampling parameters.
            eos_token_ids: The model's end-of-sequence ids.
            decode: Detokenizer, required when the request has stop strings.

        Returns:
            The rule.

        Raises:
            ValueError: If the request has stop strings and no detokenizer is given.
        """
        ids = set(sampling.stop_token_ids)
        if not sampling.ignore_eos:
            ids.update(int(t) for t in eos_token_ids)
        if sampling.stop and decode is None:
            raise ValueError("stop strings need a tokenizer to decode the output")
        # A token decodes to at least one character (or to nothing); a stop string of k characters is completed
        # within the last k tokens plus a few for multi-byte characters split across tokens.
        window = max((len(s) for s in sampling.stop), default=0) + 4
        return cls(frozenset(ids), tuple(sampling.stop), decode, window)

    def _completes_stop_string(self, tokens: Sequence[int], end: int) -> bool:
        """Whether the decoded tail of ``tokens[:end]`` contains a stop string."""
        if not self.stop_strings:
            return False
        text = self.decode(tokens[max(0, end - self.window) : end])
        return any(s in text for s in self.stop_strings)

    def ends_with_stop(self, tokens: Sequence[int]) -> bool:
        """Whether the last token of ``tokens`` ends the sequence (checked once per generation step)."""
        if not tokens:
            return False
        return tokens[-1] in self.stop_token_ids or self._completes_stop_string(tokens, len(tokens))

    def stop_length(self, tokens: Sequence[int]) -> Optional[int]:
        """Length of ``tokens`` up to and including the first stopping token, or ``None`` if none stops it."""
        for end in range(1, len(tokens) + 1):
            if tokens[end - 1] in self.stop_token_ids or self._completes_stop_string(tokens, end):
                return end
        return None
