"""System 2 for real: a prepared synthetic ReVOS sample, its ground-truth store, the detail pool on a local Ray
cluster with the tiny SAM2, and the reward reading what comes back."""

from __future__ import annotations

import asyncio
import itertools
import json

import pyarrow.parquet as pq
import pytest

from omni_r1_verl.contracts.rows import GroundTruth
from omni_r1_verl.contracts.system2 import DetailResult, DetailStatus
from omni_r1_verl.data.gt_store import GroundTruthStore
from omni_r1_verl.demo import prepare_demo
from omni_r1_verl.rollout.system2 import plan_request, run_system2
from omni_r1_verl.scoring import RewardConfig, score_response

pytestmark = pytest.mark.ray

_names = itertools.count()


@pytest.fixture(scope="module")
def revos_row(tmp_path_factory, tiny_assets):
    paths = prepare_demo(tmp_path_factory.mktemp("demo"), tiny_dir=tiny_assets.root)
    rows = pq.read_table(next(p for p in paths.train_files if "revos" in str(p))).to_pylist()
    row = rows[0]
    return row, GroundTruth.from_json(row["reward_model"]["ground_truth"])


@pytest.fixture
def pool(ray_cluster, tiny_assets):
    from omni_r1_verl.detail.pool import DetailPool

    pool = DetailPool.get_or_create(
        {
            "pool": {"name": f"system2_test_{next(_names)}", "batch_window_s": 0.1},
            "placement": {"mode": "cpu", "cpus_per_worker": 1},
            "sam2": {"checkpoint": str(tiny_assets.sam2_checkpoint), "config": str(tiny_assets.sam2_config)},
        }
    )
    yield pool
    pool.shutdown()


def _sample(row, gt):
    visible = [f for f in range(gt.num_frames) if any(a[f] > 0 for a in gt.areas)][:4]
    extra = {**row["extra_info"], "clip": {"frame_indices": visible, "fps": 1.0}}
    # Two moments on the first two clip frames.
    moments = [{"start_time": float(t), "end_time": float(t), "description": "the shape"} for t in (0, 1)]
    text = f"<think>look</think><answer>{json.dumps(moments)}</answer>"
    return text, extra


def test_ground_truth_boxes_through_the_pool_score_full_alignment(revos_row, pool):
    row, gt = revos_row
    text, extra = _sample(row, gt)
    plan = plan_request(text, gt, extra, RewardConfig(), group_key="g", rollout_id="r0", group_size=1)
    request = plan.request
    assert [q.clip_index for q in request.keyframes] == [0, 1]
    # Supply the ground-truth boxes as System 2's boxes (the tiny grounder is random): R_A must then be 1.
    store = GroundTruthStore.open(extra["gt_store"])
    boxes = store.boxes(gt.gt_key, request.frame_indices)
    for query in request.keyframes:
        # Every visible object's box; inclusive extents -> pixel edges, as System 2 reports them.
        present = [b for b in boxes[:, query.clip_index].tolist() if b[0] >= 0]
        query.boxes = [[float(x1), float(y1), float(x2 + 1), float(y2 + 1)] for x1, y1, x2, y2 in present]
        assert query.boxes

    result = asyncio.run(run_system2(plan, pool.submit))
    detail = json.loads(json.dumps(result.to_dict()))  # what the reward reads after verl's trip
    assert result.status is DetailStatus.OK, detail
    assert DetailResult.from_dict(detail) == result
    assert len(result.masks.union) == len(request.frame_indices)
    assert all(u >= max(a[f] for a in gt.areas) for u, f in zip(result.masks.union, request.frame_indices))
    metrics = score_response(text, row["reward_model"]["ground_truth"], extra, detail, RewardConfig()).to_metrics()
    assert metrics["alignment_reward"] == pytest.approx(1.0)
    assert 0.0 <= metrics["consistency_reward"] <= 1.0
    assert metrics["detail_failed"] == 0.0


def test_missing_ground_truth_is_an_explicit_failure(revos_row, pool):
    row, gt = revos_row
    text, extra = _sample(row, gt)
    broken = GroundTruth(**{**gt.__dict__, "gt_key": "revos/no_such_sample"})
    plan = plan_request(text, broken, extra, RewardConfig(), group_key="g2", rollout_id="r0", group_size=1)
    detail = asyncio.run(run_system2(plan, pool.submit)).to_dict()
    assert detail["status"] == "error" and "no_such_sample" in detail["message"]
    metrics = score_response(text, broken.to_json(), extra, detail, RewardConfig()).to_metrics()
    assert metrics["detail_failed"] == 1.0 and metrics["alignment_reward"] == 0.0
