"""The ``hf`` rollout replica: verl's ``RolloutReplica`` that launches one :class:`HFServer` actor per replica.

verl's ``LLMServerManager`` builds one replica per ``tensor * data * pipeline`` parallel group of trainer ranks and
calls ``init_hybrid(worker_group)`` (colocated with the FSDP workers, the main_ppo default) or ``init_standalone()``;
either way :meth:`HFReplica.launch_servers` starts the generation server on the node of the replica's first worker.
A transformers model runs in one process, so a replica is one rank: ``rollout.tensor_model_parallel_size``,
``data_parallel_size`` and ``pipeline_model_parallel_size`` must be 1, and ``n`` FSDP ranks get ``n`` servers.
"""

from __future__ import annotations

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from verl.workers.rollout.replica import RolloutReplica

from omni_r1_verl.platform.hf_server import HFServer

#: Prefix of the servers' Ray actor names.
SERVER_NAME_PREFIX = "hf_server_"


def server_name(replica_rank: int, role: str = "", suffix: str = "") -> str:
    """Ray actor name of a replica's server (job-scoped: each verl job has its own Ray namespace).

    Args:
        replica_rank: Rank of the replica.
        role: ``""`` for the policy, ``"reward_"`` / ``"teacher_"`` for reward or teacher models.
        suffix: The replica's ``name_suffix`` (already starting with ``_`` when set).

    Returns:
        The name, e.g. ``hf_server_0``.
    """
    return f"{SERVER_NAME_PREFIX}{role}{replica_rank}{suffix}"


class HFReplica(RolloutReplica):
    """Rollout replica backed by one transformers generation server."""

    def _server_name(self) -> str:
        role = "reward_" if self.is_reward_model else "teacher_" if self.is_teacher_model else ""
        return server_name(self.replica_rank, role, self.name_suffix)

    async def launch_servers(self) -> None:
        """Start the server actor next to the replica's worker and wait until its model is loaded.

        Raises:
            ValueError: If the replica spans more than one rank (tensor/data/pipeline parallel sizes above 1).
        """
        if self.world_size != 1:
            raise ValueError(
                f"the hf rollout backend serves a replica from one process, but tensor x data x pipeline parallel "
                f"size is {self.world_size}: set actor_rollout_ref.rollout.tensor_model_parallel_size=1, "
                "data_parallel_size=1 and pipeline_model_parallel_size=1 (each trainer rank gets its own server)"
            )
        options = {
            "name": self._server_name(),
            # Hybrid mode: the server shares the FSDP worker's placement-group slot, like vLLM's server actors.
            "num_cpus": 0,
            "max_concurrency": self.max_concurrency,
        }
        if self.workers:
            node_id = await self.workers[0].__ray_call__.remote(lambda worker: ray.get_runtime_context().get_node_id())
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
        server = (
            ray.remote(HFServer)
            .options(**options)
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        await server.ready.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = options["name"]
