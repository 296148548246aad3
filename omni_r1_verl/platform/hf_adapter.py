"""Trainer-side half of the ``hf`` rollout: verl's ``BaseRollout`` that pushes weights to the generation server.

verl builds one adapter per trainer rank (``get_rollout_class("hf", "async")`` in ``ActorRolloutRefWorker``) and,
after every update with ``checkpoint_engine.backend=naive``, calls ``update_weights`` with the FSDP engine's
per-tensor generator (full, unsharded tensors under the model's HF names). The adapter walks the whole generator on
every rank (gathering FSDP shards is collective) and sends buckets of ``update_weights_bucket_megabytes`` to its
replica's server, which applies them between generation batches.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any, Optional

import ray
import torch
from verl.workers.rollout.base import BaseRollout

from omni_r1_verl.platform.hf_replica import server_name

logger = logging.getLogger(__name__)


class HFServerAdapter(BaseRollout):
    """Weight sender of one trainer rank to the ``hf`` server of its replica.

    Args:
        config: verl rollout config.
        model_config: verl model config.
        device_mesh: Rollout device mesh (unused: a replica is one rank).
        replica_rank: Replica to serve; ``-1`` derives it from the trainer rank (one replica per rank).
    """

    def __init__(self, config: Any, model_config: Any, device_mesh: Any = None, replica_rank: int = -1, **kwargs: Any):
        super().__init__(config, model_config, device_mesh)
        self.replica_rank = int(os.environ.get("RANK", "0")) if replica_rank == -1 else replica_rank
        # A replica is one rank, so every trainer rank leads (and feeds) its own server.
        self.is_leader_rank = True
        self.bucket_bytes = max(1, self.config.checkpoint_engine.update_weights_bucket_megabytes) << 20
        self._server: Optional[ray.actor.ActorHandle] = None

    def _get_server(self) -> ray.actor.ActorHandle:
        # The server starts after the trainer workers, so look it up on first use.
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        """No-op: the server keeps its weights and needs no device memory back."""

    async def release(self) -> None:
        """No-op: there is no device memory to release."""

    async def update_weights(
        self,
        weights: Iterable[tuple[str, torch.Tensor]],
        wire_format: str = "named_tensors",
        peft_config: Optional[Any] = None,
        global_steps: Optional[int] = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Send the trainer's weights to the server in buckets.

        Args:
            weights: ``(name, tensor)`` pairs from the FSDP engine (DTensors are gathered here if still sharded).
            wire_format: Only ``named_tensors`` (full tensors) is supported.
            peft_config: Must be ``None``: LoRA adapters are not served separately (set ``model.lora.merge=True``).
            global_steps: Training step of the weights.
            **kwargs: Other arguments verl passes (``base_sync_done``), ignored.

        Returns:
            The server's report for the final bucket (``version``, ``missing`` ...).

        Raises:
            NotImplementedError: For delta wire formats or unmerged LoRA adapters.
        """
        if wire_format != "named_tensors":
            raise NotImplementedError(f"the hf rollout backend takes full named tensors, not {wire_format!r}")
        if peft_config is not None:
            raise NotImplementedError(
                "the hf rollout backend serves merged weights only: set actor_rollout_ref.model.lora.merge=True"
            )
        server = self._get_server()
        bucket: list[tuple[str, torch.Tensor]] = []
        size = 0
        for name, tensor in weights:
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            # Ray serialises the arguments when .remote() is called, so live parameter storage can be sent as is.
            bucket.append((name, tensor.detach().cpu()))
            size += tensor.numel() * tensor.element_size()
            if size >= self.bucket_bytes:
                await server.update_weights.remote(bucket, final=False)
                bucket, size = [], 0
        report = await server.update_weights.remote(bucket, final=True, global_steps=global_steps)
        logger.info(
            "rank %s pushed weights of step %s to %s: %s",
            os.environ.get("RANK", "0"),
            global_steps,
            server_name(self.replica_rank),
            report,
        )
        return report
