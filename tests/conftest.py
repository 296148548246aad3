"""Shared fixtures: offline environment, tiny assets built once per session, a local CPU Ray cluster, a running
``ray start`` head to attach to, and a step counter for timing-free complexity tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# No hub access anywhere in the suite: everything is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def tiny_assets(tmp_path_factory):
    """Tiny random checkpoints (``omni-r1 make-tiny``), built once per session.

    Set ``OMNI_R1_TINY_DIR`` to reuse a directory across sessions (it is rebuilt when its manifest is missing).
    """
    from omni_r1_verl.models.tiny import TinyAssets, make_tiny

    cached = os.getenv("OMNI_R1_TINY_DIR")
    if cached:
        root = Path(cached)
        try:
            return TinyAssets.load(root)
        except FileNotFoundError:
            return make_tiny(root)
    return make_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster with logical resources (TransferQueue and verl's pools need more CPUs than 2 cores)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=16, include_dashboard=False, namespace="omni_r1_tests", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def ray_head():
    """A real ``ray start --head`` (1 CPU, no dashboard) on a free port; yields the environment that attaches to it.

    The head runs in its own session with its own temp dir (so no other driver on the machine finds it) and without
    token authentication (independent of ``~/.ray/auth_token``); only this test session's subprocesses get
    ``RAY_ADDRESS``. Teardown stops exactly the processes it started (``ray stop`` would stop every Ray on the
    machine): SIGTERM to the ``ray start`` process, then SIGKILL to its process group.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp_dir = tempfile.mkdtemp(prefix="ray-head-", dir="/tmp")  # short: Ray's socket paths live under it
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    env.pop("RAY_ADDRESS", None)
    log_path = Path(temp_dir) / "ray-start.log"
    ray_cli = str(Path(sys.executable).with_name("ray"))
    command = [ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=1", "--include-dashboard=false"]
    command += [f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    with open(log_path, "w") as log:
        head = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log_path.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head failed:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield {**env, "RAY_ADDRESS": f"127.0.0.1:{port}"}
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)  # whatever of its group is left
        except ProcessLookupError:
            pass
        head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def count_steps():
    """``count_steps(fn, *args)`` calls ``fn`` and returns the Python lines of ``omni_r1_verl`` it executed.

    A timing-free measure of work for complexity tests (compare a 1x and a 10x input); C-level work (``str.find``,
    the JSON decoder, numpy) is not counted, so tests bound that separately.
    """
    import omni_r1_verl

    root = os.path.dirname(omni_r1_verl.__file__)

    def run(fn, *args, **kwargs) -> int:
        steps = 0

        def local(frame, event, arg):
            nonlocal steps
            steps += event == "line"
            return local

        def calls(frame, event, arg):
            return local if frame.f_code.co_filename.startswith(root) else None

        previous = sys.gettrace()
        sys.settrace(calls)
        try:
            fn(*args, **kwargs)
        finally:
            sys.settrace(previous)
        return steps

    return run
