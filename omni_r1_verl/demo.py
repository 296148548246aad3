"""The CPU demo: tiny assets + synthetic omnimodal data + the ``main_ppo`` command that trains on them.

:func:`prepare_demo` builds (or reuses) everything under one directory, offline and deterministically:

* ``tiny/``: the tiny Qwen2.5-Omni thinker and SAM2 checkpoints (:func:`omni_r1_verl.models.tiny.make_tiny`), with
  the thinker warm-started twice (:mod:`omni_r1_verl.models.warm_start`): ``policy_warm/`` is the policy (its
  sampled answers often parse, so System 2 runs and GRPO groups have a reward spread), ``grounder_warm/`` is
  System 2's grounding model;
* ``raw/refavs``, ``raw/revos``: small synthetic datasets in the published RefAVS (audio + frame) and ReVOS (video)
  layouts (:mod:`omni_r1_verl.data.synthetic`);
* ``data/refavs``, ``data/revos``: their verl parquet rows and ground-truth stores (:func:`omni_r1_verl.data.prepare.
  prepare`), the same files ``omni-r1 prepare`` writes for the real datasets: the training splits, and held-out
  splits (other videos) that the run validates on at its last step.

:func:`demo_overrides` gives the Hydra overrides of the run: the ``omni_r1`` recipe on the ``cpu_tiny`` platform,
the tiny thinker, both datasets. ``omni-r1 demo`` (:mod:`omni_r1_verl.cli.demo`) runs it with ``VERL_PLATFORM=cpu``
(:data:`omni_r1_verl.platform.CPU_PLATFORM_ENV`), which selects the opt-in CPU platform, on a Ray cluster of its own
or attached to a running one (:data:`ATTACH_OVERRIDES`, :func:`cluster_shortfall`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: ``cpu_tiny``'s ``ray_init`` arguments that size a cluster Ray starts itself; Ray rejects them when ``main_ppo``
#: attaches to a running cluster (RAY_ADDRESS, or a ``ray start`` head on this machine), which brings its own sizes.
ATTACH_OVERRIDES: tuple[str, ...] = (
    "ray_kwargs.ray_init.num_cpus=null",
    "ray_kwargs.ray_init.num_gpus=null",
    "ray_kwargs.ray_init._system_config=null",
)

#: Synthetic datasets of the demo: name -> (training split, held-out split, writer keyword arguments).
DEMO_DATASETS: dict[str, tuple[str, str, dict]] = {
    # Frame + 4 s soundtrack + a sound-referring expression (Ref-AVS layout); includes a null-target sample.
    "refavs": ("train", "val", {"videos": 2, "audio_seconds": 4.0}),
    # 8 to 12-frame videos with moving shapes and referring / reasoning expressions (ReVOS layout).
    "revos": ("train", "valid", {"train_videos": 1, "valid_videos": 1, "min_frames": 8, "max_frames": 12}),
}
#: Rollouts per prompt (GRPO group size): with 2 prompts per step, 8 trajectories, so a step's groups rarely all
#: score alike.
DEMO_GROUP_SIZE = 4
#: Learning rate of the tiny policy: the recipe's 1e-6 (for 7B weights, cosine-decayed over the run) leaves a
#: 2-layer, 64-wide model where it started in a few dozen steps.
DEMO_LR = 1e-4
#: Response budget of the demo (tokens): a think block and two moments of the answer schema fit.
DEMO_RESPONSE_TOKENS = 96
#: Grounding budget per keyframe (tokens): two boxes fit.
DEMO_GROUNDING_TOKENS = 48


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo's inputs are.

    Attributes:
        root: The demo directory.
        policy: The warm-started tiny Qwen2.5-Omni thinker, the policy.
        grounder: The warm-started tiny thinker System 2 grounds with.
        sam2_config: Tiny SAM2 config for the ``sam2`` package.
        sam2_checkpoint: Tiny SAM2 checkpoint.
        train_files: Parquet rows, one file per dataset.
        val_files: Held-out parquet rows, one file per dataset.
    """

    root: Path
    policy: Path
    grounder: Path
    sam2_config: Path
    sam2_checkpoint: Path
    train_files: tuple[Path, ...]
    val_files: tuple[Path, ...]


def prepare_demo(root: str | Path, *, seed: int = 0, tiny_dir: str | Path | None = None) -> DemoPaths:
    """Build the demo's assets and data under ``root`` (reusing what is already there).

    Args:
        root: Demo directory (created).
        seed: Seed of the tiny models and the synthetic data.
        tiny_dir: Existing ``make-tiny`` directory to use instead of ``root/tiny``.

    Returns:
        The paths.

    Raises:
        RuntimeError: If a synthetic dataset does not convert cleanly (the message names the report file).
    """
    from omni_r1_verl.data import synthetic
    from omni_r1_verl.data.prepare import OutputPaths, PrepareConfig, prepare
    from omni_r1_verl.models.tiny import TinyAssets, make_tiny
    from omni_r1_verl.models.warm_start import GROUNDER_DIR, POLICY_DIR, add_warm_start

    root = Path(root).expanduser().resolve()
    tiny_root = Path(tiny_dir).expanduser().resolve() if tiny_dir else root / "tiny"
    try:
        assets = TinyAssets.load(tiny_root)
    except FileNotFoundError:
        logger.info("building tiny assets in %s", tiny_root)
        assets = make_tiny(tiny_root, seed=seed)
    assets = add_warm_start(assets)  # cached in the tiny directory

    files: dict[int, list[Path]] = {0: [], 1: []}
    for name, (*splits, kwargs) in DEMO_DATASETS.items():
        raw = root / "raw" / name
        for which, split in enumerate(splits):
            out = root / "data" / name
            paths = OutputPaths(out, split)
            if not paths.parquet.is_file():
                if not raw.is_dir():
                    synthetic.SYNTHESIZERS[name](raw, seed=seed, **kwargs)
                config = PrepareConfig(
                    dataset=name, root=raw, split=split, out=out, workers=1, on_error="fail", progress=False
                )
                result = prepare(config)
                if result.exit_code != 0 or not paths.parquet.is_file():
                    raise RuntimeError(f"synthetic {name} ({split}) did not convert; see {paths.report_txt}")
            files[which].append(paths.parquet)
    return DemoPaths(
        root=root,
        policy=Path(assets.extra[POLICY_DIR]),
        grounder=Path(assets.extra[GROUNDER_DIR]),
        sam2_config=Path(assets.sam2_config),
        sam2_checkpoint=Path(assets.sam2_checkpoint),
        train_files=tuple(files[0]),
        val_files=tuple(files[1]),
    )


