"""Lay a run out over cluster nodes, and wait until the Ray cluster holds every node's GPUs.

`plan` splits each node's GPUs between verl's trainer and the System-2 detail pool, checks the split against the
step the composed config asks for (sequences per step and per mini-batch divisible by the trainer ranks, vLLM
replicas within a node), and prints the ray start command of every node and the exact main_ppo command. It needs
no Slurm, no Ray cluster and no GPU: this is what `run_qwen2_5_omni_7b_slurm.sh --dry-run` shows. `wait` polls a
running Ray cluster until every node of a plan has joined with its GPUs, and names the nodes that did not.

exit status:
  0  planned / every node joined
  1  the nodes or the split cannot make a run (the message says what to change) / a node did not join in time
  2  bad command line

examples:
  omni-r1 cluster plan --nodes 'gpu[01-02]:8'
  omni-r1 cluster plan --nodes 'gpu[01-04]' --gpus-per-node 8 --recipe omni_r1_dapo data.train_batch_size=16
  omni-r1 cluster plan --nodes 'gpu01:8' --local --format overrides
  omni-r1 cluster wait --layout logs/omni_r1_1234/layout.json --timeout 600
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "cluster"
HELP = "plan a multi-node run (trainer / System-2 GPU split, ray start and main_ppo commands) and wait for Ray"

#: Files ``plan --out DIR`` writes.
PLAN_FILES = ("layout.txt", "layout.json", "layout.sh")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments.

    Args:
        parser: The sub-command parser.
    """
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    plan = sub.add_parser(
        "plan",
        help="print the layout and the commands of a run (no Slurm, Ray or GPU needed)",
        description="Split each node's GPUs between verl's trainer and the System-2 detail pool, check the split "
        "against the step of the composed config, and print the ray start and main_ppo commands.",
    )
    plan.add_argument("--nodes", required=True, help="node spec: Slurm host list with :GPUS, e.g. 'gpu[01-02]:8'")
    plan.add_argument("--gpus-per-node", type=int, help="GPUs of nodes the spec gives no count for")
    plan.add_argument("--head", help="node of the Ray head and the driver (default: the first)")
    plan.add_argument(
        "--system2-gpus-per-node",
        default="auto",
        help="GPUs of each node for the detail pool (default auto: the fewest that the step fits)",
    )
    plan.add_argument("--workers-per-gpu", type=int, default=1, help="detail-pool workers per System-2 GPU")
    plan.add_argument("--recipe", default="omni_r1", help="recipe config (omni_r1, omni_r1_avs, ..., omni_r1_dapo)")
    plan.add_argument("--port", type=int, default=6379, help="GCS port of the Ray head")
    plan.add_argument("--head-ip", default="HEAD_IP", help="IP of the head node (a placeholder in dry runs)")
    plan.add_argument("--cpus-per-node", type=int, help="CPUs each node gives Ray (default: Ray counts them)")
    plan.add_argument("--temp-dir", help="Ray's temporary directory on every node")
    plan.add_argument("--python", default="python", help="interpreter of the main_ppo command")
    plan.add_argument("--local", action="store_true", help="one node whose Ray main_ppo starts itself")
    plan.add_argument(
        "--set",
        dest="fixed",
        action="append",
        default=[],
        metavar="OVERRIDE",
        help="override put in the command but not composed (model, data and checkpoint paths); repeatable",
    )
    plan.add_argument(
        "--format",
        choices=("text", "json", "shell", "overrides"),
        default="text",
        help="text (default), json, shell (bash arrays) or overrides (main_ppo's overrides, one per line); "
        "the other formats also write the text to stderr",
    )
    plan.add_argument("--out", type=Path, help=f"also write {', '.join(PLAN_FILES)} into this directory")
    plan.add_argument("overrides", nargs="*", help="Hydra overrides of the run; composed to read the step shape")
    plan.set_defaults(_action=run_plan)

    wait = sub.add_parser(
        "wait",
        help="wait until every node of a plan joined the Ray cluster with its GPUs",
        description="Poll the Ray cluster of a plan until every node has joined with its GPUs and System-2 slots; "
        "exit 1 naming the nodes that did not, with their logs, at the deadline.",
    )
    wait.add_argument("--layout", type=Path, required=True, help="layout.json written by plan --out")
    wait.add_argument("--only", action="append", default=[], metavar="NODE", help="wait for these nodes only")
    wait.add_argument("--timeout", type=float, default=600.0, help="seconds before giving up (default 600)")
    wait.add_argument("--interval", type=float, default=5.0, help="seconds between polls (default 5)")
    wait.add_argument("--log-dir", type=Path, help="directory of the per-node logs, named in the error")
    wait.set_defaults(_action=run_wait)


def run(args: argparse.Namespace) -> int:
    """Run the chosen action.

    Args:
        args: Parsed arguments.

    Returns:
        The exit status.
    """
    return args._action(args)


