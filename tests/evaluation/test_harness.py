"""The whole harness on the synthetic splits with the tiny models: real SAM2, real metrics, figures recomputed
from the saved masks."""

from __future__ import annotations

import json
import math

import pytest
from conftest import rewrite_rows, settings
from recompute import recompute, records

from omni_r1_verl.evaluation.runner import run_eval
from omni_r1_verl.metrics import read_mevis_submission


def close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    return a == b


@pytest.fixture(scope="module")
def revos_run(tiny_assets, eval_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("revos_run")
    s = settings(tiny_assets, eval_data["revos"], out, "revos", baseline="oracle-box", save_masks=True, limit=5)
    return out, run_eval(s)


def meta_of(out, *fields):
    return {k: {f: r["metrics"][f] for f in fields} for k, r in records(out).items()}


def test_revos_figures_equal_a_recomputation_from_the_saved_masks(revos_run, eval_data):
    out, results = revos_run
    assert results == json.loads((out / "results.json").read_text())
    assert results["samples"]["total"] == 5 and results["samples"]["scored"] == 5
    import pyarrow.parquet as pq

    row = pq.read_table(eval_data["revos"]).to_pylist()[0]
    expected = recompute("revos", out, row["extra_info"]["gt_store"], meta_of(out, "exp_type", "num_objects"))
    assert close(results["metrics"], expected)
    assert results["metrics"]["overall"]["JF"] is not None
    # SAM2 really segmented something: some sample's J is neither 0 nor 1.
    assert any(0 < r["metrics"]["J"] < 1 for r in records(out).values())


def test_revos_records_carry_answer_keyframes_boxes_timings(revos_run):
    out, results = revos_run
    record = next(r for r in records(out).values() if r["status"] == "ok")
    assert record["plan"]["keyframes"] and record["keyframes"]
    kf = record["keyframes"][0]
    assert kf["pred_boxes"] and kf["gt_boxes"] and kf["video_frame"] == record["plan"]["keyframes"][0]["video_frame"]
    assert {"sam2", "metrics", "system2", "load_frames"} <= set(record["timings"])
    assert record["metrics"]["objects"] and len(record["metrics"]["objects"]) == record["metrics"]["num_objects"]
    md = (out / "results.md").read_text()
    assert "| Model | Referring | Reasoning | Single | Multi | Overall |" in md and "Omni-R1-7B† (paper)" in md
    assert "versions" in results and "sam2" in results["checkpoints"] and results["checkpoints"]["sam2"]
    assert json.loads((out / "timings.json").read_text())["samples"] == 5


def test_mevis_offline_figures_and_online_submission(tiny_assets, eval_data, tmp_path):
    s = settings(
        tiny_assets,
        eval_data["mevis"],
        tmp_path,
        "mevis",
        baseline="oracle-box",
        save_masks=True,
        limit=3,
        evaluation={"mevis_submission": True},
    )
    results = run_eval(s)
    import pyarrow.parquet as pq

    rows = pq.read_table(eval_data["mevis"]).to_pylist()[:3]
    expected = recompute("mevis", tmp_path, rows[0]["extra_info"]["gt_store"], {k: {} for k in records(tmp_path)})
    assert close(results["metrics"], expected) and results["metrics"]["count"] == 3
    # The server's zip: one PNG per frame of every expression, equal to the saved masks.
    submission = read_mevis_submission(tmp_path / "submission.zip")
    assert len(submission) == 3
    from recompute import predicted

    for row in rows:
        extra = row["extra_info"]
        record = records(tmp_path)[extra["sample_id"]]
        frames = submission[(extra["video"], extra["exp_id"])]
        pred = predicted(tmp_path, record, len(frames), next(iter(frames.values())).shape)
        for t, name in enumerate(sorted(frames)):
            assert (frames[name] == pred[t]).all()


def test_refavs_seen_and_null_subsets(tiny_assets, eval_data, tmp_path):
    import pyarrow.parquet as pq

    seen = run_eval(
        settings(tiny_assets, eval_data["refavs"], tmp_path / "s", "refavs", baseline="oracle-box", save_masks=True)
    )
    row = pq.read_table(eval_data["refavs"]).to_pylist()[0]
    meta = meta_of(tmp_path / "s", "subset", "order")
    assert close(seen["metrics"], recompute("refavs", tmp_path / "s", row["extra_info"]["gt_store"], meta))
    assert set(seen["metrics"]) == {"seen"} and seen["metrics"]["seen"]["F"] is not None
    null = run_eval(settings(tiny_assets, eval_data["refavs_null"], tmp_path / "n", "refavs", baseline="oracle-box"))
    # Nothing is visible in a null expression: the oracle grounds nothing, the prediction is empty, S = 0.
    assert null["metrics"]["null"]["S"] == 0.0
    assert set(null["samples"]["by_status"]) == {"no_valid_moment"}
    assert "Null subset S" in (tmp_path / "n" / "results.md").read_text()


def test_refcocog_giou_ciou_from_the_box_prompted_masks(tiny_assets, eval_data, tmp_path):
    import pyarrow.parquet as pq

    results = run_eval(
        settings(tiny_assets, eval_data["refcocog"], tmp_path, "refcocog", baseline="oracle", save_masks=True)
    )
    row = pq.read_table(eval_data["refcocog"]).to_pylist()[0]
    expected = recompute("refcocog", tmp_path, row["extra_info"]["gt_store"], {})
    assert close(results["metrics"], expected) and results["metrics"]["count"] == 3
    assert "| Model | gIoU | cIoU |" in (tmp_path / "results.md").read_text()


def test_real_system1_without_a_valid_moment_scores_an_empty_prediction(tiny_assets, eval_data, tmp_path):
    s = settings(tiny_assets, eval_data["revos"], tmp_path, "revos", model=str(tiny_assets.thinker), limit=2)
    results = run_eval(s)
    recs = list(records(tmp_path).values())
    assert all(isinstance(r["answer"], str) and r["timings"]["system1"] > 0 for r in recs)
    assert all(len(r["clip"]) == min(24, r["metrics"]["frames"]) for r in recs)
    # The tiny random thinker writes no valid moment: an empty prediction, scored (J = 1 only where GT is empty).
    for r in recs:
        if r["status"] == "no_valid_moment":
            assert r["plan"]["problems"] and r["metrics"]["frames"] > 0
    assert results["samples"]["scored"] == 2


def test_a_corrupt_video_is_reported_and_the_rest_are_scored(tiny_assets, eval_data, tmp_path):
    import shutil

    import pyarrow.parquet as pq

    rows = pq.read_table(eval_data["revos"]).to_pylist()
    root = tmp_path / "root"
    shutil.copytree(rows[0]["extra_info"]["dataset_root"], root)
    data = rewrite_rows(eval_data["revos"], tmp_path / "rows.parquet", dataset_root=str(root))
    media = json.loads(rows[0]["extra_info"]["media"])
    broken = root / media["frame_dir"] / media["frame_names"][2]
    broken.write_bytes(b"not a jpeg")
    video = rows[0]["extra_info"]["video"]
    results = run_eval(settings(tiny_assets, data, tmp_path / "out", "revos", baseline="oracle-box", limit=6))
    failed = {f["key"] for f in results["failures"]}
    on_video = {r["extra_info"]["sample_id"] for r in rows[:6] if r["extra_info"]["video"] == video}
    visible = {
        k
        for k in on_video
        if records(tmp_path / "out")[k]["plan"] and records(tmp_path / "out")[k]["plan"]["keyframes"]
    }
    assert failed == visible and failed
    assert all(broken.name in f["reason"] for f in results["failures"])
    assert results["samples"]["scored"] == 6  # failures count, with the official zero scores
    for key in failed:
        assert records(tmp_path / "out")[key]["metrics"]["JF"] == 0.0
    assert "Failed samples" in (tmp_path / "out" / "results.md").read_text()
