"""Convert one split of a dataset into verl parquet rows, a ground-truth store and a validation report.

Outputs, all under ``out``::

    <split>.parquet        rows (omni_r1_verl.data.rows.ROW_SCHEMA): what verl's data.train_files / val_files take
    <split>.gt/            ground-truth store (omni_r1_verl.data.gt_store), for datasets with masks
    <split>.media/         images extracted from datasets that embed them (refCOCOg)
    <split>.report.json    every issue, counts, skipped samples, statistics
    <split>.report.txt     the same, summarised for people

Work is staged in a hidden directory and moved into place only when the split converted, so a failed or
interrupted run never leaves half-written outputs next to good ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from omni_r1_verl.data.converters import get_converter
from omni_r1_verl.data.converters.base import Converter, Unit, UnitResult, VerifyMedia
from omni_r1_verl.data.gt_store import GroundTruthWriter
from omni_r1_verl.data.report import DatasetLayoutError, Issue, ValidationReport
from omni_r1_verl.data.rows import write_rows
from omni_r1_verl.data.sampling import stable_seed
from omni_r1_verl.utils import fast_json
from omni_r1_verl.utils.fork_map import Failure, ForkMap, fork_available
from omni_r1_verl.utils.memory import gc_paused

logger = logging.getLogger(__name__)

#: Exit statuses of ``omni-r1 prepare``.
EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_UNREADABLE = 2


def default_workers() -> int:
    """Worker processes used when not told: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class PrepareConfig:
    """What to convert and how.

    Attributes:
        dataset: Registered converter name (``revos``, ``mevis``, ``refavs``, ``refcocog``).
        root: Dataset root in its published layout.
        split: Split to convert.
        out: Output directory.
        workers: Worker processes (1 converts in this process).
        on_error: ``skip`` writes everything convertible and reports the rest; ``fail`` writes nothing but the
            report if anything is wrong.
        verify_media: How thoroughly to check media files (:class:`VerifyMedia`).
        max_samples: Keep a deterministic, seeded subset of this many samples (e.g. the paper's 1,600 RefAVS ones).
        seed: Seed of that subset.
        progress: Show a progress bar.
        unit_timeout_s: Seconds a worker process may spend on one unit (a video) before it is killed and the unit
            retried, then skipped with a ``worker_died`` error; ``None``: no limit. Not applied with one worker,
            which converts in this process.
    """

    dataset: str
    root: Path
    split: str
    out: Path
    workers: int = field(default_factory=default_workers)
    on_error: str = "skip"
    verify_media: VerifyMedia = VerifyMedia.HEADER
    max_samples: int | None = None
    seed: int = 0
    progress: bool = True
    unit_timeout_s: float | None = 1800.0

    def __post_init__(self) -> None:
        self.root, self.out = Path(self.root), Path(self.out)
        self.verify_media = VerifyMedia(self.verify_media)
        if self.on_error not in ("skip", "fail"):
            raise ValueError(f"on_error must be 'skip' or 'fail', got {self.on_error!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.max_samples is not None and self.max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {self.max_samples}")
        if self.unit_timeout_s is not None and self.unit_timeout_s <= 0:
            raise ValueError(f"unit_timeout_s must be > 0 or None, got {self.unit_timeout_s}")


@dataclass(frozen=True)
class OutputPaths:
    """Where one split's outputs go."""

    out: Path
    split: str

    @property
    def parquet(self) -> Path:
        return self.out / f"{self.split}.parquet"

    @property
    def gt_store(self) -> Path:
        return self.out / f"{self.split}.gt"

    @property
    def media(self) -> Path:
        return self.out / f"{self.split}.media"

    @property
    def report_json(self) -> Path:
        return self.out / f"{self.split}.report.json"

    @property
    def report_txt(self) -> Path:
        return self.out / f"{self.split}.report.txt"


@dataclass
class PrepareResult:
    """Outcome of :func:`prepare`."""

    report: ValidationReport
    exit_code: int
    paths: OutputPaths


