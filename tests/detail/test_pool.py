"""The pool on a local Ray cluster: both backends end to end, grouping, failures, backpressure, placement."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time

import pytest
from conftest import tiny_config, write_clip

from omni_r1_verl.contracts.system2 import KeyframeQuery
from omni_r1_verl.detail.engine import DetailEngine

pytestmark = pytest.mark.ray

_names = itertools.count()


@pytest.fixture
def make_pool(ray_cluster, tiny_assets):
    """Create pools with unique names; shut them all down after the test."""
    from omni_r1_verl.detail.pool import DetailPool

    pools = []

    def make(backend="sam2", checkpoint=None, **sections):
        sections.setdefault("pool", {})
        sections["pool"] = {"name": f"detail_test_{next(_names)}", **sections["pool"]}
        cfg = tiny_config(tiny_assets, backend, **sections)
        if checkpoint is not None:
            cfg = dataclasses.replace(cfg, sam2=dataclasses.replace(cfg.sam2, checkpoint=str(checkpoint)))
        pool = DetailPool.get_or_create(cfg)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown()


def _group(clip, n=4, frames=(1, 3), jitter=True):
    """``n`` rollouts of one GRPO group; rollouts 0 and 1 agree exactly (shared prompts)."""
    requests = []
    for i in range(n):
        shift = 0 if (i < 2 or not jitter) else i
        keyframes = [KeyframeQuery(f, "red", boxes=[[v + shift for v in clip.box(0, f)]]) for f in frames]
        requests.append(clip.request(f"r{i}", keyframes, group_size=n))
    return requests


def _wait(predicate, timeout=120.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def _stats(pool):
    import ray

    return ray.get(pool.router.stats.remote())


@pytest.mark.parametrize("backend", ["sam2", "hf_sam2", "sam3_tracker"])
def test_every_backend_end_to_end_one_pass_per_group(make_pool, hf_checkpoint, sam3_checkpoint, tmp_path, backend):
    clip = write_clip(tmp_path, num_frames=6)
    pool = make_pool(backend, checkpoint={"hf_sam2": hf_checkpoint, "sam3_tracker": sam3_checkpoint}.get(backend))
    requests = _group(clip)
    results = pool.run(requests)
    assert [r.status for r in results] == ["ok"] * 4, [r.message for r in results]
    stats = _stats(pool)
    assert stats["jobs"] == 1 and stats["merged_requests"] == 4
    assert (stats["unique_objects"], stats["total_objects"]) == (6, 8)  # rollouts 0 and 1 share their two objects
    assert all(r.attempts == 1 and r.worker for r in results)
    # Split back per rollout: each result equals running that rollout alone in-process.
    engine = DetailEngine(pool.cfg, device="cpu")
    for request, result in zip(requests, results):
        (alone,) = engine.run_job([request]).results
        assert result.keyframes == alone.keyframes
        if backend != "hf_sam2":
            assert result.masks == alone.masks
        else:  # transformers batches the memory encoder across objects: a rare threshold pixel may flip
            assert sum(abs(a - b) for a, b in zip(result.masks.union, alone.masks.union)) <= 10


def test_sam3_text_mode_one_checkpoint_for_boxes_and_masks(make_pool, sam3_checkpoint, tmp_path):
    """Descriptions in, SAM 3's detector boxes them, its tracker masks them: one pass per group, as in-process."""
    clip = write_clip(tmp_path, num_frames=6)
    grounding = {"backend": "sam3_text", "model_path": str(sam3_checkpoint), "score_threshold": 0.25}
    pool = make_pool("sam3_tracker", checkpoint=sam3_checkpoint, grounding=grounding)
    requests = [
        clip.request(f"r{i}", [KeyframeQuery(1, "red square"), KeyframeQuery(3 + i % 2, "green square")], group_size=4)
        for i in range(4)
    ]
    results = pool.run(requests)
    assert [r.status for r in results] == ["ok"] * 4, [r.message for r in results]
    assert _stats(pool)["jobs"] == 1
    assert all(kf.pred_boxes for r in results for kf in r.keyframes)
    engine = DetailEngine(pool.cfg, device="cpu")
    for request, result in zip(requests, results):
        (alone,) = engine.run_job([request]).results
        assert (result.keyframes, result.masks) == (alone.keyframes, alone.masks)


def test_requests_without_group_size_merge_within_the_window(make_pool, tmp_path):
    clip = write_clip(tmp_path, num_frames=4)
    pool = make_pool(pool={"batch_window_s": 1.0})
    requests = [dataclasses.replace(r, group_size=0) for r in _group(clip, n=3)]
    results = pool.run(requests)
    assert [r.status for r in results] == ["ok"] * 3
    assert _stats(pool)["jobs"] == 1
    other = write_clip(tmp_path / "other", num_frames=4, seed=3)
    pool.run([dataclasses.replace(r, group_size=0) for r in _group(other, n=2)] + requests[:1])
    assert _stats(pool)["jobs"] == 3  # two videos: two passes


