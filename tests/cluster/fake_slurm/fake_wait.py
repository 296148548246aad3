"""`omni-r1 cluster wait` on the fake cluster: the real command, with nodes read from what fake `ray start` wrote."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from omni_r1_verl.cli import build_parser
from omni_r1_verl.cli.cluster import run_wait


def list_nodes() -> list[dict]:
    records = []
    for joined in sorted((Path(os.environ["FAKE_STATE"]) / "joined").glob("*")):
        args = joined.read_text().split("\n")
        gpus = next(float(a.split("=", 1)[1]) for a in args if a.startswith("--num-gpus="))
        resources = next(json.loads(a.split("=", 1)[1]) for a in args if a.startswith("--resources="))
        records.append({"Alive": True, "Resources": {"GPU": gpus, **resources}})
    return records


if __name__ == "__main__":
    sys.exit(run_wait(build_parser().parse_args(["cluster", "wait", *sys.argv[1:]]), list_nodes=list_nodes))
