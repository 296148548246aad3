"""The trainer / System-2 split on fake node lists, the commands it yields, and the refusals."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from omni_r1_verl.cluster.hostlist import parse_nodes
from omni_r1_verl.cluster.layout import (
    SYSTEM2_RESOURCE,
    ClusterLayout,
    LayoutError,
    StepShape,
    check_overrides,
    node_marker,
)

RECIPE_STEP = StepShape(prompts=8, rollouts=8, mini_batch_prompts=8, rollout_tp=1)


def _value(overrides: list[str], key: str) -> str:
    (value,) = [o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key]
    return value


@pytest.mark.parametrize(("spec", "nnodes"), [("gpu01:8", 1), ("gpu[01-02]:8", 2), ("gpu[01-04]:8", 4)])
def test_every_node_splits_the_same_way_and_the_step_divides_evenly(spec, nnodes):
    layout = ClusterLayout.plan(parse_nodes(spec), step=RECIPE_STEP)
    assert len(layout.nodes) == nnodes and layout.head.name == "gpu01"
    trainer, system2 = layout.trainer_gpus_per_node, layout.system2_gpus_per_node
    assert trainer + system2 == 8 and system2 >= 1
    assert RECIPE_STEP.sequences % (trainer * nnodes) == 0  # verl's even split of a step over the trainer ranks
    overrides = layout.overrides()
    assert _value(overrides, "trainer.nnodes") == str(nnodes)
    assert _value(overrides, "trainer.n_gpus_per_node") == str(trainer)
    assert _value(overrides, "system2.pool.num_workers") == str(system2 * nnodes)
    assert _value(overrides, "system2.placement.mode") == "dedicated"
    assert _value(overrides, "system2.placement.resource") == SYSTEM2_RESOURCE
    # Each node advertises its GPUs, its System-2 slots and its own marker, and nothing else differs.
    expected = layout.expected()
    assert set(expected) == {n.name for n in layout.nodes}
    for name, resources in expected.items():
        assert resources == {"GPU": 8.0, SYSTEM2_RESOURCE: float(system2), node_marker(name): 1.0}


def test_the_fewest_system2_gpus_that_fit_the_step_are_chosen():
    # 8 x 8 sequences: 7 or 6 trainer GPUs do not divide 64, 5 does not either; 4 does.
    assert ClusterLayout.plan(parse_nodes("n1:8"), step=RECIPE_STEP).system2_gpus_per_node == 4
    # 12 prompts x 8 = 96 sequences: 6 trainer GPUs per node on 1 or 2 nodes divide them.
    step = StepShape(prompts=12, rollouts=8, mini_batch_prompts=12)
    assert ClusterLayout.plan(parse_nodes("n[1-2]:8"), step=step).system2_gpus_per_node == 2
    # A vLLM replica of 4 GPUs needs the trainer share to be a multiple of 4.
    step = StepShape(prompts=12, rollouts=8, mini_batch_prompts=12, rollout_tp=4)
    assert ClusterLayout.plan(parse_nodes("n1:8"), step=step).trainer_gpus_per_node == 4


def test_uneven_gpu_counts_are_refused_naming_each_node():
    with pytest.raises(LayoutError, match=r"different GPU counts \(gpu01: 8, gpu02: 8, gpu03: 4\)"):
        ClusterLayout.plan(parse_nodes("gpu[01-02]:8,gpu03:4"))


@pytest.mark.parametrize(
    ("spec", "share", "message"),
    [
        ("n1:1", None, "at least one GPU each"),
        ("n1:8", 8, "between 1 and 7"),
        ("n1:8", 0, "between 1 and 7"),
        ("", None, "no nodes"),
    ],
)
def test_splits_without_a_trainer_or_a_system2_gpu_are_refused(spec, share, message):
    nodes = parse_nodes(spec, 8) if spec else []
    with pytest.raises(LayoutError, match=message):
        ClusterLayout.plan(nodes, share, step=RECIPE_STEP)


def test_a_split_the_step_does_not_fit_names_the_fixes():
    with pytest.raises(LayoutError) as err:
        ClusterLayout.plan(parse_nodes("n1:8"), 2, step=RECIPE_STEP)
    message = str(err.value)
    assert "6 trainer ranks do not divide the 64 sequences" in message
    assert "--system2-gpus-per-node 4 or 6 or 7" in message
    # The suggested batch really fits 6 ranks.
    assert "data.train_batch_size=9 actor_rollout_ref.actor.ppo_mini_batch_size=9" in message
    assert not StepShape(prompts=9, rollouts=8, mini_batch_prompts=9).problems(6, 1)


def test_no_split_at_all_lists_each_and_a_batch_that_fits():
    step = StepShape(prompts=1, rollouts=3, mini_batch_prompts=1)  # 3 sequences: only 1 or 3 ranks divide them
    with pytest.raises(LayoutError) as err:
        ClusterLayout.plan(parse_nodes("n[1-2]:4"), step=step)
    message = str(err.value)
    assert message.count("trainer GPUs:") == 3
    assert "Fix: e.g. data.train_batch_size=" in message


def test_mini_batches_and_replicas_are_checked_too():
    assert "mini-batch" in " ".join(StepShape(prompts=8, rollouts=8, mini_batch_prompts=1).problems(8, 2))
    assert "does not tile" in " ".join(StepShape(rollout_tp=4).problems(2, 1))
    assert StepShape().problems(4, 2) == []


def test_workers_per_gpu_share_the_system2_gpus():
    layout = ClusterLayout.plan(parse_nodes("n[1-2]:8"), 4, workers_per_gpu=2, step=RECIPE_STEP)
    assert layout.system2_workers == 16 and layout.gpus_per_worker == 0.5
    assert _value(layout.overrides(), "system2.placement.gpus_per_worker") == "0.5"
    assert layout.resources(layout.head)[SYSTEM2_RESOURCE] == 8


def test_head_comes_first_and_starts_the_cluster():
    step = StepShape(prompts=12, rollouts=8, mini_batch_prompts=12)
    layout = ClusterLayout.plan(
        parse_nodes("n[1-3]:8"), head="n2", port=23456, cpus_per_node=32, temp_dir="/tmp/r", step=step
    )
    assert [n.name for n in layout.nodes] == ["n2", "n1", "n3"]
    head = layout.ray_start(layout.head, "10.0.0.2")
    worker = layout.ray_start(layout.nodes[1], "10.0.0.2")
    assert head[:3] == ["ray", "start", "--head"] and "--port=23456" in head and "--node-ip-address=10.0.0.2" in head
    assert "--address=10.0.0.2:23456" in worker and "--head" not in worker
    for command, node in ((head, "n2"), (worker, "n1")):
        assert command[-1] == "--block" and "--num-gpus=8" in command and "--num-cpus=32" in command
        assert "--temp-dir=/tmp/r" in command
        (resources,) = [c.split("=", 1)[1] for c in command if c.startswith("--resources=")]
        assert json.loads(resources) == {SYSTEM2_RESOURCE: 4, node_marker(node): 1}
    with pytest.raises(LayoutError, match="not one of the nodes"):
        ClusterLayout.plan(parse_nodes("n[1-3]:8"), head="n9")


def test_main_ppo_puts_the_recipe_then_the_layout_then_the_callers_overrides():
    layout = ClusterLayout.plan(parse_nodes("n[1-2]:8"), step=RECIPE_STEP)
    command = layout.main_ppo("omni_r1_dapo", ["data.train_files=[a.parquet,b.parquet]", "trainer.total_epochs=2"])
    assert command[:4] == ["python", "-m", "verl.trainer.main_ppo", "+recipe=omni_r1_dapo"]
    assert command[4 : 4 + len(layout.overrides())] == layout.overrides()
    assert command[-2:] == ["data.train_files=[a.parquet,b.parquet]", "trainer.total_epochs=2"]
    local = ClusterLayout.plan(parse_nodes("h:8"), step=RECIPE_STEP).main_ppo("omni_r1", local=True)
    assert f"+ray_kwargs.ray_init.resources.{SYSTEM2_RESOURCE}=4" in local
    with pytest.raises(LayoutError, match="a local Ray is one node"):
        layout.local_overrides()


@pytest.mark.parametrize(
    "override",
    ["trainer.n_gpus_per_node=6", "+system2.pool.num_workers=3", "trainer.nnodes=4", "system2.placement.mode=shared"],
)
def test_overrides_of_layout_keys_are_refused(override):
    with pytest.raises(LayoutError, match="set by the launcher"):
        check_overrides(["trainer.total_epochs=1", override])
    layout = ClusterLayout.plan(parse_nodes("n1:8"))
    with pytest.raises(LayoutError, match="set by the launcher"):
        layout.main_ppo("omni_r1", [override])


def test_describe_shows_the_split_and_every_command():
    layout = ClusterLayout.plan(parse_nodes("gpu[01-02]:8"), step=RECIPE_STEP)
    text = layout.describe("omni_r1", ["trainer.total_epochs=2"], head_ip="10.1.2.3")
    assert "2 x 8 GPUs: gpu01 (head), gpu02" in text
    assert "4 GPUs per node = 8 ranks" in text and "8 detail workers" in text
    assert "[gpu01] ray start --head" in text and "[gpu02] ray start --address=10.1.2.3:6379" in text
    assert "[gpu01] RAY_ADDRESS=10.1.2.3:6379 python -m verl.trainer.main_ppo +recipe=omni_r1 \\" in text
    assert text.rstrip().endswith("trainer.total_epochs=2")
    # The command block is valid shell: joined, it parses back to the command.
    block = text[text.index("RAY_ADDRESS") :].replace("\\\n", " ")
    assert shlex.split(block)[1:] == layout.main_ppo("omni_r1", ["trainer.total_epochs=2"])


def test_shell_assignments_round_trip_through_bash(tmp_path):
    layout = ClusterLayout.plan(parse_nodes("gpu[01-03]:8"), step=StepShape(prompts=12, mini_batch_prompts=12))
    tricky = ["data.train_files=[a b.parquet,'c'.parquet]", 'trainer.experiment_name="x $HOME y"']
    script = tmp_path / "layout.sh"
    script.write_text(layout.to_shell("omni_r1", tricky, head_ip="10.0.0.1"))
    probe = (
        f"source {shlex.quote(str(script))}; "
        'printf "%s\\n" "$OMNI_R1_HEAD" "${#OMNI_R1_WORKERS[@]}" "$OMNI_R1_RAY_ADDRESS"; '
        'cmd="OMNI_R1_RAY_WORKER_1[@]"; printf "W:%s\\n" "${!cmd}"; printf "M:%s\\n" "${OMNI_R1_MAIN_PPO[@]}"'
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[:3] == ["gpu01", "2", "10.0.0.1:6379"]
    assert [line[2:] for line in out if line.startswith("W:")] == layout.ray_start(layout.nodes[2], "10.0.0.1")
    assert [line[2:] for line in out if line.startswith("M:")] == layout.main_ppo("omni_r1", tricky)
