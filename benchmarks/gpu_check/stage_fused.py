"""Fused log-probs: verl's Triton kernel and its chunked torch backend against plain logits.

Two parts, each for every backend available (``triton`` needs a CUDA GPU and Triton):

* ``model``: the tiny thinker's own multimodal forward in verl's fused mode
  (:class:`omni_r1_verl.models.qwen2_5_omni.model.OmniThinkerForVerl`, bf16 on a GPU): log-probs and the LM-head
  gradient against the logits path of the same model;
* ``head``: the 7B LM head alone (hidden 3584, vocabulary 152,064, 8,192 tokens, bf16): forward + backward time
  and peak memory of each backend and of the logits path it replaces, and log-prob parity.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from benchmarks.gpu_check.report import Record, result, skipped
from benchmarks.gpu_check.stage_common import Stage, peak_memory, reset_peak_memory, synchronize
from benchmarks.gpu_check.thinker_inputs import CPU_PROMPT, GPU_PROMPT, build_inputs, build_thinker, token_log_probs

NAME = "fused"
#: (tokens, hidden, vocabulary) of the head part.
GPU_HEAD, CPU_HEAD = (8192, 3584, 152064), (128, 64, 2048)
#: Log-prob bounds against the logits path, by dtype (bf16 logits round to ~1e-2).
BOUNDS = {torch.float32: 1e-4, torch.bfloat16: 0.1}
TIMED = 3


def requirements(gpu: bool) -> list[str]:
    """What is missing for this stage (empty when it can run)."""
    missing = []
    if importlib.util.find_spec("verl") is None:
        missing.append("verl (pure Python: carry its wheel, e.g. .whl/verl-0.9.1-py3-none-any.whl)")
    if gpu and not torch.cuda.is_available():
        missing.append("a CUDA GPU")
    return missing


def backends(gpu: bool) -> tuple[list[str], str]:
    """The backends to run, and why Triton is not among them (empty when it is)."""
    if not gpu:
        return ["torch"], "the Triton kernel needs a CUDA GPU (CPU smoke)"
    if importlib.util.find_spec("triton") is None:
        return ["torch"], "triton is not installed"
    return ["torch", "triton"], ""


def _model_part(gpu: bool, device: torch.device, names: list[str]) -> Iterator[Record]:
    dtype = torch.bfloat16 if gpu else torch.float32
    model = build_thinker().to(device=device, dtype=dtype)
    model.config.fused_log_probs_chunk_size = 512 if gpu else 16
    inputs = build_inputs(GPU_PROMPT if gpu else CPU_PROMPT, device)
    mask = inputs["response_mask"].bool()
    forward = {k: v for k, v in inputs.items() if k != "response_mask"}

    def run(backend: str | None) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        model.fused_kernels_backend = backend
        try:
            if backend is None:
                log_probs = token_log_probs(model, inputs)
            else:
                # verl's Triton kernel returns (batch * tokens,) as verl's own forward does; compare per token.
                log_probs = model(**forward, temperature=1.0, return_dict=True).log_probs.float()
                log_probs = log_probs.reshape(inputs["input_ids"].shape)
        finally:
            model.fused_kernels_backend = None
        log_probs[mask].sum().backward()
        return log_probs.detach(), model.lm_head.weight.grad.float()

    expected, expected_grad = run(None)
    for backend in names:
        got, grad = run(backend)
        diff = float((got - expected)[mask].abs().max())
        grad_diff = float((grad - expected_grad).abs().max() / expected_grad.abs().max().clamp_min(1e-12))
        yield result(NAME, f"model_{backend}_logprob_max_abs_diff", diff, "nat", ok=diff < BOUNDS[dtype])
        yield result(NAME, f"model_{backend}_head_grad_max_rel_diff", grad_diff, "", ok=grad_diff < 0.05)


def _head_part(gpu: bool, device: torch.device, names: list[str]) -> Iterator[Record]:
    from omni_r1_verl.models.qwen2_5_omni.model import fused_log_probs

    tokens, hidden_size, vocab = GPU_HEAD if gpu else CPU_HEAD
    dtype = torch.bfloat16 if gpu else torch.float32
    gen = torch.Generator(device=device).manual_seed(0)
    hidden = torch.randn(tokens, hidden_size, generator=gen, device=device, dtype=dtype)
    weight = torch.randn(vocab, hidden_size, generator=gen, device=device, dtype=dtype) * hidden_size**-0.5
    labels = torch.randint(0, vocab, (tokens,), generator=gen, device=device)
    yield Record("INFO", {"stage": NAME, "head_shape": f"{tokens}x{hidden_size}x{vocab}", "dtype": str(dtype)})

    def logits_path(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax((h @ w.T).float(), -1).gather(-1, labels[:, None])[:, 0]

    impls = {"logits": logits_path}
    for backend in names:
        impls[backend] = lambda h, w, b=backend: fused_log_probs(b, h, w, labels, 1.0, 512 if gpu else 32)[0]
    outputs = {}
    for name, impl in impls.items():
        seconds = []
        for step in range(TIMED + 1):
            h, w = hidden.detach().requires_grad_(), weight.detach().requires_grad_()
            if step == 1:
                reset_peak_memory(device)
            synchronize(device)
            start = time.perf_counter()
            log_probs = impl(h, w)
            log_probs.float().sum().backward()
            synchronize(device)
            if step:
                seconds.append(time.perf_counter() - start)
        outputs[name] = log_probs.detach().float()
        yield result(NAME, f"head_{name}_fwd_bwd_s", statistics.median(seconds), "s")
        yield peak_memory(NAME, device, f"head_{name}_peak_mem")
        del h, w, log_probs
    for backend in names:
        diff = float((outputs[backend] - outputs["logits"]).abs().max())
        yield result(NAME, f"head_{backend}_logprob_max_abs_diff", diff, "nat", ok=diff < BOUNDS[dtype])


def run(gpu: bool, workdir: Path) -> Iterator[Record]:
    """Run the stage.

    Args:
        gpu: GPU sizes on CUDA (else the CPU smoke).
        workdir: Scratch directory of this check (unused).

    Yields:
        Its records.
    """
    from benchmarks.gpu_check import verl_kernels

    yield Record("INFO", {"stage": NAME, "verl": verl_kernels.load()})
    device = torch.device("cuda", 0) if gpu else torch.device("cpu")
    names, no_triton = backends(gpu)
    if no_triton:
        yield skipped(NAME, no_triton, part="triton")
    yield from _model_part(gpu, device, names)
    yield from _head_part(gpu, device, names)


STAGE = Stage(NAME, requirements, run)
