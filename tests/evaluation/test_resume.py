"""A run killed mid-way (SIGKILL of the real process) and resumed ends with the same files as an uninterrupted one;
a torn last JSONL line is dropped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import detail_config

from omni_r1_verl.evaluation.records import RecordLog, load_records


def command(tiny_assets, data, out) -> list[str]:
    s2 = detail_config(tiny_assets)
    return [
        sys.executable,
        "-m",
        "omni_r1_verl.cli",
        "eval",
        "--benchmark=revos",
        "--split=test",
        f"--data={data}",
        f"--out={out}",
        "--baseline=oracle-box",
        "--limit=4",
        "--device=cpu",
        "--no-progress",
        "evaluation.oracle_keyframes=2",
        "system2.placement.mode=cpu",
        f"system2.sam2.checkpoint={s2.sam2.checkpoint}",
        f"system2.sam2.config={s2.sam2.config}",
    ]


def test_killed_and_resumed_run_writes_identical_results(tiny_assets, eval_data, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMNI_R1_CACHE": str(tmp_path / "cache")}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(command(tiny_assets, eval_data["revos"], whole), env=env, check=True, capture_output=True)
    proc = subprocess.Popen(command(tiny_assets, eval_data["revos"], killed), env=env, stderr=subprocess.DEVNULL)
    samples = killed / "samples.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if samples.is_file() and samples.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "results.json").exists()
    done = samples.read_bytes().count(b"\n")
    assert 2 <= done < 4
    with open(samples, "ab") as handle:  # as if killed mid-write
        handle.write(b'{"key": "revos/valid/torn')
    subprocess.run(command(tiny_assets, eval_data["revos"], killed), env=env, check=True, capture_output=True)
    for name in ("results.json", "results.md"):
        assert (killed / name).read_bytes() == (whole / name).read_bytes()
    lines = samples.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["key"] for line in lines)


def test_torn_last_line_is_dropped_and_appending_continues(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(b'{"key":"a","v":1}\n{"key":"b","v":2}\n{"key":"c"')
    records, good = load_records(path)
    assert list(records) == ["a", "b"] and good == len(b'{"key":"a","v":1}\n{"key":"b","v":2}\n')
    with RecordLog(path) as log:
        assert set(log.records) == {"a", "b"}
        log.append({"key": "c", "v": float("nan")})
    records, _ = load_records(path)
    assert list(records) == ["a", "b", "c"] and records["c"]["v"] is None
    path.write_bytes(b'{"key":"a"}\nnot json\n{"key":"a","again":1}\n{"key":"b"}\n')
    records, _ = load_records(path)
    assert records == {"a": {"key": "a"}, "b": {"key": "b"}}
