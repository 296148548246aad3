"""A run's results: ``results.json`` (every figure, the config, versions, checkpoint hashes) and ``results.md``
(the paper's table layout, the paper's numbers beside), both computed from the per-sample JSONL alone.

Both files are deterministic functions of the records and the run's settings: no clock, no host, no worker count,
so a killed and resumed run writes the same bytes as an uninterrupted one. Timings, which no two runs share, go to
``timings.json``. Pure module (stdlib + numpy-free): checkpoint hashes are cached by (path, size, mtime).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from omni_r1_verl.evaluation.records import finite
from omni_r1_verl.evaluation.scorers import benchmark_table

FORMAT = "omni-r1-eval"
VERSION = 1
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
TIMINGS_JSON = "timings.json"
#: Packages whose versions results.json records.
PACKAGES = ("omni-r1-verl", "torch", "transformers", "sam2", "vllm", "numpy", "pycocotools", "ray")
#: Weight files hashed for results.json.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
#: Timing stages summed in timings.json.
STAGES = ("system1", "load_frames", "grounding", "sam2", "metrics", "save", "system2")

#: The paper's rows (Omni-R1 v2 tables; docs/reproduction.md), beside which results.md puts the run's own.
PAPER_ROWS: dict[str, list[tuple[str, dict[str, float]]]] = {
    "revos": [
        (
            "Qwen2.5-Omni-7B† (paper)",
            {"referring": 46.3, "reasoning": 26.9, "single": 38.6, "multi": 37.4, "overall": 36.6},
        ),
        ("Omni-R1-7B† (paper)", {"referring": 52.5, "reasoning": 36.9, "single": 45.0, "multi": 46.6, "overall": 44.7}),
    ],
    "mevis": [("Qwen2.5-Omni-7B† (paper)", {"JF": 33.6}), ("Omni-R1-8B‡ (paper, S2 = Sa2VA-1B)", {"JF": 55.4})],
    "refavs": [
        (
            "Qwen2.5-Omni-7B† (paper)",
            {"seen.JF": 31.6, "seen.J": 27.7, "seen.F": 35.5, "unseen.JF": 62.3, "unseen.J": 59.0, "unseen.F": 65.7},
        ),
        (
            "Omni-R1-7B† (paper)",
            {"seen.JF": 47.2, "seen.J": 43.0, "seen.F": 51.4, "unseen.JF": 74.2, "unseen.J": 71.3, "unseen.F": 77.0},
        ),
    ],
    "refcocog": [],
}


def versions() -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` (absent ones omitted)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _cache_path() -> Path:
    root = os.environ.get("OMNI_R1_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "omni-r1")
    return Path(root) / "sha256.json"


def file_hashes(path: str | os.PathLike) -> dict[str, str]:
    """sha256 of a checkpoint's weight files (a file, or the weight files of a directory), cached.

    Args:
        path: A weight file or a checkpoint directory.

    Returns:
        ``{file name relative to path: hex digest}`` (empty for a missing path).
    """
    root = Path(path)
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    else:
        return {}
    cache_file = _cache_path()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    out, changed = {}, False
    for file in files:
        stat = file.stat()
        key = f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        digest = cache.get(key)
        if digest is None:
            h = hashlib.sha256()
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    h.update(block)
            digest = cache[key] = h.hexdigest()
            changed = True
        out[file.name if file == root else file.relative_to(root).as_posix()] = digest
    if changed:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache, sort_keys=True))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # the cache is an optimisation
    return out


def metric_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The scorers' records of every sample that has one (``{"key", **metrics}``)."""
    return [{"key": r["key"], **r["metrics"]} for r in records if isinstance(r.get("metrics"), Mapping)]


def build_results(
    benchmark: str, split: str, baseline: str, records: Mapping[str, Mapping[str, Any]], run: Mapping[str, Any]
) -> dict[str, Any]:
    """``results.json``'s content.

    Args:
        benchmark: The benchmark.
        split: The split.
        baseline: The baseline name.
        records: Per-sample records by key (the JSONL).
        run: Settings that determine the numbers: ``config``, ``checkpoints``, ``versions``, ``data``, ``limit``.

    Returns:
        The results (deterministic in its inputs).
    """
    ordered = [records[k] for k in sorted(records)]
    status = Counter(str(r.get("status")) for r in ordered)
    failures = [
        {"key": r["key"], "status": r.get("status"), "reason": r.get("reason", "")}
        for r in ordered
        if r.get("status") not in ("ok", "no_valid_moment", "no_boxes", "invalid_boxes")
    ]
    scored = metric_records(ordered)
    return finite(
        {
            "format": FORMAT,
            "version": VERSION,
            "benchmark": benchmark,
            "split": split,
            "baseline": baseline,
            "samples": {
                "total": len(ordered),
                "scored": len(scored),
                "unscored": len(ordered) - len(scored),
                "by_status": dict(sorted(status.items())),
            },
            "metrics": benchmark_table(benchmark, scored) if scored else None,
            "failures": failures,
            **{k: run[k] for k in sorted(run)},
        }
    )


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def _row(label: str, cells: list[Any]) -> str:
    return "| " + " | ".join([label, *(_fmt(c) for c in cells)]) + " |"


