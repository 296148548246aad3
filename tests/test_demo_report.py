"""``omni-r1 demo``'s view of a run: verl's metric lines parsed, noise dropped, the live line and the final table.

The metric lines come from verl's own console logger and Ray's own driver-side printer, and the TransferQueue
warning from TransferQueue itself, so a change of their formats fails here.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

from omni_r1_verl import demo_report
from omni_r1_verl.demo_report import (
    NOISE_PATTERNS,
    Kind,
    LineFilter,
    RunMetrics,
    format_duration,
    noise_reason,
    parse_metric_line,
    progress_line,
    render_table,
    validation_line,
    validation_means,
)
from omni_r1_verl.scoring import METRIC_KEYS

#: The one ``omni_r1/`` key the table reads that is not a RewardBreakdown field: the replay buffer's trajectory count.
NOT_FIELDS = {"count"}


def verl_console(step: int, data: dict) -> str:
    """The line verl's console logger prints for one step."""
    from verl.utils.logger import LocalLogger

    out = io.StringIO()
    with redirect_stdout(out):
        LocalLogger(print_to_console=True).log(data=data, step=step)
    return out.getvalue()


#: What verl 0.9.1 prints per missing optional engine (``verl/workers/engine/__init__.py``), as Python formats it.
VERL_ENGINE_WARNING = warnings.formatwarning(
    "torchtitan engine is not available: ModuleNotFoundError(\"No module named 'torchtitan'\")",
    UserWarning,
    "/venv/lib/python3.11/site-packages/verl/workers/engine/__init__.py",
    32,
    '    warnings.warn(f"torchtitan engine is not available: {e!r}", stacklevel=1)',
)


def from_ray_actor(text: str, actor: str = "TaskRunner", pid: int = 4242) -> list[str]:
    """``text``'s lines as the Ray driver prints an actor's output (colored ``(Actor pid=N)`` prefix)."""
    from ray._private.worker import print_worker_logs

    out = io.StringIO()
    data = {"pid": pid, "ip": "10.0.0.1", "localhost": "10.0.0.1", "lines": text.splitlines()}
    if actor:
        data["actor_name"] = actor
    print_worker_logs(data, out)
    return out.getvalue().splitlines()


def ray_repeat(line: str) -> str:
    """Ray's deduplicated form of a line printed by several processes."""
    from ray._private.ray_logging import DedupState

    return DedupState(timestamp=0, count=3, line=line, metadata={}, sources=set()).formatted()


def transfer_queue_thread_warning() -> str:
    """The warning TransferQueue logs on every put/get when it wants more threads than the machine's cores."""
    from transfer_queue.utils import common, logging_utils

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    common.logger.addHandler(handler)
    try:
        with common.limit_pytorch_auto_parallel_threads(target_num_threads=10**6, info="test"):
            pass
    finally:
        common.logger.removeHandler(handler)
    (record,) = [r for r in records if r.levelno == logging.WARNING]
    return logging.Formatter(logging_utils._DEFAULT_LOG_FORMAT).format(record)


STEP_1 = {
    "critic/score/mean": np.float64(0.41),
    "critic/advantages/max": np.float32(0.75),
    "critic/advantages/min": -0.75,
    "timing_s/step": 12.3,
    "omni_r1/format_reward": np.float64(0.5),
    "omni_r1/keyframe_reward": 0.25,
    "omni_r1/alignment_reward": 0.125,
    "omni_r1/consistency_reward": 0.0,
    "omni_r1/detection_reward": 0.0625,
    "omni_r1/length_reward": -0.01,
    "omni_r1/answer_parsed": 0.55,
    "omni_r1/detail_ran": 0.5,
    "omni_r1/detail_failed": 0.125,
    "omni_r1/detail_timeout": 0.0,
    "omni_r1/detail_worker_died": 0.0,
    "omni_r1/detail_error": 0.125,
    "omni_r1/count": np.int64(8),
    "training/flag": True,
    "actor/model": "not a number",  # verl's logger leaves non-numbers out
}
#: A step of a run without our metrics (e.g. the smoke reward): the reward-term cells print ``-``.
STEP_2 = {"critic/score/mean": 0.0, "timing_s/step": 20.0, "critic/advantages/max": 0.0, "critic/advantages/min": 0.0}
VALIDATION = {
    "val-core/revos/acc/mean@2": 0.3,
    "val-aux/revos/reward/mean@1": 0.9,  # a smaller N: not read
    "val-aux/revos/reward/mean@2": 0.2,
    "val-aux/revos/reward/std@2": 0.1,
    "val-aux/refavs/reward/mean@1": 0.4,
    "val-aux/revos/format_reward/mean@2": 1.0,
    "val-aux/refavs/format_reward/mean@1": 0.5,
    "val-aux/revos/answer_parsed/mean@2": 0.5,
    "val-aux/refavs/answer_parsed/mean@1": 0.25,
    "val-aux/num_turns/mean": 2.0,
    "timing_s/testing": 7.5,
}


