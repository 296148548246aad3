"""Typed configuration of every reward weight and constant (``reward.reward_kwargs`` in a verl run).

Defaults reproduce the authors' released recipe (``scripts/run_training.sh``: a_K = 1, a_K_ratio = 0, a_A = 1,
a_G = 2, the format reward and the +1 length bonus) with the reference bugs fixed; ``docs/rewards.md`` lists each
constant, the formula it enters and every deviation from the reference code.

:meth:`RewardConfig.from_dict` builds the config from the plain mapping verl passes (an OmegaConf node or a dict)
through the project's one loader (:func:`omni_r1_verl.utils.config.build`): unknown keys are errors, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from omni_r1_verl.utils.config import build
from omni_r1_verl.utils.config import check as _check


def _finite(name: str, value: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    _check(ok, f"{name} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class WeightsConfig:
    """Weights of the terms of ``R = a_K R_K + a_K_ratio R_saliency + a_A R_A + a_G R_G + format + length``.

    Attributes:
        keyframe: a_K, weight of the keyframe-quality reward R_K.
        keyframe_ratio: a_K_ratio, weight of the GT-area saliency of the grounded keyframes (0 in the recipe).
        alignment: a_A, weight of the frame-instruction alignment reward R_A (Hungarian box IoU).
        consistency: a_G, weight of the global mask-consistency reward R_G (SAM2 masks vs ground truth).
        format: Weight of the ``<think>..</think><answer>..</answer>`` format reward.
        detection: Weight of the RefAVS box-detection reward.
        grounding: Weight of the Seg-Zero image-grounding reward.
    """

    keyframe: float = 1.0
    keyframe_ratio: float = 0.0
    alignment: float = 1.0
    consistency: float = 2.0
    format: float = 1.0
    detection: float = 1.0
    grounding: float = 1.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _finite(f.name, getattr(self, f.name))


@dataclass(frozen=True)
class AnswerConfig:
    """System-1 answer parsing limits.

    Attributes:
        max_moments: Moments read from one answer; later ones are dropped and counted (``too_many_moments``).
        max_keyframes: Keyframes sent to System 2 (the reference grounded at most 4 frames).
        max_answer_chars: Longer answers are truncated before JSON parsing (bounds the parser's work).
    """

    max_moments: int = 32
    max_keyframes: int = 4
    max_answer_chars: int = 20_000

    def __post_init__(self) -> None:
        _check(self.max_moments >= 1, f"max_moments must be >= 1, got {self.max_moments}")
        _check(self.max_keyframes >= 1, f"max_keyframes must be >= 1, got {self.max_keyframes}")
        _check(self.max_answer_chars >= 64, f"max_answer_chars must be >= 64, got {self.max_answer_chars}")


@dataclass(frozen=True)
class KeyframeConfig:
    """Constants of the keyframe-quality reward R_K (reference ``time_reward_multi_time``).

    Attributes:
        match_reward: Credit for an answer holding at least one JSON block.
        element_reward: Credit per block whose three fields are well typed (averaged over blocks).
        time_consistency_reward: Credit per valid moment (times parse, start <= end <= clip end).
        visibility_reward: Weight of each valid moment's GT visibility ratio (fraction of (object, frame) cells
            of the moment where the object is visible).
        span_penalty: Penalty per frame beyond the first inside one moment.
        overlap_penalty: Penalty per frame selected by more than one moment (each repeat counts).
        count_reward: Slope of the count term: ``count_reward * (target - |u - target|)`` for u selected frames.
        target_count: Target number of selected frames K_0.
        count_shape: ``triangle`` (smooth, the fix) or ``reference`` (the released code's jump after K_0).
    """

    match_reward: float = 0.2
    element_reward: float = 0.2
    time_consistency_reward: float = 0.2
    visibility_reward: float = 1.0
    span_penalty: float = 0.2
    overlap_penalty: float = 0.5
    count_reward: float = 0.4
    target_count: int = 4
    count_shape: str = "triangle"

    def __post_init__(self) -> None:
        for name in (
            "match_reward",
            "element_reward",
            "time_consistency_reward",
            "visibility_reward",
            "span_penalty",
            "overlap_penalty",
            "count_reward",
        ):
            _finite(name, getattr(self, name))
        _check(self.target_count >= 1, f"target_count must be >= 1, got {self.target_count}")
        _check(
            self.count_shape in ("triangle", "reference"),
            f"count_shape must be 'triangle' or 'reference', got {self.count_shape!r}",
        )


@dataclass(frozen=True)
class BoxConfig:
    """Box conventions shared by R_A, the RefAVS detection reward and the Seg-Zero reward.

    Attributes:
        pixel_inclusive: Boxes are inclusive pixel extents (width = x2 - x1 + 1), as in the reference.
        max_boxes: Boxes per keyframe read from a System-2 result; extra ones are dropped and counted.
    """

    pixel_inclusive: bool = True
    max_boxes: int = 64

    def __post_init__(self) -> None:
        _check(self.max_boxes >= 1, f"max_boxes must be >= 1, got {self.max_boxes}")


@dataclass(frozen=True)
class AlignmentConfig:
    """Constants of the frame-instruction alignment reward R_A.

    Attributes:
        normalize: ``gt`` divides the matched IoU sum by the number of GT boxes (the reference's ``avg_iou``);
            ``max`` divides by ``max(#pred, #gt)`` per keyframe (the paper's ``1 - L_Hungarian``).
        count_penalty: Penalty scale of ``|#pred - #gt|`` per keyframe, divided by the object count and the
            number of keyframes (the reference only penalised excess boxes).
    """

    normalize: str = "gt"
    count_penalty: float = 0.5

    def __post_init__(self) -> None:
        _check(self.normalize in ("gt", "max"), f"normalize must be 'gt' or 'max', got {self.normalize!r}")
        _finite("count_penalty", self.count_penalty)


@dataclass(frozen=True)
class ConsistencyConfig:
    """Constants of the global mask-consistency reward R_G.

    Attributes:
        empty_frames: How frames with neither prediction nor ground truth count: ``skip`` (left out of the mean,
            the fix) or ``one`` (J = 1, the DAVIS / reference convention).
    """

    empty_frames: str = "skip"

    def __post_init__(self) -> None:
        _check(
            self.empty_frames in ("skip", "one"),
            f"empty_frames must be 'skip' or 'one', got {self.empty_frames!r}",
        )


@dataclass(frozen=True)
class FormatConfig:
    """The format reward: 1 when the response is exactly a think block then an answer block.

    Attributes:
        strip: Ignore leading and trailing whitespace before matching.
    """

    strip: bool = True


@dataclass(frozen=True)
class LengthConfig:
    """Group-level length shaping (reference ``len_control``), computed per GRPO group.

    In a group, the rollouts whose task accuracy exceeds ``acc_threshold`` qualify; when at least
    ``min_qualified`` qualify, each qualified rollout whose response length lies in
    ``[min_tokens, max_tokens]`` gets ``bonus``.

    Attributes:
        enable: Apply the term at all.
        bonus: Reward added to each rewarded rollout.
        min_tokens: Shortest rewarded response (tokens).
        max_tokens: Longest rewarded response (tokens).
        acc_threshold: Accuracy a rollout needs to qualify (strictly greater).
        min_qualified: Qualified rollouts a group needs before anyone gets the bonus.
        splits: ``extra_info.split`` values the term applies to (validation splits get none).
        group_timeout_s: Longest wait for the rest of a group inside verl's reward loop.
    """

    enable: bool = True
    bonus: float = 1.0
    min_tokens: int = 320
    max_tokens: int = 750
    acc_threshold: float = 0.1
    min_qualified: int = 2
    splits: tuple[str, ...] = ("train",)
    group_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        _finite("bonus", self.bonus)
        _finite("acc_threshold", self.acc_threshold)
        _check(0 <= self.min_tokens <= self.max_tokens, "min_tokens, max_tokens: need 0 <= min_tokens <= max_tokens")
        _check(self.min_qualified >= 1, f"min_qualified must be >= 1, got {self.min_qualified}")
        _check(self.group_timeout_s > 0, f"group_timeout_s must be > 0, got {self.group_timeout_s}")
        object.__setattr__(self, "splits", tuple(str(s) for s in self.splits))


@dataclass(frozen=True)
class SegZeroConfig:
    """Constants of the Seg-Zero image-grounding reward (reference ``segzero_reward``, strict format).

    Attributes:
        iou_threshold: IoU above which the IoU term pays.
        iou_scale: Slope of the IoU term above the threshold.
        iou_bonus: Flat bonus once the IoU exceeds the threshold.
        box_l1_max: Mean absolute box-coordinate error (resized pixels) at which the box term reaches 0.
        box_l1_scale: Slope of the box term, ``clip((box_l1_max - l1) * scale, 0, 1)``.
        point_dist_max: Mean point distance (resized pixels) at which the point term reaches 0.
        point_dist_scale: Slope of the point term.
    """

    iou_threshold: float = 0.5
    iou_scale: float = 2.0
    iou_bonus: float = 0.4
    box_l1_max: float = 30.0
    box_l1_scale: float = 0.05
    point_dist_max: float = 150.0
    point_dist_scale: float = 0.02

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _finite(f.name, getattr(self, f.name))


@dataclass(frozen=True)
class RewardConfig:
    """Every weight and constant of the Omni-R1 reward.

    Attributes:
        weights: Term weights (a_K, a_A, a_G, ...).
        answer: System-1 answer parsing limits.
        keyframe: R_K constants.
        boxes: Box conventions.
        alignment: R_A constants.
        consistency: R_G constants.
        format: Format reward.
        length: Group-level length shaping.
        segzero: Seg-Zero grounding reward constants.
    """

    SECTION: ClassVar[str] = "reward.reward_kwargs"

    weights: WeightsConfig = field(default_factory=WeightsConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    keyframe: KeyframeConfig = field(default_factory=KeyframeConfig)
    boxes: BoxConfig = field(default_factory=BoxConfig)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    consistency: ConsistencyConfig = field(default_factory=ConsistencyConfig)
    format: FormatConfig = field(default_factory=FormatConfig)
    length: LengthConfig = field(default_factory=LengthConfig)
    segzero: SegZeroConfig = field(default_factory=SegZeroConfig)

    @classmethod
    def from_dict(cls, data: RewardConfig | Mapping[str, Any] | None) -> RewardConfig:
        """Build the config from ``reward.reward_kwargs`` (a dict or an OmegaConf mapping).

        Args:
            data: The mapping; ``None`` gives the defaults.

        Returns:
            The validated config.

        Raises:
            omni_r1_verl.utils.config.ConfigError: On unknown keys or invalid values (the message names the key).
        """
        return build(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (round-trips through :meth:`from_dict`).

        Returns:
            The config as a dict.
        """
        out = dataclasses.asdict(self)
        out["length"]["splits"] = list(self.length.splits)
        return out