def render_markdown(results: Mapping[str, Any]) -> str:
    """``results.md``: the run's figures in the paper's layout, with the paper's rows beside them."""
    bench, table = results["benchmark"], results.get("metrics") or {}
    label = f"this run ({results['baseline']})"
    lines = [f"# {bench} {results['split']}: {results['baseline']}", ""]
    samples = results["samples"]
    by_status = ", ".join(f"{k} {v}" for k, v in samples["by_status"].items())
    lines += [f"{samples['total']} samples ({by_status}); {len(results['failures'])} failed.", ""]
    if bench == "revos":
        cols = ("referring", "reasoning", "single", "multi", "overall")
        lines += [
            "J&F (%), Omni-R1 Table 2 layout.",
            "",
            "| Model | Referring | Reasoning | Single | Multi | Overall |",
        ]
        lines += ["|---|---|---|---|---|---|", _row(label, [table.get(c, {}).get("JF") for c in cols])]
        lines += [_row(name, [paper.get(c) for c in cols]) for name, paper in PAPER_ROWS[bench]]
        lines += ["", "| this run | Referring | Reasoning | Single | Multi | Overall |", "|---|---|---|---|---|---|"]
        for fig in ("J", "F", "R"):
            lines.append(_row(fig, [table.get(c, {}).get(fig) for c in cols]))
    elif bench == "mevis":
        lines += ["MeViS J&F (%), Omni-R1 Table 7.", "", "| Model | J&F | J | F |", "|---|---|---|---|"]
        lines.append(_row(label, [table.get("JF"), table.get("J"), table.get("F")]))
        lines += [_row(name, [paper.get("JF"), None, None]) for name, paper in PAPER_ROWS[bench]]
    elif bench == "refavs":
        subsets = [s for s in ("seen", "unseen") if s in table] + sorted(set(table) - {"seen", "unseen", "null"})
        head = [f"{s.capitalize()} {fig}" for s in subsets for fig in ("J&F", "J", "F")]
        lines += ["Ref-AVS (%), Omni-R1 Table 1 layout.", "", "| Model | " + " | ".join(head) + " |"]
        lines.append("|---" * (len(head) + 1) + "|")
        lines.append(_row(label, [table[s].get(f) for s in subsets for f in ("JF", "J", "F")]))
        lines += [
            _row(name, [paper.get(f"{s}.{f}") for s in subsets for f in ("JF", "J", "F")])
            for name, paper in PAPER_ROWS[bench]
        ]
        if "null" in table:
            lines += [
                "",
                f"Null subset S (lower is better): {table['null']['S']:.4f} over {table['null']['count']} samples.",
            ]
    elif bench == "refcocog":
        lines += ["refCOCOg (%), as Seg-Zero reports it.", "", "| Model | gIoU | cIoU |", "|---|---|---|"]
        lines.append(_row(label, [table.get("gIoU"), table.get("cIoU")]))
    if results["failures"]:
        lines += ["", "Failed samples (scored as the official scripts score a missing prediction):", ""]
        lines += [f"- `{f['key']}`: {f['status']}: {f['reason']}" for f in results["failures"][:50]]
        if len(results["failures"]) > 50:
            lines.append(f"- ... and {len(results['failures']) - 50} more (results.json lists all)")
    return "\n".join(lines) + "\n"


def timing_summary(records: Iterable[Mapping[str, Any]], wall_seconds: float | None = None) -> dict[str, Any]:
    """Total seconds per stage over the records, each stage's share of the stages' sum, and samples/s."""
    totals = dict.fromkeys(STAGES, 0.0)
    count = 0
    for record in records:
        count += 1
        for stage, seconds in (record.get("timings") or {}).items():
            if stage in totals and isinstance(seconds, (int, float)):
                totals[stage] += float(seconds)
    parts = {s: totals[s] for s in ("system1", "grounding", "sam2", "metrics", "load_frames", "save")}
    work = sum(parts.values())
    return {
        "samples": count,
        "seconds": totals,
        "share": {s: (v / work if work else 0.0) for s, v in parts.items()},
        "wall_seconds": wall_seconds,
        "samples_per_second": (count / wall_seconds) if wall_seconds else None,
    }


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (sorted keys, indented, trailing newline)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Write text atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