def demo_overrides(paths: DemoPaths, *, steps: int = 2, use_v1: bool = True, attach: bool = False) -> list[str]:
    """Hydra overrides of the demo run (further user overrides go after them and win).

    Args:
        paths: From :func:`prepare_demo`.
        steps: GRPO steps.
        use_v1: verl's default V1 trainer with TransferQueue (``True``) or the legacy trainer.
        attach: ``main_ppo`` will attach to a running Ray cluster: drop the cluster sizes (:data:`ATTACH_OVERRIDES`).

    Returns:
        The overrides.
    """
    train = ",".join(str(f) for f in paths.train_files)
    val = ",".join(str(f) for f in paths.val_files)
    overrides = [
        "+recipe=omni_r1",
        "+recipe/platform=cpu_tiny",
        f"actor_rollout_ref.model.path={paths.policy}",
        f"data.train_files=[{train}]",
        # Held-out videos, validated at the last step (greedy, verl's val-core / val-aux metrics).
        f"data.val_files=[{val}]",
        f"trainer.test_freq={steps}",
        f"data.max_response_length={DEMO_RESPONSE_TOKENS}",
        f"actor_rollout_ref.rollout.n={DEMO_GROUP_SIZE}",
        f"actor_rollout_ref.actor.optim.lr={DEMO_LR}",
        f"trainer.total_training_steps={steps}",
        # The demo's rows make a few steps per epoch: enough epochs that the run reaches `steps`.
        f"trainer.total_epochs={steps}",
        f"trainer.use_v1={use_v1}",
        f"trainer.default_local_dir={paths.root / 'checkpoints'}",
        # Each demo run trains from scratch (pass trainer.resume_mode=auto to continue from the last checkpoint).
        "trainer.resume_mode=disable",
        "trainer.project_name=omni_r1_demo",
        "trainer.experiment_name=cpu_tiny",
        # System 2 on CPU: one worker, the tiny SAM2 and the warm-started tiny grounder.
        "system2.placement.mode=cpu",
        "system2.pool.num_workers=1",
        "system2.pool.batch_window_s=0.5",
        "system2.sam2.backend=sam2",
        f"system2.sam2.config={paths.sam2_config}",
        f"system2.sam2.checkpoint={paths.sam2_checkpoint}",
        "system2.grounding.backend=transformers",
        f"system2.grounding.model_path={paths.grounder}",
        f"system2.grounding.max_new_tokens={DEMO_GROUNDING_TOKENS}",
    ]
    if attach:
        overrides += ATTACH_OVERRIDES
    return overrides


def cluster_shortfall(overrides: list[str], resources: dict[str, float]) -> list[str]:
    """What a running cluster lacks for a run.

    The ``cpu_tiny`` platform sizes its own cluster with ``ray_init.num_cpus`` logical CPUs and ``num_gpus`` logical
    GPUs (FSDP ranks on the ``cpu`` platform); an attached cluster must offer as many.

    Args:
        overrides: The run's Hydra overrides, without :data:`ATTACH_OVERRIDES`.
        resources: The cluster's ``ray.cluster_resources()``.

    Returns:
        One line per missing resource (empty when the cluster suffices).
    """
    from omegaconf import OmegaConf

    from omni_r1_verl.doctor import compose_config

    cfg = compose_config(overrides)
    missing = []
    for key, resource in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
        needed = OmegaConf.select(cfg, f"ray_kwargs.ray_init.{key}", default=None)
        offered = resources.get(resource, 0.0)
        if needed is not None and offered < float(needed):
            missing.append(f"{resource}: the run declares {float(needed):g}, the cluster offers {offered:g}")
    return missing


def cluster_problem(address: str, overrides: list[str]) -> str | None:
    """Why the running cluster cannot host a run, or ``None`` (connects to it for a moment; never raises).

    Args:
        address: The cluster's address (:func:`omni_r1_verl.ray_cluster.attach_address`), for the message.
        overrides: The run's Hydra overrides, without :data:`ATTACH_OVERRIDES`.

    Returns:
        A one-line explanation with its fix, or ``None`` when the cluster suffices.
    """
    from omni_r1_verl.ray_cluster import cluster_resources

    try:
        missing = cluster_shortfall(overrides, cluster_resources())
    except Exception as err:  # noqa: BLE001 - a cluster we cannot use is reported, not raised
        auth = "" if os.environ.get("RAY_AUTH_MODE") else " (with token authentication, set RAY_AUTH_MODE=token)"
        return f"cannot use the Ray cluster at {address}{auth}: {err}"
    if not missing:
        return None
    return (
        f"the Ray cluster at {address} is too small for the demo ({'; '.join(missing)}): start it with logical slots "
        "(`ray start --head --num-cpus=16 --num-gpus=1`), or run beside it with RAY_ADDRESS=local"
    )
