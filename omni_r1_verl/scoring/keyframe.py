"""Keyframe-quality reward R_K: answer structure, GT visibility, keyframe count and temporal diversity.

Only the parsed answer and the per-frame ground-truth areas are needed (no System 2). With J JSON blocks (all
terms are 0 when J = 0), the valid moments s with frame sets D_s, ``A`` their concatenation and
``u = |unique(A)|``::

    answer     = (match * J + element * #well_formed + time_consistency * #valid + visibility * sum_s vis(D_s)) / J
    count      = count_reward * (K0 - |u - K0|)                      ("triangle"; "reference" jumps after K0)
    diversity  = -span_penalty * sum_s (|D_s| - 1) - overlap_penalty * (|A| - u)
    R_K        = answer + count + diversity
    saliency   = mean over grounded keyframes f of S[f] / max_t S[t],   S[t] = total GT area in clip frame t

``vis(D)`` is the fraction of (object, frame) cells of D in which the object is visible. ``saliency`` enters the
total with its own weight (a_K_ratio, 0 in the recipe). Moments are frame ranges, so the work is O(J log J) plus
numpy reductions over the GT areas, whatever the moments' lengths. :func:`keyframe_ranges` gives each term's exact
bounds (``docs/rewards.md`` states them; a test checks the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omni_r1_verl.scoring.answer import ParsedAnswer
from omni_r1_verl.scoring.config import AnswerConfig, KeyframeConfig


@dataclass(frozen=True)
class KeyframeTerms:
    """The parts of R_K for one response.

    Attributes:
        answer: Structure credit plus GT visibility of the valid moments (the reference's ``cumulated_reward``).
        count: Keyframe-count regularisation around the target.
        diversity: Span and overlap penalties (<= 0).
        saliency: Mean normalised GT area of the grounded keyframes, in [0, 1].
        selected_frames: Distinct clip frames selected by the valid moments.
        overlapping_frames: Frame selections beyond the first for the same frame.
    """

    answer: float = 0.0
    count: float = 0.0
    diversity: float = 0.0
    saliency: float = 0.0
    selected_frames: int = 0
    overlapping_frames: int = 0

    @property
    def total(self) -> float:
        """R_K = answer + count + diversity."""
        return self.answer + self.count + self.diversity


def count_term(selected: int, config: KeyframeConfig) -> float:
    """Reward for selecting ``selected`` distinct frames.

    Args:
        selected: Distinct selected frames u.
        config: Constants (``count_reward``, ``target_count``, ``count_shape``).

    Returns:
        ``count_reward * (K0 - |u - K0|)`` for ``triangle``; for ``reference``, ``count_reward * u`` up to K0 and
        ``count_reward * (2 K0 - 1 - u)`` beyond (the released code's drop of two steps after K0).
    """
    k0, c = config.target_count, config.count_reward
    if selected <= k0:
        return c * selected
    if config.count_shape == "reference":
        return c * (2 * k0 - 1 - selected)
    return c * (2 * k0 - selected)


def _union_length(ranges: list[range]) -> int:
    """Number of distinct integers in the union of step-1 ranges."""
    total, reach = 0, None
    for r in sorted((r for r in ranges if len(r)), key=lambda r: r.start):
        if reach is None or r.start >= reach:
            total, reach = total + len(r), r.stop
        elif r.stop > reach:
            total, reach = total + r.stop - reach, r.stop
    return total


def keyframe_ranges(
    config: KeyframeConfig, num_frames: int, max_moments: int | None = None
) -> dict[str, tuple[float, float]]:
    """Bounds of the R_K terms over every possible answer on an F-frame clip (both ends are reached).

    Args:
        config: R_K constants (the diversity bound assumes non-negative penalties, as in the defaults).
        num_frames: F, frames of the clip.
        max_moments: M, moments read from an answer (``AnswerConfig().max_moments`` when ``None``).

    Returns:
        ``{"keyframe_answer": (low, high), "keyframe_count": ..., "keyframe_diversity": ...}``.
    """
    m = AnswerConfig().max_moments if max_moments is None else max_moments
    f = max(num_frames, 0)
    # answer: 0 without blocks; else match_reward plus, per block, a share in [0, 1] of each other credit.
    credits = (config.element_reward, config.time_consistency_reward, config.visibility_reward)
    low = config.match_reward + sum(min(c, 0.0) for c in credits)
    high = config.match_reward + sum(max(c, 0.0) for c in credits)
    # count: piecewise linear in u = 0..F with breaks at the target (and one past it for the reference shape).
    k0 = config.target_count
    counts = [count_term(u, config) for u in {0, min(k0, f), min(k0 + 1, f), f}]
    # diversity: worst when all M moments span the whole clip (M (F - 1) extra frames, F (M - 1) repeats).
    worst = config.span_penalty * m * max(f - 1, 0) + config.overlap_penalty * f * max(m - 1, 0)
    return {
        "keyframe_answer": (min(low, 0.0), max(high, 0.0)),
        "keyframe_count": (min(counts), max(counts)),
        "keyframe_diversity": (-worst, 0.0),
    }


def keyframe_terms(parsed: ParsedAnswer, areas: np.ndarray | None, config: KeyframeConfig) -> KeyframeTerms:
    """Compute R_K and the keyframe saliency for one parsed answer.

    Args:
        parsed: The parsed response.
        areas: ``(num_objects, num_clip_frames)`` GT mask areas on the sampled clip, or ``None`` when unknown
            (visibility and saliency are then 0).
        config: R_K constants.

    Returns:
        The terms.
    """
    blocks = parsed.num_blocks
    if blocks == 0:
        return KeyframeTerms()
    valid = parsed.valid_moments
    well_formed = sum(m.well_formed for m in parsed.moments)
    visible = None
    if areas is not None and areas.ndim == 2 and areas.shape[0] > 0 and areas.shape[1] >= parsed.num_frames:
        visible = areas > 0
    visibility = 0.0
    if visible is not None:
        visibility = sum(float(visible[:, m.frames.start : m.frames.stop].mean()) for m in valid)
    answer = (
        config.match_reward * blocks
        + config.element_reward * well_formed
        + config.time_consistency_reward * len(valid)
        + config.visibility_reward * visibility
    ) / blocks

    selected = _union_length([m.frames for m in valid])
    overlapping = sum(len(m.frames) for m in valid) - selected
    spans = sum(len(m.frames) - 1 for m in valid)
    diversity = -config.span_penalty * spans - config.overlap_penalty * overlapping

    saliency = 0.0
    if visible is not None and parsed.keyframes:
        totals = areas.sum(axis=0, dtype=np.float64)
        peak = totals.max()
        if peak > 0:
            saliency = float(np.mean([totals[k.frame] / peak for k in parsed.keyframes]))
    return KeyframeTerms(
        answer=answer,
        count=count_term(selected, config),
        diversity=diversity,
        saliency=saliency,
        selected_frames=selected,
        overlapping_frames=overlapping,
    )
