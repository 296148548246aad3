"""Group-level length shaping (reference len_control semantics, per GRPO group)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from omni_r1_verl.scoring import length_bonus, length_shaping
from omni_r1_verl.scoring.config import LengthConfig

CFG = LengthConfig()


def test_needs_two_qualified_rollouts():
    # Only one rollout above the threshold: nobody gets the bonus, even inside the window.
    assert length_shaping([0.5, 0.05, 0.0], [400, 400, 400], CFG) == [0.0, 0.0, 0.0]
    assert length_shaping([0.5, 0.2, 0.0], [400, 100, 400], CFG) == [1.0, 0.0, 0.0]


def test_window_is_inclusive_and_threshold_strict():
    accs = [0.11, 0.11, 0.11, 0.11, 0.1]
    assert length_shaping(accs, [320, 750, 319, 751, 400], CFG) == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_disabled_and_custom_quorum():
    assert length_shaping([1, 1], [400, 400], LengthConfig(enable=False)) == [0.0, 0.0]
    assert length_shaping([1, 0], [400, 400], LengthConfig(min_qualified=1, bonus=0.2)) == [0.2, 0.0]


def test_member_view_equals_group_view():
    accs, lengths = [0.5, 0.0, 0.3, 0.9], [400, 400, 100, 700]
    quorum = sum(a > CFG.acc_threshold for a in accs)
    assert [length_bonus(a, n, quorum, CFG) for a, n in zip(accs, lengths)] == length_shaping(accs, lengths, CFG)


@given(
    st.lists(st.tuples(st.floats(-5, 10), st.integers(0, 1000)), min_size=1, max_size=16),
    st.randoms(use_true_random=False),
)
def test_permuting_rollouts_permutes_the_terms(rollouts, rnd):
    order = list(range(len(rollouts)))
    rnd.shuffle(order)
    accs, lengths = zip(*rollouts)
    base = length_shaping(list(accs), list(lengths), CFG)
    permuted = length_shaping([accs[i] for i in order], [lengths[i] for i in order], CFG)
    assert permuted == [base[i] for i in order]
    assert set(base) <= {0.0, CFG.bonus}