def compose(overrides: list[str]):
    """Compose verl's ``ppo_trainer`` config from its YAML files, without importing verl (a second, not ten).

    Args:
        overrides: Hydra overrides.

    Returns:
        The composed ``DictConfig`` (equal to what ``main_ppo`` composes; nothing is instantiated).

    Raises:
        LayoutError: When verl is not installed or the config does not compose (the message is Hydra's).
    """
    import importlib.util

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from omni_r1_verl.cluster.layout import LayoutError

    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.origin:
        raise LayoutError("verl is not installed: pip install the recipe (it depends on verl)")
    config_dir = Path(spec.origin).parent / "trainer" / "config"
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            return hydra_compose(config_name="ppo_trainer", overrides=list(overrides))
    except Exception as err:  # noqa: BLE001 - any composition error is the user's to fix; show Hydra's message
        raise LayoutError(f"the config does not compose ({' '.join(overrides)}): {err}") from None
    finally:
        GlobalHydra.instance().clear()


def step_shape(recipe: str, overrides: list[str]):
    """The step shape of the composed run config.

    Args:
        recipe: Recipe config name.
        overrides: Hydra overrides.

    Returns:
        A :class:`~omni_r1_verl.cluster.layout.StepShape`.

    Raises:
        LayoutError: When the config does not compose.
    """
    from omni_r1_verl.cluster.layout import StepShape

    cfg = compose([f"+recipe={recipe}", *overrides])
    arr = cfg.actor_rollout_ref
    return StepShape(
        prompts=int(cfg.data.train_batch_size),
        rollouts=int(arr.rollout.n),
        mini_batch_prompts=int(arr.actor.ppo_mini_batch_size),
        rollout_tp=int(arr.rollout.tensor_model_parallel_size),
    )


def run_plan(args: argparse.Namespace) -> int:
    """Plan and print."""
    from omni_r1_verl.cluster.hostlist import HostlistError, parse_nodes
    from omni_r1_verl.cluster.layout import ClusterLayout, LayoutError, check_nodes, check_overrides

    try:
        nodes = parse_nodes(args.nodes, args.gpus_per_node)
        check_nodes(nodes)
        if args.local and len(nodes) != 1:
            raise LayoutError(f"--local plans one node, got {len(nodes)}")
        overrides = [*args.fixed, *args.overrides]
        check_overrides(overrides)
        share = None if args.system2_gpus_per_node == "auto" else _positive_int(args.system2_gpus_per_node)
        layout = ClusterLayout.plan(
            nodes,
            share,
            workers_per_gpu=args.workers_per_gpu,
            step=step_shape(args.recipe, args.overrides),
            head=args.head,
            port=args.port,
            cpus_per_node=args.cpus_per_node,
            temp_dir=args.temp_dir,
            python=args.python,
        )
    except (HostlistError, LayoutError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    command = layout.main_ppo(args.recipe, overrides, local=args.local)
    outputs = {
        "text": layout.describe(args.recipe, overrides, args.head_ip, local=args.local),
        "json": json.dumps(layout.to_json(args.recipe, overrides, args.head_ip), indent=2),
        "shell": layout.to_shell(args.recipe, overrides, args.head_ip).rstrip("\n"),
        "overrides": "\n".join(command[command.index(f"+recipe={args.recipe}") + 1 :]),
    }
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, key in zip(PLAN_FILES, ("text", "json", "shell")):
            (args.out / name).write_text(outputs[key] + "\n")
    if args.format != "text":
        print(outputs["text"], file=sys.stderr)
    print(outputs[args.format])
    return 0


def run_wait(args: argparse.Namespace, list_nodes=None) -> int:
    """Wait for the nodes of a plan.

    Args:
        args: Parsed arguments.
        list_nodes: Returns ``ray.nodes()``-style records; connects to the plan's Ray head when omitted.

    Returns:
        The exit status.
    """
    from omni_r1_verl.cluster.ray_wait import ClusterNotReady, ray_node_lister, wait_for_nodes

    try:
        plan = json.loads(args.layout.read_text())
        expected = plan["expected_resources"]
        address = plan["ray_address"]
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {args.layout} is not a layout.json of `omni-r1 cluster plan --out`: {err}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.only) - set(expected))
    if unknown:
        print(f"error: --only {unknown} not in the plan's nodes {sorted(expected)}", file=sys.stderr)
        return 2
    if args.only:
        expected = {name: expected[name] for name in args.only}

    def log_hint(name: str) -> str:
        return str(args.log_dir / f"ray-{name}.log") if args.log_dir else "its ray start output"

    connected = list_nodes is None
    list_nodes = list_nodes or ray_node_lister(address)
    try:
        wait_for_nodes(list_nodes, expected, args.timeout, interval_s=args.interval, log_hint=log_hint)
    except ClusterNotReady as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        if connected:
            import ray

            if ray.is_initialized():
                ray.shutdown()
    return 0


def _positive_int(value: str) -> int:
    from omni_r1_verl.cluster.layout import LayoutError

    if not value.isdigit():
        raise LayoutError(f"--system2-gpus-per-node takes a number or 'auto', got {value!r}")
    return int(value)
