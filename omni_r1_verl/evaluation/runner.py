"""The evaluation loop: rows -> System 1 -> System 2 -> per-sample records -> results.

:func:`run_eval` evaluates one prepared split. Every sample ends as one JSONL record (:mod:`.records`), whatever
happens to it: a malformed row, a corrupt video, missing ground truth or a model error is recorded with its status
and reason and scored as the official scripts score a missing prediction; nothing raises out of a sample. A rerun
with the same output folder skips the samples already recorded (``resume``), and the results are rebuilt from the
records alone, so a killed and resumed run ends with the same ``results.json`` and ``results.md`` bytes.

Work is done by an executor: in this process (:class:`LocalExecutor`), or over Ray with System-1 replicas and
System-2 workers on every GPU of a node or cluster (:class:`omni_r1_verl.evaluation.parallel.RayExecutor`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omni_r1_verl.data.omni_data_config import OmniDataConfig
from omni_r1_verl.data.system1_inputs import RowError
from omni_r1_verl.detail.config import DetailConfig
from omni_r1_verl.evaluation import report
from omni_r1_verl.evaluation.baselines import WITH_SYSTEM1, baseline_plan
from omni_r1_verl.evaluation.config import EvalConfig
from omni_r1_verl.evaluation.plan import Plan, plan_from_answer
from omni_r1_verl.evaluation.records import SAMPLES_FILE, RecordLog
from omni_r1_verl.evaluation.samples import BENCHMARKS, EvalSample, read_samples
from omni_r1_verl.evaluation.scorers import SCORERS, headline
from omni_r1_verl.metrics import MevisSubmission

logger = logging.getLogger(__name__)


@dataclass
class EvalSettings:
    """One evaluation run.

    Attributes:
        benchmark: ``revos``, ``mevis``, ``refavs`` or ``refcocog``.
        split: The split's name (labels only; the rows are ``data``).
        data: The prepared ``SPLIT.parquet`` (its rows point to the media and the ground-truth store).
        out: Output folder.
        model: System-1 checkpoint (needed by the ``model`` and ``zero-shot`` baselines).
        baseline: See :data:`omni_r1_verl.evaluation.baselines.BASELINES`.
        evaluation: The ``evaluation`` section.
        system2: The ``system2`` section.
        omni_data: The ``data.omni_r1`` section (System-1 media budgets, fps, prompt).
        save_masks: Write the predicted masks as COCO RLE under ``out/masks/``.
        resume: Skip samples already in ``out/samples.jsonl`` (else the file is started anew).
        limit: Evaluate only the first ``limit`` rows (0: all).
        workers: System-2 workers; with ``system1_replicas`` above 1 too, the run uses Ray.
        system1_replicas: System-1 replicas.
        use_ray: Use Ray even for one worker and one replica (joins ``RAY_ADDRESS`` when set).
        progress: Show a progress bar.
        device: Device of the in-process executor (``auto``, ``cpu``, ``cuda[:N]``).
    """

    benchmark: str
    split: str
    data: Path
    out: Path
    model: str = ""
    baseline: str = "model"
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    system2: DetailConfig = field(default_factory=DetailConfig)
    omni_data: OmniDataConfig = field(default_factory=OmniDataConfig)
    save_masks: bool = False
    resume: bool = True
    limit: int = 0
    workers: int = 1
    system1_replicas: int = 1
    use_ray: bool = False
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        from omni_r1_verl.evaluation.baselines import BASELINES

        self.data, self.out = Path(self.data), Path(self.out)
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {self.benchmark!r}; known: {', '.join(BENCHMARKS)}")
        if self.baseline not in BASELINES:
            raise ValueError(f"unknown baseline {self.baseline!r}; known: {', '.join(BASELINES)}")
        if self.needs_system1 and not self.model:
            raise ValueError(f"baseline {self.baseline!r} runs System 1: give --model")
        if self.workers < 1 or self.system1_replicas < 1 or self.limit < 0:
            raise ValueError("workers and system1_replicas must be >= 1, limit >= 0")

    @property
    def needs_system1(self) -> bool:
        """Whether the baseline runs System 1."""
        return self.baseline in WITH_SYSTEM1

    @property
    def parallel(self) -> bool:
        """Whether the run uses Ray."""
        return self.use_ray or self.workers > 1 or self.system1_replicas > 1


@dataclass
class Stage1:
    """A sample after System 1 (or a baseline's planner).

    Attributes:
        record: The record so far (``key``, ``index``, ``answer``, ``plan``, ``timings``; a failed sample's
            ``status``, ``reason`` and ``metrics`` too).
        sample: The parsed sample (``None`` for a malformed row).
        plan: System 2's plan (``None`` when the sample already failed).
    """

    record: dict[str, Any]
    sample: EvalSample | None = None
    plan: Plan | None = None

    @property
    def done(self) -> bool:
        """The sample failed before System 2 (its record is complete)."""
        return self.plan is None


class SamplePlanner:
    """Parses rows, runs System 1 (or a baseline) and plans System 2: the first stage of every executor.

    Args:
        settings: The run.
        system1: A loaded :class:`~omni_r1_verl.evaluation.system1.System1Engine` (``None`` for baselines without
            System 1).
    """

    def __init__(self, settings: EvalSettings, system1: Any = None) -> None:
        self.settings = settings
        self.system1 = system1

    def __call__(self, key: str, row: dict[str, Any] | None, position: int, problem: str = "") -> Stage1:
        """Stage 1 of one row. Never raises for the row's own problems."""
        record: dict[str, Any] = {"key": key, "index": position, "answer": None, "plan": None, "timings": {}}
        if problem or row is None:
            return self._fail(record, None, problem or "the row could not be read")
        try:
            sample = EvalSample.from_row(row, position)
        except RowError as err:
            return self._fail(record, None, str(err))
        record["index"] = sample.index
        expected = BENCHMARKS[self.settings.benchmark]
        if sample.task is not expected:
            return self._fail(
                record, sample, f"a {sample.task.value} row; {self.settings.benchmark} has {expected.value}"
            )
        cfg = self.settings.evaluation
        try:
            if self.system1 is None:
                plan = baseline_plan(self.settings.baseline, sample, cfg.oracle_keyframes)
            else:
                plan = self._answer(sample, record)
        except Exception as err:  # noqa: BLE001 - a corrupt video or a model error fails this sample only
            logger.warning("sample %s: %s: %s", key, type(err).__name__, err)
            return self._fail(record, sample, f"{type(err).__name__}: {err}")
        record["plan"] = plan.to_dict()
        return Stage1(record, sample, plan)

    def _answer(self, sample: EvalSample, record: dict[str, Any]) -> Plan:
        cfg, data = self.settings.evaluation, self.settings.omni_data
        start = time.perf_counter()
        messages, clip = sample.messages(data, cfg.clip_frames, cfg.system1.use_audio_in_video)
        (text,) = self.system1.generate([messages])
        record["timings"]["system1"] = time.perf_counter() - start
        record["answer"] = text
        record["clip"] = list(clip.frame_indices)
        return plan_from_answer(
            sample.task,
            text,
            clip,
            cfg.answer,
            image_hw=(sample.gt.height, sample.gt.width),
            image_pixels=(data.image_min_pixels, data.image_max_pixels),
            expression=sample.expression,
        )

    def _fail(self, record: dict[str, Any], sample: EvalSample | None, reason: str, status: str = "error") -> Stage1:
        metrics = None
        if sample is not None:
            try:
                metrics = SCORERS[self.settings.benchmark](sample, self.settings.evaluation).failed()
            except Exception as err:  # noqa: BLE001 - e.g. a row whose sizes make no sense: unscored, still recorded
                reason = f"{reason}; cannot be scored: {err}"
        record.update(status=status, reason=reason, metrics=metrics, keyframes=[], objects=0)
        return Stage1(record, sample)

    def fail(self, stage_or_key: Stage1 | str, row: dict | None, position: int, reason: str, status: str) -> Stage1:
        """A failed sample's stage (a worker died or raised on it), scored as a missing prediction.

        Args:
            stage_or_key: The sample's stage 1 when it had one, else its key.
            row: The row (used when there is no stage).
            position: Its position in the file.
            reason: Why.
            status: ``worker_died`` or ``error``.
        """
        if isinstance(stage_or_key, Stage1):
            return self._fail(dict(stage_or_key.record), stage_or_key.sample, reason, status)
        record = {"key": stage_or_key, "index": position, "answer": None, "plan": None, "timings": {}}
        try:
            sample = EvalSample.from_row(row, position) if row is not None else None
        except RowError:
            sample = None
        return self._fail(record, sample, reason, status)


def assemble(stage: Stage1, system2: dict[str, Any] | None) -> dict[str, Any]:
    """The final record of a sample from its two stages."""
    record = dict(stage.record)
    if system2 is not None:
        timings = {**record.get("timings", {}), **system2.pop("timings", {})}
        record.update(system2)
        record["timings"] = timings
    return record


class LocalExecutor:
    """Runs both stages in this process, one sample at a time.

    Args:
        settings: The run.
    """

    def __init__(self, settings: EvalSettings) -> None:
        from omni_r1_verl.evaluation.system1 import build_system1
        from omni_r1_verl.evaluation.system2 import System2Runner

        s = settings
        engine = None
        if s.needs_system1:
            engine = build_system1(s.model, dataclasses.replace(s.evaluation.system1, device=s.device), s.omni_data)
        self.planner = SamplePlanner(s, engine)
        self.system2 = System2Runner(s.benchmark, s.system2, s.evaluation, s.out, s.save_masks, s.device)

    def run(self, items: Iterable[tuple[str, dict | None, int, str]]) -> Iterator[dict[str, Any]]:
        """Records of the items, in order."""
        for key, row, position, problem in items:
            stage = self.planner(key, row, position, problem)
            yield assemble(stage, None if stage.done else self.system2.run(stage.sample, stage.plan))

    def close(self) -> None:
        """Nothing to release."""


def _progress(settings: EvalSettings, total: int, done: int):
    from tqdm import tqdm

    label = "gIoU" if settings.benchmark == "refcocog" else "J&F"
    return tqdm(
        total=total,
        initial=done,
        desc=f"eval {settings.benchmark}/{settings.split}",
        unit="sample",
        disable=not settings.progress,
        dynamic_ncols=True,
    ), label


def run_eval(settings: EvalSettings, executor: Any = None) -> dict[str, Any]:
    """Evaluate a split (see the module docstring).

    Args:
        settings: The run.
        executor: An executor with ``run(items)`` and ``close()`` (default: local, or Ray for a parallel run).

    Returns:
        The results (what ``results.json`` holds).
    """
    s = settings
    s.out.mkdir(parents=True, exist_ok=True)
    samples_path = s.out / SAMPLES_FILE
    if not s.resume and samples_path.exists():
        samples_path.unlink()
    rows = read_samples(s.data)
    if s.limit:
        rows = rows[: s.limit]
    wanted = {key for key, _, _ in rows}
    start = time.perf_counter()
    with RecordLog(samples_path) as log:
        done = {k for k in log.records if k in wanted}
        todo = [(key, row, n, problem) for n, (key, row, problem) in enumerate(rows) if key not in done]
        if done:
            logger.info("resuming: %d of %d samples already recorded in %s", len(done), len(rows), samples_path)
        figures = [h for k in done if (h := _headline(s.benchmark, log.records[k])) is not None]
        bar, label = _progress(s, len(rows), len(done))
        if todo:
            if executor is None:
                if s.parallel:
                    from omni_r1_verl.evaluation.parallel import RayExecutor

                    executor = RayExecutor(s)
                else:
                    executor = LocalExecutor(s)
            try:
                for record in executor.run(todo):
                    log.append(record)
                    value = _headline(s.benchmark, record)
                    if value is not None:
                        figures.append(value)
                    bar.update(1)
                    if figures:
                        bar.set_postfix_str(f"{label} {sum(figures) / len(figures):.1f}")
            finally:
                executor.close()
        bar.close()
        records = {k: log.records[k] for k in wanted if k in log.records}
    results = report.build_results(s.benchmark, s.split, s.baseline, records, run_settings(s))
    report.write_json(s.out / report.RESULTS_JSON, results)
    report.write_text(s.out / report.RESULTS_MD, report.render_markdown(results))
    report.write_json(s.out / report.TIMINGS_JSON, report.timing_summary(records.values(), time.perf_counter() - start))
    if s.benchmark == "mevis" and s.evaluation.mevis_submission:
        _pack_submission(s, rows)
    return results


def _headline(benchmark: str, record: dict[str, Any]) -> float | None:
    metrics = record.get("metrics")
    return headline(benchmark, {"key": record["key"], **metrics}) if isinstance(metrics, dict) else None


def _pack_submission(s: EvalSettings, rows: list) -> None:
    expected: dict[str, dict[str, list[str]]] = {}
    for n, (_, row, problem) in enumerate(rows):
        if problem or row is None:
            continue
        try:
            sample = EvalSample.from_row(row, n)
        except RowError:
            continue
        expected.setdefault(sample.video, {})[sample.exp_id] = sample.frame_names
    zip_path = MevisSubmission(s.out / "submission").pack(s.out / "submission.zip", expected)
    logger.info("MeViS submission: %s", zip_path)


def run_settings(s: EvalSettings) -> dict[str, Any]:
    """What results.json records about the run: everything that determines its numbers, nothing that varies."""
    system2 = s.system2.to_dict()
    for volatile in ("pool", "placement"):  # where and how many workers run does not change a figure
        system2.pop(volatile)
    checkpoints = {
        "system1": report.file_hashes(s.model) if s.needs_system1 else {},
        "sam2": report.file_hashes(s.system2.sam2.checkpoint),
        "grounding": report.file_hashes(s.system2.grounding.model_path) if s.system2.grounding.model_path else {},
    }
    return {
        "config": {
            "evaluation": s.evaluation.to_dict(),
            "system2": system2,
            "data.omni_r1": dataclasses.asdict(s.omni_data),
            "model": s.model,
            "save_masks": s.save_masks,
            "limit": s.limit,
        },
        "data": {"parquet": str(s.data), "sha256": report.file_hashes(s.data).get(s.data.name, "")},
        "checkpoints": checkpoints,
        "versions": report.versions(),
    }
