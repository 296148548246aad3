"""The GPU split of a multi-node run and the commands that start it, computed without Slurm, Ray or GPUs.

Every node gives the same number of GPUs to verl's trainer (``trainer.n_gpus_per_node``: the FSDP actor, reference
and vLLM rollout, colocated) and the rest to System 2 (one detail-pool worker per GPU: the grounding VLM + SAM2).
The System-2 share is a custom Ray resource, :data:`SYSTEM2_RESOURCE`: every node advertises one unit per detail
worker its System-2 GPUs hold, and every worker asks for one unit next to its GPU share
(``system2.placement.resource``). So at most that many workers land on a node, whatever the order in which verl's
placement groups and the pool are created, and verl's per-node trainer share always stays free. Each node also
advertises a marker resource naming it (:func:`node_marker`), so the wait for the cluster can name a missing node.

The split must fit a step: verl divides ``data.train_batch_size * rollout.n`` sequences, and each mini-batch of
``ppo_mini_batch_size * rollout.n``, evenly over the trainer ranks, and a vLLM replica (``tensor_model_parallel_size``
GPUs) must fit on one node. :meth:`ClusterLayout.plan` checks that, picks the smallest System-2 share that fits
when none is given, and says what to change when none does. Pure module.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from omni_r1_verl.cluster.hostlist import Node

#: Custom Ray resource counting each node's System-2 worker slots (one unit per detail worker).
SYSTEM2_RESOURCE = "omni_r1_system2"
#: Prefix of the marker resource each node advertises with its own name (amount 1, never requested).
NODE_MARKER_PREFIX = "omni_r1_node:"
#: Config section of System 2 (the detail pool).
SYSTEM2_PREFIX = "system2"
#: Keys the layout sets; a user override of one of them is refused (the node list decides them).
LAYOUT_KEYS = (
    "trainer.nnodes",
    "trainer.n_gpus_per_node",
    f"{SYSTEM2_PREFIX}.placement.mode",
    f"{SYSTEM2_PREFIX}.placement.resource",
    f"{SYSTEM2_PREFIX}.placement.gpus_per_worker",
    f"{SYSTEM2_PREFIX}.placement.strategy",
    f"{SYSTEM2_PREFIX}.pool.num_workers",
    f"ray_kwargs.ray_init.resources.{SYSTEM2_RESOURCE}",
)
#: verl's trainer entry point.
MAIN_PPO = ("-m", "verl.trainer.main_ppo")


class LayoutError(ValueError):
    """The nodes, the split or the overrides cannot make a run; the message says what to change."""


def node_marker(name: str) -> str:
    """Name of the marker resource a node advertises (``omni_r1_node:<host>``)."""
    return f"{NODE_MARKER_PREFIX}{name}"


@dataclass(frozen=True)
class StepShape:
    """What one training step asks of the trainer ranks (read from the composed config).

    Attributes:
        prompts: ``data.train_batch_size``.
        rollouts: ``actor_rollout_ref.rollout.n``.
        mini_batch_prompts: ``actor_rollout_ref.actor.ppo_mini_batch_size``.
        rollout_tp: ``actor_rollout_ref.rollout.tensor_model_parallel_size``.
    """

    prompts: int = 8
    rollouts: int = 8
    mini_batch_prompts: int = 8
    rollout_tp: int = 1

    @property
    def sequences(self) -> int:
        """Sequences per step."""
        return self.prompts * self.rollouts

    def problems(self, trainer_gpus_per_node: int, nnodes: int) -> list[str]:
        """Why a trainer share cannot run this step (empty when it can).

        Args:
            trainer_gpus_per_node: Trainer GPUs on each node.
            nnodes: Nodes.

        Returns:
            One sentence per problem.
        """
        world = trainer_gpus_per_node * nnodes
        found = []
        if self.sequences % world:
            found.append(
                f"{world} trainer ranks do not divide the {self.sequences} sequences of a step "
                f"(data.train_batch_size {self.prompts} x rollout.n {self.rollouts})"
            )
        mini = self.mini_batch_prompts * self.rollouts
        if mini % world and self.sequences % world == 0:
            found.append(
                f"{world} trainer ranks do not divide the {mini} sequences of a mini-batch "
                f"(actor.ppo_mini_batch_size {self.mini_batch_prompts} x rollout.n {self.rollouts})"
            )
        if trainer_gpus_per_node % self.rollout_tp:
            found.append(
                f"a vLLM replica of rollout.tensor_model_parallel_size {self.rollout_tp} GPUs does not tile "
                f"{trainer_gpus_per_node} trainer GPUs per node"
            )
        return found

    def prompts_for(self, world: int) -> int:
        """The smallest ``data.train_batch_size`` >= the current one whose sequences ``world`` ranks divide."""
        step = world // math.gcd(world, self.rollouts)
        return -(-self.prompts // step) * step


@dataclass(frozen=True)
class ClusterLayout:
    """Nodes, the trainer / System-2 split on each, and the commands of the run.

    Build it with :meth:`plan`, which checks everything; the constructor does not.

    Attributes:
        nodes: The nodes, head first.
        trainer_gpus_per_node: GPUs of each node for verl's trainer.
        system2_gpus_per_node: GPUs of each node for the detail pool.
        workers_per_gpu: Detail-pool workers sharing one System-2 GPU.
        step: The step shape the split was checked against.
        port: GCS port of the Ray head.
        cpus_per_node: CPUs each node gives Ray (``None``: Ray counts them).
        temp_dir: Ray's temporary directory on every node (``None``: Ray's default).
        python: Interpreter of the ``main_ppo`` command.
    """

    nodes: tuple[Node, ...]
    trainer_gpus_per_node: int
    system2_gpus_per_node: int
    workers_per_gpu: int = 1
    step: StepShape = field(default_factory=StepShape)
    port: int = 6379
    cpus_per_node: int | None = None
    temp_dir: str | None = None
    python: str = "python"

    @classmethod
    def plan(
        cls,
        nodes: Sequence[Node],
        system2_gpus_per_node: int | None = None,
        *,
        workers_per_gpu: int = 1,
        step: StepShape | None = None,
        head: str | None = None,
        port: int = 6379,
        cpus_per_node: int | None = None,
        temp_dir: str | None = None,
        python: str = "python",
    ) -> ClusterLayout:
        """Check the nodes and choose the split.

        Args:
            nodes: The allocation's nodes.
            system2_gpus_per_node: System-2 GPUs on each node; ``None`` picks the smallest share the step fits.
            workers_per_gpu: Detail-pool workers per System-2 GPU.
            step: The step shape (the recipe's when omitted).
            head: Node that runs the Ray head and the driver (the first node when omitted).
            port: GCS port of the Ray head.
            cpus_per_node: CPUs each node gives Ray.
            temp_dir: Ray's temporary directory on every node.
            python: Interpreter of the ``main_ppo`` command.

        Returns:
            The layout.

        Raises:
            LayoutError: Uneven or missing GPUs, a share that leaves no trainer or no System-2 GPU, or a split
                the step does not fit (the message names the nearest fix).
        """
        step = step or StepShape()
        nodes = list(nodes)
        gpus = check_nodes(nodes)
        if head is not None:
            if head not in {n.name for n in nodes}:
                raise LayoutError(f"head node {head!r} is not one of the nodes {[n.name for n in nodes]}")
            nodes.sort(key=lambda n: n.name != head)
        if workers_per_gpu < 1:
            raise LayoutError(f"workers per System-2 GPU must be >= 1, got {workers_per_gpu}")
        if not 0 < port < 65536:
            raise LayoutError(f"port {port} is not a TCP port")
        nnodes = len(nodes)
        if system2_gpus_per_node is None:
            share = next((d for d in range(1, gpus) if not step.problems(gpus - d, nnodes)), None)
            if share is None:
                raise LayoutError(_no_split_message(step, gpus, nnodes))
        else:
            share = system2_gpus_per_node
            if not 1 <= share <= gpus - 1:
                raise LayoutError(
                    f"System-2 GPUs per node must be between 1 and {gpus - 1} on {gpus}-GPU nodes, got {share}"
                )
            problems = step.problems(gpus - share, nnodes)
            if problems:
                raise LayoutError(
                    f"{share} System-2 GPU(s) per node leave {gpus - share} for the trainer: "
                    + _fixes(problems, step, gpus, nnodes, share)
                )
        return cls(
            nodes=tuple(nodes),
            trainer_gpus_per_node=gpus - share,
            system2_gpus_per_node=share,
            workers_per_gpu=workers_per_gpu,
            step=step,
            port=port,
            cpus_per_node=cpus_per_node,
            temp_dir=temp_dir,
            python=python,
        )

    @property
    def head(self) -> Node:
        """The node of the Ray head and the driver."""
        return self.nodes[0]

    @property
    def gpus_per_node(self) -> int:
        """GPUs of each node."""
        return self.trainer_gpus_per_node + self.system2_gpus_per_node

    @property
    def trainer_ranks(self) -> int:
        """Trainer ranks in all (``trainer.nnodes * trainer.n_gpus_per_node``)."""
        return self.trainer_gpus_per_node * len(self.nodes)

    @property
    def system2_workers(self) -> int:
        """Detail-pool workers in all."""
        return self.system2_gpus_per_node * len(self.nodes) * self.workers_per_gpu

    @property
    def gpus_per_worker(self) -> float:
        """GPU share of one detail-pool worker."""
        return 1.0 / self.workers_per_gpu

    def overrides(self) -> list[str]:
        """The Hydra overrides that put the trainer and the detail pool on their GPUs.

        Returns:
            ``key=value`` strings.
        """
        return [
            f"trainer.nnodes={len(self.nodes)}",
            f"trainer.n_gpus_per_node={self.trainer_gpus_per_node}",
            f"{SYSTEM2_PREFIX}.placement.mode=dedicated",
            f"{SYSTEM2_PREFIX}.placement.resource={SYSTEM2_RESOURCE}",
            f"{SYSTEM2_PREFIX}.placement.gpus_per_worker={self.gpus_per_worker:g}",
            f"{SYSTEM2_PREFIX}.placement.strategy=SPREAD",
            f"{SYSTEM2_PREFIX}.pool.num_workers={self.system2_workers}",
        ]

    def local_overrides(self) -> list[str]:
        """:meth:`overrides` for a single node whose Ray verl starts itself (``ray.init`` in ``main_ppo``).

        Returns:
            The overrides, plus the System-2 worker slots as a resource of that local Ray.
        """
        if len(self.nodes) != 1:
            raise LayoutError(f"a local Ray is one node; this layout has {len(self.nodes)}")
        slots = self.system2_gpus_per_node * self.workers_per_gpu
        return [*self.overrides(), f"+ray_kwargs.ray_init.resources.{SYSTEM2_RESOURCE}={slots}"]

    def resources(self, node: Node) -> dict[str, int]:
        """Custom Ray resources a node advertises: its System-2 worker slots and its marker."""
        return {SYSTEM2_RESOURCE: self.system2_gpus_per_node * self.workers_per_gpu, node_marker(node.name): 1}

    def ray_start(self, node: Node, head_ip: str) -> list[str]:
        """``ray start`` for one node (blocking: the process lives as long as the node's Ray).

        Args:
            node: The node.
            head_ip: IP address of the head node.

        Returns:
            The command line.
        """
        if node == self.head:
            command = ["ray", "start", "--head", f"--node-ip-address={head_ip}", f"--port={self.port}"]
            command.append("--include-dashboard=false")
        else:
            command = ["ray", "start", f"--address={head_ip}:{self.port}"]
        command += [
            f"--num-gpus={self.gpus_per_node}",
            f"--resources={json.dumps(self.resources(node), sort_keys=True)}",
        ]
        if self.cpus_per_node is not None:
            command.append(f"--num-cpus={self.cpus_per_node}")
        if self.temp_dir:
            command.append(f"--temp-dir={self.temp_dir}")
        return command + ["--disable-usage-stats", "--block"]

    def main_ppo(self, recipe: str, overrides: Sequence[str] = (), local: bool = False) -> list[str]:
        """verl's trainer command: the recipe, the layout's overrides, then the caller's.

        Args:
            recipe: Recipe config name (``omni_r1``, ``omni_r1_dapo``, ...).
            overrides: Further Hydra overrides (model, data, anything else); they come last.
            local: verl starts a local Ray itself (:meth:`local_overrides`) instead of joining a started cluster.

        Returns:
            The command line.

        Raises:
            LayoutError: When an override sets a key the layout owns.
        """
        check_overrides(overrides)
        layout = self.local_overrides() if local else self.overrides()
        return [self.python, *MAIN_PPO, f"+recipe={recipe}", *layout, *overrides]

    def expected(self) -> dict[str, dict[str, float]]:
        """Per node, the resources it must show once joined (GPUs, System-2 worker slots, marker)."""
        return {
            n.name: {key: float(amount) for key, amount in {"GPU": self.gpus_per_node, **self.resources(n)}.items()}
            for n in self.nodes
        }

    def describe(
        self, recipe: str, overrides: Sequence[str] = (), head_ip: str = "HEAD_IP", local: bool = False
    ) -> str:
        """What the launch will do, for people: the split, then every command.

        Args:
            recipe: Recipe config name.
            overrides: Hydra overrides after the layout's.
            head_ip: Head IP to show (a placeholder in dry runs).
            local: One node whose Ray ``main_ppo`` starts itself (no ``ray start``).

        Returns:
            Multi-line text.
        """
        n, s = len(self.nodes), self.step
        names = ", ".join(f"{node.name}{' (head)' if node == self.head else ''}" for node in self.nodes)
        per_rank = s.sequences // self.trainer_ranks
        lines = [
            f"nodes:     {n} x {self.gpus_per_node} GPUs: {names}",
            f"trainer:   {self.trainer_gpus_per_node} GPUs per node = {self.trainer_ranks} ranks (FSDP actor + ref, "
            f"vLLM rollout, TP {s.rollout_tp}); {s.sequences} sequences per step, {per_rank} per rank",
            f"system 2:  {self.system2_gpus_per_node} GPUs per node = {self.system2_workers} detail workers "
            f"({self.workers_per_gpu} per GPU: grounding VLM + SAM2), Ray resource {SYSTEM2_RESOURCE}",
            f"ray:       {'started by main_ppo' if local else f'head {self.head.name} {head_ip}:{self.port}'}",
            "",
        ]
        if not local:
            lines += [f"[{node.name}] {shlex.join(self.ray_start(node, head_ip))}" for node in self.nodes]
        command = self.main_ppo(recipe, overrides, local=local)
        program, args = command[: len(MAIN_PPO) + 2], command[len(MAIN_PPO) + 2 :]
        address = "" if local else f"RAY_ADDRESS={head_ip}:{self.port} "
        lines.append(f"[{self.head.name}] {address}{shlex.join(program)} \\")
        lines.extend(f"    {shlex.quote(arg)}" + (" \\" if i < len(args) - 1 else "") for i, arg in enumerate(args))
        return "\n".join(lines)

    def to_json(self, recipe: str, overrides: Sequence[str] = (), head_ip: str = "HEAD_IP") -> dict:
        """Machine-readable :meth:`describe`."""
        return {
            "nodes": [{"name": n.name, "gpus": n.gpus} for n in self.nodes],
            "head": self.head.name,
            "trainer_gpus_per_node": self.trainer_gpus_per_node,
            "system2_gpus_per_node": self.system2_gpus_per_node,
            "system2_workers": self.system2_workers,
            "ray_address": f"{head_ip}:{self.port}",
            "ray_start": {n.name: self.ray_start(n, head_ip) for n in self.nodes},
            "main_ppo": self.main_ppo(recipe, overrides),
            "expected_resources": self.expected(),
        }

    def to_shell(self, recipe: str, overrides: Sequence[str] = (), head_ip: str = "HEAD_IP") -> str:
        """Bash assignments the Slurm script sources (every value shell-quoted).

        Defines ``OMNI_R1_HEAD``, ``OMNI_R1_WORKERS`` (array), ``OMNI_R1_RAY_ADDRESS``, ``OMNI_R1_RAY_HEAD`` and
        ``OMNI_R1_RAY_WORKER_<i>`` (arrays, ``i`` indexing ``OMNI_R1_WORKERS``) and ``OMNI_R1_MAIN_PPO`` (array).
        """

        def array(name: str, values: Sequence[str]) -> str:
            return f"{name}=({' '.join(shlex.quote(v) for v in values)})"

        workers = list(self.nodes[1:])
        lines = [
            f"OMNI_R1_HEAD={shlex.quote(self.head.name)}",
            array("OMNI_R1_WORKERS", [w.name for w in workers]),
            f"OMNI_R1_RAY_ADDRESS={shlex.quote(f'{head_ip}:{self.port}')}",
            array("OMNI_R1_RAY_HEAD", self.ray_start(self.head, head_ip)),
            *(array(f"OMNI_R1_RAY_WORKER_{i}", self.ray_start(w, head_ip)) for i, w in enumerate(workers)),
            array("OMNI_R1_MAIN_PPO", self.main_ppo(recipe, overrides)),
        ]
        return "\n".join(lines) + "\n"


def check_nodes(nodes: Sequence[Node]) -> int:
    """Check that the nodes can hold a run: at least one, and the same number (>= 2) of GPUs on each.

    Args:
        nodes: The nodes.

    Returns:
        GPUs per node.

    Raises:
        LayoutError: Saying what to allocate instead.
    """
    if not nodes:
        raise LayoutError("no nodes: give at least one HOST:GPUS")
    counts = {n.gpus for n in nodes}
    if len(counts) > 1:
        listing = ", ".join(f"{n.name}: {n.gpus}" for n in nodes)
        raise LayoutError(
            f"the nodes have different GPU counts ({listing}); verl's trainer places trainer.n_gpus_per_node "
            "GPUs on each of trainer.nnodes nodes, so every node must have the same number: allocate equal "
            "nodes (#SBATCH --gpus-per-node=N) or leave the odd ones out (#SBATCH --exclude)"
        )
    gpus = counts.pop()
    if gpus < 2:
        raise LayoutError(
            f"each node has {gpus} GPU(s); the trainer and System 2 need at least one GPU each per node. On a "
            "single GPU run the 1-node script with system2.placement.mode=shared (System 2 on a fraction of "
            "the trainer's GPU)"
        )
    return gpus


def override_key(override: str) -> str:
    """The config key of a Hydra override (``+a.b=1`` -> ``a.b``; ``~a.b`` -> ``a.b``)."""
    return override.split("=", 1)[0].lstrip("+~")


def check_overrides(overrides: Sequence[str]) -> None:
    """Refuse overrides of keys the layout sets.

    Args:
        overrides: Hydra overrides.

    Raises:
        LayoutError: Naming the key and the launcher option to use instead.
    """
    owned = [o for o in overrides if override_key(o) in LAYOUT_KEYS]
    if owned:
        raise LayoutError(
            f"{', '.join(override_key(o) for o in owned)} is set by the launcher from the node list; choose the "
            "split with --system2-gpus-per-node / --workers-per-gpu instead of overriding it"
        )


def _batch_fix(step: StepShape, trainer_gpus_per_node: int, nnodes: int) -> StepShape | None:
    """The smallest larger batch (prompts = mini-batch prompts) a trainer share fits."""
    if trainer_gpus_per_node % step.rollout_tp:
        return None
    prompts = step.prompts_for(trainer_gpus_per_node * nnodes)
    fixed = dataclasses.replace(step, prompts=prompts, mini_batch_prompts=prompts)
    return None if fixed.problems(trainer_gpus_per_node, nnodes) else fixed


def _batch_hint(step: StepShape) -> str:
    return (
        f"data.train_batch_size={step.prompts} actor_rollout_ref.actor.ppo_mini_batch_size={step.prompts} "
        f"({step.sequences} sequences per step)"
    )


def _fixes(problems: list[str], step: StepShape, gpus: int, nnodes: int, share: int) -> str:
    hints = []
    valid = [d for d in range(1, gpus) if not step.problems(gpus - d, nnodes)]
    if valid:
        hints.append(f"--system2-gpus-per-node {' or '.join(map(str, valid))}")
    batch = _batch_fix(step, gpus - share, nnodes)
    if batch:
        hints.append(_batch_hint(batch))
    return "; ".join(problems) + (f". Fix: {'; or '.join(hints)}" if hints else "")


def _no_split_message(step: StepShape, gpus: int, nnodes: int) -> str:
    lines = [f"no split of {nnodes} node(s) x {gpus} GPUs fits a step:"]
    for share in range(1, gpus):
        lines.append(
            f"  {share} System-2 + {gpus - share} trainer GPUs: {'; '.join(step.problems(gpus - share, nnodes))}"
        )
    fixes = [(f.prompts, share, f) for share in range(1, gpus) if (f := _batch_fix(step, gpus - share, nnodes))]
    if fixes:
        _, share, fixed = min(fixes, key=lambda item: item[:2])
        lines.append(f"Fix: e.g. {_batch_hint(fixed)} with --system2-gpus-per-node {share}")
    else:
        lines.append("Fix: choose a rollout.tensor_model_parallel_size that divides the trainer GPUs of a node")
    return "\n".join(lines)