def test_the_keys_read_are_reward_breakdown_fields():
    read = {key for _, key in demo_report.TERM_COLUMNS} | set(demo_report.DETAIL_FAILURES)
    read |= {demo_report.PARSED, demo_report.DETAIL_RAN, demo_report.COUNT}
    assert read - set(METRIC_KEYS) == NOT_FIELDS


def test_metric_lines_of_verl_through_ray_are_parsed():
    (line,) = from_ray_actor(verl_console(3, STEP_1))
    assert line.startswith("\x1b[36m(TaskRunner pid=4242)")
    step, values = parse_metric_line(line)
    assert step == 3
    assert values["critic/score/mean"] == 0.41
    assert values["critic/advantages/max"] == 0.75
    assert values["omni_r1/count"] == 8.0
    assert values["training/flag"] == 1.0
    assert "actor/model" not in values
    assert len(values) == len(STEP_1) - 1
    nan_step, nan_values = parse_metric_line(verl_console(1, {"x/nan": float("nan"), "x/inf": -math.inf}))
    assert nan_step == 1 and math.isnan(nan_values["x/nan"]) and nan_values["x/inf"] == -math.inf
    assert parse_metric_line("(TaskRunner pid=1) training step:3 done") is None
    assert parse_metric_line("stepping: 3") is None


def test_every_noise_pattern_has_a_real_example():
    examples = {
        "TransferQueue thread count on a small machine": from_ray_actor(
            transfer_queue_thread_warning(), actor="TransferQueueStorageSimpleUnit"
        )[0],
        "Ray's repeat of a line": ray_repeat(from_ray_actor("Error: the same line", actor="WorkerDict")[0]),
        "warning of a Ray worker": from_ray_actor("/x/torch/cuda/__init__.py:63: FutureWarning: Error soon", "")[0],
        "verl's progress bar": "Training Progress:  50%|█████     | 1/2 [01:02<01:02, 62.00s/it]",
        "verl's optional engines": from_ray_actor(VERL_ENGINE_WARNING, actor="TaskRunnerV1")[0],
    }
    # ... and the warning's source line after it.
    assert noise_reason(from_ray_actor(VERL_ENGINE_WARNING, actor="WorkerDict")[1]) == "verl's optional engines"
    assert set(examples) == {what for what, _ in NOISE_PATTERNS}
    for what, line in examples.items():
        assert noise_reason(line) == what, line
        assert LineFilter().classify(line) is Kind.NOISE, line
    # The same warning from a named actor is not a worker's import noise; the thread message is only noise as such.
    assert noise_reason(from_ray_actor("x.py:1: UserWarning: hm", actor="WorkerDict")[0]) is None
    assert noise_reason("target_num_threads should be fine") is None


def test_the_filter_keeps_tracebacks_errors_and_our_lines():
    traceback = from_ray_actor(
        "Traceback (most recent call last):\n"
        '  File "/x/verl/trainer/main_ppo.py", line 42, in run\n'
        "    trainer.fit()\n"
        "    ^^^^^^^^^^^^^\n"
        "ValueError: bad batch\n"
        "a plain line after it"
    )
    lines = [
        ("INFO 12:00:01 starting the trainer", Kind.OTHER),
        *zip(traceback, [Kind.KEEP] * 5 + [Kind.OTHER]),
        ("Error executing job with overrides: ['trainer.total_training_steps=2']", Kind.KEEP),
        ("  an indented line after an error line", Kind.KEEP),
        ("Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.", Kind.OTHER),
        ("plain again", Kind.OTHER),
        ("  indented, but no error before it", Kind.OTHER),
        ("omni-r1 demo: attaching to the Ray cluster", Kind.KEEP),
        ("WARNING omni_r1_verl.reward.gallery: rollout gallery: cannot draw", Kind.KEEP),
        ("    'omni_r1_agent': {'path': None}", Kind.OTHER),  # verl's config dump mentions us on every other line
        ("(WorkerDict pid=9) ERROR 12:00:02 worker lost", Kind.KEEP),
        (from_ray_actor(verl_console(1, STEP_2))[0], Kind.METRICS),
        ("/x/torch/__init__.py:1: UserWarning: TypedStorage is deprecated", Kind.OTHER),
    ]
    decide = LineFilter()
    assert [(line, decide.classify(line)) for line, _ in lines] == lines


