"""The CPU demo: tiny assets + synthetic omnimodal data + the ``main_ppo`` command that trains on them.

:func:`prepare_demo` builds (or reuses) everything under one directory, offline and deterministically:

* ``tiny/``: the tiny random Qwen2.5-Omni thinker and SAM2 checkpoints (:func:`omni_r1_verl.models.tiny.make_tiny`);
* ``raw/refavs``, ``raw/revos``: small synthetic datasets in the published RefAVS (audio + frame) and ReVOS (video)
  layouts (:mod:`omni_r1_verl.data.synthetic`);
* ``data/refavs``, ``data/revos``: their verl parquet rows and ground-truth stores (:func:`omni_r1_verl.data.prepare.
  prepare`), the same files ``omni-r1 prepare`` writes for the real datasets.

:func:`demo_overrides` gives the Hydra overrides of the run: the ``omni_r1`` recipe on the ``cpu_tiny`` platform,
the tiny thinker, both datasets. ``omni-r1 demo`` (:mod:`omni_r1_verl.cli.demo`) runs it with ``VERL_PLATFORM=cpu``
(:data:`omni_r1_verl.platform.CPU_PLATFORM_ENV`), which selects the opt-in CPU platform.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: Synthetic datasets of the demo: name -> (split, writer keyword arguments).
DEMO_DATASETS: dict[str, tuple[str, dict]] = {
    # Frame + 4 s soundtrack + a sound-referring expression (Ref-AVS layout); includes a null-target sample.
    "refavs": ("train", {"videos": 2, "audio_seconds": 4.0}),
    # 8 to 12-frame videos with moving shapes and referring / reasoning expressions (ReVOS layout).
    "revos": ("train", {"train_videos": 1, "valid_videos": 1, "min_frames": 8, "max_frames": 12}),
}


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo's inputs are.

    Attributes:
        root: The demo directory.
        thinker: Tiny Qwen2.5-Omni thinker checkpoint (the policy, and System 2's grounding model).
        sam2_config: Tiny SAM2 config for the ``sam2`` package.
        sam2_checkpoint: Tiny SAM2 checkpoint.
        train_files: Parquet rows, one file per dataset.
    """

    root: Path
    thinker: Path
    sam2_config: Path
    sam2_checkpoint: Path
    train_files: tuple[Path, ...]


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

    root = Path(root).expanduser().resolve()
    tiny_root = Path(tiny_dir).expanduser().resolve() if tiny_dir else root / "tiny"
    try:
        assets = TinyAssets.load(tiny_root)
    except FileNotFoundError:
        logger.info("building tiny assets in %s", tiny_root)
        assets = make_tiny(tiny_root, seed=seed)

    train_files = []
    for name, (split, kwargs) in DEMO_DATASETS.items():
        out = root / "data" / name
        paths = OutputPaths(out, split)
        if not paths.parquet.is_file():
            raw = root / "raw" / name
            if not raw.is_dir():
                synthetic.SYNTHESIZERS[name](raw, seed=seed, **kwargs)
            result = prepare(
                PrepareConfig(dataset=name, root=raw, split=split, out=out, workers=1, on_error="fail", progress=False)
            )
            if result.exit_code != 0 or not paths.parquet.is_file():
                raise RuntimeError(f"synthetic {name} did not convert; see {paths.report_txt}")
        train_files.append(paths.parquet)
    return DemoPaths(
        root=root,
        thinker=Path(assets.thinker),
        sam2_config=Path(assets.sam2_config),
        sam2_checkpoint=Path(assets.sam2_checkpoint),
        train_files=tuple(train_files),
    )


def demo_overrides(paths: DemoPaths, *, steps: int = 2, use_v1: bool = True) -> list[str]:
    """Hydra overrides of the demo run (further user overrides go after them and win).

    Args:
        paths: From :func:`prepare_demo`.
        steps: GRPO steps.
        use_v1: verl's default V1 trainer with TransferQueue (``True``) or the legacy trainer.

    Returns:
        The overrides.
    """
    files = ",".join(str(f) for f in paths.train_files)
    return [
        "+recipe=omni_r1",
        "+recipe/platform=cpu_tiny",
        f"actor_rollout_ref.model.path={paths.thinker}",
        f"data.train_files=[{files}]",
        # The legacy trainer always builds a validation set; the demo validates on its training rows.
        f"data.val_files=[{files}]",
        f"trainer.total_training_steps={steps}",
        f"trainer.use_v1={use_v1}",
        f"trainer.default_local_dir={paths.root / 'checkpoints'}",
        # Each demo run trains from scratch (pass trainer.resume_mode=auto to continue from the last checkpoint).
        "trainer.resume_mode=disable",
        "trainer.project_name=omni_r1_demo",
        "trainer.experiment_name=cpu_tiny",
        # System 2 on CPU: one worker, the tiny SAM2 and the tiny thinker as grounding model (random boxes).
        "reward.reward_kwargs.detail.placement.mode=cpu",
        "reward.reward_kwargs.detail.pool.num_workers=1",
        "reward.reward_kwargs.detail.pool.batch_window_s=0.5",
        "reward.reward_kwargs.detail.sam2.backend=sam2",
        f"reward.reward_kwargs.detail.sam2.config={paths.sam2_config}",
        f"reward.reward_kwargs.detail.sam2.checkpoint={paths.sam2_checkpoint}",
        "reward.reward_kwargs.detail.grounding.backend=transformers",
        f"reward.reward_kwargs.detail.grounding.model_path={paths.thinker}",
        "reward.reward_kwargs.detail.grounding.max_new_tokens=16",
    ]
