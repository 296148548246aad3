"""Pictures during training: a few sampled rollouts of every validation step (and, when asked, of every k-th
training step) rendered to ``<run dir>/rollout_gallery/step_N/`` and to verl's image-capable loggers.

The hook sits in the ``omni_r1`` reward manager (:meth:`RolloutGallery.offer`, one call per scored trajectory),
the one place that sees a trajectory's response, its row (``extra_info``, ground truth) and the System-2 result
together. It costs nothing when the section is off (``gallery.validation=false``, ``gallery.train_every=0``): the
manager holds ``None`` and never calls it.

* **Step.** verl does not hand the trainer step to the reward loop, but every rollout server reports the step of
  the weights that produced a response (``TokenOutput.extra_fields["global_steps"]``, verl's vLLM server and our
  ``hf`` server alike), which reaches the manager in ``tool_extra_fields``. In verl's fit loop the weights of step
  N generate the validation after step N and the training rollouts of step N + 1, so a validation rollout belongs
  to step ``global_steps`` and a training rollout to ``global_steps + 1``.
* **Validation or training.** The row's ``extra_info.split``: ``train`` rows are training rollouts (the rule the
  dataset class and the length term already follow); every other split is validation.
* **Which rollouts.** Per (kind, step), the ``gallery.samples`` rollouts whose hash of (kind, step, sample id,
  response) is smallest: a uniform random sample that does not depend on the order rollouts finish in.
* **Where the work happens.** Off the reward path: trajectories of a gallery step go (fire-and-forget) to one
  collector, a named Ray actor shared by every reward worker (in this process without Ray). It keeps the current
  K smallest, draws each newly chosen rollout (:func:`omni_r1_verl.visualize.rollout.rollout_entry`), rewrites
  the step's ``index.html`` (and ``rollout_gallery/index.html``) at once, and sends the step's final pictures to
  the loggers when the step is over: a later step's first rollout arrives, or no rollout came for
  ``gallery.log_after_idle_s``.
* **Masks.** Training keeps no predicted masks (System 2 returns boxes and pixel counts), so the pictures show
  System 2's boxes against the ground-truth boxes on the keyframes, the ground-truth masks outlined, and each
  frame's J from the pixel counts; see :mod:`omni_r1_verl.visualize.rollout`.
* **Loggers.** ``trainer.logger``'s ``tensorboard`` gets ``add_image`` events in verl's own directory
  (``$TENSORBOARD_DIR`` or ``tensorboard_log/<project>/<experiment>``); ``wandb`` gets a companion run
  ``<experiment>-rollout-gallery`` in the project (the trainer's run lives in another process).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from omni_r1_verl.scoring.config import RewardConfig
from omni_r1_verl.utils.config import build, check, load_section, select

logger = logging.getLogger(__name__)

#: Where the section lives in the trainer config.
SECTION = "gallery"
#: Prefix of the collector actor's name (see :func:`collector_actor_name`).
COLLECTOR_ACTOR_NAME = "omni_r1_rollout_gallery"
#: Kinds of rollouts, in the order a step produces them.
TRAIN, VALIDATION = "train", "validation"
_KIND_ORDER = {TRAIN: 0, VALIDATION: 1}
_KIND_TITLE = {TRAIN: "training", VALIDATION: "validation"}


@dataclass
class GalleryConfig:
    """The training-time rollout gallery (``gallery`` section; off when ``validation`` is false and ``train_every``
    is 0).

    Attributes:
        validation: Draw rollouts of every validation step.
        train_every: Also draw rollouts of every this-many-th training step (0: never).
        samples: Rollouts drawn per step and kind (validation / training).
        stills: Overlay frames per rollout (keyframes first).
        width: Width the frames are drawn at (pixels; larger videos are reduced, smaller ones enlarged).
        dir: Gallery folder; empty: ``<trainer.default_local_dir>/rollout_gallery``.
        loggers: Also send the pictures to ``trainer.logger``'s ``wandb`` and ``tensorboard`` when enabled.
        log_after_idle_s: A step counts as over (its pictures go to the loggers) after this long without a
            rollout of it, or when a later step's rollout arrives.
    """

    SECTION: ClassVar[str] = SECTION

    validation: bool = True
    train_every: int = 0
    samples: int = 4
    stills: int = 4
    width: int = 640
    dir: str = ""
    loggers: bool = True
    log_after_idle_s: float = 120.0

    def __post_init__(self) -> None:
        check(self.train_every >= 0, f"train_every={self.train_every!r}: must be >= 0")
        check(self.samples >= 1, f"samples={self.samples!r}: must be >= 1")
        check(self.stills >= 0, f"stills={self.stills!r}: must be >= 0")
        check(self.width >= 64, f"width={self.width!r}: must be >= 64")
        check(self.log_after_idle_s > 0, f"log_after_idle_s={self.log_after_idle_s!r}: must be > 0")

    @property
    def enabled(self) -> bool:
        """Some step is drawn."""
        return self.validation or self.train_every > 0

    def wants(self, kind: str, step: int) -> bool:
        """Whether rollouts of this kind and step are drawn."""
        if kind == VALIDATION:
            return self.validation
        return self.train_every > 0 and step % self.train_every == 0


def rollout_step(tool_fields: Any, extra_info: Any) -> tuple[str, int] | None:
    """``(kind, trainer step)`` of a trajectory (see the module docstring), or ``None`` when its server reported no
    weight step."""
    version = tool_fields.get("global_steps") if isinstance(tool_fields, Mapping) else None
    if isinstance(version, bool) or not isinstance(version, int):
        try:
            version = int(version)  # numpy integers
        except (TypeError, ValueError):
            return None
    split = extra_info.get("split") if isinstance(extra_info, Mapping) else None
    kind = TRAIN if str(split) == "train" else VALIDATION
    return kind, version + 1 if kind == TRAIN else version


def selection_key(kind: str, step: int, sample: str, text: str) -> int:
    """A rollout's place in the uniform sample of its step: smaller keys are drawn first."""
    digest = hashlib.sha1(f"{kind}\0{step}\0{sample}\0{text}".encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class RunInfo:
    """What the collector needs of the trainer config.

    Attributes:
        root: The gallery folder.
        loggers: ``trainer.logger`` (only ``wandb`` and ``tensorboard`` are used).
        project: ``trainer.project_name``.
        experiment: ``trainer.experiment_name``.
    """

    root: str
    loggers: tuple[str, ...] = ()
    project: str = "omni_r1"
    experiment: str = "run"

    @classmethod
    def from_config(cls, config: Any, gallery: GalleryConfig) -> RunInfo:
        """Read ``trainer.*`` (verl's defaults when absent)."""
        run_dir = select(config, "trainer.default_local_dir") or "checkpoints"
        loggers = select(config, "trainer.logger") or ()
        loggers = (loggers,) if isinstance(loggers, str) else tuple(str(x) for x in loggers)
        return cls(
            root=gallery.dir or str(Path(str(run_dir)) / "rollout_gallery"),
            loggers=loggers if gallery.loggers else (),
            project=str(select(config, "trainer.project_name") or "omni_r1"),
            experiment=str(select(config, "trainer.experiment_name") or "run"),
        )


class _Loggers:
    """verl's image-capable loggers, from a process other than the trainer's; a failing one is turned off."""

    def __init__(self, run: RunInfo) -> None:
        self.run = run
        self._tensorboard = None
        self._wandb = None
        self.off: set[str] = set()

    def log(self, kind: str, step: int, images: list[tuple[str, Any]]) -> None:
        for name in ("tensorboard", "wandb"):
            if name in self.run.loggers and name not in self.off and images:
                try:
                    getattr(self, f"_log_{name}")(kind, step, images)
                except Exception as err:  # noqa: BLE001 - pictures must never stop training
                    logger.warning(
                        "rollout gallery: %s logging failed, turned off (%s: %s)", name, type(err).__name__, err
                    )
                    self.off.add(name)

    def _log_tensorboard(self, kind: str, step: int, images: list[tuple[str, Any]]) -> None:
        if self._tensorboard is None:
            from torch.utils.tensorboard import SummaryWriter

            default = os.path.join("tensorboard_log", self.run.project, self.run.experiment)
            self._tensorboard = SummaryWriter(os.environ.get("TENSORBOARD_DIR", default))
        for i, (caption, image) in enumerate(images):
            self._tensorboard.add_image(f"rollout_gallery/{kind}/{i}", image, step, dataformats="HWC")
            self._tensorboard.add_text(f"rollout_gallery/{kind}/{i}", caption, step)
        self._tensorboard.flush()

    def _log_wandb(self, kind: str, step: int, images: list[tuple[str, Any]]) -> None:
        import wandb

        if self._wandb is None:
            name = f"{self.run.experiment}-rollout-gallery"
            run_id = "gallery-" + hashlib.sha1(f"{self.run.project}/{name}".encode()).hexdigest()[:16]
            self._wandb = wandb.init(
                project=self.run.project, name=name, id=run_id, resume="allow", job_type="rollout_gallery"
            )
        self._wandb.log({f"rollout_gallery/{kind}": [wandb.Image(img, caption=cap) for cap, img in images]}, step=step)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()
        self._tensorboard = self._wandb = None


def collector_actor_name(root: str) -> str:
    """The collector actor of the gallery written to ``root``: one per run, even when runs share a Ray namespace."""
    return f"{COLLECTOR_ACTOR_NAME}-{hashlib.sha1(root.encode()).hexdigest()[:12]}"


@dataclass
class _Chosen:
    key: int
    score: float
    entry: Any


@dataclass
class _Step:
    chosen: list[_Chosen]
    touched: float
    closed: bool = False


class GalleryCollector:
    """Chooses, draws, writes and logs the rollouts of gallery steps (one per run; see the module docstring).

    Args:
        cfg: The ``gallery`` section (as a dict: it crosses into a Ray actor).
        run: :class:`RunInfo` as a dict.
        answer: The reward's ``answer`` section (parser limits) as a dict.
        watch: Start the thread that logs steps that went idle.
    """

    def __init__(self, cfg: Mapping[str, Any], run: Mapping[str, Any], answer: Mapping[str, Any], watch=True):
        from omni_r1_verl.scoring.config import AnswerConfig

        self.cfg = build(GalleryConfig, cfg, SECTION)
        self.run = RunInfo(**{**run, "loggers": tuple(run.get("loggers", ()))})
        self.answer = build(AnswerConfig, answer, "reward.reward_kwargs.answer")
        self.root = Path(self.run.root)
        self.steps: dict[tuple[str, int], _Step] = {}
        self.forgotten: set[tuple[str, int]] = set()
        self.loggers = _Loggers(self.run)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        if watch:
            threading.Thread(target=self._watch, name="rollout-gallery-idle", daemon=True).start()
        atexit.register(self.close)

    def offer(self, payload: Mapping[str, Any]) -> bool:
        """Consider one rollout of a gallery step.

        Args:
            payload: ``kind``, ``step``, ``key`` (:func:`selection_key`), ``text``, ``ground_truth``,
                ``extra_info``, ``detail``, ``metrics``.

        Returns:
            Whether it was drawn (it is among the step's smallest keys so far and rendered without error).
        """
        kind, step, key = str(payload["kind"]), int(payload["step"]), int(payload["key"])
        with self._lock:
            for other in [k for k in self.steps if _order(k) < _order((kind, step))]:
                self._close(other)  # a later step started: the earlier ones are over
                if other[1] < step:  # no page needs them any more
                    del self.steps[other]
                    self.forgotten.add(other)
            if (kind, step) in self.forgotten:
                return False  # a straggler of a step already logged
            state = self.steps.setdefault((kind, step), _Step([], time.monotonic()))
            if state.closed:
                return False
            state.touched = time.monotonic()
            if any(c.key == key for c in state.chosen):
                return False
            full = len(state.chosen) >= self.cfg.samples
            if full and key >= max(c.key for c in state.chosen):
                return False
        entry = self._draw(payload)
        if entry is None:
            return False
        with self._lock:
            if len(state.chosen) >= self.cfg.samples:
                state.chosen.remove(max(state.chosen, key=lambda c: c.key))
            state.chosen.append(_Chosen(key, float(payload["metrics"].get("score", 0.0)), entry))
            self._write(step)
        return True

    def _draw(self, payload: Mapping[str, Any]):
        from omni_r1_verl.visualize.rollout import rollout_entry

        extra = payload["extra_info"]
        title = f"{extra.get('sample_id', '?')} ({_KIND_TITLE[str(payload['kind'])]})"
        try:
            return rollout_entry(
                text=str(payload["text"]),
                ground_truth=payload["ground_truth"],
                extra_info=extra,
                detail=payload.get("detail"),
                metrics=payload["metrics"],
                title=title,
                answer_config=self.answer,
                stills=self.cfg.stills,
                width=self.cfg.width,
            )
        except Exception as err:  # noqa: BLE001 - an unreadable sample is skipped, never fatal
            logger.warning("rollout gallery: cannot draw %s (%s: %s)", title, type(err).__name__, err)
            return None

    def entries(self, kind: str, step: int) -> list:
        """The drawn entries of a step, best score first."""
        state = self.steps.get((kind, step))
        return [c.entry for c in sorted(state.chosen, key=lambda c: (-c.score, c.key))] if state else []

    def _write(self, step: int) -> None:
        from omni_r1_verl.visualize.gallery import write_gallery, write_gallery_index

        kinds = [k for k in (VALIDATION, TRAIN) if (k, step) in self.steps]
        entries = [e for k in kinds for e in self.entries(k, step)]
        counts = " and ".join(f"{len(self.entries(k, step))} {_KIND_TITLE[k]}" for k in kinds)
        subtitle = f"{self.run.experiment}: {counts} rollouts sampled uniformly, best score first"
        write_gallery(self.root / f"step_{step}", entries, f"Rollouts at step {step}", subtitle=subtitle)
        write_gallery_index(self.root)

    def _close(self, key: tuple[str, int]) -> None:
        """The step is over: its pictures go to the loggers (its page is written already)."""
        state = self.steps.get(key)
        if state is None or state.closed:
            return
        state.closed = True
        if self.run.loggers:
            from omni_r1_verl.visualize.gallery import gallery_images

            self.loggers.log(key[0], key[1], gallery_images(self.entries(*key)))

    def _watch(self) -> None:
        while not self._stop.wait(min(5.0, self.cfg.log_after_idle_s / 4)):
            self.log_idle()

    def log_idle(self, now: float | None = None) -> None:
        """Close every step without a rollout for ``log_after_idle_s`` (its pictures go to the loggers)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key, state in list(self.steps.items()):
                if now - state.touched >= self.cfg.log_after_idle_s:
                    self._close(key)

    def close(self) -> None:
        """Close every open step and the loggers (also run at exit)."""
        self._stop.set()
        with self._lock:
            for key in list(self.steps):
                self._close(key)
            self.loggers.close()


def _order(key: tuple[str, int]) -> tuple[int, int]:
    return key[1], _KIND_ORDER[key[0]]


_local: dict[str, GalleryCollector] = {}


class RolloutGallery:
    """The reward manager's side: decides whether a trajectory belongs to a gallery step and hands it over.

    Args:
        cfg: The ``gallery`` section.
        run: Where the gallery goes and which loggers are on.
        answer: The reward's ``answer`` section (the collector parses answers with the same limits).
    """

    def __init__(self, cfg: GalleryConfig, run: RunInfo, answer: Mapping[str, Any]) -> None:
        self.cfg, self.run, self.answer = cfg, run, dict(answer)
        self._collector = None
        self._warned = False

    @classmethod
    def from_config(cls, config: Any) -> RolloutGallery | None:
        """The hook of a trainer config, or ``None`` when the gallery is off (then it costs nothing).

        Raises:
            omni_r1_verl.utils.config.ConfigError: On an unknown key or invalid value of the section.
        """
        cfg = load_section(config, GalleryConfig)
        if not cfg.enabled:
            return None
        answer = asdict(load_section(config, RewardConfig).answer)
        return cls(cfg, RunInfo.from_config(config, cfg), answer)

    def collector(self):
        """The run's collector: the shared Ray actor when Ray is initialised, else one in this process."""
        if self._collector is None:
            import ray

            args = (asdict(self.cfg), asdict(self.run), self.answer)
            if ray.is_initialized():
                name = collector_actor_name(self.run.root)
                actor = ray.remote(GalleryCollector).options(name=name, get_if_exists=True, num_cpus=0)
                self._collector = _RemoteCollector(actor.remote(*args))
            else:
                self._collector = _local.setdefault(self.run.root, GalleryCollector(*args))
        return self._collector

    def offer(
        self,
        *,
        extra_info: Any,
        tool_fields: Any,
        ground_truth: Any,
        decode: Callable[[], str],
        result: Mapping[str, Any],
    ) -> None:
        """Hand a scored trajectory over if its step is drawn. Never raises, never waits for the drawing.

        Args:
            extra_info: The row's ``extra_info``.
            tool_fields: The agent loop's extra fields (``global_steps``, the System-2 result).
            ground_truth: ``reward_model.ground_truth``.
            decode: Returns the response text (called only for gallery steps).
            result: What the manager returns (``reward_score``, ``reward_extra_info``).
        """
        try:
            where = rollout_step(tool_fields, extra_info)
            if where is None:
                if not self._warned:
                    logger.warning("rollout gallery: the rollout server reports no global_steps; nothing is drawn")
                    self._warned = True
                return
            kind, step = where
            if not self.cfg.wants(kind, step):
                return
            text = decode()
            sample = str(extra_info.get("sample_id", "")) if isinstance(extra_info, Mapping) else ""
            from omni_r1_verl.contracts.system2 import DETAIL_KEY

            payload = {
                "kind": kind,
                "step": step,
                "key": selection_key(kind, step, sample, text),
                "text": text,
                "ground_truth": ground_truth,
                "extra_info": dict(extra_info),
                "detail": tool_fields.get(DETAIL_KEY),
                "metrics": dict(result.get("reward_extra_info", {})),
            }
            self.collector().offer(payload)
        except Exception as err:  # noqa: BLE001 - pictures must never fail a reward
            if not self._warned:
                logger.warning("rollout gallery: %s: %s (further errors are not logged)", type(err).__name__, err)
                self._warned = True


class _RemoteCollector:
    """Fire-and-forget client of the collector actor."""

    def __init__(self, actor) -> None:
        self.actor = actor

    def offer(self, payload: Mapping[str, Any]) -> None:
        self.actor.offer.remote(payload)