def test_a_traceback_of_one_process_is_not_ended_by_another():
    decide = LineFilter()
    assert decide.classify("(A pid=1) Traceback (most recent call last):") is Kind.KEEP
    assert decide.classify("(B pid=2) unrelated") is Kind.OTHER
    assert decide.classify('(A pid=1)   File "x.py", line 1, in f') is Kind.KEEP
    assert decide.classify("(A pid=1) KeyError: 'x'") is Kind.KEEP
    assert decide.classify("(A pid=1)   indented after the traceback ended") is Kind.OTHER


def _run(*steps: tuple[int, dict]) -> RunMetrics:
    text = "".join(verl_console(step, data) for step, data in steps)
    return RunMetrics().feed(from_ray_actor(text))


def test_validation_before_training_is_not_a_step():
    run = RunMetrics()
    assert run.add(0, {k: v for k, v in VALIDATION.items() if k.startswith("val-")}) is False
    assert run.steps == {} and run.validation_step == 0
    assert run.add(2, {**STEP_2, **VALIDATION}) is True
    assert run.validation_step == 2 and run.validation["timing_s/testing"] == 7.5
    assert "val-aux/revos/reward/mean@2" not in run.steps[2]
    assert validation_line(run) == "validation at step 2  score 0.30  parsed 38%"


def test_validation_means_take_the_largest_n_and_average_the_data_sources():
    means = validation_means(VALIDATION)
    assert means["reward"] == pytest.approx((0.2 + 0.4) / 2)
    assert means["format_reward"] == pytest.approx(0.75)
    assert means["acc"] == pytest.approx(0.3)
    assert "num_turns" not in means


def test_the_live_line_has_progress_score_parsed_time_and_eta():
    run = _run((1, STEP_1))
    assert progress_line(run, 1, 3) == "step 1/3  score 0.41  parsed 55%  12.3 s/step  ETA 25s"
    run.add(2, STEP_2)
    # Mean step time (12.3 + 20) / 2 for the one step left.
    assert progress_line(run, 2, 3) == "step 2/3  score 0.00  parsed -  20.0 s/step  ETA 16s"
    assert progress_line(run, 2, None) == "step 2  score 0.00  parsed -  20.0 s/step  ETA -"
    assert progress_line(RunMetrics(steps={5: {}}), 5, 20) == "step 5/20  score -  parsed -  - s/step  ETA -"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (59.4, "59s"), (130, "2m10s"), (3600 + 300, "1h05m"), (-3, "0s")]
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_the_table_has_a_row_per_step_and_the_validation():
    run = _run((1, STEP_1), (2, {**STEP_2, **VALIDATION}))
    table = render_table(run)
    lines = table.splitlines()
    assert all(len(line) < 110 for line in lines)
    assert lines[0].split() == [
        "step",
        "score",
        "format",
        "keyframe",
        "align",
        "consist",
        "detect",
        "length",
        "parsed",
        "S2",
        "calls",
        "S2",
        "fail",
        "s/step",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    # S2 calls: 0.5 x 8 trajectories; failures: (0.125 + 0 + 0 + 0.125) x 8.
    assert rows["1"] == ["1", "0.410", "0.500", "0.250", "0.125", "0.000", "0.062", "-0.010", "55%", "4", "2", "12.3"]
    assert rows["2"] == ["2", "0.000", "-", "-", "-", "-", "-", "-", "-", "-", "-", "20.0"]
    assert rows["val@2"] == ["val@2", "0.300", "0.750", "-", "-", "-", "-", "-", "38%", "-", "-", "7.5"]
    assert "GRPO advantages over the steps: min -0.75, max 0.75" in table
    assert "no learning signal" not in table


def test_a_table_without_metrics_says_so():
    flat = render_table(RunMetrics(steps={1: dict(STEP_2)}))
    assert "(all zero: no learning signal" in flat
    empty = render_table(RunMetrics())
    assert "(verl printed no step metrics)" in empty and "GRPO advantages" not in empty
