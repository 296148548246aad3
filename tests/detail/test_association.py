"""Boxes to SAM2 objects without ground truth, and group-level de-duplication."""

from __future__ import annotations

import pytest

from omni_r1_verl.detail.association import ObjectPrompt, associate, box_iou, plan_objects


def test_box_iou():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_per_box_gives_one_object_per_keyframe_box():
    objects = associate([(3, [[0, 0, 10, 10], [20, 20, 30, 30]]), (1, [[1, 1, 9, 9]])], "per_box")
    assert [o.prompts for o in objects] == [
        ((1, (1.0, 1.0, 9.0, 9.0)),),
        ((3, (0.0, 0.0, 10.0, 10.0)),),
        ((3, (20.0, 20.0, 30.0, 30.0)),),
    ]


def test_duplicates_within_a_rollout_are_merged_and_same_frame_keyframes_pooled():
    objects = associate([(2, [[0, 0, 10, 10]]), (2, [[0, 0, 10.0000001, 10]]), (2, [[5, 5, 9, 9]])], "per_box")
    assert len(objects) == 2


def test_iou_chain_links_overlapping_boxes_of_consecutive_keyframes():
    keyframes = [
        (0, [[0, 0, 10, 10], [50, 50, 60, 60]]),
        (4, [[51, 50, 61, 60], [1, 0, 11, 10]]),  # both moved a little, listed in the other order
        (8, [[80, 80, 90, 90]]),  # a new object: nothing overlaps
    ]
    objects = associate(keyframes, "iou_chain", iou_threshold=0.5)
    frames = sorted(o.frames for o in objects)
    assert frames == [(0, 4), (0, 4), (8,)]
    left = next(o for o in objects if o.box_at(0) == (0.0, 0.0, 10.0, 10.0))
    assert left.box_at(4) == (1.0, 0.0, 11.0, 10.0)


def test_iou_chain_threshold_splits_weak_links():
    objects = associate([(0, [[0, 0, 10, 10]]), (1, [[8, 8, 18, 18]])], "iou_chain", iou_threshold=0.3)
    assert sorted(o.frames for o in objects) == [(0,), (1,)]


def test_unknown_association_is_rejected():
    with pytest.raises(ValueError, match="unknown association"):
        associate([(0, [[0, 0, 1, 1]])], "oracle")


def test_object_prompt_needs_distinct_sorted_frames():
    with pytest.raises(ValueError):
        ObjectPrompt(((2, (0, 0, 1, 1)), (2, (0, 0, 2, 2))))
    with pytest.raises(ValueError):
        ObjectPrompt(())
    obj = ObjectPrompt.make([(5, [0, 0, 1, 1]), (2, [1, 1, 2, 2])])
    assert obj.frames == (2, 5) and obj.first_frame == 2
    with pytest.raises(KeyError):
        obj.box_at(3)


def test_plan_shares_identical_prompts_across_rollouts():
    a = ObjectPrompt.make([(1, [0, 0, 10, 10])])
    b = ObjectPrompt.make([(2, [5, 5, 15, 15])])
    c = ObjectPrompt.make([(3, [1, 1, 2, 2])])
    plan = plan_objects([[a, b], [a], [], [b, c]])
    assert plan.objects == [a, b, c]
    assert plan.members == [[0, 1], [0], [], [1, 2]]
    assert (plan.unique, plan.total) == (3, 5)
