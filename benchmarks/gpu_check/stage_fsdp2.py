"""FSDP2 (one rank: NCCL on a GPU, gloo in the CPU smoke) training steps of the tiny thinker on a long prompt.

The model is wrapped as verl's ``apply_fsdp2`` wraps it (``verl/utils/fsdp_utils.py``): every module whose class is
in ``_no_split_modules`` (decoder layers, the two towers), the untied embedding and LM head, then the root; verl's
own function is used when verl imports, this mirror of it when it does not (a GPU machine without Ray). Checks:

* fp32, no mixed precision: per-token log-probs and the gradients of a policy-gradient loss equal the unsharded
  model's (sharding must not change the math);
* bf16 mixed precision (parameters cast to bf16, gradients reduced in fp32, verl's actor default): log-probs
  against the unsharded model cast to bf16, then timed AdamW steps (forward, backward, clip, step), tokens per
  second, the gradient norm, and peak memory.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from benchmarks.gpu_check.report import Record, result
from benchmarks.gpu_check.stage_common import Stage, peak_memory, reset_peak_memory, synchronize
from benchmarks.gpu_check.thinker_inputs import CPU_PROMPT, GPU_PROMPT, build_inputs, build_thinker, token_log_probs

NAME = "fsdp2"
#: Bounds: fp32 sharding must be exact up to reduction order; bf16 matches a bf16 copy up to rounding.
FP32_LOGPROB_BOUND, FP32_GRAD_BOUND, BF16_LOGPROB_BOUND = 1e-4, 1e-3, 5e-2
#: Timed steps after the warm-up one (GPU, CPU smoke).
TIMED_STEPS = {True: 3, False: 1}


def requirements(gpu: bool) -> list[str]:
    """What is missing for this stage (empty when it can run)."""
    missing = []
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:
        missing.append(f"torch.distributed.fsdp.fully_shard (torch {torch.__version__} is too old; needs >= 2.6)")
    if gpu and not (torch.cuda.is_available() and torch.distributed.is_nccl_available()):
        missing.append("a CUDA GPU with NCCL")
    return missing


def shard(model: torch.nn.Module, mesh, bf16: bool) -> tuple[torch.nn.Module, str]:
    """Wrap ``model`` with FSDP2 the way verl does; returns it and which implementation wrapped it."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    kwargs = {"mesh": mesh}
    if bf16:
        kwargs["mp_policy"] = MixedPrecisionPolicy(
            param_dtype=torch.bfloat16, reduce_dtype=torch.float32, cast_forward_inputs=True
        )
    try:
        from verl.utils.fsdp_utils import apply_fsdp2

        apply_fsdp2(model, kwargs, {})
        return model, "verl"
    except ImportError:
        pass
    tied = getattr(model.config, "tie_word_embeddings", False)
    units = [
        module
        for name, module in model.named_modules()
        if type(module).__name__ in model._no_split_modules
        or (not tied and (isinstance(module, torch.nn.Embedding) or name.rsplit(".", 1)[-1] == "lm_head"))
    ]
    for module in units:
        fully_shard(module, **kwargs)
    fully_shard(model, **kwargs)
    return model, "mirror"


def policy_loss(log_probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A GRPO-shaped loss: advantages +1 / -1 by row, token mean over the response."""
    advantages = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(log_probs.shape[0])], device=mask.device)
    return -(advantages[:, None] * log_probs * mask).sum() / mask.sum()


def _full(grad: torch.Tensor) -> torch.Tensor:
    return grad.full_tensor() if hasattr(grad, "full_tensor") else grad


def run(gpu: bool, workdir: Path) -> Iterator[Record]:
    """Run the stage.

    Args:
        gpu: GPU sizes on CUDA (else the CPU smoke).
        workdir: Scratch directory of this check.

    Yields:
        Its records.
    """
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    device = torch.device("cuda", 0) if gpu else torch.device("cpu")
    if gpu:
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if gpu else "gloo", init_method=f"file://{workdir / 'fsdp2_store'}", rank=0, world_size=1
    )
    try:
        shape = GPU_PROMPT if gpu else CPU_PROMPT
        inputs = build_inputs(shape, device)
        mask = inputs["response_mask"].float()
        tokens = int(inputs["input_ids"].numel())
        yield result(NAME, "tokens_per_row", tokens / shape.batch, "tokens")
        mesh = init_device_mesh(device.type, (1,), mesh_dim_names=("fsdp",))
        reference = build_thinker().to(device)

        # fp32: sharding alone must not change log-probs or gradients.
        sharded, impl = shard(copy.deepcopy(reference), mesh, bf16=False)
        yield Record("INFO", {"stage": NAME, "wrapped_by": impl})
        expected = token_log_probs(reference, inputs)
        policy_loss(expected, mask).backward()
        got = token_log_probs(sharded, inputs)
        policy_loss(got, mask).backward()
        lp_diff = float(((got - expected).detach().abs() * mask).max())
        ref_grads = {n: p.grad for n, p in reference.named_parameters() if p.grad is not None}
        grad_diff = max(
            float((_full(p.grad) - ref_grads[n]).abs().max() / ref_grads[n].abs().max().clamp_min(1e-12))
            for n, p in sharded.named_parameters()
            if p.grad is not None
        )
        yield result(NAME, "fp32_logprob_max_abs_diff", lp_diff, "nat", ok=lp_diff < FP32_LOGPROB_BOUND)
        yield result(NAME, "fp32_grad_max_rel_diff", grad_diff, "", ok=grad_diff < FP32_GRAD_BOUND)
        del sharded, expected, got, ref_grads
        reference.zero_grad(set_to_none=True)

        # bf16 mixed precision, as verl's actor runs.
        with torch.no_grad():
            expected = token_log_probs(copy.deepcopy(reference).to(torch.bfloat16), inputs)
        model, _ = shard(copy.deepcopy(reference), mesh, bf16=True)
        with torch.no_grad():
            got = token_log_probs(model, inputs)
        bf16_diff = float(((got - expected).abs() * mask).max())
        yield result(NAME, "bf16_logprob_max_abs_diff", bf16_diff, "nat", ok=bf16_diff < BF16_LOGPROB_BOUND)
        del expected, got
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
        before = _full(model.lm_head.weight.detach()).clone()
        reset_peak_memory(device)
        seconds, norms = [], []
        for step in range(TIMED_STEPS[gpu] + 1):
            synchronize(device)
            start = time.perf_counter()
            loss = policy_loss(token_log_probs(model, inputs), mask)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], 5.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            synchronize(device)
            if step:  # the first step warms up kernels and allocations
                seconds.append(time.perf_counter() - start)
                norms.append(float(_full(norm)))
        step_s = statistics.median(seconds)
        changed = bool((_full(model.lm_head.weight.detach()) != before).any())
        yield result(NAME, "bf16_step_s", step_s, "s")
        yield result(NAME, "bf16_tokens_per_s", tokens / step_s, "tokens/s")
        yield result(NAME, "bf16_grad_norm", norms[-1], "", ok=all(map(torch.isfinite, torch.tensor(norms))))
        yield result(NAME, "bf16_step_updates_weights", float(changed), "", ok=changed)
        yield peak_memory(NAME, device)
    finally:
        dist.destroy_process_group()


STAGE = Stage(NAME, requirements, run)
