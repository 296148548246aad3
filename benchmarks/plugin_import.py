"""What installing omni-r1-verl costs other verl runs: ``import verl`` with and without our plugin.

verl imports every ``verl.plugins`` entry point on ``import verl`` (``verl/__init__.py``), in every process of every
run. verl's own switch ``VERL_USE_EXTERNAL_PLUGINS`` (``none``, ``auto`` or a list of entry-point names) selects
them, so the baseline lists every other installed plugin and the measured run adds ours: the difference is exactly
our plugin, in this environment. Both run in fresh interpreters, interleaved in pairs, with ``VERL_PLATFORM``
unset (a run that did not ask for our platform). Prints the medians of each side and their ratios (goal: within
1.2x) for the import's CPU time (the interpreter's user + system time, which other load on the machine barely
changes), its wall time, and the number of modules loaded.

usage:
  python benchmarks/plugin_import.py [--pairs N] [--scenario import|trainer]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from importlib.metadata import entry_points

from omni_r1_verl.plugin_check import ENTRY_POINT_NAME

GOAL_RATIO = 1.2

#: What each interpreter imports and times.
SCENARIOS = {
    # Every process of every verl run.
    "import": "import verl",
    # A verl driver: the trainer, plus the registries and functions our plugin hooks into.
    "trainer": (
        "import verl, verl.trainer.main_ppo, verl.experimental.agent_loop.agent_loop, "
        "verl.experimental.reward_loop.reward_manager.registry, verl.workers.rollout.replica"
    ),
}

_TIMED = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
{statement}
report = {{"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "modules": len(sys.modules)}}
print("BENCH " + json.dumps(report))
"""


def plugin_policies() -> tuple[str, str]:
    """``VERL_USE_EXTERNAL_PLUGINS`` without and with our plugin (other installed plugins load in both)."""
    others = sorted({ep.name for ep in entry_points(group="verl.plugins")} - {ENTRY_POINT_NAME})
    return ",".join(others) or "none", ",".join([*others, ENTRY_POINT_NAME])


def measure(statement: str, policy: str) -> dict[str, float]:
    """Time ``statement`` in a fresh interpreter with the given plugin policy."""
    env = {key: value for key, value in os.environ.items() if key != "VERL_PLATFORM"}
    env["VERL_USE_EXTERNAL_PLUGINS"] = policy
    command = [sys.executable, "-c", _TIMED.format(statement=statement)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{statement!r} failed with VERL_USE_EXTERNAL_PLUGINS={policy}:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("BENCH "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10, help="interleaved (without, with) pairs (default: 10)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="import", help="what each run imports")
    args = parser.parse_args(argv)

    without_policy, with_policy = plugin_policies()
    statement = SCENARIOS[args.scenario]
    print(f"{statement!r}: VERL_USE_EXTERNAL_PLUGINS={without_policy} vs {with_policy}, {args.pairs} pairs")
    measure(statement, with_policy)  # warm the file cache (bytecode, shared libraries) for both sides
    runs: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
    for pair in range(args.pairs):
        order = ("without", "with") if pair % 2 == 0 else ("with", "without")
        for side in order:
            runs[side].append(measure(statement, without_policy if side == "without" else with_policy))
        cells = [f"{side} {runs[side][-1]['cpu_s']:.2f} s CPU / {runs[side][-1]['wall_s']:.2f} s" for side in runs]
        print(f"  pair {pair + 1}/{args.pairs}: " + ", ".join(cells))

    def median(side: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[side])

    ratios = {key: median("with", key) / median("without", key) for key in ("cpu_s", "wall_s", "modules")}
    for side in runs:
        print(
            f"{side + ' plugin:':16s}{median(side, 'cpu_s'):.2f} s CPU, {median(side, 'wall_s'):.2f} s wall, "
            f"{median(side, 'modules'):.0f} modules (medians)"
        )
    print(
        f"ratios with/without: CPU time {ratios['cpu_s']:.3f}x, wall time {ratios['wall_s']:.3f}x, "
        f"modules {ratios['modules']:.3f}x"
    )
    ok = ratios["cpu_s"] <= GOAL_RATIO and ratios["modules"] <= GOAL_RATIO
    print(f"goal <= {GOAL_RATIO}x (CPU time, modules): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
