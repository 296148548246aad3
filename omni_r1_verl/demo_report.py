"""What ``omni-r1 demo`` shows of a ``main_ppo`` run: metric lines parsed, noise dropped, a per-step table at the end.

Pure text processing (stdlib only); :mod:`omni_r1_verl.cli.demo` runs the subprocess, keeps its whole output in a
log file and feeds each line here.

* :func:`parse_metric_line` reads verl's console logger (``verl.utils.logger.LocalLogger``): one line per step,
  ``step:N - key:value - key:value ...`` (values are ``pprint.pformat`` of numbers, e.g. ``np.float64(0.5)``),
  printed by the ``TaskRunner`` actor, so Ray prefixes it with ``(TaskRunner pid=...)`` (colored by default).
* :class:`LineFilter` decides what reaches the terminal: metric lines (replaced by :func:`progress_line`),
  tracebacks and error lines, our own ``omni-r1`` lines; :data:`NOISE_PATTERNS` lists the known-harmless lines
  of the set-up that are dropped even when they mention an error; everything else stays in the log only.
* :class:`RunMetrics` collects the training steps and the latest validation; :func:`render_table` prints them.

The table reads (missing keys print ``-``):

* ``score``: ``critic/score/mean``; the reward terms: ``omni_r1/<field>`` of
  :class:`omni_r1_verl.scoring.RewardBreakdown` (:data:`TERM_COLUMNS`); ``parsed``: ``omni_r1/answer_parsed``;
* System-2 calls ``round(omni_r1/detail_ran * omni_r1/count)``, failures ``round((sum of omni_r1/<f> for f in
  DETAIL_FAILURES) * omni_r1/count)`` (the ``omni_r1/`` metrics are per-step means, ``count`` the trajectories);
* the step time ``timing_s/step``; the validation row: verl's ``val-core/<data_source>/<var>/mean@N`` and
  ``val-aux/...`` (largest N), averaged over the data sources, ``reward`` as its score, ``timing_s/testing``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

#: Prefix of our per-step reward metrics (the replay buffer's means of each :class:`RewardBreakdown` field).
OURS = "omni_r1/"
#: Mean score of the step's trajectories.
SCORE = "critic/score/mean"
#: Wall time of the step.
STEP_SECONDS = "timing_s/step"
#: Wall time of a validation.
TEST_SECONDS = "timing_s/testing"
#: GRPO advantages, summarised under the table (all zero: the step had no learning signal).
ADVANTAGE_MAX, ADVANTAGE_MIN = "critic/advantages/max", "critic/advantages/min"
#: ``(header, RewardBreakdown field)`` of the reward-term columns after ``score``.
TERM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("format", "format_reward"),
    ("keyframe", "keyframe_reward"),
    ("align", "alignment_reward"),
    ("consist", "consistency_reward"),
    ("detect", "detection_reward"),
    ("length", "length_reward"),
)
#: Share of answers with a valid moment.
PARSED = "answer_parsed"
#: Share of trajectories System 2 ran for.
DETAIL_RAN = "detail_ran"
#: Trajectories of the step (not a reward field: the replay buffer's count).
COUNT = "count"
#: System-2 outcomes counted as failures.
DETAIL_FAILURES: tuple[str, ...] = ("detail_failed", "detail_timeout", "detail_worker_died", "detail_error")

#: ``(what it is, pattern)`` of the known-harmless lines of the demo's set-up: dropped from the terminal even when
#: they mention an error (the log keeps them). Matched on the line without colors, Ray's prefix included.
NOISE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # TransferQueue wants 16 torch threads per put/get and warns on every call on a machine with fewer cores.
    (
        "TransferQueue thread count on a small machine",
        re.compile(r"target_num_threads \d+ should not exceed total physical CPU cores"),
    ),
    # Ray folds identical lines of several processes into one: the first was shown (or dropped) already.
    ("Ray's repeat of a line", re.compile(r"\[repeated \d+x across cluster\]")),
    # Python warnings of Ray's unnamed worker processes (imports of torch, transformers...): the message line and
    # the ``warnings.warn(`` source line after it.
    (
        "warning of a Ray worker",
        re.compile(r"^\(pid=\d+[^)]*\) (?:.*\b\w*Warning\b|.*\bWARNING\b|\s*warnings\.warn\()"),
    ),
    # verl probes its optional training engines (torchtitan, veomni, megatron, ...) in every process and warns
    # with the ModuleNotFoundError of each one it lacks; the CPU run uses FSDP2 and needs none of them.
    (
        "verl's optional engines",
        re.compile(r"engine is not available: ModuleNotFoundError|^\([^)]*\)\s+warnings\.warn\(f\"\w+ engine is not"),
    ),
    # verl's tqdm bar; the live step line replaces it.
    ("verl's progress bar", re.compile(r"Training Progress:")),
)

#: Error lines (shown with their indented continuation lines) and Python's chained-exception notes.
_ERROR = re.compile(
    r"(?:Error|Exception)\b|\b(?:ERROR|FATAL|CRITICAL)\b"
    r"|^(?:The above exception|During handling of the above exception)"
)
#: Our own lines: ``omni-r1 ...`` messages and records of our loggers.
_OURS = re.compile(r"^(?:(?:DEBUG|INFO|WARNING|ERROR)[: ]\s*)?omni[-_]r1")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Ray's ``(Actor pid=N, ip=A)`` / ``(pid=N)`` / ``(raylet)`` prefix of a worker's line.
_RAY_PREFIX = re.compile(r"^\((?:[^()]*pid=[^()]*|raylet|autoscaler[^()]*)\) ?")
_STEP = re.compile(r"^step:(\d+)((?: - .*)?)$")
_NUMBER = re.compile(r"^(?:np\.\w+\((?P<wrapped>[^()]*)\)|(?P<plain>.*))$")
_VALIDATION = re.compile(r"^val-(?:core|aux)/(?P<source>[^/]+)/(?P<var>[^/]+)/mean@(?P<n>\d+)$")
_BOOLS = {"True": 1.0, "False": 0.0, "np.True_": 1.0, "np.False_": 0.0}


def clean(line: str) -> str:
    """A line as a terminal shows it: no colors, no newline, only what follows the last carriage return.

    Args:
        line: Raw output line.

    Returns:
        The cleaned line.
    """
    line = _ANSI.sub("", line.rstrip("\r\n"))
    return line.rsplit("\r", 1)[-1]


def split_source(line: str) -> tuple[str, str]:
    """Split Ray's process prefix off a cleaned line.

    Args:
        line: A :func:`clean` line.

    Returns:
        ``(prefix, message)``; the prefix is ``""`` for the driver's own lines.
    """
    match = _RAY_PREFIX.match(line)
    if match is None:
        return "", line
    return match.group(0).strip(), line[match.end() :]


def _number(text: str) -> float | None:
    text = text.strip()
    if text in _BOOLS:
        return _BOOLS[text]
    match = _NUMBER.match(text)
    value = match.group("wrapped") if match.group("wrapped") is not None else match.group("plain")
    try:
        return float(value)
    except ValueError:
        return None


def parse_metric_line(line: str) -> tuple[int, dict[str, float]] | None:
    """Parse one line of verl's console logger.

    Args:
        line: An output line (colors and Ray's prefix are fine).

    Returns:
        ``(step, metrics)``, or ``None`` when the line is not a metric line; values that are not numbers are left
        out.
    """
    match = _STEP.match(split_source(clean(line))[1])
    if match is None:
        return None
    values: dict[str, float] = {}
    for item in match.group(2).split(" - ")[1:]:
        key, sep, text = item.rpartition(":")
        number = _number(text) if sep else None
        if number is not None:
            values[key.strip()] = number
    return int(match.group(1)), values


def noise_reason(line: str) -> str | None:
    """Which :data:`NOISE_PATTERNS` entry a line matches.

    Args:
        line: An output line.

    Returns:
        The entry's description, or ``None``.
    """
    text = clean(line)
    return next((what for what, pattern in NOISE_PATTERNS if pattern.search(text)), None)


class Kind(Enum):
    """What :class:`LineFilter` makes of a line."""

    METRICS = "metrics"  # verl's step line: shown as the live progress line
    KEEP = "keep"  # shown as it is
    NOISE = "noise"  # known harmless: log only
    OTHER = "other"  # log only (``--verbose`` shows it)


@dataclass
class LineFilter:
    """Sorts output lines (stateful: a traceback's lines are kept until its exception line, per Ray process).

    Attributes:
        open_blocks: Ray prefixes (``""``: the driver) inside a traceback (``True``) or after an error line, whose
            indented continuation lines are kept (``False``).
    """

    open_blocks: dict[str, bool] = field(default_factory=dict)

    def classify(self, line: str) -> Kind:
        """Sort one line.

        Args:
            line: An output line.

        Returns:
            Its kind.
        """
        text = clean(line)
        if parse_metric_line(text) is not None:
            return Kind.METRICS
        source, message = split_source(text)
        if message.startswith("Traceback (most recent call last)"):
            self.open_blocks[source] = True
            return Kind.KEEP
        if source in self.open_blocks:
            if not message.strip() or message[0].isspace():
                return Kind.KEEP
            if self.open_blocks.pop(source):  # a traceback ends with its exception line
                return Kind.KEEP
        if noise_reason(text) is not None:
            return Kind.NOISE
        if _ERROR.search(message):
            self.open_blocks[source] = False
            return Kind.KEEP
        return Kind.KEEP if _OURS.match(message) else Kind.OTHER


@dataclass
class RunMetrics:
    """verl's metrics of a run, as its console logger printed them.

    Attributes:
        steps: Training steps: step -> metrics (validation keys left out).
        validation: The latest validation's metrics (``val-core/...``, ``val-aux/...``, ``timing_s/testing``).
        validation_step: The step of that validation.
    """

    steps: dict[int, dict[str, float]] = field(default_factory=dict)
    validation: dict[str, float] = field(default_factory=dict)
    validation_step: int | None = None

    def add(self, step: int, values: Mapping[str, float]) -> bool:
        """Record one metric line.

        Args:
            step: Its step.
            values: Its metrics.

        Returns:
            Whether the line was a training step (a validation-only line, e.g. before training, is not).
        """
        validation = {k: v for k, v in values.items() if k.startswith("val-")}
        training = {k: v for k, v in values.items() if k not in validation}
        if validation:
            self.validation = validation
            if TEST_SECONDS in training:
                self.validation[TEST_SECONDS] = training[TEST_SECONDS]
            self.validation_step = step
        if not training:
            return False
        self.steps.setdefault(step, {}).update(training)
        return True

    def feed(self, lines: Iterable[str]) -> RunMetrics:
        """Record every metric line of some output.

        Args:
            lines: Output lines.

        Returns:
            ``self``.
        """
        for line in lines:
            parsed = parse_metric_line(line)
            if parsed is not None:
                self.add(*parsed)
        return self


@dataclass(frozen=True)
class Row:
    """One row of the table (``None``: not reported).

    Attributes:
        label: ``"1"``, ``"2"``, ... or ``"val@N"``.
        score: Mean score.
        terms: Mean of each :data:`TERM_COLUMNS` term.
        parsed: Share of answers with a valid moment.
        calls: System-2 calls.
        failures: System-2 failures.
        seconds: Step (or validation) time.
    """

    label: str
    score: float | None
    terms: tuple[float | None, ...]
    parsed: float | None
    calls: int | None
    failures: int | None
    seconds: float | None


def _times(share: float | None, count: float | None) -> int | None:
    """``round(share * count)``: a count from a per-step mean; ``None`` unless both are finite."""
    if share is None or count is None or not math.isfinite(share * count):
        return None
    return round(share * count)


def step_row(step: int, values: Mapping[str, float]) -> Row:
    """The table row of one training step.

    Args:
        step: The step.
        values: Its metrics.

    Returns:
        The row.
    """
    count = values.get(OURS + COUNT)
    failed = [values.get(OURS + key) for key in DETAIL_FAILURES]
    return Row(
        label=str(step),
        score=values.get(SCORE),
        terms=tuple(values.get(OURS + key) for _, key in TERM_COLUMNS),
        parsed=values.get(OURS + PARSED),
        calls=_times(values.get(OURS + DETAIL_RAN), count),
        failures=_times(None if None in failed else sum(failed), count),
        seconds=values.get(STEP_SECONDS),
    )


def validation_means(values: Mapping[str, float]) -> dict[str, float]:
    """Each validation variable's ``mean@N`` (largest N of each data source), averaged over the data sources.

    Args:
        values: verl's validation metrics (``val-core/<data_source>/<var>/mean@N``, ``val-aux/...``).

    Returns:
        ``var -> mean``, e.g. ``{"reward": 0.4, "format_reward": 0.9, ...}``.
    """
    best: dict[tuple[str, str], tuple[int, float]] = {}
    for key, value in values.items():
        match = _VALIDATION.match(key)
        if match is None:
            continue
        slot, n = (match.group("source"), match.group("var")), int(match.group("n"))
        if slot not in best or n > best[slot][0]:
            best[slot] = (n, value)
    by_var: dict[str, list[float]] = {}
    for (_, var), (_, value) in best.items():
        by_var.setdefault(var, []).append(value)
    return {var: sum(vals) / len(vals) for var, vals in by_var.items()}


def validation_row(step: int | None, values: Mapping[str, float]) -> Row:
    """The table row of a validation (System-2 counts are not reported there).

    Args:
        step: The step it ran at.
        values: Its metrics.

    Returns:
        The row.
    """
    means = validation_means(values)
    return Row(
        label=f"val@{step}" if step is not None else "val",
        score=means.get("reward", means.get("score")),
        terms=tuple(means.get(key) for _, key in TERM_COLUMNS),
        parsed=means.get(PARSED),
        calls=None,
        failures=None,
        seconds=values.get(TEST_SECONDS),
    )


def format_duration(seconds: float) -> str:
    """``42s``, ``2m10s``, ``1h05m``.

    Args:
        seconds: A duration.

    Returns:
        The text.
    """
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total % 3600 // 60:02d}m"


def _fixed(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.0f}%"


def progress_line(metrics: RunMetrics, step: int, total: int | None) -> str:
    """The live line of a finished training step, e.g. ``step 3/20  score 0.41  parsed 55%  12.3 s/step  ETA 2m10s``.

    Args:
        metrics: The run so far (``step`` included).
        step: The step that finished.
        total: The run's last step (``trainer.total_training_steps``), if known.

    Returns:
        The line; the ETA is the mean step time so far times the steps left.
    """
    values = metrics.steps.get(step, {})
    times = [v[STEP_SECONDS] for v in metrics.steps.values() if STEP_SECONDS in v]
    seconds = values.get(STEP_SECONDS)
    eta = "-"
    if total is not None and times:
        eta = format_duration(max(0, total - step) * sum(times) / len(times))
    where = f"{step}/{total}" if total is not None else str(step)
    return (
        f"step {where}  score {_fixed(values.get(SCORE), 2)}  parsed {_percent(values.get(OURS + PARSED))}  "
        f"{_fixed(seconds, 1)} s/step  ETA {eta}"
    )


def validation_line(metrics: RunMetrics) -> str:
    """The live line of a validation, e.g. ``validation at step 2  score 0.12  parsed 40%``.

    Args:
        metrics: The run so far (with a validation).

    Returns:
        The line.
    """
    row = validation_row(metrics.validation_step, metrics.validation)
    return f"validation at step {metrics.validation_step}  score {_fixed(row.score, 2)}  parsed {_percent(row.parsed)}"


#: ``(header, width)`` of the table's columns, in order.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("step", 6),
    ("score", 7),
    *((header, max(7, len(header))) for header, _ in TERM_COLUMNS),
    ("parsed", 6),
    ("S2 calls", 8),
    ("S2 fail", 7),
    ("s/step", 7),
)

_LEGEND = (
    "score: critic/score/mean (validation: reward mean@N averaged over the data sources); format ... length: step\n"
    "means of omni_r1/<term>_reward (align: alignment, consist: consistency, detect: detection); parsed: share of\n"
    "answers with a valid moment; S2: System-2 calls and failures (failed, timeout, worker died, error);\n"
    "s/step: timing_s/step (validation: timing_s/testing); -: not reported"
)


def _cells(row: Row) -> list[str]:
    return [
        row.label,
        _fixed(row.score, 3),
        *(_fixed(term, 3) for term in row.terms),
        _percent(row.parsed),
        "-" if row.calls is None else str(row.calls),
        "-" if row.failures is None else str(row.failures),
        _fixed(row.seconds, 1),
    ]


def render_table(metrics: RunMetrics) -> str:
    """The end-of-run table: one row per training step, the latest validation, a legend, the advantages' range.

    Args:
        metrics: The run.

    Returns:
        The text (no trailing newline); every line is under 110 columns.
    """
    rows = [step_row(step, metrics.steps[step]) for step in sorted(metrics.steps)]
    if metrics.validation:
        rows.append(validation_row(metrics.validation_step, metrics.validation))
    widths = [width for _, width in COLUMNS]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return " ".join([first.ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(rest, widths[1:]))])

    lines = [line([header for header, _ in COLUMNS])]
    lines += [line(_cells(row)) for row in rows]
    if not rows:
        lines.append("(verl printed no step metrics)")
    lines.append(_LEGEND)
    highs = [v[ADVANTAGE_MAX] for v in metrics.steps.values() if ADVANTAGE_MAX in v]
    lows = [v[ADVANTAGE_MIN] for v in metrics.steps.values() if ADVANTAGE_MIN in v]
    if highs and lows:
        note = (
            " (all zero: no learning signal, e.g. equal rewards in every group)" if max(highs) == min(lows) == 0 else ""
        )
        lines.append(f"GRPO advantages over the steps: min {min(lows):.3g}, max {max(highs):.3g}{note}")
    return "\n".join(lines)