def prepare(config: PrepareConfig) -> PrepareResult:
    """Convert one split (see the module docstring for the outputs).

    Args:
        config: What to convert.

    Returns:
        The report, the exit status (:data:`EXIT_OK`, :data:`EXIT_ERRORS` when errors abort a ``fail`` run or no
        sample converted, :data:`EXIT_UNREADABLE` when the dataset cannot be read) and the output paths.
    """
    start = time.perf_counter()
    paths = OutputPaths(config.out, config.split)
    report = ValidationReport(config.dataset, config.split, str(Path(config.root).resolve()), config.on_error)
    config.out.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(config.out, config.split)
    staging = config.out / f".{config.split}.staging-{os.getpid()}"
    staging.mkdir()
    try:
        code = _convert(config, paths, staging, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.stats["seconds"] = round(time.perf_counter() - start, 3)
    report.stats["workers"] = config.workers
    report.write(paths.report_json, paths.report_txt)
    return PrepareResult(report, code, paths)


def _convert(config: PrepareConfig, paths: OutputPaths, staging: Path, report: ValidationReport) -> int:
    cls = get_converter(config.dataset)
    media_out = staging / "media" if cls.writes_media else None
    if media_out is not None:
        media_out.mkdir()
    converter = cls(config.root, config.split, config.verify_media, media_out=media_out)
    try:
        with gc_paused():  # metadata is many small objects and no cycles: collections would only walk them
            units, issues = converter.load()
    except DatasetLayoutError as err:
        report.fatal = str(err)
        return EXIT_UNREADABLE
    report.extend(issues)
    # Samples the split describes: those planned plus those the metadata check already rejected.
    planned = {s for u in units for s in u.samples}
    report.samples_total = len(planned | set(report.skipped_samples()))
    if config.max_samples is not None:
        units = select_subset(units, config.max_samples, config.seed)
        selected = sum(len(u.samples) for u in units)
        report.stats["subset"] = {"max_samples": config.max_samples, "seed": config.seed, "selected": selected}
    writer = GroundTruthWriter(staging / "gt") if cls.has_masks else None
    rows = []
    results = run_units(converter, units, config.workers, config.progress, report.stats, config.unit_timeout_s)
    for result in results:
        report.extend(result.issues)
        if writer is None:
            rows += [s.row for s in result.samples]
            continue
        ids = [writer.add_record(o.record, o.num_frames, o.height, o.width, o.crc32) for o in result.objects]
        for sample in result.samples:
            gt = sample.gt
            fg = ids[gt.foreground] if gt.foreground >= 0 else -1
            objects = [ids[o] for o in gt.objects]
            writer.add_sample(sample.sample_id, objects, gt.num_frames, gt.height, gt.width, fg, gt.meta)
            rows.append(sample.row)
    if writer is not None:
        writer.close()
    dataset_root = str(paths.media.resolve() if cls.writes_media else converter.root)
    gt_root = str(paths.gt_store.resolve()) if cls.has_masks else ""
    for index, row in enumerate(rows):
        row["extra_info"].update(index=index, dataset_root=dataset_root, gt_store=gt_root)
    report.samples_written = len(rows)
    if report.errors and config.on_error == "fail":
        report.samples_written = 0
        return EXIT_ERRORS
    if not rows:
        return EXIT_ERRORS
    sizes = _row_sizes(rows)
    report.stats.update(row_bytes_mean=round(sum(sizes) / len(sizes)), row_bytes_max=max(sizes))
    report.stats["parquet_bytes"] = write_rows(rows, staging / "rows.parquet")
    _publish(staging / "rows.parquet", paths.parquet)
    if writer is not None:
        _publish(staging / "gt", paths.gt_store)
        report.stats["gt_store_bytes"] = (paths.gt_store / "objects.bin").stat().st_size
    if media_out is not None:
        _publish(media_out, paths.media)
    return EXIT_OK


def _row_sizes(rows: list[dict]) -> list[int]:
    """Bytes of each row as compact JSON."""
    return [len(fast_json.dumps(r)) for r in rows]


def _remove_stale_staging(out: Path, split: str) -> None:
    """Delete staging folders left by killed runs (their process is gone)."""
    for folder in out.glob(f".{split}.staging-*"):
        pid = folder.name.rpartition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _publish(src: Path, dst: Path) -> None:
    """Move a staged output into place, replacing an older one."""
    if dst.is_dir() and not dst.is_symlink():
        shutil.rmtree(dst)
    elif dst.exists() or dst.is_symlink():
        dst.unlink()
    os.replace(src, dst)


def select_subset(units: list[Unit], max_samples: int, seed: int) -> list[Unit]:
    """A deterministic subset of the samples: the ``max_samples`` with the smallest seeded hash of their id.

    The choice depends only on the ids and the seed, never on worker count, ordering or process state, so every
    rank and every rerun gets the same subset (the reference drew its RefAVS subset with unseeded ``random``).

    Args:
        units: Units of the split.
        max_samples: Samples to keep.
        seed: Seed.

    Returns:
        The units restricted to the chosen samples, in their original order (empty ones dropped).
    """
    ids = [s for u in units for s in u.samples]
    keep = set(sorted(ids, key=lambda s: stable_seed(seed, s))[:max_samples])
    out = [Unit(u.key, tuple(s for s in u.samples if s in keep)) for u in units]
    return [u for u in out if u.samples]


def convert_unit(converter: Converter, unit: Unit) -> UnitResult:
    """Run a converter on one unit; an unexpected exception skips the unit's samples with an ``internal_error``."""
    try:
        return converter.convert(unit)
    except Exception as err:  # noqa: BLE001 - one bad unit must not stop the conversion; it is reported
        logger.exception("converter %s failed on unit %s", converter.name, unit.key)
        detail = "".join(traceback.format_exception_only(type(err), err)).strip()
        return UnitResult(issues=[Issue("internal_error", f"unit {unit.key!r}: {detail}", samples=list(unit.samples))])


def run_units(
    converter: Converter,
    units: list[Unit],
    workers: int,
    progress: bool = True,
    stats: dict | None = None,
    unit_timeout_s: float | None = None,
) -> Iterator[UnitResult]:
    """Convert units, in order, in ``workers`` processes, with a progress bar.

    The converter (with the metadata it loaded) and the units reach the workers by ``fork``, so large metadata is
    never copied per task; results come back in unit order whatever the worker count, so the output is identical
    for any ``workers``. A worker that dies, or spends more than ``unit_timeout_s`` on a unit, is replaced
    (:class:`~omni_r1_verl.utils.fork_map.ForkMap`): the unit is tried once more, then its samples are skipped with a
    ``worker_died`` error.

    Args:
        converter: A converter whose :meth:`~Converter.load` has run.
        units: Units to convert.
        workers: Processes; 1 converts in this process (so does a platform without ``fork``).
        progress: Show a progress bar (on stderr).
        stats: If given, receives ``worker_deaths`` (worker processes that died and were replaced).
        unit_timeout_s: Seconds a worker may spend on one unit (``None``: no limit; not applied with one worker).

    Yields:
        One result per unit, in the order of ``units``.
    """
    from tqdm import tqdm

    total = sum(len(u.samples) for u in units)
    desc = f"{converter.name}/{converter.split}"
    if workers > 1 and len(units) > 1 and not fork_available():
        logger.warning("this platform cannot fork worker processes: converting in this process")
        workers = 1
    if workers <= 1 or len(units) <= 1:
        results: Iterable[UnitResult] = (convert_unit(converter, unit) for unit in units)
        pool, collecting = None, contextlib.nullcontext()
    else:
        pool = ForkMap(partial(convert_unit, converter), units, workers, lost=_lost_unit, timeout=unit_timeout_s)
        # This process only collects results (acyclic rows and records): collections would find nothing to free.
        results, collecting = pool, gc_paused()
    with collecting, tqdm(total=total, unit="sample", desc=desc, disable=not progress) as bar:
        for unit, result in zip(units, results):
            yield result
            bar.update(len(unit.samples))
    if stats is not None:
        stats["worker_deaths"] = pool.deaths if pool is not None else 0


def _lost_unit(unit: Unit, failure: Failure) -> UnitResult:
    """The result of a unit a worker could not convert: its samples skipped with the reason."""
    code = "worker_died" if failure.worker_died else "internal_error"
    return UnitResult(issues=[Issue(code, f"unit {unit.key!r}: {failure.reason}", samples=list(unit.samples))])