def test_killing_a_worker_mid_request_retries_on_another_and_the_pool_recovers(make_pool, tmp_path):
    import ray

    clip = write_clip(tmp_path, num_frames=48)
    pool = make_pool(pool={"num_workers": 2, "max_attempts": 2})
    ray.get(pool.router.start.remote())
    requests = _group(clip, n=4, frames=(5, 15, 30, 40))
    refs = [pool.router.submit.remote(r) for r in requests]
    busy = _wait(lambda: [w for w in _stats(pool)["workers"] if w["busy"]])
    handles = ray.get(pool.router.worker_handles.remote())
    victim = busy[0]["slot"]
    ray.kill(handles[victim], no_restart=True)
    results = ray.get(refs, timeout=600)
    assert [r.status for r in results] == ["ok"] * 4, [r.message for r in results]
    assert all(r.attempts == 2 for r in results)
    assert all(r.worker != busy[0]["label"] for r in results)
    stats = _wait(lambda: (s := _stats(pool))["live_workers"] == 2 and s)
    assert stats["worker_deaths"] == 1 and stats["workers_replaced"] == 1 and stats["retries"] == 1
    after = pool.run(_group(write_clip(tmp_path / "after", num_frames=4), n=2))
    assert [r.status for r in after] == ["ok", "ok"]


def test_a_hung_job_times_out_explicitly_and_its_worker_is_replaced(make_pool, tmp_path):
    clip = write_clip(tmp_path, num_frames=48)
    pool = make_pool(pool={"attempt_timeout_s": 0.5, "max_attempts": 2})
    results = pool.run(_group(clip, n=2, frames=(5, 15, 30, 40)))
    assert [r.status for r in results] == ["timeout", "timeout"]
    assert all("attempt 2/2" in r.message and r.masks is None for r in results)
    stats = _wait(lambda: (s := _stats(pool))["live_workers"] == 1 and s["workers_replaced"] >= 2 and s)
    assert stats["attempt_timeouts"] == 2


def test_backpressure_bounds_requests_in_the_pool(make_pool, tmp_path):
    import ray

    pool = make_pool(pool={"max_queued_requests": 2, "batch_window_s": 0.0})
    clips = [write_clip(tmp_path / str(i), num_frames=4, seed=i) for i in range(6)]
    refs = [pool.router.submit.remote(_group(c, n=1)[0]) for c in clips]
    peak = 0
    while True:
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0.05)
        peak = max(peak, _stats(pool)["in_system"])
        if len(done) == len(refs):
            break
    assert [r.status for r in ray.get(refs)] == ["ok"] * 6
    assert 1 <= peak <= 2


def test_a_missing_checkpoint_fails_before_any_actor_starts(make_pool, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"system2\.sam2\.checkpoint"):
        make_pool(checkpoint=tmp_path / "missing.pt")


def test_workers_that_cannot_start_give_an_error_status(make_pool, tmp_path):
    clip = write_clip(tmp_path, num_frames=4)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    pool = make_pool(checkpoint=corrupt, pool={"max_worker_restarts": 0})
    (result,) = pool.run(_group(clip, n=1))
    assert result.status == "error" and "cannot read SAM2 checkpoint" in result.message
    assert "corrupt.pt" in result.message
    assert _stats(pool)["broken"]


def test_shared_placement_runs_workers_inside_verl_placement_groups(make_pool, tmp_path):
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group

    group = placement_group([{"CPU": 1}], name="global_poolverl_group_1:0")
    ray.get(group.ready())
    try:
        pool = make_pool(placement={"mode": "shared", "gpus_per_worker": 0.0})
        ray.get(pool.router.start.remote())
        (worker,) = _stats(pool)["workers"]
        assert worker["alive"] and worker["placement_group"] == group.id.hex()
        clip = write_clip(tmp_path, num_frames=4)
        assert pool.run(_group(clip, n=1))[0].status == "ok"
    finally:
        remove_placement_group(group)


def test_dedicated_placement_without_free_gpus_explains_the_fix(make_pool, tmp_path):
    clip = write_clip(tmp_path, num_frames=4)
    pool = make_pool(placement={"mode": "dedicated", "gpus_per_worker": 1.0, "ready_timeout_s": 1.0})
    (result,) = pool.run(_group(clip, n=1))
    assert result.status == "error" and "outside verl's resource pools" in result.message


def test_dedicated_workers_wait_for_the_placement_resource(make_pool, tmp_path):
    # CPUs are free; only the custom resource, which no node of this cluster advertises, is missing.
    clip = write_clip(tmp_path, num_frames=4)
    placement = {"mode": "dedicated", "gpus_per_worker": 0.0, "resource": "omni_r1_system2", "ready_timeout_s": 1.0}
    (result,) = make_pool(placement=placement).run(_group(clip, n=1))
    assert result.status == "error" and "units of the Ray resource 'omni_r1_system2'" in result.message


def test_submit_is_awaitable_from_an_event_loop(make_pool, tmp_path):
    clip = write_clip(tmp_path, num_frames=4)
    pool = make_pool()

    async def main():
        return await pool.submit_many(_group(clip, n=2))

    results = asyncio.run(main())
    assert [r.status for r in results] == ["ok", "ok"]
